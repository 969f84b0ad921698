package jetstream_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/bus"
	"github.com/osprey-aiops/osprey/internal/bus/jetstream"
)

// recorder is an events handler that holds its first call until release is
// closed and records the IDs of every call's batch.
type recorder struct {
	mu      sync.Mutex
	calls   [][]string
	entered chan struct{}
	release chan struct{}
	fail    func(ids []string) error // nil means succeed
}

func newRecorder() *recorder {
	return &recorder{entered: make(chan struct{}), release: make(chan struct{})}
}

func (r *recorder) handle(_ context.Context, batch []osprey.Event) error {
	ids := make([]string, len(batch))
	for i, e := range batch {
		ids[i] = e.ID
	}
	r.mu.Lock()
	r.calls = append(r.calls, ids)
	first := len(r.calls) == 1
	r.mu.Unlock()
	if first {
		close(r.entered)
		<-r.release
	}
	if r.fail != nil {
		return r.fail(ids)
	}
	return nil
}

func (r *recorder) got() [][]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}

// holdAndQueue waits until r's handler holds its first batch, publishes
// batches (raw, so that an empty one is possible), and waits until all of
// them are fetched and queued behind the held one.
func holdAndQueue(t *testing.T, b *jetstream.Bus, r *recorder, group string, batches ...[]osprey.Event) {
	t.Helper()
	<-r.entered
	for _, batch := range batches {
		if err := b.PublishRaw(t.Context(), bus.Events.Name(), batch); err != nil {
			t.Fatalf("publish: %v", err)
		}
	}
	deadline := time.Now().Add(failAfter)
	for jetstream.Queued(b, bus.Events.Name(), group) < len(batches) {
		if time.Now().After(deadline) {
			t.Fatalf("after %s, %d of %d batches queued", failAfter, jetstream.Queued(b, bus.Events.Name(), group), len(batches))
		}
		time.Sleep(time.Millisecond)
	}
}

func events(ids ...string) []osprey.Event {
	batch := make([]osprey.Event, 0, len(ids))
	for _, id := range ids {
		batch = append(batch, osprey.Event{ID: id, Name: "test"})
	}
	return batch
}

// TestCoalesceFetchedBatches: while the handler holds a batch, the batches
// fetched behind it are handed on in calls that join them, in order, while
// the elements gathered are fewer than the limit (an empty batch adds
// nothing); a topic not named in Options.Coalesce keeps its batches apart.
func TestCoalesceFetchedBatches(t *testing.T) {
	b, reg := newEnv(t).newBus(t, func(o *jetstream.Options) {
		o.Coalesce = map[string]int{bus.Events.Name(): 3}
	})
	r := newRecorder()
	subscribe(t, b, bus.Events, "g", r.handle)
	var mu sync.Mutex
	var anomalyCalls [][]string
	subscribe(t, b, bus.Anomalies, "g", func(_ context.Context, batch []osprey.Anomaly) error {
		var ids []string
		for _, a := range batch {
			ids = append(ids, a.ID)
		}
		mu.Lock()
		anomalyCalls = append(anomalyCalls, ids)
		mu.Unlock()
		return nil
	})
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		publish(t, b, bus.Anomalies, []osprey.Anomaly{{ID: id}})
	}
	start(t, b)
	publish(t, b, bus.Events, events("a"))
	holdAndQueue(t, b, r, "g",
		events("b", "c"), events(), events("d"), events("e", "f", "g"), events("h"))
	close(r.release)
	shutdown(t, b)

	want := [][]string{{"a"}, {"b", "c", "d"}, {"e", "f", "g"}, {"h"}}
	if got := r.got(); !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("handler calls %v, want %v", got, want)
	}
	wantAnomalies := [][]string{{"a"}, {"b"}, {"c"}, {"d"}, {"e"}}
	if !slices.EqualFunc(anomalyCalls, wantAnomalies, slices.Equal) {
		t.Errorf("anomaly handler calls %v, want %v (not coalesced)", anomalyCalls, wantAnomalies)
	}
	if got, want := groupCounters(t, reg, "events", "g"), (counters{delivered: 6}); got != want {
		t.Errorf("counters %+v, want %+v", got, want)
	}
	if got := metric(t, reg, "osprey_bus_coalesced_batches_total", "group", "g", "topic", "events"); got != 2 {
		t.Errorf("coalesced = %v, want 2", got)
	}
	if got := metric(t, reg, "osprey_bus_coalesced_batches_total", "group", "g", "topic", "anomalies"); got != 0 {
		t.Errorf("anomalies coalesced = %v, want 0", got)
	}
}

// TestCoalescedFailureIsRedelivered: a call on joined batches that fails
// transiently hands every one of them back; on its last allowed delivery a
// batch is handled alone, so the one that keeps failing is given up and the
// other is handled.
func TestCoalescedFailureIsRedelivered(t *testing.T) {
	b, reg := newEnv(t).newBus(t, func(o *jetstream.Options) {
		o.Coalesce = map[string]int{bus.Events.Name(): 100}
		o.MaxDeliver = 2
	})
	r := newRecorder()
	r.fail = func(ids []string) error {
		if slices.Contains(ids, "x") {
			return errors.New("database unavailable")
		}
		return nil
	}
	subscribe(t, b, bus.Events, "g", r.handle)
	start(t, b)
	publish(t, b, bus.Events, events("a"))
	holdAndQueue(t, b, r, "g", events("b"), events("x"))
	close(r.release)
	shutdown(t, b)

	got := r.got()
	want := [][]string{{"a"}, {"b", "x"}}
	if len(got) != 4 || !slices.EqualFunc(got[:2], want, slices.Equal) {
		t.Fatalf("handler calls %v, want %v then b and x alone", got, want)
	}
	retried := [][]string{got[2], got[3]}
	slices.SortFunc(retried, slices.Compare)
	if want := [][]string{{"b"}, {"x"}}; !slices.EqualFunc(retried, want, slices.Equal) {
		t.Errorf("last deliveries %v, want %v, each alone", retried, want)
	}
	wantCounters := counters{delivered: 5, errors: 2, redelivered: 2, terminated: 1}
	if got := groupCounters(t, reg, "events", "g"); got != wantCounters {
		t.Errorf("counters %+v, want %+v", got, wantCounters)
	}
}

// TestCoalescedPermanentFailureIsolatesTheBatch: when a call on joined
// batches fails permanently, they are handled again one by one, and only
// the one that fails alone is given up.
func TestCoalescedPermanentFailureIsolatesTheBatch(t *testing.T) {
	b, reg := newEnv(t).newBus(t, func(o *jetstream.Options) {
		o.Coalesce = map[string]int{bus.Events.Name(): 100}
	})
	r := newRecorder()
	r.fail = func(ids []string) error {
		if slices.Contains(ids, "bad") {
			return osprey.Permanent(errors.New("malformed event"))
		}
		return nil
	}
	subscribe(t, b, bus.Events, "g", r.handle)
	start(t, b)
	publish(t, b, bus.Events, events("a"))
	holdAndQueue(t, b, r, "g", events("b"), events("bad"), events("c"))
	close(r.release)
	shutdown(t, b)

	want := [][]string{{"a"}, {"b", "bad", "c"}, {"b"}, {"bad"}, {"c"}}
	if got := r.got(); !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("handler calls %v, want %v", got, want)
	}
	wantCounters := counters{delivered: 7, errors: 2, terminated: 1}
	if got := groupCounters(t, reg, "events", "g"); got != wantCounters {
		t.Errorf("counters %+v, want %+v", got, wantCounters)
	}
}
