package metric

import (
	"runtime"
	"testing"
	"unsafe"
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

// BenchmarkSeriesMemory keeps 1,000,000 live models (as an Engine holds them)
// and reports the heap bytes per series. It allocates about 1.2 GB.
func BenchmarkSeriesMemory(b *testing.B) {
	const n = 1_000_000
	cfg := DefaultConfig()
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		live := make(map[uint64]*Tracker, n)
		for i := range uint64(n) {
			tr := &Tracker{}
			tr.model.Update(&cfg, 0, float64(i))
			live[i] = tr
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "heapB/series")
		b.ReportMetric(float64(unsafe.Sizeof(Model{})), "modelB")
		runtime.KeepAlive(live)
	}
}
