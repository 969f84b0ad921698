package correlate_test

import (
	"context"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/osprey-aiops/osprey/internal/bus"
	"github.com/osprey-aiops/osprey/internal/bus/inproc"
	"github.com/osprey-aiops/osprey/internal/correlate"
)

// The flood benchmarks' wiring of the commit pipeline, kept apart from
// flood_bench_test.go so that the benchmarks also build (with this file
// replaced by one without the pipeline) on a tree from before it, for
// comparisons with the same benchmark code.

// floodPipeline turns the commit pipeline on, as serve does, unless
// OSPREY_FLOOD_PIPELINE=0.
func floodPipeline(o *correlate.Options) { o.Pipeline = os.Getenv("OSPREY_FLOOD_PIPELINE") != "0" }

// newFloodBus is serve's in-process bus for the events topic: queued
// batches coalesced up to coalesce events, and c flushed when none is
// queued.
func newFloodBus(c *correlate.Correlator, coalesce int) *inproc.Bus {
	return inproc.New(inproc.Options{
		QueueSize: 4096, PublishTimeout: time.Hour, Registerer: prometheus.NewRegistry(),
		Coalesce: map[string]int{bus.Events.Name(): coalesce},
		Idle:     map[string]func(context.Context) error{bus.Events.Name(): c.Flush},
	})
}

// floodFlush waits for c's queued commits.
func floodFlush(ctx context.Context, c *correlate.Correlator) error { return c.Flush(ctx) }
