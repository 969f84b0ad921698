package metric

import (
	"context"
	"runtime"
	"testing"
	"unsafe"

	"github.com/osprey-aiops/osprey"
)

// BenchmarkModelUpdate is the full ensemble update of one sample.
func BenchmarkModelUpdate(b *testing.B) {
	cfg := DefaultConfig()
	vals := signal(4096, 1, func(i int, e float64) float64 { return 100 + float64(i%288)/10 + e })
	var m Model
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		m.Update(&cfg, int64(i)*step, vals[i&4095])
	}
}

// BenchmarkSeriesMemory keeps 1,000,000 live series in an Engine (each
// series fed one sample through ConsumeFingerprinted, as the detect stage
// feeds it) and reports the heap bytes per series: the model, its Tracker
// and the Engine's map entry. It allocates about 2 GB.
func BenchmarkSeriesMemory(b *testing.B) {
	const n = 1_000_000
	const batchLen = 10_000
	discard := osprey.AnomalyConsumerFunc(func(context.Context, []osprey.Anomaly) error { return nil })
	batch := make([]osprey.Series, batchLen)
	fps := make([]osprey.Fingerprint, batchLen)
	for i := range batch {
		batch[i].Samples = make([]osprey.Sample, 1)
	}
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		eng, err := NewEngine(DefaultConfig(), discard, n)
		if err != nil {
			b.Fatal(err)
		}
		for start := 0; start < n; start += batchLen {
			for i := range batch {
				fps[i] = osprey.Fingerprint(start + i)
				batch[i].Samples[0] = osprey.Sample{TimestampMs: 0, Value: float64(start + i)}
			}
			if err := eng.ConsumeFingerprinted(context.Background(), batch, fps); err != nil {
				b.Fatal(err)
			}
		}
		if eng.Series() != n {
			b.Fatalf("engine holds %d series, want %d", eng.Series(), n)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "bytes/series")
		b.ReportMetric(float64(unsafe.Sizeof(Model{})), "modelB")
		runtime.KeepAlive(eng)
	}
}
