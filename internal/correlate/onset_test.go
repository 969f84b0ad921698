package correlate_test

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/correlate"
	"github.com/osprey-aiops/osprey/internal/store"
)

// After its first window, an incident takes a new alert of a group only
// while one of the group's members there still fires: a new alert of a
// service whose alerts have all cleared is a new onset and opens an
// incident of its own. Repeats of a member stay with it.
func TestNewOnsetAfterTheGroupCleared(t *testing.T) {
	const m = time.Minute
	for _, tc := range []struct {
		name string
		evs  []ev
		// joins says whether Latency on checkout joined the incident of
		// Errors on checkout.
		joins bool
	}{{
		name: "cleared, incident past its first window: a new incident",
		evs: []ev{
			{at: 0, name: "Errors", labels: checkout},
			{at: 3 * m, name: "Errors", labels: checkout, resolved: true},
			{at: 6 * m, name: "Latency", labels: checkout},
		},
		joins: false,
	}, {
		name: "still firing: the same ongoing problem",
		evs: []ev{
			{at: 0, name: "Errors", labels: checkout},
			{at: 3 * m, name: "Errors", labels: checkout},
			{at: 6 * m, name: "Errors", labels: checkout},
			{at: 10 * m, name: "Latency", labels: checkout},
		},
		joins: true,
	}, {
		// Since session 9 a group that cleared takes no new alert
		// within the first window either: the service recovered
		// (TestRecoveredServiceNewWaveInAYoungIncident).
		name: "cleared within the incident's first window: a new wave",
		evs: []ev{
			{at: 0, name: "Errors", labels: checkout},
			{at: m, name: "Errors", labels: checkout, resolved: true},
			{at: 4 * m, name: "Latency", labels: checkout},
		},
		joins: false,
	}, {
		name: "still firing within the incident's first window: staggered alerts of one failure",
		evs: []ev{
			{at: 0, name: "Errors", labels: checkout},
			{at: 4 * m, name: "Latency", labels: checkout},
		},
		joins: true,
	}, {
		name: "another service still firing does not hold the group open",
		evs: []ev{
			{at: 0, name: "Errors", labels: checkout},
			{at: 0, name: "Disk", labels: osprey.Labels{"host": "db1"}},
			{at: 3 * m, name: "Errors", labels: checkout, resolved: true},
			// Disk has its own group (host=db1); it does not make the
			// incident of checkout's Errors take new checkout alerts.
			{at: 6 * m, name: "Latency", labels: checkout},
		},
		joins: false,
	}, {
		// The shape that chained faults minutes apart into one incident:
		// the service recovered, then its old alert fired again with the
		// next fault. The repeat stays with its member; the new alert is
		// a new onset.
		name: "refired after the incident's first window: a new incident",
		evs: []ev{
			{at: 0, name: "Errors", labels: checkout},
			{at: 3 * m, name: "Errors", labels: checkout, resolved: true},
			{at: 6 * m, name: "Errors", labels: checkout},
			{at: 6*m + 30*time.Second, name: "Latency", labels: checkout},
		},
		joins: false,
	}, {
		name: "refired within the first window and firing since: the same ongoing problem",
		evs: []ev{
			{at: 0, name: "Errors", labels: checkout},
			{at: m, name: "Errors", labels: checkout, resolved: true},
			{at: 2 * m, name: "Errors", labels: checkout},
			{at: 5 * m, name: "Errors", labels: checkout},
			{at: 8 * m, name: "Errors", labels: checkout},
			{at: 9 * m, name: "Latency", labels: checkout},
		},
		joins: true,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, rigOptions{grace: 5 * m})
			r.send(tc.evs...)
			first := r.memberOf("Errors", "checkout")
			second := r.memberOf("Latency", "checkout")
			if got := first.ID == second.ID; got != tc.joins {
				t.Fatalf("Latency joined the incident of Errors: %v, want %v", got, tc.joins)
			}
			if !tc.joins && !hasEntry(second, osprey.TimelineOpened, "a new onset: incident "+first.ID+" of the same service=checkout") {
				t.Errorf("the new incident does not say why it did not join %s: %+v", first.ID, second.Timeline)
			}
		})
	}
}

// Repeats of a member whose group cleared stay with its incident (and
// reopen it after it resolved), however old the incident: only new alerts
// are new onsets.
func TestRepeatAfterTheGroupClearedStaysInItsIncident(t *testing.T) {
	const m = time.Minute
	r := newRig(t, rigOptions{grace: 5 * m})
	r.send(
		ev{at: 0, name: "Errors", labels: checkout},
		ev{at: 2 * m, name: "Errors", labels: checkout, resolved: true},
		// Within the grace: the incident is still open.
		ev{at: 6 * m, name: "Errors", labels: checkout},
		ev{at: 7 * m, name: "Errors", labels: checkout, resolved: true},
		// After the grace (resolved at 12m), within the reopen window.
		ev{at: 14 * m, name: "Errors", labels: checkout},
	)
	inc := r.only()
	if inc.Status != osprey.IncidentOpen || len(inc.Members) != 1 || inc.Members[0].Count != 3 {
		t.Fatalf("incident %s with %d members (count %d), want open with Errors fired 3 times", inc.Status, len(inc.Members), inc.Members[0].Count)
	}
	if !hasEntry(inc, osprey.TimelineStatus, "reopened") {
		t.Errorf("no reopen entry: %+v", inc.Timeline)
	}
}

// A flapping member counts as firing: its group keeps taking new alerts.
func TestFlappingMemberKeepsItsGroupOpenToNewAlerts(t *testing.T) {
	const m = time.Minute
	r := newExtRig(t, correlate.Options{Flapping: flapping, ResolveGrace: 5 * m})
	for i := range 8 {
		r.send(ev{at: time.Duration(i) * m, name: "Probe", labels: checkout, resolved: i%2 == 1})
	}
	r.send(ev{at: 8 * m, name: "Latency", labels: checkout})
	probe := r.memberOf("Probe", "checkout")
	if !probe.Members[0].Flapping || probe.Members[0].Status != osprey.StatusResolved {
		t.Fatalf("Probe flapping=%v status=%s, want a flapping member last reported resolved", probe.Members[0].Flapping, probe.Members[0].Status)
	}
	if r.memberOf("Latency", "checkout").ID != probe.ID {
		t.Error("a new alert did not join the incident of a flapping member of its service")
	}
}

// The shape that chained faults into one incident: a caller is a symptom
// of one callee's fault, recovers, and minutes later is a symptom of
// another callee's. Its second alert is a late symptom of the second
// fault: it joins that fault's incident through the call graph instead of
// the first fault's incident through its service, which its first alert
// kept open to new alerts of the caller for a window after clearing.
func TestSymptomOfASecondFaultJoinsTheSecondIncident(t *testing.T) {
	const m = time.Minute
	g := callGraph(t, [2]string{"frontend", "cart"}, [2]string{"frontend", "db"})
	frontend := osprey.Labels{"service": "frontend"}
	r := newRig(t, rigOptions{topo: g, grace: 5 * m})
	r.send(
		ev{at: 0, name: "Errors", labels: osprey.Labels{"service": "cart"}},
		ev{at: 30 * time.Second, name: "Errors5xx", labels: frontend},
		ev{at: 2 * m, name: "Errors", labels: osprey.Labels{"service": "cart"}, resolved: true},
		ev{at: 2 * m, name: "Errors5xx", labels: frontend, resolved: true},
		// The second fault, 6m after the first.
		ev{at: 6 * m, name: "SlowQueries", labels: osprey.Labels{"service": "db"}},
		ev{at: 6*m + 30*time.Second, name: "Latency", labels: frontend},
	)
	cart := r.memberOf("Errors", "cart")
	db := r.memberOf("SlowQueries", "db")
	if cart.ID == db.ID {
		t.Fatal("the two faults share an incident")
	}
	if r.memberOf("Errors5xx", "frontend").ID != cart.ID {
		t.Error("frontend's first symptom did not join cart's incident")
	}
	if got := r.memberOf("Latency", "frontend").ID; got != db.ID {
		t.Errorf("frontend's second symptom joined %s, want db's incident %s (cart's is %s)", got, db.ID, cart.ID)
	}
	if n := len(incidents(t, r.st)); n != 2 {
		t.Errorf("%d incidents, want 2", n)
	}
}

// An escalation ends a member's anomaly and opens a larger one of the same
// series at once: the failure grew, it did not clear. After the incident's
// first window the member still holds its group open to new alerts, as it
// did before; a member that cleared and fired again does not.
func TestEscalatedMemberStillHoldsItsGroup(t *testing.T) {
	const m = time.Minute
	for _, tc := range []struct {
		name     string
		escalate bool
		joins    bool
	}{
		{name: "escalated: still the same failure", escalate: true, joins: true},
		{name: "cleared and fired again: a new onset", escalate: false, joins: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, consume := anomalyRig(t)
			anomaly := metricAnomaly
			errs, lat := anomaly("errors", 0), anomaly("latency", 30*time.Second)
			consume(0, errs)
			consume(30*time.Second, lat)
			// latency, still open, is reported again (the group is
			// active).
			consume(7*m+30*time.Second, lat)
			// At 8m errors ends and a new anomaly of it opens: by an
			// escalation, or after a minute clear.
			ended, again := errs, anomaly("errors", 8*m)
			ended.EndsAt = t0.Add(8 * m)
			if tc.escalate {
				ended.Evidence = []osprey.Evidence{{Detector: osprey.EvidenceEscalated}}
				again.Evidence = []osprey.Evidence{{Detector: osprey.EvidenceEscalation}}
				consume(8*m, ended, again)
			} else {
				ended.EndsAt = t0.Add(7 * m)
				consume(7*m, ended)
				consume(8*m, again)
			}
			lat.EndsAt = t0.Add(9 * m)
			consume(9*m, lat)
			consume(10*m, anomaly("saturation", 10*m))
			var first, sat string
			for _, inc := range incidents(t, st) {
				for _, mem := range inc.Members {
					switch mem.Name {
					case "latency":
						first = inc.ID
					case "saturation":
						sat = inc.ID
					}
				}
			}
			if got := first == sat; got != tc.joins {
				t.Errorf("saturation joined the first incident: %v, want %v", got, tc.joins)
			}
		})
	}
}

// After the incident's first window, a trace detect stage anomaly (a break
// or slowness of the service's own spans) joins its service's group only
// while one of the group's own trace anomalies still fires: the service's
// logs and metrics still firing are symptoms of the first fault, and do
// not make a new break of its own part of it. A metric anomaly in the same
// place joins as before.
func TestOwnBreakAfterTheFirstWindowIsANewOnset(t *testing.T) {
	const m = time.Minute
	for _, tc := range []struct {
		name  string
		late  osprey.Anomaly
		trace bool // the first incident holds a firing trace anomaly of checkout
		joins bool
	}{
		{name: "trace anomaly, only symptoms firing: a new incident", late: traceAnomaly("flow", 7*m), joins: false},
		{name: "metric anomaly, symptoms firing: joins", late: metricAnomaly("latency", 7*m), joins: true},
		{name: "trace anomaly, a trace anomaly of the service firing: joins", late: traceAnomaly("latency", 7*m), trace: true, joins: true},
		{name: "trace anomaly within the first window: joins", late: traceAnomaly("flow", 3*m), joins: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, consume := anomalyRig(t)
			first := []osprey.Anomaly{metricAnomaly("errors", 0)}
			if tc.trace {
				first = append(first, traceAnomaly("flow", 0))
			}
			consume(0, first...)
			// Still open, reported again: the group is active.
			consume(4*m, first...)
			consume(tc.late.StartsAt.Sub(t0), tc.late)
			var errs, late string
			for _, inc := range incidents(t, st) {
				for _, mem := range inc.Members {
					switch mem.Fingerprint {
					case first[0].Fingerprint:
						errs = inc.ID
					case tc.late.Fingerprint:
						late = inc.ID
					}
				}
			}
			if got := errs == late; got != tc.joins {
				t.Errorf("the late anomaly joined the first incident: %v, want %v", got, tc.joins)
			}
		})
	}
}

// anomalyRig starts a correlator grouping by service with a 5-minute
// window on a test store, and returns the store and a function that
// consumes a batch of anomalies at t0+at.
func anomalyRig(t *testing.T) (store.Store, func(at time.Duration, batch ...osprey.Anomaly)) {
	t.Helper()
	const m = time.Minute
	st := openStore(t)
	now := t0
	c := startWith(t, correlate.Options{
		Store: st, Window: 5 * m, GroupBy: []string{"service"}, ResolveGrace: 5 * m, CatchUpInterval: time.Hour,
		Now: func() time.Time { return now }, Registerer: prometheus.NewRegistry(),
	})
	return st, func(at time.Duration, batch ...osprey.Anomaly) {
		t.Helper()
		now = t0.Add(at)
		if err := c.ConsumeAnomalies(t.Context(), batch); err != nil {
			t.Fatal(err)
		}
	}
}

// metricAnomaly and traceAnomaly are firing anomalies of checkout at t0+at.
func metricAnomaly(metric string, at time.Duration) osprey.Anomaly {
	l := osprey.Labels{osprey.LabelMetric: metric, "service": "checkout"}
	return osprey.Anomaly{ID: osprey.NewID(t0.Add(at)), Kind: osprey.AnomalyMetric, Labels: l,
		Severity: osprey.SeverityWarning, StartsAt: t0.Add(at), Fingerprint: l.Fingerprint()}
}

func traceAnomaly(signal string, at time.Duration) osprey.Anomaly {
	l := osprey.Labels{osprey.LabelTraceSignal: signal, "service": "checkout"}
	return osprey.Anomaly{ID: osprey.NewID(t0.Add(at)), Kind: osprey.AnomalyTrace, Labels: l,
		Severity: osprey.SeverityWarning, StartsAt: t0.Add(at), Fingerprint: l.Fingerprint()}
}
