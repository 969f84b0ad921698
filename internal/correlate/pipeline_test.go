package correlate_test

import (
	"context"
	"errors"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/bus"
	"github.com/osprey-aiops/osprey/internal/bus/inproc"
	"github.com/osprey-aiops/osprey/internal/correlate"
	"github.com/osprey-aiops/osprey/internal/rca"
	"github.com/osprey-aiops/osprey/internal/store"
)

// gatedStore holds every SaveIncidents until the test lets it go: it
// sends on entered when one begins, then takes a value from gate: nil
// lets it commit, an error fails it.
type gatedStore struct {
	store.Store
	entered chan struct{}
	gate    chan error
}

func newGatedStore(st store.Store) *gatedStore {
	return &gatedStore{Store: st, entered: make(chan struct{}, 16), gate: make(chan error)}
}

func (g *gatedStore) SaveIncidents(ctx context.Context, b store.IncidentBatch) error {
	g.entered <- struct{}{}
	if err := <-g.gate; err != nil {
		return err
	}
	return g.Store.SaveIncidents(ctx, b)
}

// handOns records the incidents a correlator hands on, in order, and
// checks each against the store when it is handed on: it must be stored
// as it is handed on (the pipeline hands on only after the commit).
type handOns struct {
	t  *testing.T
	st store.Store

	mu   sync.Mutex
	incs []osprey.Incident
}

func (h *handOns) ConsumeIncidents(ctx context.Context, incs []osprey.Incident) error {
	for _, inc := range incs {
		stored, err := h.st.GetIncident(ctx, inc.ID)
		if err != nil {
			h.t.Errorf("incident %s handed on, not stored: %v", inc.ID, err)
			continue
		}
		stored.Timeline, inc.Timeline = nil, nil
		same(h.t, "handed-on incident "+inc.ID+" against the store", stored, inc)
	}
	h.mu.Lock()
	h.incs = append(h.incs, incs...)
	h.mu.Unlock()
	return nil
}

func (h *handOns) all() []osprey.Incident {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]osprey.Incident(nil), h.incs...)
}

// startPipelined starts a correlator with the commit pipeline on st,
// handing on to out.
func startPipelined(t *testing.T, st store.Store, out osprey.IncidentConsumer) *correlate.Correlator {
	t.Helper()
	return startWith(t, pipelineOptions(st, out, true))
}

// pipelineOptions are the options of the pipeline tests' correlators, with
// the pipeline on or off.
func pipelineOptions(st store.Store, out osprey.IncidentConsumer, pipeline bool) correlate.Options {
	return correlate.Options{
		Store: st, Window: 5 * time.Minute, GroupBy: []string{"service"}, ResolveGrace: time.Minute,
		CatchUpInterval: time.Hour, Now: func() time.Time { return t0 }, Registerer: prometheus.NewRegistry(),
		Causes: rca.IncidentRanker{Config: rca.DefaultConfig()}, Out: out, Pipeline: pipeline,
	}
}

// pipelinedWithOneQueued starts a pipelined correlator on a gated store,
// hands it one new alert of checkout and returns once that alert's
// commit is being written (held at the gate).
func pipelinedWithOneQueued(t *testing.T) (store.Store, *gatedStore, *handOns, *correlate.Correlator) {
	t.Helper()
	st := openStore(t)
	gs := newGatedStore(st)
	out := &handOns{t: t, st: st}
	c := startPipelined(t, gs, out)
	batch := appendEvents(t, st, []ev{{at: time.Second, name: "HighLatency", labels: osprey.Labels{"service": "checkout"}}})
	if err := c.ConsumeEvents(t.Context(), batch); err != nil { // would block on the gate without the pipeline
		t.Fatal(err)
	}
	<-gs.entered
	return st, gs, out, c
}

// TestPipelineReturnsBeforeCommit: with the pipeline, ConsumeEvents
// returns while its commit is still being written, nothing is handed on
// before the commit, and Flush waits for it.
func TestPipelineReturnsBeforeCommit(t *testing.T) {
	st, gs, out, c := pipelinedWithOneQueued(t)
	if got := out.all(); len(got) != 0 {
		t.Fatalf("%d incidents handed on before their commit", len(got))
	}
	flushed := make(chan error, 1)
	go func() { flushed <- c.Flush(t.Context()) }()
	gs.gate <- nil
	if err := <-flushed; err != nil {
		t.Fatal(err)
	}
	if got := out.all(); len(got) != 1 || len(got[0].Members) != 1 {
		t.Fatalf("handed on %+v, want the one new incident", got)
	}
	checkIncidents(t, st, []want{{status: osprey.IncidentOpen, members: 1}})
}

// TestPipelineMatchesSynchronous runs the crash workload, with a merge in
// the middle, through a pipelined correlator: the stored incidents,
// timelines and noise counters equal those of a synchronous run, and each
// incident handed on was stored as it was handed on (handOns checks).
func TestPipelineMatchesSynchronous(t *testing.T) {
	batches := crashWorkload()
	run := func(t *testing.T, pipeline bool) ([]osprey.Incident, []store.NoiseCount) {
		st := openStore(t)
		out := &handOns{t: t, st: st}
		c := startWith(t, pipelineOptions(st, out, pipeline))
		for i, b := range batches {
			b = copyBatch(b)
			if err := st.AppendEvents(t.Context(), b); err != nil {
				t.Fatal(err)
			}
			if err := c.ConsumeEvents(t.Context(), b); err != nil {
				t.Fatal(err)
			}
			if i == 5 {
				// A person's action on incidents whose changes may
				// still be queued: it waits for them.
				open := openIDs(t, st)
				if len(open) < 2 {
					t.Fatalf("only %d open incidents to merge", len(open))
				}
				if _, err := c.Merge(t.Context(), open[0], open[1], "alice"); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := c.Flush(t.Context()); err != nil {
			t.Fatal(err)
		}
		incs, noise := finalState(t, st)
		for i := range incs {
			for j := range incs[i].Timeline {
				e := &incs[i].Timeline[j]
				if e.Kind == osprey.TimelineMerged { // names the other incident's (random) id
					e.Message, e.Ref = ulid.ReplaceAllString(e.Message, "ID"), ""
				}
			}
		}
		return incs, noise
	}
	want, wantNoise := run(t, false)
	got, gotNoise := run(t, true)
	same(t, "incidents", got, want)
	same(t, "noise counters", gotNoise, wantNoise)
}

// ulid matches an incident id.
var ulid = regexp.MustCompile(`[0-9A-Z]{26}`)

// openIDs returns the stored open incidents' ids, oldest first.
func openIDs(t *testing.T, st store.Store) []string {
	t.Helper()
	var ids []string
	for _, inc := range incidents(t, st) {
		if inc.Status == osprey.IncidentOpen {
			ids = append(ids, inc.ID)
		}
	}
	return ids
}

// flakyStore fails the failAt-th SaveIncidents (counted from one).
type flakyStore struct {
	store.Store
	mu            sync.Mutex
	calls, failAt int
}

func (f *flakyStore) SaveIncidents(ctx context.Context, b store.IncidentBatch) error {
	f.mu.Lock()
	f.calls++
	fail := f.calls == f.failAt
	f.mu.Unlock()
	if fail {
		return errors.New("simulated commit failure")
	}
	return f.Store.SaveIncidents(ctx, b)
}

// TestPipelineFailedCommit fails one queued commit in the middle of the
// crash workload: the commits queued behind it are dropped, nothing that
// was not stored is handed on (handOns checks each hand-on against the
// store), the next call rebuilds the state from the store and the
// catch-up applies the lost events again, so the end state equals an
// uninterrupted synchronous run's.
func TestPipelineFailedCommit(t *testing.T) {
	batches := crashWorkload()
	want, wantNoise := uninterruptedState(t, batches)

	for _, failAt := range []int{3, 7, 12} {
		st := openStore(t)
		fs := &flakyStore{Store: st, failAt: failAt}
		out := &handOns{t: t, st: st}
		c := startWith(t, correlate.Options{
			Store: fs, Window: 5 * time.Minute, GroupBy: []string{"service"}, ResolveGrace: time.Minute,
			CatchUpInterval: time.Hour, Now: func() time.Time { return t0 }, Registerer: prometheus.NewRegistry(),
			Out: out, Pipeline: true,
		})
		for _, b := range batches {
			b = copyBatch(b)
			if err := st.AppendEvents(t.Context(), b); err != nil {
				t.Fatal(err)
			}
			if err := c.ConsumeEvents(t.Context(), b); err != nil {
				t.Fatal(err)
			}
		}
		if err := c.Flush(t.Context()); err != nil {
			t.Fatalf("fail at %d: flush: %v", failAt, err)
		}
		if fs.calls < failAt {
			t.Fatalf("fail at %d: only %d commits", failAt, fs.calls)
		}
		got, gotNoise := finalState(t, st)
		same(t, "incidents after a failed commit", got, want)
		same(t, "noise counters after a failed commit", gotNoise, wantNoise)
	}
}

// TestPipelineAnomaliesWaitForTheirCommit: ConsumeAnomalies does not return
// before its commit, and when that commit is dropped because the event
// commit queued before it failed, the anomalies are applied again on the
// rebuilt state and stored.
func TestPipelineAnomaliesWaitForTheirCommit(t *testing.T) {
	st, gs, _, c := pipelinedWithOneQueued(t) // the events' commit is being written
	labels := osprey.Labels{"__name__": "http_latency_seconds", "service": "payment"}
	a := osprey.Anomaly{
		ID: osprey.NewID(t0), Kind: osprey.AnomalyMetric, Labels: labels, Score: 0.9,
		Observed: 2.5, Expected: 0.2, StartsAt: t0, Severity: osprey.SeverityWarning,
		Fingerprint: labels.Fingerprint(),
	}
	returned := make(chan error, 1)
	go func() { returned <- c.ConsumeAnomalies(t.Context(), []osprey.Anomaly{a}) }()

	gs.gate <- errors.New("simulated commit failure") // the events' commit
	select {
	case err := <-returned:
		t.Fatalf("ConsumeAnomalies returned (%v) before its commit", err)
	case <-gs.entered: // the anomalies again, on the rebuilt state
	}
	select {
	case err := <-returned:
		t.Fatalf("ConsumeAnomalies returned (%v) before its commit", err)
	default:
	}
	gs.gate <- nil
	if err := <-returned; err != nil {
		t.Fatalf("ConsumeAnomalies: %v", err)
	}
	checkIncidents(t, st, []want{{status: osprey.IncidentOpen, members: 1}})
	if incs := incidents(t, st); incs[0].Members[0].Kind != osprey.MemberAnomaly {
		t.Errorf("stored member %+v, want the anomaly", incs[0].Members[0])
	}
	// The events lost with the failed commit come back through the
	// catch-up of the next call.
	go func() {
		<-gs.entered
		gs.gate <- nil
		<-gs.entered
		gs.gate <- nil
	}()
	more := appendEvents(t, st, []ev{{at: 2 * time.Second, name: "HighLatency", labels: osprey.Labels{"service": "checkout"}}})
	if err := c.ConsumeEvents(t.Context(), more); err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	checkIncidents(t, st, []want{{status: osprey.IncidentOpen, members: 1}, {status: osprey.IncidentOpen, members: 1, counts: []int{2}}})
}

// TestPipelineActionWaitsForQueuedCommits: a person's action on an incident
// whose opening is still queued waits for that commit, and the two changes
// are handed on in order.
func TestPipelineActionWaitsForQueuedCommits(t *testing.T) {
	st, gs, out, c := pipelinedWithOneQueued(t)
	gs.gate <- nil // the opening's commit
	if err := c.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	incID := out.all()[0].ID

	// Now queue a change of that incident and ack it while the change's
	// commit is held.
	more := appendEvents(t, st, []ev{{at: 2 * time.Second, name: "Errors", labels: osprey.Labels{"service": "checkout"}}})
	if err := c.ConsumeEvents(t.Context(), more); err != nil {
		t.Fatal(err)
	}
	<-gs.entered
	done := make(chan error, 1)
	go func() {
		_, err := c.Ack(context.Background(), incID, "alice", "")
		done <- err
	}()
	gs.gate <- nil // the join's commit
	<-gs.entered   // the ack's, after it
	gs.gate <- nil
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got := out.all()
	if len(got) != 3 || len(got[1].Members) != 2 || got[1].Status != osprey.IncidentOpen || got[2].Status != osprey.IncidentAcknowledged {
		t.Fatalf("handed on %d changes, want the opening, the join, then the ack", len(got))
	}
	checkIncidents(t, st, []want{{status: osprey.IncidentAcknowledged, members: 2}})
}

// TestPipelineShutdownFlushes: Shutdown waits for a queued commit.
func TestPipelineShutdownFlushes(t *testing.T) {
	st, gs, out, c := pipelinedWithOneQueued(t)
	stopped := make(chan error, 1)
	go func() { stopped <- c.Shutdown(context.Background()) }()
	gs.gate <- nil
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	if got := out.all(); len(got) != 1 {
		t.Fatalf("handed on %d incidents by shutdown, want 1", len(got))
	}
	checkIncidents(t, st, []want{{status: osprey.IncidentOpen, members: 1}})
}

// TestPipelineBusDrainWaitsForCommits wires the correlator as serve does:
// events from the in-process bus, its changes handed on to the bus's
// incidents topic, and its Flush as the events topic's Idle function. The
// events handler returns before its commit, so without the Idle flush the
// bus's Shutdown could finish its drain first and refuse the incident
// change the commit hands on afterwards.
func TestPipelineBusDrainWaitsForCommits(t *testing.T) {
	st := openStore(t)
	gs := newGatedStore(st)
	var c *correlate.Correlator
	b := inproc.New(inproc.Options{
		Registerer: prometheus.NewRegistry(),
		Coalesce:   map[string]int{bus.Events.Name(): 5000},
		Idle:       map[string]func(context.Context) error{bus.Events.Name(): func(ctx context.Context) error { return c.Flush(ctx) }},
	})
	c = startPipelined(t, gs, bus.IncidentPublisher(b))
	if err := bus.Subscribe(b, bus.Events, "correlate", c.ConsumeEvents); err != nil {
		t.Fatal(err)
	}
	var (
		mu     sync.Mutex
		handed []osprey.Incident
	)
	err := bus.Subscribe(b, bus.Incidents, "next", func(_ context.Context, incs []osprey.Incident) error {
		mu.Lock()
		handed = append(handed, incs...)
		mu.Unlock()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	events := appendEvents(t, st, []ev{{at: time.Second, name: "HighLatency", labels: osprey.Labels{"service": "checkout"}}})
	if err := bus.Publish(t.Context(), b, bus.Events, events); err != nil {
		t.Fatal(err)
	}
	<-gs.entered // the handler returned; its commit is held
	stopped := make(chan error, 1)
	go func() { stopped <- b.Shutdown(context.Background()) }()
	gs.gate <- nil
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(handed) != 1 || len(handed[0].Members) != 1 {
		t.Fatalf("the next stage got %d incident changes by the bus's shutdown, want the new incident", len(handed))
	}
}
