package correlate_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/correlate"
	"github.com/osprey-aiops/osprey/internal/rca"
)

// A service whose alerts in a young incident have all cleared has
// recovered: its new alert is a new wave, not a staggered alert of the
// incident's onset. It opens an incident of its own and does not join the
// one it recovered in through the call graph either, although a neighbour
// there still fires and the incident still spreads. While one of its
// alerts there still fires, the new one joins as before.
func TestRecoveredServiceNewWaveInAYoungIncident(t *testing.T) {
	const m = time.Minute
	seat := osprey.Labels{"service": "seat"}
	for _, tc := range []struct {
		name    string
		cleared bool
		joins   bool
	}{
		{name: "seat's first symptom still fires: joins", cleared: false, joins: true},
		{name: "seat's first symptom cleared: a new incident", cleared: true, joins: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := callGraph(t, [2]string{"frontend", "seat"}, [2]string{"seat", "contacts"}, [2]string{"seat", "basic"})
			r := newRig(t, rigOptions{topo: g, grace: 5 * m})
			evs := []ev{
				{at: 0, name: "Break", labels: osprey.Labels{"service": "contacts"}},
				{at: 10 * time.Second, name: "Errors", labels: seat},
				// frontend's symptom keeps the incident spreading
				// (a member's onset within half the window of the
				// new wave).
				{at: 2 * m, name: "Errors5xx", labels: osprey.Labels{"service": "frontend"}},
			}
			if tc.cleared {
				evs = append(evs, ev{at: 3 * m, name: "Errors", labels: seat, resolved: true})
			}
			// The next fault, in basic, 4 minutes into the first
			// incident: seat logs new errors.
			evs = append(evs, ev{at: 4 * m, name: "Errors2", labels: seat})
			r.send(evs...)
			first := r.memberOf("Break", "contacts")
			if r.memberOf("Errors5xx", "frontend").ID != first.ID {
				t.Fatal("frontend's symptom did not join contacts' incident")
			}
			wave := r.memberOf("Errors2", "seat")
			if got := wave.ID == first.ID; got != tc.joins {
				t.Fatalf("seat's new alert joined the first incident: %v, want %v", got, tc.joins)
			}
			if !tc.joins && !hasEntry(wave, osprey.TimelineOpened, "a new onset: incident "+first.ID+" of the same service=seat") {
				t.Errorf("the new incident does not say why it did not join %s: %+v", first.ID, wave.Timeline)
			}
		})
	}
}

// A concurrent incident's member that first fired more than half the
// window after the ranked incident stopped gaining members (the next,
// unrelated fault) is no candidate of the ranked incident; one that fired
// while it spread, and the earlier incidents' evidence for the later
// incident, are.
func TestConcurrentEvidenceAfterTheIncidentStoppedSpreading(t *testing.T) {
	const m = time.Minute
	st := openStore(t)
	now := t0
	c := startWith(t, correlate.Options{
		Store: st, Window: 5 * m, GroupBy: []string{"service"},
		CatchUpInterval: time.Hour, Now: func() time.Time { return now },
		Registerer: prometheus.NewRegistry(),
		Causes:     rca.ConcurrentIncidentRanker{IncidentRanker: rca.IncidentRanker{Config: rca.DefaultConfig()}},
	})
	consume := func(e ev) {
		t.Helper()
		now = t0.Add(e.at)
		if err := c.ConsumeEvents(context.Background(), appendEvents(t, st, []ev{e})); err != nil {
			t.Fatal(err)
		}
	}
	causesOf := func(service string) []string { t.Helper(); return causeNamesOf(t, st, service) }
	consume(ev{at: 0, name: "Slow", labels: osprey.Labels{"service": "seat"}, severity: osprey.SeverityWarning})
	consume(ev{at: 20 * time.Second, name: "deploy", labels: osprey.Labels{"service": "verification"}, severity: osprey.SeverityWarning})
	if got := causesOf("seat"); !slices.Equal(got, []string{"verification", "seat"}) {
		t.Fatalf("seat's incident with verification's: causes %v, want verification, seat", got)
	}
	// Four minutes later, within the window of both openings, a deploy
	// of price: seat's and verification's incidents gained no member
	// since 20 s.
	consume(ev{at: 4 * m, name: "deploy", labels: osprey.Labels{"service": "price"}, severity: osprey.SeverityWarning})
	if got := causesOf("seat"); slices.Contains(got, "price") {
		t.Errorf("seat's incident names price, whose change came 3m40s after it stopped spreading: %v", got)
	}
	if got := causesOf("verification"); slices.Contains(got, "price") {
		t.Errorf("verification's incident names price: %v", got)
	}
	// Price's incident opened 3m40s after seat's and verification's
	// stopped spreading: seat's slowness is an earlier problem, not a
	// candidate, but verification's deploy stays one.
	if got := causesOf("price"); !slices.Equal(got, []string{"price", "verification"}) && !slices.Equal(got, []string{"verification", "price"}) {
		t.Errorf("price's incident: causes %v, want price and verification's deploy, not seat", got)
	}
}
