package loghub

import (
	"testing"
	"time"

	"github.com/osprey-aiops/osprey/internal/logmine"
	"github.com/osprey-aiops/osprey/internal/testenv"
)

// BenchmarkEndToEnd is the throughput goal's measurement: header parsing,
// masking and mining on one goroutine over the concatenated Loghub corpus
// repeated to at least ThroughputLines lines, each system's lines through
// its own header format and a fresh miner of its own (MeasureThroughput, the
// same run as `osprey bench loghub`'s "throughput:" line). One op is one such
// run; lines/s and allocs/line are the figures to read.
//
//	go test -run '^$' -bench EndToEnd -benchmem ./internal/bench/loghub/
func BenchmarkEndToEnd(b *testing.B) {
	systems, err := Load(testenv.SharedData(b, "loghub"), false)
	if err != nil {
		b.Fatal(err)
	}
	var total Throughput
	b.ReportAllocs()
	for b.Loop() {
		tp := MeasureThroughput(systems, logmine.Config{}, ThroughputLines, nil)
		total.Lines += tp.Lines
		total.Allocs += tp.Allocs
	}
	total.Elapsed = b.Elapsed()
	b.ReportMetric(total.LinesPerSecond(), "lines/s")
	b.ReportMetric(total.AllocsPerLine(), "allocs/line")
}

// BenchmarkStages splits one steady-state pass over the corpus (miners
// already warm) into its stages: header parsing alone, then header parsing
// with masking and mining. The difference is the miner's share.
func BenchmarkStages(b *testing.B) {
	systems, err := Load(testenv.SharedData(b, "loghub"), false)
	if err != nil {
		b.Fatal(err)
	}
	total := 0
	for _, s := range systems {
		total += len(s.Lines)
	}
	var fields []string
	b.Run("headers", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, s := range systems {
				for _, line := range s.Lines {
					_, fields, _ = s.Format.Content(line, fields)
				}
			}
		}
		b.ReportMetric(float64(total*b.N)/b.Elapsed().Seconds(), "lines/s")
	})
	b.Run("headers+mining", func(b *testing.B) {
		miners := make([]*logmine.Miner, len(systems))
		for i, s := range systems {
			miners[i] = logmine.NewMiner(s.Name, logmine.Config{})
		}
		var zero time.Time
		pass := func() {
			for i, s := range systems {
				for _, line := range s.Lines {
					var content string
					content, fields, _ = s.Format.Content(line, fields)
					miners[i].Add(zero, content)
				}
			}
		}
		pass() // learn the templates; b.Loop starts the timer afterwards
		b.ReportAllocs()
		for b.Loop() {
			pass()
		}
		b.ReportMetric(float64(total*b.N)/b.Elapsed().Seconds(), "lines/s")
	})
}
