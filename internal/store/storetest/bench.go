package storetest

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/store"
)

// Bench runs the store benchmarks against the stores open returns. open
// returns a new, empty store and closes it when b ends.
//
// AppendEvents/batch=N appends batches of N typical alerts; besides ns/op it
// reports events/s.
func Bench(b *testing.B, open func(b *testing.B) store.Store) {
	for _, size := range []int{1, 100} {
		b.Run(fmt.Sprintf("AppendEvents/batch=%d", size), func(b *testing.B) {
			benchAppendEvents(b, open(b), size)
		})
	}
}

func benchAppendEvents(b *testing.B, st store.Store, size int) {
	labels := osprey.Labels{"service": "checkout", "host": "web-1", "namespace": "shop", "severity": "warning"}
	tmpl := osprey.Event{
		Source: "alertmanager", Name: "HighLatency", Labels: labels,
		Annotations: map[string]string{"summary": "p99 latency above 2s", "runbook_url": "https://runbooks.example.com/latency"},
		Severity:    osprey.SeverityWarning, Status: osprey.StatusFiring, StartsAt: time.Now(),
		Fingerprint: osprey.EventFingerprint("HighLatency", labels), ReceivedAt: time.Now(),
	}
	// Batches are built before the timer starts, so that the figures are
	// the store's own.
	batches := make([][]osprey.Event, b.N)
	for i := range batches {
		batches[i] = make([]osprey.Event, size)
		for j := range batches[i] {
			batches[i][j] = tmpl
			batches[i][j].ID = "bench-" + strconv.Itoa(i*size+j)
		}
	}
	ctx := b.Context()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if err := st.AppendEvents(ctx, batches[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "events/s")
}
