package inproc_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/bus"
	"github.com/osprey-aiops/osprey/internal/bus/inproc"
)

// BenchmarkPublishDeliver measures publishing a batch of 100 series and
// delivering it to every group, with one group (passed by reference) and two
// (the second gets a deep copy). The drain at Shutdown is timed, so every
// published batch is also delivered within the measurement.
func BenchmarkPublishDeliver(b *testing.B) {
	const batchSize = 100
	batch := make([]osprey.Series, batchSize)
	for i := range batch {
		batch[i] = osprey.Series{
			Labels: osprey.Labels{
				osprey.LabelMetric: "http_requests_total",
				"service":          "checkout",
				"instance":         fmt.Sprintf("10.0.0.%d:9090", i),
				"code":             "200",
			},
			Samples: []osprey.Sample{{TimestampMs: int64(i), Value: float64(i)}},
		}
	}
	for _, groups := range []int{1, 2} {
		b.Run(fmt.Sprintf("groups=%d", groups), func(b *testing.B) {
			ctx := context.Background()
			bs := inproc.New(inproc.Options{})
			var handled atomic.Int64
			for g := range groups {
				err := bus.Subscribe(bs, bus.Series, fmt.Sprintf("g%d", g), func(_ context.Context, batch []osprey.Series) error {
					handled.Add(int64(len(batch)))
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			if err := bs.Start(ctx); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			// Handlers only read, so publishing the same slice each time
			// is safe here.
			for range b.N {
				if err := bus.Publish(ctx, bs, bus.Series, batch); err != nil {
					b.Fatal(err)
				}
			}
			if err := bs.Shutdown(ctx); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			if got, want := handled.Load(), int64(b.N*groups*batchSize); got != want {
				b.Fatalf("handled %d series, want %d", got, want)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batchSize), "ns/series")
		})
	}
}
