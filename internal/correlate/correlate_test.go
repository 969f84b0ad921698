package correlate_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/correlate"
	"github.com/osprey-aiops/osprey/internal/rca"
	"github.com/osprey-aiops/osprey/internal/store"
	"github.com/osprey-aiops/osprey/internal/store/sqlite"
	"github.com/osprey-aiops/osprey/internal/topology"
)

var t0 = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

// ev describes one event of a scenario, received at t0+at.
type ev struct {
	at       time.Duration
	name     string
	labels   osprey.Labels
	resolved bool
	severity osprey.Severity
}

// want describes one expected incident, in opening order.
type want struct {
	status   osprey.IncidentStatus
	members  int
	counts   []int // per member, in joining order
	severity osprey.Severity
	title    string
}

func openStore(t *testing.T) store.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "osprey.db"))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func newCorrelator(t *testing.T, st store.Store, out osprey.IncidentConsumer) *correlate.Correlator {
	t.Helper()
	c := startWith(t, correlate.Options{
		Store:           st,
		Window:          5 * time.Minute,
		GroupBy:         []string{"service", "host"},
		Out:             out,
		CatchUpInterval: time.Hour,
		Now:             func() time.Time { return t0 },
		Registerer:      prometheus.NewRegistry(),
	})
	return c
}

// startWith starts a correlator with o, shut down when tb ends.
func startWith(tb testing.TB, o correlate.Options) *correlate.Correlator {
	tb.Helper()
	c, err := correlate.New(o)
	if err != nil {
		tb.Fatal(err)
	}
	if err := c.Start(context.Background()); err != nil {
		tb.Fatalf("start: %v", err)
	}
	tb.Cleanup(func() { c.Shutdown(context.Background()) })
	return c
}

// appendEvents stores scenario events the way the API does and returns them
// with their Seq.
func appendEvents(t *testing.T, st store.Store, evs []ev) []osprey.Event {
	t.Helper()
	batch := make([]osprey.Event, len(evs))
	for i, e := range evs {
		status := osprey.StatusFiring
		if e.resolved {
			status = osprey.StatusResolved
		}
		at := t0.Add(e.at)
		batch[i] = osprey.Event{
			ID: osprey.NewID(at), Source: "test", Name: e.name, Labels: e.labels,
			Severity: e.severity, Status: status, StartsAt: at, ReceivedAt: at,
			Fingerprint: osprey.EventFingerprint(e.name, e.labels),
		}
	}
	if err := st.AppendEvents(context.Background(), batch); err != nil {
		t.Fatalf("append events: %v", err)
	}
	return batch
}

func incidents(t *testing.T, st store.Store) []osprey.Incident {
	t.Helper()
	incs, err := st.ListIncidents(context.Background(), store.IncidentQuery{})
	if err != nil {
		t.Fatal(err)
	}
	// Oldest first, by opening time then id.
	for i, j := 0, len(incs)-1; i < j; i, j = i+1, j-1 {
		incs[i], incs[j] = incs[j], incs[i]
	}
	return incs
}

func checkIncidents(t *testing.T, st store.Store, wants []want) {
	t.Helper()
	got := incidents(t, st)
	if len(got) != len(wants) {
		for _, inc := range got {
			t.Logf("incident %s %q %s members=%d", inc.ID, inc.Title, inc.Status, len(inc.Members))
		}
		t.Fatalf("got %d incidents, want %d", len(got), len(wants))
	}
	// ListIncidents orders by update time; compare in opening order.
	sortByOpened(got)
	for i, w := range wants {
		inc := got[i]
		if inc.Status != w.status {
			t.Errorf("incident %d status = %s, want %s", i, inc.Status, w.status)
		}
		if len(inc.Members) != w.members {
			t.Errorf("incident %d has %d members, want %d", i, len(inc.Members), w.members)
		}
		for j, c := range w.counts {
			if j < len(inc.Members) && inc.Members[j].Count != c {
				t.Errorf("incident %d member %d count = %d, want %d", i, j, inc.Members[j].Count, c)
			}
		}
		if w.severity != 0 && inc.Severity != w.severity {
			t.Errorf("incident %d severity = %s, want %s", i, inc.Severity, w.severity)
		}
		if w.title != "" && inc.Title != w.title {
			t.Errorf("incident %d title = %q, want %q", i, inc.Title, w.title)
		}
		if w.status == osprey.IncidentResolved && inc.ResolvedAt.IsZero() {
			t.Errorf("incident %d resolved without ResolvedAt", i)
		}
	}
}

func sortByOpened(incs []osprey.Incident) {
	for i := 1; i < len(incs); i++ {
		for j := i; j > 0 && incs[j].OpenedAt.Before(incs[j-1].OpenedAt); j-- {
			incs[j], incs[j-1] = incs[j-1], incs[j]
		}
	}
}

func TestScenarios(t *testing.T) {
	checkout := osprey.Labels{"service": "checkout"}
	tests := []struct {
		name   string
		events []ev
		want   []want
	}{
		{
			name: "repeats of one alert deduplicate into one member",
			events: []ev{
				{at: 0, name: "HighLatency", labels: checkout},
				{at: time.Minute, name: "HighLatency", labels: checkout},
				{at: 2 * time.Minute, name: "HighLatency", labels: checkout},
			},
			want: []want{{status: osprey.IncidentOpen, members: 1, counts: []int{3}, title: "HighLatency (checkout)"}},
		},
		{
			name: "same service within the window joins one incident",
			events: []ev{
				{at: 0, name: "HighLatency", labels: checkout, severity: osprey.SeverityWarning},
				{at: 4 * time.Minute, name: "ErrorRate", labels: osprey.Labels{"service": "checkout", "pod": "a"}, severity: osprey.SeverityCritical},
			},
			want: []want{{status: osprey.IncidentOpen, members: 2, severity: osprey.SeverityCritical}},
		},
		{
			name: "window is measured from the latest member activity",
			events: []ev{
				{at: 0, name: "A", labels: checkout},
				{at: 4 * time.Minute, name: "A", labels: checkout},
				{at: 8 * time.Minute, name: "B", labels: checkout},
			},
			want: []want{{status: osprey.IncidentOpen, members: 2, counts: []int{2, 1}}},
		},
		{
			name: "same service after the window opens a new incident",
			events: []ev{
				{at: 0, name: "A", labels: checkout},
				{at: 6 * time.Minute, name: "B", labels: checkout},
			},
			want: []want{
				{status: osprey.IncidentOpen, members: 1},
				{status: osprey.IncidentOpen, members: 1},
			},
		},
		{
			name: "different services stay apart",
			events: []ev{
				{at: 0, name: "A", labels: checkout},
				{at: time.Second, name: "A", labels: osprey.Labels{"service": "payments"}},
			},
			want: []want{
				{status: osprey.IncidentOpen, members: 1},
				{status: osprey.IncidentOpen, members: 1},
			},
		},
		{
			name: "the second group-by label groups when the first is absent",
			events: []ev{
				{at: 0, name: "DiskFull", labels: osprey.Labels{"host": "db1"}},
				{at: time.Minute, name: "HighLoad", labels: osprey.Labels{"host": "db1"}},
			},
			want: []want{{status: osprey.IncidentOpen, members: 2}},
		},
		{
			name: "events without identity labels group only by fingerprint",
			events: []ev{
				{at: 0, name: "Watchdog"},
				{at: time.Second, name: "Other"},
				{at: 2 * time.Second, name: "Watchdog"},
			},
			want: []want{
				{status: osprey.IncidentOpen, members: 1, counts: []int{2}},
				{status: osprey.IncidentOpen, members: 1},
			},
		},
		{
			name: "resolves when every member resolves",
			events: []ev{
				{at: 0, name: "A", labels: checkout},
				{at: time.Minute, name: "B", labels: checkout},
				{at: 2 * time.Minute, name: "A", labels: checkout, resolved: true},
				{at: 3 * time.Minute, name: "B", labels: checkout, resolved: true},
			},
			want: []want{{status: osprey.IncidentResolved, members: 2}},
		},
		{
			name: "stays open while one member fires",
			events: []ev{
				{at: 0, name: "A", labels: checkout},
				{at: time.Minute, name: "B", labels: checkout},
				{at: 2 * time.Minute, name: "A", labels: checkout, resolved: true},
			},
			want: []want{{status: osprey.IncidentOpen, members: 2}},
		},
		{
			name: "a member that fires again keeps the incident open",
			events: []ev{
				{at: 0, name: "A", labels: checkout},
				{at: time.Minute, name: "B", labels: checkout},
				{at: 2 * time.Minute, name: "A", labels: checkout, resolved: true},
				{at: 3 * time.Minute, name: "A", labels: checkout},
				{at: 4 * time.Minute, name: "B", labels: checkout, resolved: true},
			},
			want: []want{{status: osprey.IncidentOpen, members: 2, counts: []int{2, 1}}},
		},
		{
			name: "an alert firing again within the window after its incident resolved reopens it",
			events: []ev{
				{at: 0, name: "A", labels: checkout},
				{at: time.Minute, name: "A", labels: checkout, resolved: true},
				{at: 2 * time.Minute, name: "A", labels: checkout},
			},
			want: []want{{status: osprey.IncidentOpen, members: 1, counts: []int{2}}},
		},
		{
			name: "an alert firing after the window after its incident resolved opens a new incident",
			events: []ev{
				{at: 0, name: "A", labels: checkout},
				{at: time.Minute, name: "A", labels: checkout, resolved: true},
				{at: 7 * time.Minute, name: "A", labels: checkout},
			},
			want: []want{
				{status: osprey.IncidentResolved, members: 1},
				{status: osprey.IncidentOpen, members: 1},
			},
		},
		{
			name: "a new alert of the group does not join a resolved incident",
			events: []ev{
				{at: 0, name: "A", labels: checkout},
				{at: time.Minute, name: "A", labels: checkout, resolved: true},
				{at: 2 * time.Minute, name: "B", labels: checkout},
			},
			want: []want{
				{status: osprey.IncidentResolved, members: 1},
				{status: osprey.IncidentOpen, members: 1},
			},
		},
		{
			name: "a resolution of an unknown alert changes nothing",
			events: []ev{
				{at: 0, name: "A", labels: checkout, resolved: true},
			},
			want: nil,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := openStore(t)
			c := newCorrelator(t, st, nil)
			// One event per batch, as a slow sender would deliver them.
			for _, e := range tc.events {
				batch := appendEvents(t, st, []ev{e})
				if err := c.ConsumeEvents(context.Background(), batch); err != nil {
					t.Fatalf("consume: %v", err)
				}
			}
			checkIncidents(t, st, tc.want)

			// The same events replayed from the store into a fresh
			// correlator with no checkpoint must give the same incidents:
			// grouping depends only on the events.
			st2 := openStore(t)
			appendAll := make([]ev, len(tc.events))
			copy(appendAll, tc.events)
			if len(appendAll) > 0 {
				appendEvents(t, st2, appendAll)
			}
			newCorrelator(t, st2, nil)
			checkIncidents(t, st2, tc.want)
		})
	}
}

func TestTimelineRecordsTheStory(t *testing.T) {
	st := openStore(t)
	c := newCorrelator(t, st, nil)
	checkout := osprey.Labels{"service": "checkout"}
	batch := appendEvents(t, st, []ev{
		{at: 0, name: "A", labels: checkout},
		{at: time.Minute, name: "A", labels: checkout},
		{at: 2 * time.Minute, name: "B", labels: checkout},
		{at: 3 * time.Minute, name: "A", labels: checkout, resolved: true},
		{at: 4 * time.Minute, name: "B", labels: checkout, resolved: true},
	})
	if err := c.ConsumeEvents(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	incs := incidents(t, st)
	if len(incs) != 1 {
		t.Fatalf("got %d incidents, want 1", len(incs))
	}
	inc, err := st.GetIncident(context.Background(), incs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []osprey.TimelineKind
	for _, e := range inc.Timeline {
		kinds = append(kinds, e.Kind)
	}
	wantKinds := []osprey.TimelineKind{
		osprey.TimelineOpened, osprey.TimelineMemberJoined,
		osprey.TimelineMemberUpdate, osprey.TimelineMemberUpdate, osprey.TimelineStatus,
	}
	if fmt.Sprint(kinds) != fmt.Sprint(wantKinds) {
		t.Fatalf("timeline kinds = %v, want %v (a repeat of A must not add an entry)", kinds, wantKinds)
	}
	if inc.Timeline[0].Ref != batch[0].ID {
		t.Errorf("opened entry refers to %q, want the first event %q", inc.Timeline[0].Ref, batch[0].ID)
	}
}

func TestRestartResumesFromCheckpointWithoutDoubleCounting(t *testing.T) {
	st := openStore(t)
	checkout := osprey.Labels{"service": "checkout"}
	c1 := newCorrelator(t, st, nil)
	first := appendEvents(t, st, []ev{{at: 0, name: "A", labels: checkout}, {at: time.Second, name: "A", labels: checkout}})
	if err := c1.ConsumeEvents(context.Background(), first); err != nil {
		t.Fatal(err)
	}
	if err := c1.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Accepted while the correlator was down (as after a crash between the
	// API's commit and the bus delivery).
	appendEvents(t, st, []ev{{at: 2 * time.Second, name: "A", labels: checkout}, {at: 3 * time.Second, name: "B", labels: checkout}})

	// Simulate a crash after the incident was saved but before the
	// checkpoint moved: rewind the checkpoint so the first events replay too.
	if err := st.SetCheckpoint(context.Background(), correlate.CheckpointName, 0); err != nil {
		t.Fatal(err)
	}
	newCorrelator(t, st, nil)
	checkIncidents(t, st, []want{{status: osprey.IncidentOpen, members: 2, counts: []int{3, 1}}})
	cp, err := st.Checkpoint(context.Background(), correlate.CheckpointName)
	if err != nil {
		t.Fatal(err)
	}
	if cp != 4 {
		t.Errorf("checkpoint = %d, want 4", cp)
	}
}

func TestGapInBusDeliveryCatchesUpFromStore(t *testing.T) {
	st := openStore(t)
	c := newCorrelator(t, st, nil)
	checkout := osprey.Labels{"service": "checkout"}
	appendEvents(t, st, []ev{{at: 0, name: "Dropped", labels: checkout}}) // its bus batch was dropped
	later := appendEvents(t, st, []ev{{at: time.Second, name: "Delivered", labels: checkout}})
	if err := c.ConsumeEvents(context.Background(), later); err != nil {
		t.Fatal(err)
	}
	checkIncidents(t, st, []want{{status: osprey.IncidentOpen, members: 2}})
}

func TestOutReceivesChangesWithNewTimelineEntries(t *testing.T) {
	st := openStore(t)
	var got [][]osprey.Incident
	out := osprey.IncidentConsumerFunc(func(_ context.Context, batch []osprey.Incident) error {
		got = append(got, batch)
		return nil
	})
	c := newCorrelator(t, st, out)
	checkout := osprey.Labels{"service": "checkout"}
	for _, e := range []ev{{at: 0, name: "A", labels: checkout}, {at: time.Second, name: "A", labels: checkout}} {
		if err := c.ConsumeEvents(context.Background(), appendEvents(t, st, []ev{e})); err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != 2 {
		t.Fatalf("out got %d batches, want 2", len(got))
	}
	if n := len(got[0][0].Timeline); n != 1 || got[0][0].Timeline[0].Kind != osprey.TimelineOpened {
		t.Errorf("first change carries timeline %v, want one opened entry", got[0][0].Timeline)
	}
	if n := len(got[1][0].Timeline); n != 0 {
		t.Errorf("repeat carries %d timeline entries, want 0", n)
	}
	if got[1][0].Members[0].Count != 2 {
		t.Errorf("repeat snapshot count = %d, want 2", got[1][0].Members[0].Count)
	}
}

func TestAnomaliesBecomeMembers(t *testing.T) {
	st := openStore(t)
	c := newCorrelator(t, st, nil)
	labels := osprey.Labels{"__name__": "http_latency_seconds", "service": "checkout"}
	a := osprey.Anomaly{
		ID: osprey.NewID(t0), Kind: osprey.AnomalyMetric, Labels: labels, Score: 0.9,
		Observed: 2.5, Expected: 0.2, StartsAt: t0, Severity: osprey.SeverityWarning,
		Fingerprint: labels.Fingerprint(),
	}
	if err := c.ConsumeAnomalies(context.Background(), []osprey.Anomaly{a}); err != nil {
		t.Fatal(err)
	}
	ev := appendEvents(t, st, []ev{{at: time.Minute, name: "HighLatency", labels: osprey.Labels{"service": "checkout"}}})
	if err := c.ConsumeEvents(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	checkIncidents(t, st, []want{{status: osprey.IncidentOpen, members: 2}})
	a.EndsAt = t0.Add(2 * time.Minute)
	if err := c.ConsumeAnomalies(context.Background(), []osprey.Anomaly{a}); err != nil {
		t.Fatal(err)
	}
	incs := incidents(t, st)
	if incs[0].Members[0].Kind != osprey.MemberAnomaly || incs[0].Members[0].Status != osprey.StatusResolved {
		t.Errorf("anomaly member = %+v, want a resolved anomaly member", incs[0].Members[0])
	}
}

// learnedGraph returns a real topology graph that has seen frontend call
// checkout and checkout call db.
func learnedGraph(t *testing.T) *topology.Graph {
	t.Helper()
	g := topology.New(topology.Options{Now: func() time.Time { return t0 }})
	spans := []osprey.Span{
		{TraceID: "t1", SpanID: "a", Service: "frontend", Name: "GET /", Kind: osprey.SpanKindServer, Start: t0, Duration: time.Millisecond},
		{TraceID: "t1", SpanID: "b", ParentSpanID: "a", Service: "checkout", Name: "POST /order", Kind: osprey.SpanKindServer, Start: t0, Duration: time.Millisecond},
		{TraceID: "t1", SpanID: "c", ParentSpanID: "b", Service: "db", Name: "query", Kind: osprey.SpanKindServer, Start: t0, Duration: time.Millisecond},
	}
	if err := g.ConsumeSpans(context.Background(), spans); err != nil {
		t.Fatal(err)
	}
	if callers, _ := g.Neighbours("checkout"); len(callers) != 1 {
		t.Fatalf("topology did not learn frontend → checkout: callers %v", callers)
	}
	return g
}

func TestTopologyJoinsNeighbouringServices(t *testing.T) {
	st := openStore(t)
	c := startWith(t, correlate.Options{
		Store: st, Window: 5 * time.Minute, GroupBy: []string{"service"},
		Topology: learnedGraph(t), CatchUpInterval: time.Hour,
		Now: func() time.Time { return t0 }, Registerer: prometheus.NewRegistry(),
		Causes: rca.IncidentRanker{Config: rca.DefaultConfig()},
	})
	for _, e := range []ev{
		{at: 0, name: "SlowQueries", labels: osprey.Labels{"service": "db"}, severity: osprey.SeverityCritical},
		{at: 30 * time.Second, name: "HighLatency", labels: osprey.Labels{"service": "checkout"}, severity: osprey.SeverityWarning},
		{at: time.Minute, name: "HighLatency", labels: osprey.Labels{"service": "frontend"}, severity: osprey.SeverityWarning},
		{at: 2 * time.Minute, name: "HighLatency", labels: osprey.Labels{"service": "checkout", "pod": "2"}},
		// Not a neighbour of anything: its own incident.
		{at: time.Minute, name: "DiskFull", labels: osprey.Labels{"service": "mail"}},
		// A neighbour, but outside the window of the incident's last activity.
		{at: 20 * time.Minute, name: "HighLatency", labels: osprey.Labels{"service": "db", "x": "late"}},
	} {
		if err := c.ConsumeEvents(context.Background(), appendEvents(t, st, []ev{e})); err != nil {
			t.Fatal(err)
		}
	}
	checkIncidents(t, st, []want{
		{status: osprey.IncidentOpen, members: 4},
		{status: osprey.IncidentOpen, members: 1},
		{status: osprey.IncidentOpen, members: 1},
	})
	incs := incidents(t, st)
	sortByOpened(incs)
	inc, err := st.GetIncident(context.Background(), incs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(inc.Causes) == 0 || inc.Causes[0].Name != "db" {
		t.Fatalf("causes = %+v, want db first", inc.Causes)
	}
	var joinedByGraph, rcaEntries int
	for _, e := range inc.Timeline {
		if e.Kind == osprey.TimelineMemberJoined && strings.Contains(e.Message, "learned call graph") {
			joinedByGraph++
		}
		if e.Kind == osprey.TimelineRCA {
			rcaEntries++
		}
	}
	if joinedByGraph != 2 {
		t.Errorf("%d members joined through the call graph, want 2 (checkout, frontend)", joinedByGraph)
	}
	if rcaEntries == 0 {
		t.Error("no rca timeline entry")
	}
}
