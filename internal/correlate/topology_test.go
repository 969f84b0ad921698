package correlate_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/topology"
)

// callGraph returns a real topology graph that has seen each caller → callee
// pair of calls in one trace each.
func callGraph(t *testing.T, calls ...[2]string) *topology.Graph {
	t.Helper()
	g := topology.New(topology.Options{Now: func() time.Time { return t0 }})
	for i, c := range calls {
		trace := fmt.Sprintf("t%d", i)
		spans := []osprey.Span{
			{TraceID: trace, SpanID: "a", Service: c[0], Name: "GET /", Kind: osprey.SpanKindServer, Start: t0, Duration: time.Millisecond},
			{TraceID: trace, SpanID: "b", ParentSpanID: "a", Service: c[1], Name: "GET /x", Kind: osprey.SpanKindServer, Start: t0, Duration: time.Millisecond},
		}
		if err := g.ConsumeSpans(context.Background(), spans); err != nil {
			t.Fatal(err)
		}
	}
	return g
}

// memberOf returns the incident (from the store) holding an alert of name on
// service.
func (r *rig) memberOf(name, service string) osprey.Incident {
	r.t.Helper()
	for _, inc := range incidents(r.t, r.st) {
		for _, m := range inc.Members {
			if m.Name == name && m.Labels.Get("service") == service {
				return r.get(inc.ID)
			}
		}
	}
	r.t.Fatalf("no incident holds %s on %s", name, service)
	return osprey.Incident{}
}

// A signal that could join two incidents equally well (same last activity,
// opened at the same instant) joins the same one in every run: the one
// whose opening member has the lower fingerprint, not the lower id (ids
// carry random bits, so that used to vary between runs).
func TestTopologyTieBreakIsDeterministic(t *testing.T) {
	// cart and search are two calls from frontend each, four from each
	// other: neither joins the other's incident, frontend may join either.
	g := callGraph(t, [2]string{"frontend", "cartapi"}, [2]string{"cartapi", "cart"},
		[2]string{"frontend", "searchapi"}, [2]string{"searchapi", "search"})
	cart := osprey.EventFingerprint("Errors", osprey.Labels{"service": "cart"})
	search := osprey.EventFingerprint("Errors", osprey.Labels{"service": "search"})
	want := "cart"
	if search < cart {
		want = "search"
	}
	for run := range 12 {
		r := newRig(t, rigOptions{topo: g})
		// Both incidents open in one batch, at the same instant.
		batch := appendEvents(t, r.st, []ev{
			{at: 0, name: "Errors", labels: osprey.Labels{"service": "cart"}},
			{at: 0, name: "Errors", labels: osprey.Labels{"service": "search"}},
		})
		if err := r.c.ConsumeEvents(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
		r.send(ev{at: 0, name: "Latency", labels: osprey.Labels{"service": "frontend"}})
		got := r.memberOf("Latency", "frontend")
		if s := got.Members[0].Labels.Get("service"); s != want {
			t.Fatalf("run %d: frontend joined the incident of %s, want %s (lower fingerprint)", run, s, want)
		}
	}
}

// A neighbour joins an incident through the call graph only while the
// incident is young (opened within the window), and up to two calls away.
func TestTopologyJoinBounds(t *testing.T) {
	// frontend → checkout → db; mail → smtp.
	g := callGraph(t, [2]string{"frontend", "checkout"}, [2]string{"checkout", "db"}, [2]string{"mail", "smtp"})
	r := newRig(t, rigOptions{topo: g})
	r.send(
		ev{at: 0, name: "SlowQueries", labels: osprey.Labels{"service": "db"}},
		// Two calls away, checkout silent: joins through it.
		ev{at: time.Minute, name: "Latency", labels: osprey.Labels{"service": "frontend"}},
		// db keeps firing: the incident stays active...
		ev{at: 3 * time.Minute, name: "SlowQueries", labels: osprey.Labels{"service": "db"}},
		ev{at: 6 * time.Minute, name: "SlowQueries", labels: osprey.Labels{"service": "db"}},
		ev{at: 9 * time.Minute, name: "SlowQueries", labels: osprey.Labels{"service": "db"}},
		// ...but is 10 minutes old: a neighbour starting to fail now is a
		// new incident.
		ev{at: 10 * time.Minute, name: "Errors", labels: osprey.Labels{"service": "checkout"}},
		// Same service as a member: joins by group whatever the age.
		ev{at: 11 * time.Minute, name: "Connections", labels: osprey.Labels{"service": "db"}},
		// Not connected to anything that fires.
		ev{at: 30 * time.Second, name: "Queue", labels: osprey.Labels{"service": "smtp"}},
	)
	first := r.memberOf("SlowQueries", "db")
	if got := len(first.Members); got != 3 {
		t.Errorf("db incident has %d members, want 3 (db x2, frontend)", got)
	}
	if r.memberOf("Latency", "frontend").ID != first.ID {
		t.Error("frontend, two calls from db, did not join db's incident")
	}
	if r.memberOf("Connections", "db").ID != first.ID {
		t.Error("a second db alert did not join db's incident")
	}
	if r.memberOf("Errors", "checkout").ID == first.ID {
		t.Error("checkout joined an incident opened 10 minutes earlier")
	}
	var twoHops bool
	for _, e := range first.Timeline {
		if e.Kind == osprey.TimelineMemberJoined && strings.Contains(e.Message, "frontend calls checkout, which calls db") {
			twoHops = true
		}
	}
	if !twoHops {
		t.Errorf("no join entry naming the two-call path; timeline: %+v", first.Timeline)
	}
	if n := len(incidents(t, r.st)); n != 3 {
		t.Errorf("%d incidents, want 3 (db, checkout, smtp)", n)
	}
}

// Prometheus sends a resolved alert again every resend delay for 15
// minutes. Those repeats are not activity: they neither keep the group open
// to new alerts nor push the incident's resolution back.
func TestRepeatedResolutionIsNotActivity(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, rigOptions{grace: 10 * time.Minute})
	r.send(
		ev{at: 0, name: "CPU", labels: checkout},
		ev{at: time.Minute, name: "CPU", labels: checkout, resolved: true},
		ev{at: 3 * time.Minute, name: "CPU", labels: checkout, resolved: true},
		ev{at: 5 * time.Minute, name: "CPU", labels: checkout, resolved: true},
		ev{at: 7 * time.Minute, name: "CPU", labels: checkout, resolved: true},
		// 6m30s after the last real activity: not within the window.
		ev{at: 7*time.Minute + 30*time.Second, name: "Memory", labels: checkout},
	)
	cpu := r.memberOf("CPU", "checkout")
	if len(cpu.Members) != 1 {
		t.Fatalf("CPU's incident has %d members, want 1: Memory came 6m30s after CPU last changed", len(cpu.Members))
	}
	if m := cpu.Members[0]; !m.LastSeen.Equal(t0.Add(time.Minute)) {
		t.Errorf("CPU last seen %s, want t0+1m (its resolution)", m.LastSeen.Sub(t0))
	}
	r.at(11 * time.Minute)
	if err := r.c.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	got := r.get(cpu.ID)
	if got.Status != osprey.IncidentResolved || !got.ResolvedAt.Equal(t0.Add(11*time.Minute)) {
		t.Errorf("status %s resolved at %s, want resolved at t0+11m (1m + grace)", got.Status, got.ResolvedAt.Sub(t0))
	}
}

// Simultaneous anomalies (one detector batch) group the same way whatever
// order the batch lists them in: on the call chain a → b → c → d, the order
// a, d, b, c used to open a's and d's incidents before b and c arrived to
// link them, while a, b, c, d built one incident. The detector lists a
// batch in the order of its input series, which the sender chooses.
func TestSimultaneousAnomaliesGroupTheSameInAnyOrder(t *testing.T) {
	g := callGraph(t, [2]string{"a", "b"}, [2]string{"b", "c"}, [2]string{"c", "d"})
	var batch []osprey.Anomaly
	for _, svc := range []string{"a", "b", "c", "d"} {
		l := osprey.Labels{"__name__": "latency", "service": svc}
		batch = append(batch, osprey.Anomaly{
			ID: "anomaly-" + svc, Kind: osprey.AnomalyMetric, Labels: l, StartsAt: t0,
			Severity: osprey.SeverityWarning, Fingerprint: l.Fingerprint(),
		})
	}
	// partition says which services share an incident: "a b c|d".
	partition := func(order []int) string {
		r := newRig(t, rigOptions{topo: g})
		b := make([]osprey.Anomaly, len(order))
		for i, k := range order {
			b[i] = batch[k]
		}
		if err := r.c.ConsumeAnomalies(context.Background(), b); err != nil {
			t.Fatal(err)
		}
		var parts []string
		for _, inc := range incidents(t, r.st) {
			var svcs []string
			for _, m := range inc.Members {
				svcs = append(svcs, m.Labels.Get("service"))
			}
			slices.Sort(svcs)
			parts = append(parts, strings.Join(svcs, " "))
		}
		slices.Sort(parts)
		return strings.Join(parts, "|")
	}
	first := partition([]int{0, 1, 2, 3})
	for _, order := range [][]int{{0, 3, 1, 2}, {3, 0, 2, 1}, {1, 3, 0, 2}, {2, 0, 3, 1}, {3, 2, 1, 0}} {
		if got := partition(order); got != first {
			t.Errorf("order %v grouped %q, order [0 1 2 3] %q", order, got, first)
		}
	}
}

// A neighbour joins an incident through the call graph only while the
// incident is still spreading: one of its members first fired within half
// the window (2m30s here) before the neighbour. A fault next to an
// incident that stopped gaining members minutes ago is a new incident,
// even within the window of the incident's opening and while its alerts
// keep repeating; a failure that keeps spreading hop by hop stays one.
func TestTopologyJoinNeedsASpreadingIncident(t *testing.T) {
	// a → b → c → d.
	g := callGraph(t, [2]string{"a", "b"}, [2]string{"b", "c"}, [2]string{"c", "d"})
	for _, tc := range []struct {
		name  string
		evs   []ev
		joins map[string]bool // service → whether its alert joined c's incident
	}{{
		name: "stalled: the last member joined 3m before the neighbour",
		evs: []ev{
			{at: 0, name: "Errors", labels: osprey.Labels{"service": "c"}},
			{at: time.Minute, name: "Latency", labels: osprey.Labels{"service": "b"}},
			{at: 4 * time.Minute, name: "Latency", labels: osprey.Labels{"service": "a"}},
		},
		joins: map[string]bool{"b": true, "a": false},
	}, {
		name: "spreading: each hop 2m after the previous",
		evs: []ev{
			{at: 0, name: "Errors", labels: osprey.Labels{"service": "c"}},
			{at: 2 * time.Minute, name: "Latency", labels: osprey.Labels{"service": "b"}},
			{at: 4 * time.Minute, name: "Latency", labels: osprey.Labels{"service": "a"}},
			{at: 4*time.Minute + 30*time.Second, name: "Latency", labels: osprey.Labels{"service": "d"}},
		},
		joins: map[string]bool{"b": true, "a": true, "d": true},
	}, {
		name: "repeats are activity, not onsets",
		evs: []ev{
			{at: 0, name: "Errors", labels: osprey.Labels{"service": "c"}},
			{at: time.Minute, name: "Errors", labels: osprey.Labels{"service": "c"}},
			{at: 2 * time.Minute, name: "Errors", labels: osprey.Labels{"service": "c"}},
			{at: 3 * time.Minute, name: "Errors", labels: osprey.Labels{"service": "c"}},
			{at: 3 * time.Minute, name: "Latency", labels: osprey.Labels{"service": "b"}},
		},
		joins: map[string]bool{"b": false},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, rigOptions{topo: g})
			r.send(tc.evs...)
			first := r.memberOf("Errors", "c")
			for svc, want := range tc.joins {
				if got := r.memberOf("Latency", svc).ID == first.ID; got != want {
					t.Errorf("%s joined c's incident: %v, want %v", svc, got, want)
				}
			}
		})
	}
}
