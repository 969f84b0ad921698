// Package bustest is the conformance suite that every bus.Bus implementation
// passes: the in-process bus and the NATS JetStream one run the same Run, so
// the stages can rely on the behaviour it checks whichever bus they are wired
// to.
//
// The suite synchronises on channels only: no sleeps, no timing thresholds.
// A bus that loses or withholds a batch makes a test hang until go test's
// -timeout, which then prints the goroutine that waited.
package bustest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/bus"
)

// MinQueue is the number of batches per group that a bus under test must
// accept without blocking while its handler is busy.
const MinQueue = 16

// Run runs the conformance suite. newBus returns a new, unstarted bus for one
// subtest, with an empty state (no batches left from other subtests) and room
// for at least MinQueue queued batches per group. The suite subscribes,
// starts and shuts down the bus itself; newBus may register a t.Cleanup that
// calls Shutdown again (Shutdown is idempotent).
//
// Beyond what bus.Bus documents, the suite requires: every group gets every
// batch, and a batch of its own (a handler may modify it without another
// group seeing the change); Shutdown returns only after every batch accepted
// before it, and every batch a handler published with its ctx during the
// drain, was handled; a handler's error does not stop later deliveries.
// Whether a failed batch is redelivered is left to the implementation.
func Run(t *testing.T, newBus func(t *testing.T) bus.Bus) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, newBus func(t *testing.T) bus.Bus)
	}{
		{"FanOut", testFanOut},
		{"OneOfGroup", testOneOfGroup},
		{"Order", testOrder},
		{"TypedRoundTrip", testTypedRoundTrip},
		{"RawData", testRawData},
		{"OwnershipAcrossGroups", testOwnershipAcrossGroups},
		{"ClosedAfterShutdown", testClosedAfterShutdown},
		{"ShutdownDrains", testShutdownDrains},
		{"ShutdownDrainsChains", testShutdownDrainsChains},
		{"ShutdownIdempotent", testShutdownIdempotent},
		{"HandlerErrorContinues", testHandlerErrorContinues},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, newBus) })
	}
}

// testFanOut: every group receives every batch.
func testFanOut(t *testing.T, newBus func(t *testing.T) bus.Bus) {
	b := newBus(t)
	const n = 20
	groups := []string{"g1", "g2", "g3"}
	got := make(map[string]chan string, len(groups))
	for _, g := range groups {
		ch := make(chan string, n)
		got[g] = ch
		mustSubscribe(t, b, bus.Events, g, func(_ context.Context, batch []osprey.Event) error {
			ch <- batch[0].ID
			return nil
		})
	}
	start(t, b)
	want := make(map[string]bool, n)
	for i := range n {
		id := fmt.Sprintf("e%03d", i)
		want[id] = true
		mustPublish(t, b, bus.Events, []osprey.Event{{ID: id, Name: "fan-out"}})
	}
	for _, g := range groups {
		seen := make(map[string]bool, n)
		for range n {
			seen[<-got[g]] = true
		}
		if !reflect.DeepEqual(seen, want) {
			t.Errorf("group %s got batches %v, want %v", g, keys(seen), keys(want))
		}
	}
	shutdown(t, b)
	for _, g := range groups {
		if extra := len(got[g]); extra > 0 {
			t.Errorf("group %s got %d batches more than were published", g, extra)
		}
	}
}

// testOneOfGroup: two subscribers in one group handle each batch exactly once
// in total.
func testOneOfGroup(t *testing.T, newBus func(t *testing.T) bus.Bus) {
	b := newBus(t)
	const n = 50
	// Room for every batch twice, so that a duplicate is seen, not a hang.
	ch := make(chan string, 2*n)
	h := func(_ context.Context, batch []osprey.Event) error {
		ch <- batch[0].ID
		return nil
	}
	mustSubscribe(t, b, bus.Events, "workers", h)
	mustSubscribe(t, b, bus.Events, "workers", h)
	start(t, b)
	for i := range n {
		mustPublish(t, b, bus.Events, []osprey.Event{{ID: fmt.Sprintf("e%03d", i)}})
	}
	seen := make(map[string]int, n)
	for range n {
		seen[<-ch]++
	}
	shutdown(t, b)
	for len(ch) > 0 {
		seen[<-ch]++
	}
	for i := range n {
		id := fmt.Sprintf("e%03d", i)
		if seen[id] != 1 {
			t.Errorf("batch %s handled %d times, want 1", id, seen[id])
		}
	}
	if len(seen) != n {
		t.Errorf("handled %d distinct batches, want %d", len(seen), n)
	}
}

// testOrder: a group with one subscriber sees batches in publish order.
func testOrder(t *testing.T, newBus func(t *testing.T) bus.Bus) {
	b := newBus(t)
	const n = 100
	ch := make(chan int64, n)
	mustSubscribe(t, b, bus.Events, "ordered", func(_ context.Context, batch []osprey.Event) error {
		for _, e := range batch {
			ch <- e.Seq
		}
		return nil
	})
	start(t, b)
	for i := range int64(n) {
		mustPublish(t, b, bus.Events, []osprey.Event{{Seq: i}})
	}
	for i := range int64(n) {
		if got := <-ch; got != i {
			t.Fatalf("batch %d arrived in position %d", got, i)
		}
	}
	shutdown(t, b)
}

// testTypedRoundTrip: Publish and Subscribe (and the Publisher adapters) carry
// each topic's batches unchanged.
func testTypedRoundTrip(t *testing.T, newBus func(t *testing.T) bus.Bus) {
	t.Run("Events", func(t *testing.T) {
		roundTrip(t, newBus, bus.Events, fixtureEvents, func(ctx context.Context, b bus.Bus, batch []osprey.Event) error {
			return bus.EventPublisher(b).ConsumeEvents(ctx, batch)
		})
	})
	t.Run("Series", func(t *testing.T) { roundTrip(t, newBus, bus.Series, fixtureSeries, nil) })
	t.Run("Logs", func(t *testing.T) { roundTrip(t, newBus, bus.Logs, fixtureLogs, nil) })
	t.Run("Spans", func(t *testing.T) { roundTrip(t, newBus, bus.Spans, fixtureSpans, nil) })
	t.Run("Anomalies", func(t *testing.T) {
		roundTrip(t, newBus, bus.Anomalies, fixtureAnomalies, func(ctx context.Context, b bus.Bus, batch []osprey.Anomaly) error {
			return bus.AnomalyPublisher(b).ConsumeAnomalies(ctx, batch)
		})
	})
	t.Run("Incidents", func(t *testing.T) {
		roundTrip(t, newBus, bus.Incidents, fixtureIncidents, func(ctx context.Context, b bus.Bus, batch []osprey.Incident) error {
			return bus.IncidentPublisher(b).ConsumeIncidents(ctx, batch)
		})
	})
}

// roundTrip publishes fixture() on topic (through publish when it is not nil)
// and checks that the subscriber receives an equal batch.
func roundTrip[T any](t *testing.T, newBus func(t *testing.T) bus.Bus, topic bus.Topic[T], fixture func() []T,
	publish func(context.Context, bus.Bus, []T) error) {
	b := newBus(t)
	ch := make(chan []T, 1)
	mustSubscribe(t, b, topic, "roundtrip", func(_ context.Context, batch []T) error {
		ch <- batch
		return nil
	})
	start(t, b)
	var err error
	if publish != nil {
		err = publish(t.Context(), b, fixture())
	} else {
		err = bus.Publish(t.Context(), b, topic, fixture())
	}
	if err != nil {
		t.Fatalf("publish %s: %v", topic.Name(), err)
	}
	got := <-ch
	if want := fixture(); !reflect.DeepEqual(got, want) {
		t.Errorf("%s batch changed in transit:\n got %+v\nwant %+v", topic.Name(), got, want)
	}
	shutdown(t, b)
}

// testRawData: a raw subscriber can always decode Message.Data, the form a
// batch has when it crosses processes.
func testRawData(t *testing.T, newBus func(t *testing.T) bus.Bus) {
	b := newBus(t)
	type result struct {
		batch []osprey.Event
		err   error
	}
	ch := make(chan result, 1)
	err := b.SubscribeRaw(bus.Events.Name(), "raw", func(_ context.Context, m bus.Message) error {
		var r result
		data, err := m.Data()
		if err == nil {
			err = json.Unmarshal(data, &r.batch)
		}
		r.err = err
		ch <- r
		return nil
	})
	if err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	start(t, b)
	mustPublish(t, b, bus.Events, fixtureEvents())
	r := <-ch
	if r.err != nil {
		t.Fatalf("decode Message.Data: %v", r.err)
	}
	if want := fixtureEvents(); !reflect.DeepEqual(r.batch, want) {
		t.Errorf("Message.Data decodes to\n %+v\nwant %+v", r.batch, want)
	}
	shutdown(t, b)
}

// testOwnershipAcrossGroups: the batch a handler receives belongs to it
// (bus.Subscribe's promise), so a handler of one group that modifies its batch
// does not change what a handler of another group sees. Both subscription
// orders are tried, in case an implementation treats the first group
// differently.
func testOwnershipAcrossGroups(t *testing.T, newBus func(t *testing.T) bus.Bus) {
	for _, writerFirst := range []bool{true, false} {
		t.Run(fmt.Sprintf("writerFirst=%t", writerFirst), func(t *testing.T) {
			b := newBus(t)
			modified := make(chan struct{})
			seen := make(chan osprey.Event, 1)
			writer := func(_ context.Context, batch []osprey.Event) error {
				batch[0].Name = "modified"
				batch[0].Labels["service"] = "modified"
				batch[0].Annotations["summary"] = "modified"
				close(modified)
				return nil
			}
			reader := func(_ context.Context, batch []osprey.Event) error {
				<-modified
				seen <- batch[0]
				return nil
			}
			if writerFirst {
				mustSubscribe(t, b, bus.Events, "writer", writer)
				mustSubscribe(t, b, bus.Events, "reader", reader)
			} else {
				mustSubscribe(t, b, bus.Events, "reader", reader)
				mustSubscribe(t, b, bus.Events, "writer", writer)
			}
			start(t, b)
			mustPublish(t, b, bus.Events, fixtureEvents())
			got := <-seen
			if want := fixtureEvents()[0]; !reflect.DeepEqual(got, want) {
				t.Errorf("a change by another group's handler showed through:\n got %+v\nwant %+v", got, want)
			}
			shutdown(t, b)
		})
	}
}

// testClosedAfterShutdown: Publish and Subscribe fail with bus.ErrClosed once
// Shutdown began, whether or not the bus was started.
func testClosedAfterShutdown(t *testing.T, newBus func(t *testing.T) bus.Bus) {
	for _, started := range []bool{true, false} {
		t.Run(fmt.Sprintf("started=%t", started), func(t *testing.T) {
			b := newBus(t)
			mustSubscribe(t, b, bus.Events, "g", func(context.Context, []osprey.Event) error { return nil })
			if started {
				start(t, b)
			}
			shutdown(t, b)
			err := bus.Publish(t.Context(), b, bus.Events, fixtureEvents())
			if !errors.Is(err, bus.ErrClosed) {
				t.Errorf("Publish after Shutdown: got %v, want %v", err, bus.ErrClosed)
			}
			err = bus.Subscribe(b, bus.Events, "late", func(context.Context, []osprey.Event) error { return nil })
			if !errors.Is(err, bus.ErrClosed) {
				t.Errorf("Subscribe after Shutdown: got %v, want %v", err, bus.ErrClosed)
			}
		})
	}
}

// testShutdownDrains: every batch accepted before Shutdown began is handled
// before Shutdown returns.
func testShutdownDrains(t *testing.T, newBus func(t *testing.T) bus.Bus) {
	b := newBus(t)
	const n = MinQueue
	release := make(chan struct{})
	handled := make(chan string, n)
	mustSubscribe(t, b, bus.Events, "slow", func(_ context.Context, batch []osprey.Event) error {
		<-release // hold every batch until Shutdown has begun
		handled <- batch[0].ID
		return nil
	})
	start(t, b)
	for i := range n {
		mustPublish(t, b, bus.Events, []osprey.Event{{ID: fmt.Sprintf("e%03d", i)}})
	}
	done := make(chan error, 1)
	go func() { done <- b.Shutdown(context.Background()) }()
	waitShutdownBegun(t, b)
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if got := len(handled); got != n {
		t.Fatalf("Shutdown returned after %d of %d accepted batches were handled", got, n)
	}
	for i := range n {
		if got, want := <-handled, fmt.Sprintf("e%03d", i); got != want {
			t.Errorf("handled %s in position %d, want %s", got, i, want)
		}
	}
}

// testShutdownDrainsChains: a handler that hands its results on, publishing
// with the ctx it was given, is not refused while the bus drains, so a chain of
// stages on one bus flushes end to end; other publishers are refused.
func testShutdownDrainsChains(t *testing.T, newBus func(t *testing.T) bus.Bus) {
	b := newBus(t)
	const n = MinQueue
	release := make(chan struct{})
	mustSubscribe(t, b, bus.Events, "stage", func(ctx context.Context, batch []osprey.Event) error {
		<-release
		return bus.Publish(ctx, b, bus.Incidents, []osprey.Incident{{ID: batch[0].ID}})
	})
	sink := make(chan string, n)
	mustSubscribe(t, b, bus.Incidents, "sink", func(_ context.Context, batch []osprey.Incident) error {
		sink <- batch[0].ID
		return nil
	})
	start(t, b)
	for i := range n {
		mustPublish(t, b, bus.Events, []osprey.Event{{ID: fmt.Sprintf("e%03d", i)}})
	}
	done := make(chan error, 1)
	go func() { done <- b.Shutdown(context.Background()) }()
	waitShutdownBegun(t, b)
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if got := len(sink); got != n {
		t.Fatalf("Shutdown returned after %d of %d handed-on batches reached the next stage", got, n)
	}
}

// waitShutdownBegun returns once b refuses publishes, that is once Shutdown,
// called in another goroutine, has begun. The probe goes to a topic nobody
// subscribed to, so it never waits for queue room.
func waitShutdownBegun(t *testing.T, b bus.Bus) {
	t.Helper()
	probe := []osprey.Span{{TraceID: "probe"}}
	for {
		err := bus.Publish(t.Context(), b, bus.Spans, probe)
		if errors.Is(err, bus.ErrClosed) {
			return
		}
		if err != nil {
			t.Fatalf("probe publish: %v", err)
		}
		runtime.Gosched()
	}
}

// testShutdownIdempotent: Shutdown may be called repeatedly, concurrently, and
// without Start.
func testShutdownIdempotent(t *testing.T, newBus func(t *testing.T) bus.Bus) {
	t.Run("started", func(t *testing.T) {
		b := newBus(t)
		mustSubscribe(t, b, bus.Events, "g", func(context.Context, []osprey.Event) error { return nil })
		start(t, b)
		mustPublish(t, b, bus.Events, fixtureEvents())
		var wg sync.WaitGroup
		for range 3 {
			wg.Go(func() {
				if err := b.Shutdown(context.Background()); err != nil {
					t.Errorf("concurrent Shutdown: %v", err)
				}
			})
		}
		wg.Wait()
		shutdown(t, b)
	})
	t.Run("never started", func(t *testing.T) {
		b := newBus(t)
		mustSubscribe(t, b, bus.Events, "g", func(context.Context, []osprey.Event) error { return nil })
		shutdown(t, b)
		shutdown(t, b)
	})
}

// testHandlerErrorContinues: a handler's error, transient or permanent, does
// not stop delivery of later batches. Whether a failed batch comes again is the
// implementation's choice, so the test only requires every batch to arrive.
func testHandlerErrorContinues(t *testing.T, newBus func(t *testing.T) bus.Bus) {
	b := newBus(t)
	const n = 10
	var (
		mu   sync.Mutex
		seen = make(map[string]int)
		all  = make(chan struct{})
	)
	mustSubscribe(t, b, bus.Events, "flaky", func(_ context.Context, batch []osprey.Event) error {
		mu.Lock()
		defer mu.Unlock()
		id := batch[0].ID
		seen[id]++
		if len(seen) == n && seen[id] == 1 {
			close(all)
		}
		switch {
		case id == "e000" && seen[id] == 1:
			return errors.New("transient failure")
		case id == "e001":
			return osprey.Permanent(errors.New("bad batch"))
		}
		return nil
	})
	start(t, b)
	for i := range n {
		mustPublish(t, b, bus.Events, []osprey.Event{{ID: fmt.Sprintf("e%03d", i)}})
	}
	<-all
	shutdown(t, b)
}

func mustSubscribe[T any](t *testing.T, b bus.Bus, topic bus.Topic[T], group string, h func(context.Context, []T) error) {
	t.Helper()
	if err := bus.Subscribe(b, topic, group, h); err != nil {
		t.Fatalf("subscribe %s/%s: %v", topic.Name(), group, err)
	}
}

func mustPublish[T any](t *testing.T, b bus.Bus, topic bus.Topic[T], batch []T) {
	t.Helper()
	if err := bus.Publish(t.Context(), b, topic, batch); err != nil {
		t.Fatalf("publish %s: %v", topic.Name(), err)
	}
}

// start starts b and makes sure it is shut down when the test ends.
func start(t *testing.T, b bus.Bus) {
	t.Helper()
	if err := b.Start(t.Context()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := b.Shutdown(context.Background()); err != nil {
			t.Errorf("Shutdown at cleanup: %v", err)
		}
	})
}

func shutdown(t *testing.T, b bus.Bus) {
	t.Helper()
	if err := b.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// The fixtures survive a JSON round trip unchanged: times are UTC without a
// monotonic reading, floats are finite, and fields marked omitempty are either
// set or nil.

var fixtureTime = time.Date(2026, 3, 14, 15, 9, 26, 535000000, time.UTC)

func fixtureEvents() []osprey.Event {
	return []osprey.Event{{
		ID:          "01JQ0000000000000000000001",
		Seq:         7,
		Source:      "alertmanager",
		Name:        "HighErrorRate",
		Labels:      osprey.Labels{"service": "checkout", "severity": "page"},
		Annotations: map[string]string{"summary": "5xx above 5%"},
		Severity:    osprey.SeverityError,
		Status:      osprey.StatusFiring,
		StartsAt:    fixtureTime,
		Fingerprint: osprey.EventFingerprint("HighErrorRate", osprey.Labels{"service": "checkout", "severity": "page"}),
		ReceivedAt:  fixtureTime.Add(time.Second),
	}, {
		Source:   "api",
		Name:     "deploy",
		Status:   osprey.StatusResolved,
		StartsAt: fixtureTime,
		EndsAt:   fixtureTime.Add(time.Minute),
	}}
}

func fixtureSeries() []osprey.Series {
	return []osprey.Series{{
		Labels:  osprey.Labels{osprey.LabelMetric: "http_requests_total", "service": "checkout"},
		Samples: []osprey.Sample{{TimestampMs: fixtureTime.UnixMilli(), Value: 42.5}, {TimestampMs: fixtureTime.UnixMilli() + 15000, Value: -1}},
	}, {
		Labels: osprey.Labels{osprey.LabelMetric: "up"},
	}}
}

func fixtureLogs() []osprey.LogRecord {
	return []osprey.LogRecord{{
		Time:       fixtureTime,
		Labels:     osprey.Labels{"service": "checkout", "host": "web-1"},
		Level:      "error",
		Body:       "connection refused to db:5432",
		Attributes: map[string]string{"trace_id": "abc"},
	}, {
		Time: fixtureTime,
		Body: "plain line",
	}}
}

func fixtureSpans() []osprey.Span {
	return []osprey.Span{{
		TraceID:      "4bf92f3577b34da6a3ce929d0e0e4736",
		SpanID:       "00f067aa0ba902b7",
		ParentSpanID: "00f067aa0ba902b6",
		Service:      "checkout",
		Name:         "GET /cart",
		Kind:         osprey.SpanKindServer,
		Start:        fixtureTime,
		Duration:     1500 * time.Millisecond,
		Error:        true,
		Attributes:   osprey.Labels{"http.status_code": "500"},
	}}
}

func fixtureAnomalies() []osprey.Anomaly {
	return []osprey.Anomaly{{
		ID:          "01JQ0000000000000000000002",
		Kind:        osprey.AnomalyMetric,
		Labels:      osprey.Labels{osprey.LabelMetric: "latency_seconds", "service": "checkout"},
		Score:       0.97,
		Observed:    2.5,
		Expected:    0.25,
		Lower:       0.1,
		Upper:       0.4,
		Severity:    osprey.SeverityWarning,
		StartsAt:    fixtureTime,
		Evidence:    []osprey.Evidence{{Detector: "ewma", Score: 0.9, Reason: "9 sigma above the mean"}},
		Fingerprint: osprey.Labels{"service": "checkout"}.Fingerprint(),
	}}
}

func fixtureIncidents() []osprey.Incident {
	return []osprey.Incident{{
		ID:        "01JQ0000000000000000000003",
		Title:     "checkout errors",
		Status:    osprey.IncidentOpen,
		Severity:  osprey.SeverityCritical,
		Labels:    osprey.Labels{"service": "checkout"},
		Assignee:  "oncall",
		OpenedAt:  fixtureTime,
		UpdatedAt: fixtureTime.Add(time.Minute),
		Members: []*osprey.Member{{
			Kind:      osprey.MemberEvent,
			Name:      "HighErrorRate",
			Labels:    osprey.Labels{"service": "checkout"},
			Severity:  osprey.SeverityError,
			Status:    osprey.StatusFiring,
			FirstRef:  "01JQ0000000000000000000001",
			LastRef:   "01JQ0000000000000000000001",
			FirstSeen: fixtureTime,
			LastSeen:  fixtureTime,
			Count:     1,
			LastSeq:   7,
		}},
		Causes: []osprey.Cause{{
			Kind: osprey.CauseService, Name: "db", Score: 0.8,
			Explanation: "db errors began first", EvidenceIDs: []string{"01JQ0000000000000000000002"},
		}},
		Timeline: []osprey.TimelineEntry{{Seq: 1, At: fixtureTime, Kind: osprey.TimelineOpened, Actor: "osprey", Message: "opened"}},
	}}
}
