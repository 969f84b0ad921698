package inproc_test

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/bus"
	"github.com/osprey-aiops/osprey/internal/bus/inproc"
)

// TestCoalesceQueuedBatches queues five one-event batches before Start, so
// the worker finds them all waiting: with a limit of three elements it
// hands them on as two calls, in order, while a topic not named in
// Options.Coalesce keeps its batches apart.
func TestCoalesceQueuedBatches(t *testing.T) {
	h := newHarness(t, inproc.Options{Coalesce: map[string]int{bus.Events.Name(): 3}})
	var calls [][]string
	err := bus.Subscribe(h, bus.Events, "g", func(_ context.Context, batch []osprey.Event) error {
		var ids []string
		for _, e := range batch {
			ids = append(ids, e.ID)
		}
		calls = append(calls, ids)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var anomalyCalls int
	err = bus.Subscribe(h, bus.Anomalies, "g", func(context.Context, []osprey.Anomaly) error {
		anomalyCalls++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	published := ev("a")
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		batch := ev(id)
		if id == "a" {
			batch = published
		}
		if err := bus.Publish(ctx, h, bus.Events, batch); err != nil {
			t.Fatal(err)
		}
		if err := bus.Publish(ctx, h, bus.Anomalies, []osprey.Anomaly{{ID: id}}); err != nil {
			t.Fatal(err)
		}
	}
	h.start(t)
	h.shutdown(t)

	want := [][]string{{"a", "b", "c"}, {"d", "e"}}
	if !slices.EqualFunc(calls, want, slices.Equal) {
		t.Errorf("handler calls %v, want %v", calls, want)
	}
	if len(published) != 1 || published[0].ID != "a" {
		t.Errorf("the published batch changed to %v", published)
	}
	if anomalyCalls != 5 {
		t.Errorf("anomaly handler called %d times, want 5 (not coalesced)", anomalyCalls)
	}
	if got := h.value(t, "osprey_bus_delivered_batches_total", "group", "g", "topic", "events"); got != 5 {
		t.Errorf("delivered = %v, want 5", got)
	}
	if got := h.value(t, "osprey_bus_coalesced_batches_total", "group", "g", "topic", "events"); got != 3 {
		t.Errorf("coalesced = %v, want 3", got)
	}
	if got := h.value(t, "osprey_bus_coalesced_batches_total", "group", "g", "topic", "anomalies"); got != 0 {
		t.Errorf("anomalies coalesced = %v, want 0", got)
	}
}

// TestIdleWhenNothingQueued queues three batches before Start: the topic's
// idle function runs once, after the last of them (not while others are
// queued behind a delivery), and before the delivery counts as done, so
// what it publishes on the handlers' context during Shutdown's drain is
// accepted and delivered.
func TestIdleWhenNothingQueued(t *testing.T) {
	var (
		mu  sync.Mutex
		log []string
	)
	note := func(s string) {
		mu.Lock()
		log = append(log, s)
		mu.Unlock()
	}
	var h *harness
	h = newHarness(t, inproc.Options{Idle: map[string]func(context.Context) error{
		bus.Events.Name(): func(ctx context.Context) error {
			note("idle")
			return bus.Publish(ctx, h, bus.Anomalies, []osprey.Anomaly{{ID: "flushed"}})
		},
	}})
	err := bus.Subscribe(h, bus.Events, "g", func(_ context.Context, batch []osprey.Event) error {
		note(batch[0].ID)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = bus.Subscribe(h, bus.Anomalies, "g", func(_ context.Context, batch []osprey.Anomaly) error {
		note(batch[0].ID)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, id := range []string{"a", "b", "c"} {
		if err := bus.Publish(ctx, h, bus.Events, ev(id)); err != nil {
			t.Fatal(err)
		}
	}
	h.start(t)
	h.shutdown(t)

	want := []string{"a", "b", "c", "idle", "flushed"}
	if !slices.Equal(log, want) {
		t.Errorf("calls %v, want %v", log, want)
	}
	if got := h.value(t, "osprey_bus_handler_errors_total", "group", "g", "topic", bus.Events.Name()); got != 0 {
		t.Errorf("handler errors %v, want 0", got)
	}
}

// TestIdleCutShortByABatch: a batch that arrives while the idle function
// runs cancels the function's context (not counted as an error) and is
// delivered without waiting for the function to finish its work; the
// function runs again once the queue is empty.
func TestIdleCutShortByABatch(t *testing.T) {
	started := make(chan struct{}, 2)
	release := make(chan struct{})
	var (
		mu       sync.Mutex
		outcomes []string
	)
	h := newHarness(t, inproc.Options{Idle: map[string]func(context.Context) error{
		bus.Events.Name(): func(ctx context.Context) error {
			started <- struct{}{}
			select {
			case <-ctx.Done():
				mu.Lock()
				outcomes = append(outcomes, "cut short")
				mu.Unlock()
				return ctx.Err()
			case <-release:
				mu.Lock()
				outcomes = append(outcomes, "done")
				mu.Unlock()
				return nil
			}
		},
	}})
	delivered := make(chan string, 2)
	err := bus.Subscribe(h, bus.Events, "g", func(_ context.Context, batch []osprey.Event) error {
		delivered <- batch[0].ID
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	h.start(t)
	ctx := context.Background()
	if err := bus.Publish(ctx, h, bus.Events, ev("a")); err != nil {
		t.Fatal(err)
	}
	<-delivered
	<-started // the idle function waits
	if err := bus.Publish(ctx, h, bus.Events, ev("b")); err != nil {
		t.Fatal(err)
	}
	if id := <-delivered; id != "b" { // would wait for release without the cut
		t.Fatalf("delivered %q, want b", id)
	}
	<-started
	close(release)
	h.shutdown(t)
	if !slices.Equal(outcomes, []string{"cut short", "done"}) {
		t.Errorf("idle function outcomes %v, want [cut short done]", outcomes)
	}
	if got := h.value(t, "osprey_bus_handler_errors_total", "group", "g", "topic", bus.Events.Name()); got != 0 {
		t.Errorf("handler errors %v, want 0", got)
	}
}
