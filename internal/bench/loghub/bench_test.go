package loghub

import (
	"testing"
	"time"

	"github.com/osprey-aiops/osprey/internal/logmine"
	"github.com/osprey-aiops/osprey/internal/testenv"
)

// BenchmarkEndToEnd measures header parsing, masking and mining over the
// whole corpus, each system with its own format and miner, as one goroutine
// would run them.
func BenchmarkEndToEnd(b *testing.B) {
	systems, err := Load(testenv.SharedData(b, "loghub"), false)
	if err != nil {
		b.Fatal(err)
	}
	miners := make([]*logmine.Miner, len(systems))
	for i, s := range systems {
		miners[i] = logmine.NewMiner(s.Name, logmine.Config{})
	}
	total := 0
	for _, s := range systems {
		total += len(s.Lines)
	}
	var fields []string
	var zero time.Time
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for i, s := range systems {
			m := miners[i]
			for _, line := range s.Lines {
				var content string
				content, fields, _ = s.Format.Content(line, fields)
				m.Add(zero, content)
			}
		}
	}
	b.ReportMetric(float64(total)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}
