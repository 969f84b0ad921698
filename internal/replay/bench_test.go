package replay

import (
	"context"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey/internal/config"
)

// BenchmarkSynthetic replays a day of 200 synthetic series through the whole
// pipeline, with its two halves on one goroutine and on two (osprey replay
// --synthetic 10000x1440 measures the full size).
func BenchmarkSynthetic(b *testing.B) {
	for _, bc := range []struct {
		name       string
		sequential bool
	}{{"sequential", true}, {"pipelined", false}} {
		b.Run(bc.name, func(b *testing.B) {
			src := SyntheticSource{Series: 200, Samples: 1440}
			opts := Options{Inputs: []Source{src}, Configs: []NamedConfig{{Name: "default", Config: config.Default()}},
				Window: Window{Step: time.Minute}, Sequential: bc.sequential}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Run(context.Background(), opts); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(src.Series*src.Samples)*float64(b.N)/b.Elapsed().Seconds(), "samples/s")
		})
	}
}
