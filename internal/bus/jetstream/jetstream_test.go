package jetstream_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/bus"
	"github.com/osprey-aiops/osprey/internal/bus/bustest"
	"github.com/osprey-aiops/osprey/internal/bus/jetstream"
	"github.com/osprey-aiops/osprey/internal/testenv"
)

// failAfter bounds the waits for Shutdown in these tests: a failure timeout
// for a bus that does not drain, not a measurement.
const failAfter = time.Minute

// env is one test's own stream and subject prefix on the test server, deleted
// when the test ends, so tests share nothing.
type env struct {
	url, stream, prefix string
}

// newEnv returns a fresh env, or skips the test (see testenv) when no NATS
// server with JetStream answers.
func newEnv(tb testing.TB) *env {
	tb.Helper()
	url := testenv.NATSURL()
	nc, err := nats.Connect(url, nats.Timeout(5*time.Second))
	if err != nil {
		testenv.Unavailable(tb, "NATS JetStream", err)
	}
	js, err := natsjs.New(nc)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err = js.AccountInfo(ctx)
		cancel()
	}
	nc.Close()
	if err != nil {
		testenv.Unavailable(tb, "NATS JetStream", err)
	}
	id := strings.ToUpper(rand.Text()[:12])
	e := &env{url: url, stream: "OSPREY_TEST_" + id, prefix: "ospreytest." + strings.ToLower(id)}
	tb.Cleanup(func() { e.deleteStream(tb) })
	return e
}

// deleteStream removes the env's stream with a connection of its own.
func (e *env) deleteStream(tb testing.TB) {
	nc, err := nats.Connect(e.url)
	if err != nil {
		tb.Errorf("connect to delete stream %s: %v", e.stream, err)
		return
	}
	defer nc.Close()
	js, err := natsjs.New(nc)
	if err != nil {
		tb.Errorf("jetstream context: %v", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := js.DeleteStream(ctx, e.stream); err != nil && !errors.Is(err, natsjs.ErrStreamNotFound) {
		tb.Errorf("delete stream %s: %v", e.stream, err)
	}
}

// newBus returns a Bus on the env's stream, as another process would make
// it, with its own metrics registry; edit may change the options. The bus is
// shut down when the test ends.
func (e *env) newBus(tb testing.TB, edit func(*jetstream.Options)) (*jetstream.Bus, *prometheus.Registry) {
	tb.Helper()
	reg := prometheus.NewRegistry()
	opts := jetstream.Options{
		URL:           e.url,
		Stream:        e.stream,
		SubjectPrefix: e.prefix,
		MaxBytes:      64 << 20,
		Registerer:    reg,
	}
	if edit != nil {
		edit(&opts)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := jetstream.New(ctx, opts)
	if err != nil {
		tb.Fatalf("jetstream.New: %v", err)
	}
	tb.Cleanup(func() {
		if err := shutdownErr(b); err != nil {
			tb.Errorf("Shutdown at cleanup: %v", err)
		}
	})
	return b, reg
}

func shutdownErr(b bus.Bus) error {
	ctx, cancel := context.WithTimeout(context.Background(), failAfter)
	defer cancel()
	return b.Shutdown(ctx)
}

func shutdown(t *testing.T, b bus.Bus) {
	t.Helper()
	if err := shutdownErr(b); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

func start(t *testing.T, b bus.Bus) {
	t.Helper()
	if err := b.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
}

func subscribe[T any](t *testing.T, b bus.Bus, topic bus.Topic[T], group string, h func(context.Context, []T) error) {
	t.Helper()
	if err := bus.Subscribe(b, topic, group, h); err != nil {
		t.Fatalf("subscribe %s/%s: %v", topic.Name(), group, err)
	}
}

func publish[T any](t *testing.T, b bus.Bus, topic bus.Topic[T], batch []T) {
	t.Helper()
	if err := bus.Publish(t.Context(), b, topic, batch); err != nil {
		t.Fatalf("publish %s: %v", topic.Name(), err)
	}
}

// closed reports whether ch is closed, without waiting.
func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func event(id string) []osprey.Event { return []osprey.Event{{ID: id, Name: "test"}} }

// metric returns the value of the counter name with exactly the given labels
// (name=value pairs), or 0 if it was never set.
func metric(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
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
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

// counters are the per-group counters a test checks, in one comparable
// value.
type counters struct{ delivered, errors, redelivered, terminated float64 }

func groupCounters(t *testing.T, reg *prometheus.Registry, topic, group string) counters {
	t.Helper()
	get := func(name string) float64 { return metric(t, reg, name, "group", group, "topic", topic) }
	return counters{
		delivered:   get("osprey_bus_delivered_batches_total"),
		errors:      get("osprey_bus_handler_errors_total"),
		redelivered: get("osprey_bus_redelivered_batches_total"),
		terminated:  get("osprey_bus_terminated_batches_total"),
	}
}

// TestConformance runs the bus conformance suite, each subtest on a stream
// of its own.
func TestConformance(t *testing.T) {
	bustest.Run(t, func(t *testing.T) bus.Bus {
		b, _ := newEnv(t).newBus(t, nil)
		return b
	})
}

func TestOptionsAreValidated(t *testing.T) {
	_, err := jetstream.New(t.Context(), jetstream.Options{
		Stream:        "a.b",
		SubjectPrefix: "osprey.>",
		Replicas:      7,
		AckWait:       -time.Second,
		MaxDeliver:    -1,
		MaxAckPending: -1,
	})
	if err == nil {
		t.Fatal("New accepted invalid options")
	}
	for _, want := range []string{"stream", "subject prefix", "replicas", "ack wait", "max deliver", "max ack pending"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}

func TestInvalidTopics(t *testing.T) {
	b, _ := newEnv(t).newBus(t, nil)
	nop := func(context.Context, bus.Message) error { return nil }
	for _, topic := range []string{"", "a.b", "a b", "a_b", "a*", ">"} {
		if err := b.PublishRaw(t.Context(), topic, event("e")); err == nil || errors.Is(err, bus.ErrClosed) {
			t.Errorf("PublishRaw(%q): got %v, want an invalid-topic error", topic, err)
		}
		if err := b.SubscribeRaw(topic, "g", nop); err == nil {
			t.Errorf("SubscribeRaw(%q) succeeded", topic)
		}
	}
	if err := b.SubscribeRaw("events", "", nop); err == nil {
		t.Error("SubscribeRaw without a group succeeded")
	}
}

// TestTransientFailureIsRedelivered: a handler's error that is not permanent,
// or its panic, hands the batch back, and the redelivery succeeds.
func TestTransientFailureIsRedelivered(t *testing.T) {
	tests := []struct {
		name string
		fail func() error
	}{
		{"error", func() error { return errors.New("database unavailable") }},
		{"panic", func() error { panic("handler bug") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, reg := newEnv(t).newBus(t, nil)
			var calls atomic.Int32
			attempts := make(chan int32, 3)
			subscribe(t, b, bus.Events, "flaky", func(context.Context, []osprey.Event) error {
				n := calls.Add(1)
				attempts <- n
				if n == 1 {
					return tc.fail()
				}
				return nil
			})
			start(t, b)
			publish(t, b, bus.Events, event("e1"))
			<-attempts // the failure
			<-attempts // the redelivery
			shutdown(t, b)
			if n := calls.Load(); n != 2 {
				t.Errorf("handler ran %d times, want 2", n)
			}
			want := counters{delivered: 2, errors: 1, redelivered: 1}
			if got := groupCounters(t, reg, "events", "flaky"); got != want {
				t.Errorf("counters %+v, want %+v", got, want)
			}
		})
	}
}

// TestPermanentErrorIsNotRedelivered: a batch whose handler failed
// permanently is terminated. Shutdown waits until every batch it published
// was settled, so a redelivery would have happened before it returned.
func TestPermanentErrorIsNotRedelivered(t *testing.T) {
	b, reg := newEnv(t).newBus(t, nil)
	var mu sync.Mutex
	calls := make(map[string]int)
	subscribe(t, b, bus.Events, "strict", func(_ context.Context, batch []osprey.Event) error {
		mu.Lock()
		calls[batch[0].ID]++
		mu.Unlock()
		if batch[0].ID == "bad" {
			return osprey.Permanent(errors.New("malformed batch"))
		}
		return nil
	})
	start(t, b)
	publish(t, b, bus.Events, event("bad"))
	publish(t, b, bus.Events, event("good"))
	shutdown(t, b)
	if want := map[string]int{"bad": 1, "good": 1}; fmt.Sprint(calls) != fmt.Sprint(want) {
		t.Errorf("handler calls %v, want %v", calls, want)
	}
	want := counters{delivered: 2, errors: 1, terminated: 1}
	if got := groupCounters(t, reg, "events", "strict"); got != want {
		t.Errorf("counters %+v, want %+v", got, want)
	}
}

// TestLastDeliveryTerminates: a batch that keeps failing is given up after
// MaxDeliver deliveries.
func TestLastDeliveryTerminates(t *testing.T) {
	b, reg := newEnv(t).newBus(t, func(o *jetstream.Options) { o.MaxDeliver = 2 })
	var calls atomic.Int32
	subscribe(t, b, bus.Events, "doomed", func(context.Context, []osprey.Event) error {
		calls.Add(1)
		return errors.New("still failing")
	})
	start(t, b)
	publish(t, b, bus.Events, event("e1"))
	shutdown(t, b)
	if n := calls.Load(); n != 2 {
		t.Errorf("handler ran %d times, want MaxDeliver = 2", n)
	}
	want := counters{delivered: 2, errors: 2, redelivered: 1, terminated: 1}
	if got := groupCounters(t, reg, "events", "doomed"); got != want {
		t.Errorf("counters %+v, want %+v", got, want)
	}
}

// TestGroupSharedAcrossProcesses: two buses (two processes) subscribing the
// same group share its durable: each batch is handled once in total, and
// both take part.
func TestGroupSharedAcrossProcesses(t *testing.T) {
	e := newEnv(t)
	first, _ := e.newBus(t, nil)
	second, _ := e.newBus(t, nil)
	const limit = 1000
	type handled struct{ proc, id string }
	got := make(chan handled, limit)
	release := make(chan struct{})
	firstBusy, secondBusy := make(chan struct{}), make(chan struct{})
	var firstOnce, secondOnce sync.Once
	subscribe(t, first, bus.Events, "workers", func(_ context.Context, batch []osprey.Event) error {
		got <- handled{"first", batch[0].ID}
		firstOnce.Do(func() { close(firstBusy) })
		<-release
		return nil
	})
	subscribe(t, second, bus.Events, "workers", func(_ context.Context, batch []osprey.Event) error {
		got <- handled{"second", batch[0].ID}
		secondOnce.Do(func() { close(secondBusy) })
		return nil
	})
	start(t, first)
	start(t, second)
	// The first process's handler holds its first batch, so once its small
	// fetch buffer is full the group's batches can only go to the second:
	// publishing until both have one ends.
	published := 0
	for !closed(firstBusy) || !closed(secondBusy) {
		if published == limit {
			t.Fatalf("after %d batches, a member has handled none", limit)
		}
		publish(t, first, bus.Events, event(fmt.Sprintf("e%04d", published)))
		published++
	}
	close(release)
	shutdown(t, first) // it published everything: waits for the group
	shutdown(t, second)
	close(got)
	seen := make(map[string]int)
	procs := make(map[string]int)
	for h := range got {
		seen[h.id]++
		procs[h.proc]++
	}
	for i := range published {
		if id := fmt.Sprintf("e%04d", i); seen[id] != 1 {
			t.Errorf("batch %s handled %d times, want 1", id, seen[id])
		}
	}
	if len(seen) != published {
		t.Errorf("handled %d distinct batches, want %d", len(seen), published)
	}
	if procs["first"] == 0 || procs["second"] == 0 {
		t.Errorf("work per process %v, want both to take part", procs)
	}
}

// TestDurableResumes: a process that comes back to its group gets what was
// published while the group had no member running, and nothing it had
// already handled; a group subscribed for the first time starts with what is
// published after it subscribed.
func TestDurableResumes(t *testing.T) {
	e := newEnv(t)
	first, _ := e.newBus(t, nil)
	got1 := make(chan string, 4)
	subscribe(t, first, bus.Events, "g", func(_ context.Context, batch []osprey.Event) error {
		got1 <- batch[0].ID
		return nil
	})
	start(t, first)
	publish(t, first, bus.Events, event("e1"))
	if id := <-got1; id != "e1" {
		t.Fatalf("first member got %s, want e1", id)
	}
	shutdown(t, first)

	// While group g has no running member, another process publishes.
	publisher, _ := e.newBus(t, nil)
	publish(t, publisher, bus.Events, event("e2"))
	publish(t, publisher, bus.Events, event("e3"))
	shutdown(t, publisher)

	second, _ := e.newBus(t, nil)
	got2 := make(chan string, 8)
	subscribe(t, second, bus.Events, "g", func(_ context.Context, batch []osprey.Event) error {
		got2 <- batch[0].ID
		return nil
	})
	late := make(chan string, 8)
	subscribe(t, second, bus.Events, "late", func(_ context.Context, batch []osprey.Event) error {
		late <- batch[0].ID
		return nil
	})
	start(t, second)
	for _, want := range []string{"e2", "e3"} {
		if id := <-got2; id != want {
			t.Errorf("resumed member got %s, want %s", id, want)
		}
	}
	publish(t, second, bus.Events, event("e4"))
	if id := <-got2; id != "e4" {
		t.Errorf("resumed member got %s, want e4", id)
	}
	if id := <-late; id != "e4" {
		t.Errorf("new group's first batch is %s, want e4 (published after it subscribed)", id)
	}
	shutdown(t, second)
	if len(got2) > 0 || len(late) > 0 {
		t.Errorf("%d and %d batches more than published", len(got2), len(late))
	}
}

// TestConsumerOnlyShutdownLeavesBacklog: a member that published nothing
// stops after the batches it had fetched, leaving the group's backlog in the
// durable for the next member, which handles the rest; each batch once.
func TestConsumerOnlyShutdownLeavesBacklog(t *testing.T) {
	e := newEnv(t)
	publisher, _ := e.newBus(t, nil)
	member, _ := e.newBus(t, nil)
	const n = 200
	got := make(chan string, n)
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	subscribe(t, member, bus.Events, "g", func(_ context.Context, batch []osprey.Event) error {
		select {
		case entered <- struct{}{}:
			<-release // hold the first batch until Shutdown began
		default:
		}
		got <- batch[0].ID
		return nil
	})
	start(t, member)
	for i := range n {
		publish(t, publisher, bus.Events, event(fmt.Sprintf("e%03d", i)))
	}
	<-entered
	done := make(chan error, 1)
	go func() { done <- shutdownErr(member) }()
	for {
		// Wait until Shutdown began, as bustest does: the probe topic has
		// no subscriber.
		err := bus.Publish(t.Context(), member, bus.Spans, []osprey.Span{{TraceID: "probe"}})
		if errors.Is(err, bus.ErrClosed) {
			break
		}
		if err != nil {
			t.Fatalf("probe publish: %v", err)
		}
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	first := len(got)
	if first == n {
		t.Fatalf("the consume-only member handled all %d batches before it stopped", n)
	}

	next, _ := e.newBus(t, nil)
	subscribe(t, next, bus.Events, "g", func(_ context.Context, batch []osprey.Event) error {
		got <- batch[0].ID
		return nil
	})
	start(t, next)
	seen := make(map[string]int, n)
	for range n {
		seen[<-got]++
	}
	shutdown(t, next)
	shutdown(t, publisher)
	if len(got) > 0 {
		t.Errorf("%d batches handled twice", len(got))
	}
	for i := range n {
		if id := fmt.Sprintf("e%03d", i); seen[id] != 1 {
			t.Errorf("batch %s handled %d times, want 1", id, seen[id])
		}
	}
	t.Logf("the first member handled %d of %d batches, the next one the rest", first, n)
}

// TestShutdownDeadlineHandsBatchBack: when Shutdown's ctx ends while a
// handler runs, Shutdown returns ctx's error, the handler's ctx is
// cancelled, and its batch goes back to JetStream for the group's next
// member.
func TestShutdownDeadlineHandsBatchBack(t *testing.T) {
	e := newEnv(t)
	first, _ := e.newBus(t, nil)
	entered := make(chan struct{}, 1)
	subscribe(t, first, bus.Events, "g", func(ctx context.Context, _ []osprey.Event) error {
		entered <- struct{}{}
		<-ctx.Done()
		return ctx.Err()
	})
	start(t, first)
	publish(t, first, bus.Events, event("e1"))
	<-entered
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := first.Shutdown(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Shutdown with an ended ctx: got %v, want %v", err, context.Canceled)
	}
	shutdown(t, first) // waits for the handler to return and the connection to close

	second, _ := e.newBus(t, nil)
	got := make(chan string, 1)
	subscribe(t, second, bus.Events, "g", func(_ context.Context, batch []osprey.Event) error {
		got <- batch[0].ID
		return nil
	})
	start(t, second)
	if id := <-got; id != "e1" {
		t.Errorf("next member got %s, want e1", id)
	}
	shutdown(t, second)
}

// TestStaleSampleRoundTrip: a series carrying Prometheus' staleness marker
// (NaN) and infinities crosses the bus.
func TestStaleSampleRoundTrip(t *testing.T) {
	b, _ := newEnv(t).newBus(t, nil)
	values := []float64{math.NaN(), math.Inf(1), math.Inf(-1), 0.5}
	batch := func() []osprey.Series {
		s := osprey.Series{Labels: osprey.Labels{osprey.LabelMetric: "up", "job": "node"}}
		for i, v := range values {
			s.Samples = append(s.Samples, osprey.Sample{TimestampMs: int64(i), Value: v})
		}
		return []osprey.Series{s}
	}
	got := make(chan []osprey.Series, 1)
	subscribe(t, b, bus.Series, "detect", func(_ context.Context, batch []osprey.Series) error {
		got <- batch
		return nil
	})
	raw := make(chan []byte, 1)
	err := b.SubscribeRaw(bus.Series.Name(), "raw", func(_ context.Context, m bus.Message) error {
		if _, ok := m.Value(); ok {
			t.Error("Message.Value reported a value for a batch from JetStream")
		}
		data, err := m.Data()
		raw <- data
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	start(t, b)
	publish(t, b, bus.Series, batch())
	series := <-got
	if len(series) != 1 || len(series[0].Samples) != len(values) {
		t.Fatalf("got %+v", series)
	}
	for i, s := range series[0].Samples {
		if want := values[i]; s.TimestampMs != int64(i) || math.Float64bits(s.Value) != math.Float64bits(want) && !(math.IsNaN(s.Value) && math.IsNaN(want)) {
			t.Errorf("sample %d = %+v, want value %v", i, s, want)
		}
	}
	if data := <-raw; !strings.Contains(string(data), `"v":"NaN"`) {
		t.Errorf("encoding %s does not carry NaN as a string", data)
	}
	shutdown(t, b)
}

// TestOversizedBatchIsSplit: a batch larger than the server's maximum payload
// arrives as consecutive parts; one element too large for a message is a
// permanent error.
func TestOversizedBatchIsSplit(t *testing.T) {
	e := newEnv(t)
	nc, err := nats.Connect(e.url)
	if err != nil {
		t.Fatal(err)
	}
	maxPayload := int(nc.MaxPayload())
	nc.Close()
	b, reg := e.newBus(t, func(o *jetstream.Options) { o.MaxBytes = int64(8 * maxPayload) })
	body := strings.Repeat("x", maxPayload*2/5)
	want := []osprey.LogRecord{{Body: body + "0"}, {Body: body + "1"}, {Body: body + "2"}}
	got := make(chan []osprey.LogRecord, len(want))
	subscribe(t, b, bus.Logs, "logmine", func(_ context.Context, batch []osprey.LogRecord) error {
		got <- batch
		return nil
	})
	start(t, b)
	publish(t, b, bus.Logs, append([]osprey.LogRecord(nil), want...))
	var all []osprey.LogRecord
	parts := 0
	for len(all) < len(want) {
		all = append(all, <-got...)
		parts++
	}
	if parts < 2 {
		t.Errorf("a batch of %d bytes arrived in %d part, want it split", 3*len(body), parts)
	}
	for i := range want {
		if i >= len(all) || all[i].Body != want[i].Body {
			t.Fatalf("record %d changed or out of order after the split", i)
		}
	}
	err = bus.Publish(t.Context(), b, bus.Logs, []osprey.LogRecord{{Body: strings.Repeat("x", maxPayload)}})
	if err == nil || !osprey.IsPermanent(err) {
		t.Errorf("publishing one record larger than a message: got %v, want a permanent error", err)
	}
	shutdown(t, b)
	if n := metric(t, reg, "osprey_bus_published_batches_total", "topic", "logs"); n != float64(parts) {
		t.Errorf("published counter %v, want %d parts", n, parts)
	}
	if n := metric(t, reg, "osprey_bus_publish_failures_total", "topic", "logs"); n != 1 {
		t.Errorf("publish failures %v, want 1", n)
	}
}

// TestFullStreamRefusesPublish: a stream at MaxBytes refuses batches with
// bus.ErrFull rather than dropping what a group has not read yet.
func TestFullStreamRefusesPublish(t *testing.T) {
	b, reg := newEnv(t).newBus(t, func(o *jetstream.Options) { o.MaxBytes = 16 << 10 })
	// A group that never runs keeps every batch in the stream.
	subscribe(t, b, bus.Events, "idle", func(context.Context, []osprey.Event) error { return nil })
	big := []osprey.Event{{ID: "e", Name: strings.Repeat("x", 1024)}}
	for i := 0; ; i++ {
		if i == 1000 {
			t.Fatal("the stream never filled up")
		}
		err := bus.Publish(t.Context(), b, bus.Events, big)
		if err == nil {
			continue
		}
		if !errors.Is(err, bus.ErrFull) {
			t.Fatalf("publish to a full stream: got %v, want %v", err, bus.ErrFull)
		}
		break
	}
	if n := metric(t, reg, "osprey_bus_publish_failures_total", "topic", "events"); n != 1 {
		t.Errorf("publish failures %v, want 1", n)
	}
	shutdown(t, b)
}

func TestMetricsLint(t *testing.T) {
	b, reg := newEnv(t).newBus(t, nil)
	done := make(chan struct{})
	subscribe(t, b, bus.Events, "g", func(context.Context, []osprey.Event) error {
		close(done)
		return nil
	})
	start(t, b)
	publish(t, b, bus.Events, event("e1"))
	<-done
	shutdown(t, b)
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("metric %s: %s", p.Metric, p.Text)
	}
}

// TestMessageDataIsTheBatch: a raw subscriber's Data is the JSON that typed
// subscribers decode.
func TestMessageDataIsTheBatch(t *testing.T) {
	b, _ := newEnv(t).newBus(t, nil)
	raw := make(chan []byte, 1)
	err := b.SubscribeRaw("events", "raw", func(_ context.Context, m bus.Message) error {
		data, err := m.Data()
		raw <- data
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	start(t, b)
	batch := []osprey.Event{{ID: "e1", Name: "n", Labels: osprey.Labels{"a": "b"}}}
	publish(t, b, bus.Events, batch)
	want, _ := json.Marshal(batch)
	if got := <-raw; string(got) != string(want) {
		t.Errorf("Data() = %s, want %s", got, want)
	}
	shutdown(t, b)
}
