package correlate_test

import (
	"strings"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
)

// joinedWhy returns the timeline message of the join of the member named
// name in inc, or "".
func joinedWhy(inc osprey.Incident, name string) string {
	for _, e := range inc.Timeline {
		if e.Kind == osprey.TimelineMemberJoined && strings.Contains(e.Message, " "+name+"{") {
			return e.Message
		}
	}
	return ""
}

// Alerts that start within the burst of an incident's opening join it
// where the call graph has no say (a service it does not know), not where
// it knows both services and they are far apart; only the opening counts,
// so a burst does not chain into the next minute's alerts.
func TestBurstJoinsWhereTheGraphHasNoSay(t *testing.T) {
	// frontend → checkout; mail → smtp: smtp is four calls from nothing.
	g := callGraph(t, [2]string{"frontend", "checkout"}, [2]string{"mail", "smtp"})
	r := newRig(t, rigOptions{topo: g, burst: time.Minute})
	r.send(
		ev{at: 0, name: "Errors", labels: osprey.Labels{"service": "checkout"}},
		// Unknown to the graph, 30 s later: the same burst.
		ev{at: 30 * time.Second, name: "DiskFull", labels: osprey.Labels{"service": "batch"}},
		// Known to the graph and unrelated to checkout: its own incident.
		ev{at: 40 * time.Second, name: "Queue", labels: osprey.Labels{"service": "smtp"}},
		// Unknown, but 70 s after checkout's incident and 30 s after
		// smtp's: it joins smtp's (the graph knows only smtp's side).
		ev{at: 70 * time.Second, name: "CPU", labels: osprey.Labels{"service": "reports"}},
		// batch again, 3 minutes on: joins by its group, as any alert of
		// a member's service does.
		ev{at: 3 * time.Minute, name: "Inodes", labels: osprey.Labels{"service": "batch"}},
		// Unknown, two minutes after every opening: a new incident.
		ev{at: 4 * time.Minute, name: "Latency", labels: osprey.Labels{"service": "ledger"}},
	)
	checkout := r.memberOf("Errors", "checkout")
	if r.memberOf("DiskFull", "batch").ID != checkout.ID {
		t.Error("batch, unknown to the graph, did not join the incident opened 30 s earlier")
	}
	if why := joinedWhy(checkout, "DiskFull"); !strings.Contains(why, "started within 1m0s of the incident's opening") {
		t.Errorf("join of DiskFull says %q", why)
	}
	if r.memberOf("Inodes", "batch").ID != checkout.ID {
		t.Error("a later batch alert did not join by its group")
	}
	smtp := r.memberOf("Queue", "smtp")
	if smtp.ID == checkout.ID {
		t.Error("smtp, known to the graph and unrelated to checkout, joined its incident")
	}
	if r.memberOf("CPU", "reports").ID != smtp.ID {
		t.Error("reports did not join smtp's incident, opened 30 s earlier")
	}
	if r.memberOf("Latency", "ledger").ID == checkout.ID || r.memberOf("Latency", "ledger").ID == smtp.ID {
		t.Error("ledger joined an incident opened minutes earlier")
	}
	if n := len(incidents(t, r.st)); n != 3 {
		t.Errorf("%d incidents, want 3 (checkout+batch, smtp+reports, ledger)", n)
	}
}

// Without a call graph every service is unknown to it: the burst joins
// any two services; a zero burst (the Options default) joins none.
func TestBurstWithoutGraph(t *testing.T) {
	for _, tc := range []struct {
		burst time.Duration
		want  int
	}{{time.Minute, 1}, {0, 2}} {
		r := newRig(t, rigOptions{burst: tc.burst})
		r.send(
			ev{at: 0, name: "Errors", labels: osprey.Labels{"service": "checkout"}},
			ev{at: 59 * time.Second, name: "Errors", labels: osprey.Labels{"service": "cart"}},
		)
		if n := len(incidents(t, r.st)); n != tc.want {
			t.Errorf("burst %s: %d incidents, want %d", tc.burst, n, tc.want)
		}
	}
}

// The burst survives a restart: an incident opened before it still
// collects the alerts of its burst after it.
func TestBurstAfterRestart(t *testing.T) {
	r := newRig(t, rigOptions{burst: time.Minute})
	r.send(ev{at: 0, name: "Errors", labels: osprey.Labels{"service": "checkout"}})
	first := r.memberOf("Errors", "checkout")
	if err := r.c.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	r2 := newRig(t, rigOptions{st: r.st, burst: time.Minute})
	r2.send(ev{at: 20 * time.Second, name: "Errors", labels: osprey.Labels{"service": "cart"}})
	if got := r2.memberOf("Errors", "cart").ID; got != first.ID {
		t.Errorf("cart opened %s after the restart, want it in %s (opened 20 s earlier)", got, first.ID)
	}
}

// A group joins an incident while its own members are active, not while
// other members are: an incident kept busy by one service does not hold
// the group of another member (joined through the call graph) open for
// ever.
func TestGroupJoinNeedsItsOwnGroupActive(t *testing.T) {
	g := callGraph(t, [2]string{"checkout", "db"})
	r := newRig(t, rigOptions{topo: g})
	r.send(
		ev{at: 0, name: "SlowQueries", labels: osprey.Labels{"service": "db"}},
		ev{at: time.Minute, name: "Latency", labels: osprey.Labels{"service": "checkout"}},
		ev{at: 4 * time.Minute, name: "SlowQueries", labels: osprey.Labels{"service": "db"}},
		// checkout was last active 6 minutes ago, db 3 minutes ago.
		ev{at: 7 * time.Minute, name: "Errors", labels: osprey.Labels{"service": "checkout"}},
		ev{at: 8 * time.Minute, name: "SlowQueries", labels: osprey.Labels{"service": "db"}},
		// db's own group is active: joins.
		ev{at: 9 * time.Minute, name: "Connections", labels: osprey.Labels{"service": "db"}},
	)
	db := r.memberOf("SlowQueries", "db")
	if r.memberOf("Latency", "checkout").ID != db.ID {
		t.Fatal("checkout did not join db's incident through the call graph")
	}
	if r.memberOf("Errors", "checkout").ID == db.ID {
		t.Error("checkout's second alert joined 6 minutes after checkout was last active")
	}
	if r.memberOf("Connections", "db").ID != db.ID {
		t.Error("db's second alert did not join db's incident")
	}
}
