package logmine

import (
	"testing"
	"time"
)

var benchLines = []string{
	"BLOCK* NameSystem.addStoredBlock: blockMap updated: 10.251.73.220:50010 is added to blk_7128370237687728475 size 67108864",
	"Received block blk_-1608999687919862906 of size 91178 from /10.250.10.6",
	"session opened for user cyrus by (uid=0)",
	"Finished task 0.0 in stage 1.0 (TID 8). 2364 bytes result sent to driver",
	`acquire lock=233570404, flags=0x1, tag="View Lock", name=com.android.systemui, ws=null, uid=10037, pid=2227`,
	"Established session 0x14ed93111f20005 with negotiated timeout 10000 for client /10.10.34.11:46563",
}

func BenchmarkMask(b *testing.B) {
	var buf []byte
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		buf = maskLine(buf[:0], benchLines[n%len(benchLines)])
		n++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

// BenchmarkMine is masking plus mining of lines whose template exists (the
// steady state).
func BenchmarkMine(b *testing.B) {
	m := NewMiner("bench", Config{})
	lines := corpus(4096)
	for _, l := range lines {
		m.Add(time.Time{}, l)
	}
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		m.Add(time.Time{}, lines[n%len(lines)])
		n++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

// BenchmarkMineCold includes learning: a fresh miner per 4096 lines.
func BenchmarkMineCold(b *testing.B) {
	lines := corpus(4096)
	b.ReportAllocs()
	for b.Loop() {
		m := NewMiner("bench", Config{})
		for _, l := range lines {
			m.Add(time.Time{}, l)
		}
	}
	b.ReportMetric(float64(b.N*len(lines))/b.Elapsed().Seconds(), "lines/s")
}
