package correlate_test

import (
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
)

// A group that holds a settled incident only by standing alerts — still
// firing, but not reported within half the window, in an incident past
// its first window that gained no member for half of it — does not take a
// new alert of a service the call graph knows: the alert is a new onset.
// It joins the spreading incident of a neighbour that opened after the
// settled incident's last onset, or opens one; while the group's service
// still reports, or the incident still spreads, it joins as before.
func TestStandingGroupTakesNoNewAlert(t *testing.T) {
	const m = time.Minute
	db := osprey.Labels{"service": "db"}
	for _, tc := range []struct {
		name string
		// resend re-sends db's first alert at 6m (the group is active);
		// payments has payments fail at 6m (a new problem next to db).
		resend, payments bool
		// spread has a new service join the first incident at 5m.
		spread bool
		want   string // "first", "payments" or "own"
	}{
		{name: "standing, a neighbour's new incident spreads: joins it", payments: true, want: "payments"},
		{name: "standing, no neighbour fails: a new incident", want: "own"},
		{name: "db still reports: joins its group", resend: true, payments: true, want: "first"},
		{name: "the first incident still spreads: joins its group", spread: true, payments: true, want: "first"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// api → orders → db, api → payments → db; cache → db.
			g := callGraph(t, [2]string{"api", "orders"}, [2]string{"orders", "db"},
				[2]string{"api", "payments"}, [2]string{"payments", "db"}, [2]string{"cache", "db"})
			r := newRig(t, rigOptions{topo: g, grace: 5 * m})
			evs := []ev{
				{at: 0, name: "Errors", labels: osprey.Labels{"service": "orders"}},
				{at: m, name: "Latency", labels: osprey.Labels{"service": "api"}},
				// db's symptom of the first fault: it keeps firing,
				// reported once.
				{at: 3 * m, name: "CPU", labels: db},
			}
			if tc.spread {
				evs = append(evs, ev{at: 5 * m, name: "Evictions", labels: osprey.Labels{"service": "cache"}})
			}
			if tc.resend {
				evs = append(evs, ev{at: 6 * m, name: "CPU", labels: db})
			}
			if tc.payments {
				evs = append(evs, ev{at: 6 * m, name: "Errors", labels: osprey.Labels{"service": "payments"}})
			}
			// 7 minutes into the first incident, 4 after db's last
			// report: db's new alert.
			evs = append(evs, ev{at: 7 * m, name: "Latency", labels: db})
			r.send(evs...)
			first := r.memberOf("Errors", "orders")
			if r.memberOf("CPU", "db").ID != first.ID {
				t.Fatal("db's first alert did not join orders' incident through the call graph")
			}
			if tc.spread && r.memberOf("Evictions", "cache").ID != first.ID {
				t.Fatal("cache's alert did not join orders' incident through the call graph")
			}
			got := r.memberOf("Latency", "db")
			switch tc.want {
			case "first":
				if got.ID != first.ID {
					t.Errorf("db's new alert did not join its group's incident: %+v", got.Timeline)
				}
			case "payments":
				if pay := r.memberOf("Errors", "payments"); pay.ID == first.ID {
					t.Fatal("payments joined the first incident, opened 6 minutes earlier")
				} else if got.ID != pay.ID {
					t.Errorf("db's new alert did not join payments' incident: it is in %s (first %s)", got.ID, first.ID)
				}
			case "own":
				if got.ID == first.ID {
					t.Fatal("db's new alert joined the settled incident through its standing alert")
				}
				if !hasEntry(got, osprey.TimelineOpened, "a new onset: incident "+first.ID+" of the same service=db had gained no member") {
					t.Errorf("the new incident does not say why it did not join %s: %+v", first.ID, got.Timeline)
				}
			}
		})
	}
}

// The neighbour's incident a standing group's new alert joins must have
// opened after the settled incident's last onset: one that opened while
// the settled incident still grew is part of that time's problem (a part
// split off by another rule), not the new problem.
func TestStandingGroupSkipsAnOlderNeighbour(t *testing.T) {
	const m = time.Minute
	db := osprey.Labels{"service": "db"}
	pay := osprey.Labels{"service": "payments"}
	// orders → db, payments → db.
	g := callGraph(t, [2]string{"orders", "db"}, [2]string{"payments", "db"})
	r := newRig(t, rigOptions{topo: g, grace: 5 * m})
	r.send(
		ev{at: 0, name: "Errors", labels: osprey.Labels{"service": "orders"}},
		ev{at: m, name: "CPU", labels: db},
		// orders' incident stopped spreading at 3m30s: payments opens
		// its own at 4m.
		ev{at: 4 * m, name: "Errors", labels: pay},
		// orders' incident gains a member of its own group at 4m30s,
		// after payments' opened.
		ev{at: 4*m + 30*time.Second, name: "Timeouts", labels: osprey.Labels{"service": "orders"}},
		// db's first alert is re-sent: its group is active within the
		// window, not within half of it, at db's new alert.
		ev{at: 4*m + 40*time.Second, name: "CPU", labels: db},
		// payments' incident spreads on.
		ev{at: 6 * m, name: "Latency", labels: pay},
		// db's new alert: its group stands in orders' settled incident.
		ev{at: 7*m + 30*time.Second, name: "Latency", labels: db},
	)
	first, payments := r.memberOf("Errors", "orders"), r.memberOf("Errors", "payments")
	if payments.ID == first.ID || r.memberOf("Timeouts", "orders").ID != first.ID || r.memberOf("CPU", "db").ID != first.ID {
		t.Fatal("the set-up did not group as meant")
	}
	got := r.memberOf("Latency", "db")
	if got.ID == first.ID || got.ID == payments.ID {
		t.Errorf("db's new alert joined %s (orders' %s, payments' %s), want a new incident", got.ID, first.ID, payments.ID)
	}
}
