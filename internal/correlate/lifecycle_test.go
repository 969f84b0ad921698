package correlate_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/correlate"
	"github.com/osprey-aiops/osprey/internal/store"
)

// rig is a correlator on a real SQLite store with a clock the test moves and
// a record of what the stage handed on.
type rig struct {
	t   *testing.T
	st  store.Store
	c   *correlate.Correlator
	reg *prometheus.Registry

	mu  sync.Mutex
	now time.Time
	out []osprey.Incident
}

type rigOptions struct {
	grace   time.Duration
	inhibit []correlate.InhibitRule
	st      store.Store
	topo    correlate.Topology
	burst   time.Duration
	// similarity is correlate.Options.Similarity.
	similarity float64
}

func newRig(t *testing.T, o rigOptions) *rig {
	t.Helper()
	r := &rig{t: t, st: o.st, now: t0, reg: prometheus.NewRegistry()}
	if r.st == nil {
		r.st = openStore(t)
	}
	c := startWith(t, correlate.Options{
		Store:        r.st,
		Window:       5 * time.Minute,
		ResolveGrace: o.grace,
		Inhibit:      o.inhibit,
		Topology:     o.topo,
		Burst:        o.burst,
		Similarity:   o.similarity,
		GroupBy:      []string{"service", "host"},
		Out: osprey.IncidentConsumerFunc(func(_ context.Context, batch []osprey.Incident) error {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.out = append(r.out, batch...)
			return nil
		}),
		CatchUpInterval: time.Hour,
		Now:             r.clock,
		Registerer:      r.reg,
	})
	r.c = c
	return r
}

func (r *rig) clock() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.now
}

// at sets the clock to t0+d.
func (r *rig) at(d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.now = t0.Add(d)
}

// send stores and applies events one batch each, as a slow sender would.
func (r *rig) send(evs ...ev) {
	r.t.Helper()
	for _, e := range evs {
		if err := r.c.ConsumeEvents(context.Background(), appendEvents(r.t, r.st, []ev{e})); err != nil {
			r.t.Fatalf("consume: %v", err)
		}
	}
}

// only returns the single incident in the store, with its timeline.
func (r *rig) only() osprey.Incident {
	r.t.Helper()
	incs := incidents(r.t, r.st)
	if len(incs) != 1 {
		r.t.Fatalf("got %d incidents, want 1", len(incs))
	}
	return r.get(incs[0].ID)
}

func (r *rig) get(id string) osprey.Incident {
	r.t.Helper()
	inc, err := r.st.GetIncident(context.Background(), id)
	if err != nil {
		r.t.Fatal(err)
	}
	return inc
}

// counter returns the value of a counter (with the given label value, if
// any) from the rig's registry.
func (r *rig) counter(name, labelValue string) float64 {
	r.t.Helper()
	mfs, err := r.reg.Gather()
	if err != nil {
		r.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if labelValue == "" || (len(m.GetLabel()) > 0 && m.GetLabel()[0].GetValue() == labelValue) {
				if m.GetCounter() != nil {
					return m.GetCounter().GetValue()
				}
				return m.GetGauge().GetValue()
			}
		}
	}
	return 0
}

func lastEntry(inc osprey.Incident) osprey.TimelineEntry {
	return inc.Timeline[len(inc.Timeline)-1]
}

var checkout = osprey.Labels{"service": "checkout"}

func TestAckResolveReopen(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, rigOptions{grace: 5 * time.Minute})
	r.send(ev{at: 0, name: "HighLatency", labels: checkout})
	id := r.only().ID

	r.at(time.Minute)
	inc, err := r.c.Ack(ctx, id, "alice", "looking")
	if err != nil {
		t.Fatal(err)
	}
	if inc.Status != osprey.IncidentAcknowledged || len(inc.Timeline) != 1 {
		t.Fatalf("ack returned %s with timeline %+v", inc.Status, inc.Timeline)
	}
	if e := inc.Timeline[0]; e.Kind != osprey.TimelineStatus || e.Actor != "alice" || e.Message != "acknowledged by alice: looking" || e.Seq == 0 || !e.At.Equal(t0.Add(time.Minute)) {
		t.Errorf("ack entry = %+v", e)
	}
	if _, err := r.c.Ack(ctx, id, "bob", ""); !errors.Is(err, osprey.ErrConflict) {
		t.Errorf("second ack: err = %v, want ErrConflict", err)
	}
	if _, err := r.c.Reopen(ctx, id, "bob", ""); !errors.Is(err, osprey.ErrConflict) {
		t.Errorf("reopen of an acknowledged incident: err = %v, want ErrConflict", err)
	}
	if _, err := r.c.Ack(ctx, "01NOSUCHINCIDENT", "bob", ""); !errors.Is(err, osprey.ErrNotFound) {
		t.Errorf("ack of unknown id: err = %v, want ErrNotFound", err)
	}

	// A signal of the acknowledged incident keeps it acknowledged.
	r.send(ev{at: 90 * time.Second, name: "HighLatency", labels: checkout})
	if got := r.only(); got.Status != osprey.IncidentAcknowledged || got.Members[0].Count != 2 {
		t.Fatalf("after a repeat: %s count %d", got.Status, got.Members[0].Count)
	}

	r.at(2 * time.Minute)
	inc, err = r.c.Resolve(ctx, id, "alice", "")
	if err != nil {
		t.Fatal(err)
	}
	if inc.Status != osprey.IncidentResolved || !inc.ResolvedAt.Equal(t0.Add(2*time.Minute)) {
		t.Fatalf("resolve returned %s at %s", inc.Status, inc.ResolvedAt)
	}
	if _, err := r.c.Resolve(ctx, id, "alice", ""); !errors.Is(err, osprey.ErrConflict) {
		t.Errorf("second resolve: err = %v, want ErrConflict", err)
	}
	if _, err := r.c.Ack(ctx, id, "alice", ""); !errors.Is(err, osprey.ErrConflict) {
		t.Errorf("ack of a resolved incident: err = %v, want ErrConflict", err)
	}

	// The member was still firing when alice resolved: its repeat is
	// recorded but does not reopen the incident.
	r.send(ev{at: 3 * time.Minute, name: "HighLatency", labels: checkout})
	if got := r.only(); got.Status != osprey.IncidentResolved || got.Members[0].Count != 3 {
		t.Fatalf("repeat after a manual resolve: %s count %d, want resolved with count 3", got.Status, got.Members[0].Count)
	}

	r.at(4 * time.Minute)
	inc, err = r.c.Reopen(ctx, id, "bob", "not fixed")
	if err != nil {
		t.Fatal(err)
	}
	if inc.Status != osprey.IncidentOpen || !inc.ResolvedAt.IsZero() {
		t.Fatalf("reopen returned %s resolvedAt %s", inc.Status, inc.ResolvedAt)
	}
	// Reopened, it groups again: a new alert of checkout joins it.
	r.send(ev{at: 5 * time.Minute, name: "ErrorRate", labels: checkout})
	got := r.only()
	if len(got.Members) != 2 {
		t.Fatalf("reopened incident has %d members, want 2", len(got.Members))
	}
	var msgs []string
	for _, e := range got.Timeline {
		if e.Kind == osprey.TimelineStatus {
			msgs = append(msgs, e.Message)
		}
	}
	want := []string{"acknowledged by alice: looking", "resolved by alice", "reopened by bob: not fixed"}
	if strings.Join(msgs, "|") != strings.Join(want, "|") {
		t.Errorf("status entries = %q, want %q", msgs, want)
	}

	// Every action is audited with its actor.
	audit, err := r.st.ListAudit(ctx, time.Time{}, 10)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, a := range audit {
		if a.Object != "incident/"+id {
			t.Errorf("audit object = %q", a.Object)
		}
		actions = append(actions, a.Actor+":"+a.Action)
	}
	if got, want := strings.Join(actions, ","), "bob:incident.reopen,alice:incident.resolve,alice:incident.ack"; got != want {
		t.Errorf("audit = %s, want %s", got, want)
	}
	if n := r.counter("osprey_correlate_incident_actions_total", correlate.AuditAck); n != 1 {
		t.Errorf("ack actions metric = %v, want 1", n)
	}

	// Each action's snapshot was handed on with its entry.
	var handed []string
	for _, inc := range r.out {
		for _, e := range inc.Timeline {
			if e.Actor != "osprey" {
				handed = append(handed, string(inc.Status)+":"+e.Message)
			}
		}
	}
	if len(handed) != 3 || handed[0] != "acknowledged:acknowledged by alice: looking" || handed[2] != "open:reopened by bob: not fixed" {
		t.Errorf("handed on %q", handed)
	}
}

func TestAssignAndComment(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, rigOptions{})
	r.send(ev{at: 0, name: "A", labels: checkout})
	id := r.only().ID

	inc, err := r.c.Assign(ctx, id, "alice", "bob")
	if err != nil || inc.Assignee != "bob" {
		t.Fatalf("assign = %q, %v", inc.Assignee, err)
	}
	if inc, err = r.c.Assign(ctx, id, "alice", "bob"); err != nil || len(inc.Timeline) != 0 {
		t.Errorf("assigning the same person again: timeline %v, err %v; want no change", inc.Timeline, err)
	}
	entry, err := r.c.Comment(ctx, id, "carol", "rolled back deploy 42")
	if err != nil {
		t.Fatal(err)
	}
	if entry.Kind != osprey.TimelineComment || entry.Actor != "carol" || entry.Message != "rolled back deploy 42" || entry.Seq == 0 {
		t.Errorf("comment entry = %+v", entry)
	}
	if _, err := r.c.Comment(ctx, id, "carol", "  "); err == nil {
		t.Error("empty comment accepted")
	}
	if _, err := r.c.Comment(ctx, "nope", "carol", "x"); !errors.Is(err, osprey.ErrNotFound) {
		t.Errorf("comment on unknown id: %v", err)
	}
	if inc, err = r.c.Assign(ctx, id, "alice", ""); err != nil || inc.Assignee != "" {
		t.Fatalf("unassign = %q, %v", inc.Assignee, err)
	}
	got := r.only()
	kinds := []osprey.TimelineKind{}
	for _, e := range got.Timeline {
		kinds = append(kinds, e.Kind)
	}
	want := []osprey.TimelineKind{osprey.TimelineOpened, osprey.TimelineAssigned, osprey.TimelineComment, osprey.TimelineAssigned}
	if len(kinds) != len(want) {
		t.Fatalf("timeline kinds = %v, want %v", kinds, want)
	}
	for i := range want {
		if kinds[i] != want[i] {
			t.Fatalf("timeline kinds = %v, want %v", kinds, want)
		}
	}
	if m := lastEntry(got).Message; m != "unassigned (was bob) by alice" {
		t.Errorf("unassign message = %q", m)
	}

	// Comments and assignment work on a resolved incident too (post-mortem
	// notes), even one the correlator no longer holds in memory.
	r.at(time.Minute)
	if _, err := r.c.Resolve(ctx, id, "alice", ""); err != nil {
		t.Fatal(err)
	}
	r2 := newRig(t, rigOptions{st: r.st})
	r2.at(time.Hour)
	if _, err := r2.c.Comment(ctx, id, "dave", "post-mortem: PM-7"); err != nil {
		t.Fatal(err)
	}
	if inc := r2.get(id); inc.Status != osprey.IncidentResolved || lastEntry(inc).Message != "post-mortem: PM-7" {
		t.Errorf("after a comment on an old resolved incident: %s %q", inc.Status, lastEntry(inc).Message)
	}
}

func TestMerge(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, rigOptions{})
	r.send(
		ev{at: 0, name: "SlowQueries", labels: osprey.Labels{"service": "db"}, severity: osprey.SeverityCritical},
		ev{at: time.Minute, name: "HighLatency", labels: checkout, severity: osprey.SeverityWarning},
	)
	incs := incidents(t, r.st)
	sortByOpened(incs)
	if len(incs) != 2 {
		t.Fatalf("%d incidents, want 2", len(incs))
	}
	db, co := incs[0].ID, incs[1].ID
	if _, err := r.c.Merge(ctx, db, db, "alice"); !errors.Is(err, osprey.ErrConflict) {
		t.Errorf("merge into itself: %v", err)
	}
	if _, err := r.c.Merge(ctx, db, "nope", "alice"); !errors.Is(err, osprey.ErrNotFound) {
		t.Errorf("merge of unknown: %v", err)
	}
	r.at(2 * time.Minute)
	inc, err := r.c.Merge(ctx, db, co, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if inc.ID != db || len(inc.Members) != 2 || inc.Severity != osprey.SeverityCritical {
		t.Fatalf("merged = %s with %d members, severity %s", inc.ID, len(inc.Members), inc.Severity)
	}
	from := r.get(co)
	if from.Status != osprey.IncidentResolved || len(from.Members) != 0 || lastEntry(from).Kind != osprey.TimelineMerged || lastEntry(from).Ref != db {
		t.Errorf("merged-away incident: %s, %d members, last entry %+v", from.Status, len(from.Members), lastEntry(from))
	}
	if _, err := r.c.Merge(ctx, db, co, "alice"); !errors.Is(err, osprey.ErrConflict) {
		t.Errorf("merge of a resolved incident: %v", err)
	}
	// Signals of both groups now reach the merged incident.
	r.send(
		ev{at: 3 * time.Minute, name: "HighLatency", labels: checkout},
		ev{at: 3 * time.Minute, name: "ErrorRate", labels: checkout},
	)
	got := r.get(db)
	if len(got.Members) != 3 || got.Members[1].Count != 2 {
		t.Errorf("after merge, checkout signals gave %d members (count %d), want 3 (2)", len(got.Members), got.Members[1].Count)
	}
}

func TestAutoResolveWaitsForTheGrace(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, rigOptions{grace: 5 * time.Minute})
	r.send(
		ev{at: 0, name: "A", labels: checkout},
		ev{at: time.Minute, name: "B", labels: checkout},
		ev{at: 2 * time.Minute, name: "A", labels: checkout, resolved: true},
		ev{at: 3 * time.Minute, name: "B", labels: checkout, resolved: true},
	)
	if got := r.only(); got.Status != osprey.IncidentOpen {
		t.Fatalf("status right after the last member cleared = %s, want open (grace)", got.Status)
	}
	// A fires again within the grace: the incident stays open, and the
	// grace restarts when it clears again.
	r.send(
		ev{at: 6 * time.Minute, name: "A", labels: checkout},
		ev{at: 7 * time.Minute, name: "A", labels: checkout, resolved: true},
	)
	// What a driver of a virtual clock (osprey replay) sweeps at: never
	// later than the grace's end (it may name an earlier, stale due time:
	// a sweep then does nothing and names the next).
	if due, ok := r.c.NextDue(); !ok || due.After(t0.Add(12*time.Minute)) {
		t.Fatalf("NextDue = %s, %v; want at most t0+12m (the grace's end)", due, ok)
	}
	r.at(11 * time.Minute)
	if err := r.c.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if got := r.only(); got.Status != osprey.IncidentOpen {
		t.Fatalf("status 4m after the last clear = %s, want open", got.Status)
	}
	r.at(12 * time.Minute)
	if err := r.c.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	got := r.only()
	// Next: the resolved incident leaves the reopen window (5m).
	if due, ok := r.c.NextDue(); !ok || !due.Equal(t0.Add(17*time.Minute)) {
		t.Errorf("NextDue after the resolution = %s, %v; want t0+17m", due, ok)
	}
	if got.Status != osprey.IncidentResolved || !got.ResolvedAt.Equal(t0.Add(12*time.Minute)) {
		t.Fatalf("status 5m after the last clear = %s at %s, want resolved at t0+12m", got.Status, got.ResolvedAt)
	}
	if e := lastEntry(got); e.Kind != osprey.TimelineStatus || e.Message != "resolved: every member has been clear for 5m0s" {
		t.Errorf("last entry = %+v", e)
	}
	if n := r.counter("osprey_correlate_incidents_resolved_total", ""); n != 1 {
		t.Errorf("resolved metric = %v, want 1", n)
	}
}

func TestGraceEndsOnTheNextSignalToo(t *testing.T) {
	// Without a sweep, a later signal's time ends the grace, so a replay
	// groups exactly as the first pass: B after the grace opens a new
	// incident rather than joining the cleared one.
	events := []ev{
		{at: 0, name: "A", labels: checkout},
		{at: time.Minute, name: "A", labels: checkout, resolved: true},
		{at: 6*time.Minute + time.Second, name: "B", labels: checkout},
	}
	for _, replay := range []bool{false, true} {
		r := newRig(t, rigOptions{grace: 5 * time.Minute, st: openStore(t)})
		if replay {
			appendEvents(t, r.st, events)
			r = newRig(t, rigOptions{grace: 5 * time.Minute, st: r.st})
		} else {
			r.send(events...)
		}
		checkIncidents(t, r.st, []want{{status: osprey.IncidentResolved, members: 1}, {status: osprey.IncidentOpen, members: 1}})
	}
}

func TestClearingAndHeldSurviveRestart(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, rigOptions{grace: 5 * time.Minute})
	r.send(
		ev{at: 0, name: "A", labels: checkout},
		ev{at: time.Minute, name: "A", labels: checkout, resolved: true},
		ev{at: 2 * time.Minute, name: "X", labels: osprey.Labels{"service": "mail"}},
		ev{at: 3 * time.Minute, name: "X", labels: osprey.Labels{"service": "mail"}, resolved: true},
	)
	incs := incidents(t, r.st)
	sortByOpened(incs)
	co, mail := incs[0].ID, incs[1].ID
	// mail: resolved by a person, reopened while clear: held open.
	r.at(4 * time.Minute)
	if _, err := r.c.Resolve(ctx, mail, "alice", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := r.c.Reopen(ctx, mail, "alice", "customers still complain"); err != nil {
		t.Fatal(err)
	}
	r.c.Shutdown(ctx)

	r2 := newRig(t, rigOptions{grace: 5 * time.Minute, st: r.st})
	r2.at(time.Hour)
	if err := r2.c.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if got := r2.get(co); got.Status != osprey.IncidentResolved || !got.ResolvedAt.Equal(t0.Add(6*time.Minute)) {
		t.Errorf("checkout after restart = %s at %s, want resolved at t0+6m (clear + grace)", got.Status, got.ResolvedAt)
	}
	if got := r2.get(mail); got.Status != osprey.IncidentOpen {
		t.Errorf("reopened mail incident after restart = %s, want held open", got.Status)
	}
}

func TestSilenceSuppresses(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, rigOptions{})
	r.send(ev{at: 0, name: "HighLatency", labels: checkout, severity: osprey.SeverityWarning})
	id := r.only().ID
	sil := osprey.Silence{
		ID:        "sil-1",
		Matchers:  []osprey.Matcher{{Name: "service", Type: osprey.MatchEqual, Value: "checkout"}, {Name: "env", Type: osprey.MatchNotEqual, Value: "prod"}},
		StartsAt:  t0.Add(time.Minute),
		EndsAt:    t0.Add(time.Hour),
		CreatedBy: "alice",
		Comment:   "deploying",
	}
	pending := osprey.Silence{
		ID: "sil-2", Matchers: []osprey.Matcher{{Name: "service", Type: osprey.MatchEqual, Value: "mail"}},
		StartsAt: t0.Add(2 * time.Hour), EndsAt: t0.Add(3 * time.Hour), CreatedBy: "alice",
	}
	search := osprey.Silence{
		ID: "sil-3", Matchers: []osprey.Matcher{{Name: "service", Type: osprey.MatchRegexp, Value: "search|index"}},
		StartsAt: t0, EndsAt: t0.Add(time.Hour), CreatedBy: "bob",
	}
	for _, s := range []osprey.Silence{sil, pending, search} {
		if err := r.st.SaveSilence(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	// Before the correlator is told, nothing is suppressed; after, it is.
	if err := r.c.SilencesChanged(ctx); err != nil {
		t.Fatal(err)
	}
	r.send(
		// Before the silence starts: joins.
		ev{at: 30 * time.Second, name: "ErrorRate", labels: checkout},
		// In the silence: a new alert of the incident's group and an
		// escalating repeat are suppressed, the repeat noted once.
		ev{at: 2 * time.Minute, name: "Saturation", labels: checkout},
		ev{at: 2 * time.Minute, name: "HighLatency", labels: checkout, severity: osprey.SeverityCritical},
		ev{at: 3 * time.Minute, name: "HighLatency", labels: checkout, severity: osprey.SeverityCritical},
		// Not matched (env=prod): joins.
		ev{at: 3 * time.Minute, name: "ProdOnly", labels: osprey.Labels{"service": "checkout", "env": "prod"}},
		// Another alert of the group, silenced too.
		ev{at: 3 * time.Minute, name: "Other", labels: osprey.Labels{"service": "checkout", "host": "h1"}},
		// A silenced alert of no incident: nothing recorded on any.
		ev{at: 3 * time.Minute, name: "Lonely", labels: osprey.Labels{"service": "search"}},
		// The pending silence does not apply yet.
		ev{at: 4 * time.Minute, name: "MailDown", labels: osprey.Labels{"service": "mail"}},
		// Resolutions are never suppressed.
		ev{at: 4 * time.Minute, name: "ErrorRate", labels: checkout, resolved: true},
	)
	incs := incidents(t, r.st)
	if len(incs) != 2 {
		t.Fatalf("%d incidents, want 2 (checkout, mail)", len(incs))
	}
	inc := r.get(id)
	if len(inc.Members) != 3 || inc.Severity != osprey.SeverityWarning || inc.Members[0].Count != 1 {
		t.Errorf("silenced incident: %d members, severity %s, first count %d; want 3, warning, 1",
			len(inc.Members), inc.Severity, inc.Members[0].Count)
	}
	if inc.Members[1].Status != osprey.StatusResolved {
		t.Errorf("resolution under a silence not applied: %+v", inc.Members[1])
	}
	var notes []string
	for _, e := range inc.Timeline {
		if e.Kind == osprey.TimelineSuppressed {
			notes = append(notes, e.Message)
		}
	}
	if len(notes) != 3 || !strings.Contains(notes[0], "Saturation") || !strings.Contains(notes[1], "HighLatency") ||
		!strings.Contains(notes[0], "silence sil-1 by alice until 2026-11-26T11:00:00Z (deploying)") {
		t.Errorf("suppressed entries = %q", notes)
	}
	if n := r.counter("osprey_correlate_suppressed_total", "silence"); n != 5 {
		t.Errorf("suppressed{silence} = %v, want 5", n)
	}
	// Anomalies are silenced alike, at the clock's time.
	labels := osprey.Labels{"__name__": "latency", "service": "index"}
	a := osprey.Anomaly{ID: osprey.NewID(t0), Kind: osprey.AnomalyMetric, Labels: labels, StartsAt: t0,
		Severity: osprey.SeverityWarning, Fingerprint: labels.Fingerprint()}
	r.at(10 * time.Minute)
	if err := r.c.ConsumeAnomalies(ctx, []osprey.Anomaly{a}); err != nil {
		t.Fatal(err)
	}
	if n := len(incidents(t, r.st)); n != 2 {
		t.Errorf("a silenced anomaly changed the incident count to %d", n)
	}
	if n := r.counter("osprey_correlate_suppressed_total", "silence"); n != 6 {
		t.Errorf("suppressed{silence} after the anomaly = %v, want 6", n)
	}
	// Expire the silence (as DELETE does): signals apply again.
	sil.EndsAt = t0.Add(5 * time.Minute)
	if err := r.st.SaveSilence(ctx, sil); err != nil {
		t.Fatal(err)
	}
	if err := r.c.SilencesChanged(ctx); err != nil {
		t.Fatal(err)
	}
	r.send(ev{at: 5 * time.Minute, name: "HighLatency", labels: checkout, severity: osprey.SeverityCritical})
	if inc := r.get(id); inc.Severity != osprey.SeverityCritical || inc.Members[0].Count != 2 {
		t.Errorf("after the silence ended: severity %s count %d, want critical 2", inc.Severity, inc.Members[0].Count)
	}
	if s, ok := r.c.Silenced(checkout, t0.Add(2*time.Minute)); !ok || s.ID != "sil-1" {
		t.Errorf("Silenced during the silence = %v %v", s.ID, ok)
	}
}

func TestInhibition(t *testing.T) {
	rules := []correlate.InhibitRule{{
		Source: []osprey.Matcher{{Name: "alertname", Type: osprey.MatchEqual, Value: "ClusterDown"}},
		Target: []osprey.Matcher{{Name: "alertname", Type: osprey.MatchNotEqual, Value: "ClusterDown"}},
		Equal:  []string{"cluster"},
	}}
	r := newRig(t, rigOptions{inhibit: rules})
	a := func(name, cluster, svc string) osprey.Labels {
		return osprey.Labels{"alertname": name, "cluster": cluster, "service": svc}
	}
	r.send(
		ev{at: 0, name: "ClusterDown", labels: a("ClusterDown", "eu", "k8s")},
		ev{at: time.Second, name: "HighLatency", labels: a("HighLatency", "eu", "checkout")},
		ev{at: time.Second, name: "HighLatency", labels: a("HighLatency", "us", "checkout")},
		ev{at: 2 * time.Second, name: "ClusterDown", labels: a("ClusterDown", "eu", "k8s"), resolved: true},
		ev{at: 3 * time.Second, name: "ErrorRate", labels: a("ErrorRate", "eu", "cart")},
	)
	incs := incidents(t, r.st)
	sortByOpened(incs)
	var names []string
	for _, inc := range incs {
		names = append(names, inc.Members[0].Labels.Get("service")+"/"+inc.Members[0].Labels.Get("cluster"))
	}
	// checkout/eu was inhibited while ClusterDown/eu fired; checkout/us
	// (other cluster) and cart/eu (after the source resolved) were not.
	if got, want := strings.Join(names, ","), "k8s/eu,checkout/us,cart/eu"; got != want {
		t.Errorf("incidents = %s, want %s", got, want)
	}
	if n := r.counter("osprey_correlate_suppressed_total", "inhibit"); n != 1 {
		t.Errorf("suppressed{inhibit} = %v, want 1", n)
	}
}

func TestInhibitRuleErrors(t *testing.T) {
	_, err := correlate.New(correlate.Options{
		Store: openStore(t), Window: time.Minute, Registerer: prometheus.NewRegistry(),
		Inhibit: []correlate.InhibitRule{{Source: []osprey.Matcher{{Name: "a", Type: "=~", Value: "("}}, Target: []osprey.Matcher{{Name: "b", Type: "=", Value: "1"}}}},
	})
	if err == nil || !strings.Contains(err.Error(), "inhibit[0].source") {
		t.Errorf("bad source regex: %v", err)
	}
}

func TestResolvedIncidentReopensAcrossRestart(t *testing.T) {
	r := newRig(t, rigOptions{})
	r.send(
		ev{at: 0, name: "A", labels: checkout},
		ev{at: time.Minute, name: "A", labels: checkout, resolved: true},
	)
	id := r.only().ID
	r.c.Shutdown(context.Background())
	// A restart within the window still knows the resolved incident.
	r2 := newRig(t, rigOptions{st: r.st})
	r2.at(3 * time.Minute)
	r2.send(ev{at: 3 * time.Minute, name: "A", labels: checkout})
	got := r2.only()
	if got.ID != id || got.Status != osprey.IncidentOpen || got.Members[0].Count != 2 {
		t.Fatalf("after restart: %s %s count %d, want %s reopened with count 2", got.ID, got.Status, got.Members[0].Count, id)
	}
	var reopened bool
	for _, e := range got.Timeline {
		reopened = reopened || e.Kind == osprey.TimelineStatus && strings.HasPrefix(e.Message, "reopened: event A")
	}
	if !reopened {
		t.Errorf("no reopened entry in %+v", got.Timeline)
	}
}
