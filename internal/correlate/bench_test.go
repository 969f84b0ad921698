package correlate_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/correlate"
	"github.com/osprey-aiops/osprey/internal/store/sqlite"
)

// BenchmarkConsumeEvents measures the correlate stage on committed events in
// batches of 100 spread over 10 services and 50 distinct alerts (so most
// events are repeats that update a member), with the incidents written to a
// real SQLite store. The events are appended to the store before the timer
// starts, as the API would have done.
func BenchmarkConsumeEvents(b *testing.B) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "osprey.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	c, err := correlate.New(correlate.Options{
		Store: st, Window: 5 * time.Minute, GroupBy: []string{"service"},
		CatchUpInterval: time.Hour, Registerer: prometheus.NewRegistry(),
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer c.Shutdown(ctx)

	const batchSize = 100
	batches := make([][]osprey.Event, b.N)
	at := t0
	for i := range batches {
		batch := make([]osprey.Event, batchSize)
		for j := range batch {
			at = at.Add(10 * time.Millisecond)
			labels := osprey.Labels{"service": fmt.Sprintf("svc%d", j%10), "pod": fmt.Sprintf("p%d", j%5)}
			name := "HighLatency"
			batch[j] = osprey.Event{
				ID: osprey.NewID(at), Source: "bench", Name: name, Labels: labels,
				Status: osprey.StatusFiring, StartsAt: at, ReceivedAt: at,
				Fingerprint: osprey.EventFingerprint(name, labels),
			}
		}
		if err := st.AppendEvents(ctx, batch); err != nil {
			b.Fatal(err)
		}
		batches[i] = batch
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		if err := c.ConsumeEvents(ctx, batches[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batchSize)/time.Since(start).Seconds(), "events/s")
}
