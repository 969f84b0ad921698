package loghub

import (
	"runtime"
	"time"

	"github.com/osprey-aiops/osprey/internal/logmine"
	"github.com/osprey-aiops/osprey/internal/logparse"
)

// ThroughputLines is the default length of a throughput run: the corpus
// repeated to at least two million lines.
const ThroughputLines = 2_000_000

// Throughput is the outcome of MeasureThroughput.
type Throughput struct {
	// Lines is the number of lines parsed and mined.
	Lines int
	// Elapsed is the wall-clock time they took.
	Elapsed time.Duration
	// Allocs is the number of heap allocations made meanwhile (by the whole
	// process; the run is the only work of the calling program).
	Allocs uint64
}

// LinesPerSecond is Lines over Elapsed.
func (t Throughput) LinesPerSecond() float64 {
	if t.Elapsed <= 0 {
		return 0
	}
	return float64(t.Lines) / t.Elapsed.Seconds()
}

// AllocsPerLine is Allocs over Lines.
func (t Throughput) AllocsPerLine() float64 {
	if t.Lines == 0 {
		return 0
	}
	return float64(t.Allocs) / float64(t.Lines)
}

// MeasureThroughput runs the concatenated corpus (every system's lines, one
// system after the other) on the calling goroutine until at least n lines
// have been done, as production handles a stream: each line goes through its
// system's header format (logparse.Format.Content), and the message through
// that system's miner (masking and mining). The miners are new, one per
// system, so the first pass includes learning the templates and the later
// passes are the steady state. progress, when not nil, is called after each
// system's lines with their number.
func MeasureThroughput(systems []System, cfg logmine.Config, n int, progress func(lines int)) Throughput {
	miners := make([]*logmine.Miner, len(systems))
	for i, s := range systems {
		miners[i] = logmine.NewMiner(s.Name, cfg)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	var fields []string
	var zero time.Time
	lines := 0
	for lines < n {
		progressed := false
		for i, s := range systems {
			m := miners[i]
			for _, line := range s.Lines {
				var content string
				if s.Format != nil {
					content, fields, _ = s.Format.Content(line, fields)
				} else {
					content = logparse.Detect(line).Message
				}
				m.Add(zero, content)
			}
			lines += len(s.Lines)
			progressed = progressed || len(s.Lines) > 0
			if progress != nil {
				progress(len(s.Lines))
			}
		}
		if !progressed {
			break // no lines at all: nothing to repeat
		}
	}
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	return Throughput{Lines: lines, Elapsed: elapsed, Allocs: after.Mallocs - before.Mallocs}
}
