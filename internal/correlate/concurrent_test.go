package correlate_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/correlate"
	"github.com/osprey-aiops/osprey/internal/rca"
)

// With a ConcurrentRanker, an incident is ranked with the incidents that
// opened within the window of its opening, and ranked again (stored,
// handed on, with an rca timeline entry) when a concurrent incident opens
// or gains a member (stored when only its scores changed); an incident
// opened later than the window is not read.
func TestConcurrentIncidentsRankedTogether(t *testing.T) {
	st := openStore(t)
	out := &collect{}
	c, err := correlate.New(correlate.Options{
		Store: st, Window: 5 * time.Minute, GroupBy: []string{"service"},
		CatchUpInterval: time.Hour, Now: func() time.Time { return t0.Add(time.Minute) },
		Registerer: prometheus.NewRegistry(), Out: out,
		Causes: rca.ConcurrentIncidentRanker{IncidentRanker: rca.IncidentRanker{Config: rca.DefaultConfig()}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Shutdown(context.Background()) })
	consume := func(e ev) {
		t.Helper()
		if err := c.ConsumeEvents(context.Background(), appendEvents(t, st, []ev{e})); err != nil {
			t.Fatal(err)
		}
	}
	causesOf := func(service string) []string {
		t.Helper()
		for _, inc := range incidents(t, st) {
			if inc.Labels.Get("service") == service {
				var names []string
				for _, cs := range inc.Causes {
					names = append(names, cs.Name)
				}
				return names
			}
		}
		t.Fatalf("no incident of %s", service)
		return nil
	}
	consume(ev{at: 0, name: "Slow", labels: osprey.Labels{"service": "seat"}, severity: osprey.SeverityWarning})
	if got := causesOf("seat"); !slices.Equal(got, []string{"seat"}) {
		t.Fatalf("seat's incident alone: causes %v", got)
	}
	// A deploy of verification 20 s later opens its own incident; its
	// change is verification's own evidence, a candidate of seat's.
	handed := len(out.incs)
	consume(ev{at: 20 * time.Second, name: "deploy", labels: osprey.Labels{"service": "verification"}, severity: osprey.SeverityWarning})
	if got := causesOf("seat"); !slices.Equal(got, []string{"verification", "seat"}) {
		t.Fatalf("seat's incident after verification's opened: causes %v, want verification, seat", got)
	}
	var seat *osprey.Incident
	for i := range out.incs[handed:] {
		if inc := &out.incs[handed+i]; inc.Labels.Get("service") == "seat" {
			seat = inc
		}
	}
	if seat == nil {
		t.Fatal("seat's re-ranked incident was not handed on")
	}
	if !strings.Contains(seat.Causes[0].Explanation, "concurrent incident") {
		t.Errorf("explanation %q does not name the concurrent incident", seat.Causes[0].Explanation)
	}
	if last := seat.Timeline[len(seat.Timeline)-1]; last.Kind != osprey.TimelineRCA || !strings.Contains(last.Message, "service verification") {
		t.Errorf("last timeline entry %+v, want the new ranking", last)
	}
	// A stronger change joining verification's incident ranks seat's
	// again: the concurrent evidence's score rose.
	scoreOf := func(service string) float64 {
		t.Helper()
		for _, inc := range incidents(t, st) {
			if inc.Labels.Get("service") == "seat" {
				for _, cs := range inc.Causes {
					if cs.Name == service {
						return cs.Score
					}
				}
			}
		}
		t.Fatalf("no cause %s in seat's incident", service)
		return 0
	}
	before := scoreOf("verification")
	consume(ev{at: 40 * time.Second, name: "deploy", labels: osprey.Labels{"service": "verification", "version": "2"},
		severity: osprey.SeverityCritical})
	if n := len(incidents(t, st)); n != 2 {
		t.Fatalf("%d incidents, want the change to join verification's", n)
	}
	if after := scoreOf("verification"); !(after > before) {
		t.Errorf("verification's score in seat's incident %v after a critical change joined its incident, want above %v", after, before)
	}
	// A deploy ten minutes later is not concurrent with seat's incident.
	consume(ev{at: 10 * time.Minute, name: "deploy", labels: osprey.Labels{"service": "other"}, severity: osprey.SeverityWarning})
	if got := causesOf("seat"); !slices.Equal(got, []string{"verification", "seat"}) {
		t.Errorf("seat's incident after a later deploy: causes %v, want verification, seat", got)
	}
	if got := causesOf("other"); !slices.Equal(got, []string{"other"}) {
		t.Errorf("the later deploy's incident: causes %v, want other alone", got)
	}
}
