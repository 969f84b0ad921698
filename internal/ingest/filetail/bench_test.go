package filetail

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/config"
)

// BenchmarkTail reads a file of 100,000 lines (about 80 bytes each) from
// the start into a consumer that drops them, committing offsets every
// 1,000 lines: one iteration is the whole file.
func BenchmarkTail(b *testing.B) {
	dir := b.TempDir()
	path := filepath.Join(dir, "app.log")
	var sb strings.Builder
	for i := range 100_000 {
		fmt.Fprintf(&sb, "2026-03-01T12:00:00Z INFO request %d served in %d ms for user %d\n", i, i%500, i%97)
	}
	if err := os.WriteFile(path, []byte(sb.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	discard := osprey.LogConsumerFunc(func(context.Context, []osprey.LogRecord) error { return nil })
	b.ReportAllocs()
	b.SetBytes(int64(sb.Len()))
	for b.Loop() {
		state := filepath.Join(b.TempDir(), "offsets.json")
		tl, err := New(Options{Files: []config.FileConfig{{Path: path}}, Logs: discard, StateFile: state})
		if err != nil {
			b.Fatal(err)
		}
		if err := tl.Poll(context.Background()); err != nil {
			b.Fatal(err)
		}
		_ = tl.Shutdown(context.Background())
	}
	b.ReportMetric(float64(100_000*b.N)/b.Elapsed().Seconds(), "lines/s")
}
