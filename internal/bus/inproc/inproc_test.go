package inproc_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/bus"
	"github.com/osprey-aiops/osprey/internal/bus/bustest"
	"github.com/osprey-aiops/osprey/internal/bus/inproc"
)

func TestConformance(t *testing.T) {
	for _, tt := range []struct {
		name      string
		queueSize int
	}{
		{"default queue", 0},
		{"small queue", bustest.MinQueue},
	} {
		t.Run(tt.name, func(t *testing.T) {
			bustest.Run(t, func(t *testing.T) bus.Bus {
				// A publish timeout no run will reach: the suite has no
				// timing thresholds, so a loaded machine must not drop.
				b := inproc.New(inproc.Options{QueueSize: tt.queueSize, PublishTimeout: 24 * time.Hour})
				t.Cleanup(func() { _ = b.Shutdown(context.Background()) })
				return b
			})
		})
	}
}

// harness is a bus under test with its registry and log records.
type harness struct {
	*inproc.Bus
	reg  *prometheus.Registry
	logs *recorder
}

func newHarness(t *testing.T, opts inproc.Options) *harness {
	t.Helper()
	h := &harness{reg: prometheus.NewRegistry(), logs: &recorder{}}
	opts.Registerer = h.reg
	opts.Logger = slog.New(h.logs)
	h.Bus = inproc.New(opts)
	t.Cleanup(func() { _ = h.Shutdown(context.Background()) })
	return h
}

func (h *harness) start(t *testing.T) {
	t.Helper()
	if err := h.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
}

func (h *harness) shutdown(t *testing.T) {
	t.Helper()
	if err := h.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

// value returns the value of the metric name with exactly the given labels
// (name=value pairs), or -1 if there is none.
func (h *harness) value(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel())*2 != len(labels) {
				continue
			}
			for i, lp := range m.GetLabel() {
				if lp.GetName() != labels[2*i] || lp.GetValue() != labels[2*i+1] {
					continue metrics
				}
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			}
		}
	}
	return -1
}

// recorder is a slog.Handler that keeps the records.
type recorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *recorder) WithGroup(string) slog.Handler            { return r }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.records = append(r.records, rec.Clone())
	return nil
}

func (r *recorder) all() []slog.Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]slog.Record(nil), r.records...)
}

// attr returns the value of key in rec.
func attr(rec slog.Record, key string) slog.Value {
	var v slog.Value
	rec.Attrs(func(a slog.Attr) bool {
		if a.Key == key {
			v = a.Value
			return false
		}
		return true
	})
	return v
}

func ev(id string) []osprey.Event { return []osprey.Event{{ID: id}} }

// gatedGroup subscribes a handler that waits for a token on gate before it
// records each batch's first event ID on handled.
func gatedGroup(t *testing.T, b bus.Bus, group string, gate <-chan struct{}, handled chan<- string) {
	t.Helper()
	err := bus.Subscribe(b, bus.Events, group, func(_ context.Context, batch []osprey.Event) error {
		<-gate
		handled <- batch[0].ID
		return nil
	})
	if err != nil {
		t.Fatalf("subscribe: %v", err)
	}
}

func drainIDs(ch chan string) []string {
	var ids []string
	for len(ch) > 0 {
		ids = append(ids, <-ch)
	}
	return ids
}

func TestBackpressureBlocksUntilRoom(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, inproc.Options{QueueSize: 1})
		gate, handled := make(chan struct{}), make(chan string, 3)
		gatedGroup(t, h, "slow", gate, handled)
		h.start(t)
		ctx := context.Background()
		begin := time.Now()

		// e1 is taken by the worker, which then waits at the gate; e2 fills
		// the queue; e3 must wait.
		if err := bus.Publish(ctx, h, bus.Events, ev("e1")); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if err := bus.Publish(ctx, h, bus.Events, ev("e2")); err != nil {
			t.Fatal(err)
		}
		if got := h.value(t, "osprey_bus_queue_length", "group", "slow", "topic", "events"); got != 1 {
			t.Errorf("queue length %v, want 1", got)
		}
		result := make(chan error, 1)
		go func() { result <- bus.Publish(ctx, h, bus.Events, ev("e3")) }()
		synctest.Wait()
		select {
		case err := <-result:
			t.Fatalf("publish to a full queue returned %v without waiting", err)
		default:
		}

		gate <- struct{}{} // e1 done; the worker takes e2 and room opens for e3
		synctest.Wait()
		select {
		case err := <-result:
			if err != nil {
				t.Fatalf("publish after room opened: %v", err)
			}
		default:
			t.Fatal("publish still blocked after the handler made room")
		}
		if waited := time.Since(begin); waited != 0 {
			t.Errorf("publish took %v of (fake) time, want 0", waited)
		}
		close(gate)
		h.shutdown(t)
		if got, want := drainIDs(handled), []string{"e1", "e2", "e3"}; !reflect.DeepEqual(got, want) {
			t.Errorf("handled %v, want %v", got, want)
		}
		if got := h.value(t, "osprey_bus_dropped_batches_total", "group", "slow", "topic", "events"); got != -1 && got != 0 {
			t.Errorf("dropped %v, want 0", got)
		}
	})
}

func TestPublishTimeoutDropsForFullGroupOnly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const timeout = 3 * time.Second
		h := newHarness(t, inproc.Options{QueueSize: 1, PublishTimeout: timeout})
		gate, slow := make(chan struct{}), make(chan string, 3)
		gatedGroup(t, h, "slow", gate, slow)
		fast := make(chan string, 3)
		err := bus.Subscribe(h, bus.Events, "fast", func(_ context.Context, batch []osprey.Event) error {
			fast <- batch[0].ID
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		h.start(t)
		ctx := context.Background()
		for _, id := range []string{"e1", "e2"} {
			if err := bus.Publish(ctx, h, bus.Events, ev(id)); err != nil {
				t.Fatal(err)
			}
			synctest.Wait()
		}

		begin := time.Now()
		err = bus.Publish(ctx, h, bus.Events, ev("e3"))
		if !errors.Is(err, bus.ErrFull) {
			t.Fatalf("publish to a queue that stays full: got %v, want %v", err, bus.ErrFull)
		}
		if waited := time.Since(begin); waited != timeout {
			t.Errorf("publish waited %v, want the publish timeout %v", waited, timeout)
		}
		const want = `
# HELP osprey_bus_dropped_batches_total Batches dropped for the group: its queue stayed full for the publish timeout, or shutdown gave up before they were handled.
# TYPE osprey_bus_dropped_batches_total counter
osprey_bus_dropped_batches_total{group="fast",topic="events"} 0
osprey_bus_dropped_batches_total{group="slow",topic="events"} 1
`
		if err := testutil.GatherAndCompare(h.reg, strings.NewReader(want), "osprey_bus_dropped_batches_total"); err != nil {
			t.Error(err)
		}
		close(gate)
		h.shutdown(t)
		if got, want := drainIDs(slow), []string{"e1", "e2"}; !reflect.DeepEqual(got, want) {
			t.Errorf("slow group handled %v, want %v", got, want)
		}
		if got, want := drainIDs(fast), []string{"e1", "e2", "e3"}; !reflect.DeepEqual(got, want) {
			t.Errorf("fast group handled %v, want %v", got, want)
		}
		if got := h.value(t, "osprey_bus_published_batches_total", "topic", "events"); got != 3 {
			t.Errorf("published %v, want 3", got)
		}
	})
}

func TestPublishCancelWhileBlocked(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, inproc.Options{QueueSize: 1})
		gate, handled := make(chan struct{}), make(chan string, 2)
		gatedGroup(t, h, "slow", gate, handled)
		h.start(t)
		for _, id := range []string{"e1", "e2"} {
			if err := bus.Publish(context.Background(), h, bus.Events, ev(id)); err != nil {
				t.Fatal(err)
			}
			synctest.Wait()
		}

		ctx, cancel := context.WithCancel(context.Background())
		result := make(chan error, 1)
		go func() { result <- bus.Publish(ctx, h, bus.Events, ev("e3")) }()
		synctest.Wait() // the publisher is blocked on the full queue
		cancel()
		err := <-result
		if !errors.Is(err, context.Canceled) || errors.Is(err, bus.ErrFull) {
			t.Fatalf("cancelled publish: got %v, want %v", err, context.Canceled)
		}
		close(gate)
		h.shutdown(t)
		if got := h.value(t, "osprey_bus_dropped_batches_total", "group", "slow", "topic", "events"); got != 0 {
			t.Errorf("dropped %v, want 0: the caller was told, the bus dropped nothing", got)
		}
	})
}

func TestHandlerPanicIsRecovered(t *testing.T) {
	h := newHarness(t, inproc.Options{})
	handled := make(chan string, 1)
	err := bus.Subscribe(h, bus.Events, "g", func(_ context.Context, batch []osprey.Event) error {
		if batch[0].ID == "boom" {
			panic("handler bug")
		}
		handled <- batch[0].ID
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	h.start(t)
	for _, id := range []string{"boom", "after"} {
		if err := bus.Publish(context.Background(), h, bus.Events, ev(id)); err != nil {
			t.Fatal(err)
		}
	}
	if got := <-handled; got != "after" {
		t.Errorf("handled %q, want %q", got, "after")
	}
	h.shutdown(t)
	if got := h.value(t, "osprey_bus_handler_errors_total", "group", "g", "topic", "events"); got != 1 {
		t.Errorf("handler errors %v, want 1", got)
	}
	if got := h.value(t, "osprey_bus_delivered_batches_total", "group", "g", "topic", "events"); got != 2 {
		t.Errorf("delivered %v, want 2", got)
	}
	recs := h.logs.all()
	if len(recs) != 1 {
		t.Fatalf("logged %d records, want 1", len(recs))
	}
	if err := attr(recs[0], "err").String(); !strings.Contains(err, "handler bug") {
		t.Errorf("logged err %q, want the panic value", err)
	}
	if stack := attr(recs[0], "stack").String(); !strings.Contains(stack, "inproc_test.TestHandlerPanicIsRecovered") {
		t.Errorf("logged stack does not show the panicking handler:\n%s", stack)
	}
}

func TestHandlerErrorsAreLoggedAtABoundedRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, inproc.Options{})
		err := bus.Subscribe(h, bus.Events, "g", func(context.Context, []osprey.Event) error {
			return errors.New("always fails")
		})
		if err != nil {
			t.Fatal(err)
		}
		h.start(t)
		publish := func(n int) {
			for i := range n {
				if err := bus.Publish(context.Background(), h, bus.Events, ev(fmt.Sprint(i))); err != nil {
					t.Fatal(err)
				}
			}
			synctest.Wait() // every batch handled
		}
		publish(100)
		if got := len(h.logs.all()); got != 1 {
			t.Fatalf("100 errors in an instant logged %d times, want 1", got)
		}
		time.Sleep(10 * time.Second) // the log interval, in fake time
		publish(1)
		h.shutdown(t)
		recs := h.logs.all()
		if len(recs) != 2 {
			t.Fatalf("logged %d records, want 2", len(recs))
		}
		if got := attr(recs[1], "suppressed").Int64(); got != 99 {
			t.Errorf("second record reports %d suppressed errors, want 99", got)
		}
		if recs[1].Message != "bus handler failed" || attr(recs[1], "topic").String() != "events" || attr(recs[1], "group").String() != "g" {
			t.Errorf("unexpected record %v", recs[1])
		}
		if got := h.value(t, "osprey_bus_handler_errors_total", "group", "g", "topic", "events"); got != 101 {
			t.Errorf("handler errors %v, want 101", got)
		}
	})
}

func TestShutdownDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, inproc.Options{QueueSize: 2})
		ctxErr := make(chan error, 1)
		err := bus.Subscribe(h, bus.Events, "stuck", func(ctx context.Context, _ []osprey.Event) error {
			<-ctx.Done() // a handler that only stops when told to
			ctxErr <- ctx.Err()
			return ctx.Err()
		})
		if err != nil {
			t.Fatal(err)
		}
		h.start(t)
		for _, id := range []string{"e1", "e2", "e3"} { // e1 in the handler, e2 and e3 queued
			if err := bus.Publish(context.Background(), h, bus.Events, ev(id)); err != nil {
				t.Fatal(err)
			}
			synctest.Wait()
		}
		blocked := make(chan error, 1)
		go func() { blocked <- bus.Publish(context.Background(), h, bus.Events, ev("e4")) }()
		synctest.Wait()

		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		begin := time.Now()
		err = h.Shutdown(ctx)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Shutdown past its deadline: got %v, want %v", err, context.DeadlineExceeded)
		}
		if waited := time.Since(begin); waited != time.Second {
			t.Errorf("Shutdown returned after %v, want 1s", waited)
		}
		if err := <-ctxErr; !errors.Is(err, context.Canceled) {
			t.Errorf("handler ctx: got %v, want %v", err, context.Canceled)
		}
		if err := <-blocked; !errors.Is(err, bus.ErrClosed) {
			t.Errorf("publisher waiting at abort: got %v, want %v", err, bus.ErrClosed)
		}
		h.shutdown(t) // waits for the workers to finish
		if got := h.value(t, "osprey_bus_dropped_batches_total", "group", "stuck", "topic", "events"); got != 2 {
			t.Errorf("dropped %v, want 2 (e2, e3)", got)
		}
		if got := h.value(t, "osprey_bus_delivered_batches_total", "group", "stuck", "topic", "events"); got != 1 {
			t.Errorf("delivered %v, want 1 (e1)", got)
		}
	})
}

func TestShutdownWithoutStartDropsQueued(t *testing.T) {
	h := newHarness(t, inproc.Options{})
	err := bus.Subscribe(h, bus.Events, "g", func(context.Context, []osprey.Event) error {
		t.Error("handler ran on a bus that was never started")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"e1", "e2"} {
		if err := bus.Publish(context.Background(), h, bus.Events, ev(id)); err != nil {
			t.Fatal(err)
		}
	}
	h.shutdown(t)
	if got := h.value(t, "osprey_bus_dropped_batches_total", "group", "g", "topic", "events"); got != 2 {
		t.Errorf("dropped %v, want 2", got)
	}
	if err := h.Start(context.Background()); !errors.Is(err, bus.ErrClosed) {
		t.Errorf("Start after Shutdown: got %v, want %v", err, bus.ErrClosed)
	}
}

func TestPublishedBeforeStartIsDelivered(t *testing.T) {
	h := newHarness(t, inproc.Options{})
	handled := make(chan string, 1)
	err := bus.Subscribe(h, bus.Events, "g", func(_ context.Context, batch []osprey.Event) error {
		handled <- batch[0].ID
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := bus.Publish(context.Background(), h, bus.Events, ev("early")); err != nil {
		t.Fatal(err)
	}
	h.start(t)
	if got := <-handled; got != "early" {
		t.Errorf("handled %q, want %q", got, "early")
	}
	h.shutdown(t)
}

func TestPublishWithoutSubscribers(t *testing.T) {
	h := newHarness(t, inproc.Options{})
	h.start(t)
	if err := bus.Publish(context.Background(), h, bus.Spans, []osprey.Span{{TraceID: "t"}}); err != nil {
		t.Fatalf("publish to a topic without subscribers: %v", err)
	}
	h.shutdown(t)
	if got := h.value(t, "osprey_bus_published_batches_total", "topic", "spans"); got != 1 {
		t.Errorf("published %v, want 1", got)
	}
}

func TestLifecycleMisuse(t *testing.T) {
	h := newHarness(t, inproc.Options{})
	nop := func(context.Context, bus.Message) error { return nil }
	for _, tt := range []struct{ topic, group string }{{"", "g"}, {"events", ""}} {
		if err := h.SubscribeRaw(tt.topic, tt.group, nop); err == nil {
			t.Errorf("SubscribeRaw(%q, %q) succeeded", tt.topic, tt.group)
		}
	}
	if err := h.SubscribeRaw("events", "g", nil); err == nil {
		t.Error("SubscribeRaw with a nil handler succeeded")
	}
	h.start(t)
	if err := h.Start(context.Background()); err == nil {
		t.Error("second Start succeeded")
	}
	if err := h.SubscribeRaw("events", "late", nop); err == nil || errors.Is(err, bus.ErrClosed) {
		t.Errorf("SubscribeRaw after Start: got %v, want a not-closed error", err)
	}
	h.shutdown(t)
}

func TestDeliveryByReferenceAndCopies(t *testing.T) {
	type got struct {
		group string
		batch []osprey.Series
	}
	for _, groups := range []int{1, 3} {
		t.Run(fmt.Sprintf("groups=%d", groups), func(t *testing.T) {
			h := newHarness(t, inproc.Options{})
			ch := make(chan got, groups)
			for i := range groups {
				g := fmt.Sprintf("g%d", i)
				err := bus.Subscribe(h, bus.Series, g, func(_ context.Context, batch []osprey.Series) error {
					ch <- got{g, batch}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			h.start(t)
			batch := []osprey.Series{{Labels: osprey.Labels{"a": "b"}, Samples: []osprey.Sample{{TimestampMs: 1, Value: 2}}}}
			if err := bus.Publish(context.Background(), h, bus.Series, batch); err != nil {
				t.Fatal(err)
			}
			h.shutdown(t)
			for range groups {
				r := <-ch
				same := &r.batch[0] == &batch[0]
				if want := r.group == "g0"; same != want {
					t.Errorf("group %s got the published slice: %t, want %t", r.group, same, want)
				}
				if !reflect.DeepEqual(r.batch, batch) {
					t.Errorf("group %s got %+v, want %+v", r.group, r.batch, batch)
				}
			}
		})
	}
}

func TestMessageDataIsJSON(t *testing.T) {
	h := newHarness(t, inproc.Options{})
	type result struct {
		value any
		data  []byte
	}
	ch := make(chan result, 1)
	err := h.SubscribeRaw("events", "raw", func(_ context.Context, m bus.Message) error {
		v, _ := m.Value()
		d, err := m.Data()
		if err != nil {
			return err
		}
		ch <- result{v, d}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	h.start(t)
	batch := []osprey.Event{{ID: "e1", Name: "n", Labels: osprey.Labels{"a": "b"}}}
	if err := bus.Publish(context.Background(), h, bus.Events, batch); err != nil {
		t.Fatal(err)
	}
	r := <-ch
	h.shutdown(t)
	if !reflect.DeepEqual(r.value, batch) {
		t.Errorf("Value() = %v, want the published batch", r.value)
	}
	want, _ := json.Marshal(batch)
	if string(r.data) != string(want) {
		t.Errorf("Data() = %s, want %s", r.data, want)
	}
}

func TestMetricsLintAndCapacity(t *testing.T) {
	h := newHarness(t, inproc.Options{QueueSize: 7})
	if err := bus.Subscribe(h, bus.Events, "g", func(context.Context, []osprey.Event) error { return nil }); err != nil {
		t.Fatal(err)
	}
	h.start(t)
	if err := bus.Publish(context.Background(), h, bus.Events, ev("e")); err != nil {
		t.Fatal(err)
	}
	h.shutdown(t)
	problems, err := testutil.GatherAndLint(h.reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("metric %s: %s", p.Metric, p.Text)
	}
	if got := h.value(t, "osprey_bus_queue_capacity"); got != 7 {
		t.Errorf("queue capacity %v, want 7", got)
	}
	if got := h.value(t, "osprey_bus_queue_length", "group", "g", "topic", "events"); got != 0 {
		t.Errorf("queue length after shutdown %v, want 0", got)
	}
}

func TestPublishTimeoutIsPerCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const timeout = 3 * time.Second
		h := newHarness(t, inproc.Options{QueueSize: 1, PublishTimeout: timeout})
		gate := make(chan struct{})
		handled := make(chan string, 4)
		gatedGroup(t, h, "slow1", gate, handled)
		gatedGroup(t, h, "slow2", gate, handled)
		h.start(t)
		for _, id := range []string{"e1", "e2"} {
			if err := bus.Publish(context.Background(), h, bus.Events, ev(id)); err != nil {
				t.Fatal(err)
			}
			synctest.Wait()
		}
		begin := time.Now()
		err := bus.Publish(context.Background(), h, bus.Events, ev("e3"))
		if !errors.Is(err, bus.ErrFull) {
			t.Fatalf("got %v, want %v", err, bus.ErrFull)
		}
		if waited := time.Since(begin); waited != timeout {
			t.Errorf("publish to two full groups waited %v, want one timeout (%v)", waited, timeout)
		}
		for _, g := range []string{"slow1", "slow2"} {
			if got := h.value(t, "osprey_bus_dropped_batches_total", "group", g, "topic", "events"); got != 1 {
				t.Errorf("group %s dropped %v, want 1", g, got)
			}
			if !strings.Contains(err.Error(), "group "+g) {
				t.Errorf("error %q does not name group %s", err, g)
			}
		}
		close(gate)
		h.shutdown(t)
	})
}

func TestHandlerContextAfterShutdown(t *testing.T) {
	h := newHarness(t, inproc.Options{})
	ctxs := make(chan context.Context, 1)
	err := bus.Subscribe(h, bus.Events, "g", func(ctx context.Context, _ []osprey.Event) error {
		ctxs <- ctx // kept beyond the call, as a careless stage might
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	h.start(t)
	if err := bus.Publish(context.Background(), h, bus.Events, ev("e1")); err != nil {
		t.Fatal(err)
	}
	ctx := <-ctxs
	h.shutdown(t)
	// The drain is over: even a handler's context no longer publishes.
	if err := bus.Publish(ctx, h, bus.Events, ev("late")); !errors.Is(err, bus.ErrClosed) {
		t.Errorf("publish with a handler's context after Shutdown: got %v, want %v", err, bus.ErrClosed)
	}
	if ctx.Err() == nil {
		t.Error("handler context still live after Shutdown")
	}
}
