package correlate_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/correlate"
)

var flapping = correlate.FlapConfig{Transitions: 4, Window: 10 * time.Minute, Stable: 10 * time.Minute}

// statusChanges returns the incident statuses the stage handed on, without
// repeats: what a notifier would notify.
func (r *rig) statusChanges() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, inc := range r.out {
		if s := string(inc.Status); len(out) == 0 || out[len(out)-1] != s {
			out = append(out, s)
		}
	}
	return out
}

func TestFlappingMarkAndUnmark(t *testing.T) {
	r := newExtRig(t, correlate.Options{Flapping: flapping})
	up := ev{name: "Probe", labels: checkout}
	down := ev{name: "Probe", labels: checkout, resolved: true}
	at := func(e ev, d time.Duration) ev { e.at = d; return e }
	// With no grace, every resolution resolves the incident and every
	// firing reopens it — until the fifth change within 10m.
	r.send(at(up, 0), at(down, time.Minute), at(up, 2*time.Minute), at(down, 3*time.Minute), at(up, 4*time.Minute))
	if got := strings.Join(r.statusChanges(), ","); got != "open,resolved,open,resolved,open" {
		t.Fatalf("before flapping: statuses %s", got)
	}
	r.send(at(down, 5*time.Minute), at(up, 6*time.Minute), at(down, 7*time.Minute))
	inc := r.only()
	m := inc.Members[0]
	if !m.Flapping || m.Status != osprey.StatusResolved || inc.Status != osprey.IncidentOpen {
		t.Fatalf("after the fifth change: member flapping=%v status=%s, incident %s", m.Flapping, m.Status, inc.Status)
	}
	if m.Count != 4 || !m.LastSeen.Equal(t0.Add(7*time.Minute)) {
		t.Errorf("flips not recorded on the member: count %d, last seen %s", m.Count, m.LastSeen)
	}
	if !hasEntry(inc, osprey.TimelineMemberUpdate, "is flapping: 5 status changes within 10m0s") {
		t.Errorf("no flapping entry: %+v", inc.Timeline)
	}
	if got := strings.Join(r.statusChanges(), ","); got != "open,resolved,open,resolved,open" {
		t.Errorf("flapping member changed the incident: statuses %s", got)
	}
	if got := r.counter("osprey_correlate_flapping_marked_total", ""); got != 1 {
		t.Errorf("marked = %v", got)
	}
	if got := r.counter("osprey_correlate_flapping_signals_total", ""); got != 2 {
		t.Errorf("absorbed = %v, want 2 (the up and down after the marking one)", got)
	}
	entries := len(inc.Timeline)

	// Quiet until 17m (last change at 7m + 10m): still flapping at 16m.
	r.at(16 * time.Minute)
	if err := r.c.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	if inc := r.only(); !inc.Members[0].Flapping {
		t.Fatal("unmarked before it was stable for 10m")
	}
	// At 17m it is stable: unmarked, and as its last report was a
	// resolution the incident resolves (no grace).
	r.at(17 * time.Minute)
	if err := r.c.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	inc = r.only()
	if inc.Members[0].Flapping || inc.Members[0].Status != osprey.StatusResolved || inc.Status != osprey.IncidentResolved {
		t.Fatalf("after stable: member %+v, incident %s", inc.Members[0], inc.Status)
	}
	if !inc.ResolvedAt.Equal(t0.Add(17 * time.Minute)) {
		t.Errorf("resolved at %s", inc.ResolvedAt)
	}
	if !hasEntry(inc, osprey.TimelineMemberUpdate, "no longer flapping: no status change for 10m0s; it is resolved") {
		t.Errorf("no unmark entry: %+v", inc.Timeline[entries:])
	}
}

func TestFlappingUnmarkedByTheNextSignalAfterStable(t *testing.T) {
	r := newExtRig(t, correlate.Options{Flapping: flapping, ResolveGrace: 5 * time.Minute})
	for i := range 6 {
		r.send(ev{at: time.Duration(i) * time.Minute, name: "Probe", labels: checkout, resolved: i%2 == 1})
	}
	if inc := r.only(); !inc.Members[0].Flapping {
		t.Fatal("six changes in 6m did not mark the member flapping")
	}
	// The last change was a resolution at 5m; a firing signal at 18m
	// (no sweep since) first unmarks it at 15m, then fires again.
	r.send(ev{at: 18 * time.Minute, name: "Probe", labels: checkout})
	inc := r.only()
	if inc.Members[0].Flapping || inc.Members[0].Status != osprey.StatusFiring {
		t.Fatalf("member %+v", inc.Members[0])
	}
	if !hasEntry(inc, osprey.TimelineMemberUpdate, "no longer flapping") {
		t.Errorf("no unmark entry: %+v", inc.Timeline)
	}
	// Unmarked at 15m as resolved, the incident resolved then (the grace
	// since the last activity at 5m had passed) and the firing signal at
	// 18m reopened it (within the window); both in the batch of that
	// signal, so one snapshot was handed on.
	if !hasEntry(inc, osprey.TimelineStatus, "resolved: every member has been clear for 5m0s") || !hasEntry(inc, osprey.TimelineStatus, "reopened") {
		t.Errorf("timeline: %+v", inc.Timeline)
	}
	if !inc.ResolvedAt.IsZero() || inc.Status != osprey.IncidentOpen {
		t.Errorf("incident %s resolved at %s", inc.Status, inc.ResolvedAt)
	}
}

func TestFlappingMarkSurvivesRestart(t *testing.T) {
	r := newExtRig(t, correlate.Options{Flapping: flapping})
	for i := range 6 {
		r.send(ev{at: time.Duration(i) * time.Minute, name: "Probe", labels: checkout, resolved: i%2 == 1})
	}
	if m := r.only().Members[0]; !m.Flapping || m.Status != osprey.StatusResolved {
		t.Fatalf("member %+v", m)
	}
	// A new correlator on the same store keeps the incident open (the
	// member still counts as firing) and lifts the mark when it is due.
	r2 := newExtRig(t, correlate.Options{Store: r.st, Flapping: flapping})
	r2.at(14 * time.Minute)
	if err := r2.c.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	if inc := r2.only(); inc.Status != osprey.IncidentOpen || !inc.Members[0].Flapping {
		t.Fatalf("after restart, before stable: %s %+v", inc.Status, inc.Members[0])
	}
	r2.at(15 * time.Minute)
	if err := r2.c.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	if inc := r2.only(); inc.Status != osprey.IncidentResolved || inc.Members[0].Flapping || !inc.ResolvedAt.Equal(t0.Add(15*time.Minute)) {
		t.Fatalf("after restart, stable: %s at %s, %+v", inc.Status, inc.ResolvedAt, inc.Members[0])
	}
}

func TestFlapConfigValidate(t *testing.T) {
	if err := (correlate.FlapConfig{}).Validate(); err != nil {
		t.Errorf("disabled: %v", err)
	}
	err := (correlate.FlapConfig{Transitions: 2}).Validate()
	if err == nil || !strings.Contains(err.Error(), "window: must be positive") || !strings.Contains(err.Error(), "stable: must be positive") {
		t.Errorf("err = %v", err)
	}
}
