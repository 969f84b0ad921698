package jetstream_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/bus"
)

// BenchmarkPublishDeliver measures publishing batches of 100 series (each
// publish waits for JetStream's ack) and delivering them to one group and to
// two. Shutdown is timed, and it returns when every group acknowledged every
// batch, so events/s counts delivered events. An op is one batch.
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
			bs, _ := newEnv(b).newBus(b, nil)
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
			ctx := context.Background()
			if err := bs.Start(ctx); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if err := bus.Publish(ctx, bs, bus.Series, batch); err != nil {
					b.Fatal(err)
				}
			}
			if err := shutdownErr(bs); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			if got, want := handled.Load(), int64(b.N*groups*batchSize); got != want {
				b.Fatalf("handled %d series, want %d", got, want)
			}
			b.ReportMetric(float64(b.N*batchSize)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
