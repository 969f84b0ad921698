package correlate_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/correlate"
)

// TestSplit: two problems merged into one incident are split apart again;
// the moved members, their later reports and new alerts of their group go
// to the new incident, and both timelines and the audit log say so.
func TestSplit(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, rigOptions{})
	r.send(
		ev{at: 0, name: "SlowQueries", labels: osprey.Labels{"service": "db"}, severity: osprey.SeverityCritical},
		ev{at: time.Minute, name: "HighLatency", labels: checkout, severity: osprey.SeverityWarning},
	)
	incs := incidents(t, r.st)
	sortByOpened(incs)
	db, co := incs[0].ID, incs[1].ID
	r.at(2 * time.Minute)
	merged, err := r.c.Merge(ctx, db, co, "alice")
	if err != nil {
		t.Fatal(err)
	}
	var latency osprey.Fingerprint
	for _, m := range merged.Members {
		if m.Name == "HighLatency" {
			latency = m.Fingerprint
		}
	}

	// Refusals: nothing given, an unknown member, every member, an
	// unknown or resolved incident.
	for _, tc := range []struct {
		id   string
		fps  []osprey.Fingerprint
		want error
	}{
		{db, nil, osprey.ErrConflict},
		{db, []osprey.Fingerprint{latency, 12345}, osprey.ErrConflict},
		{db, []osprey.Fingerprint{merged.Members[0].Fingerprint, merged.Members[1].Fingerprint}, osprey.ErrConflict},
		{"nope", []osprey.Fingerprint{latency}, osprey.ErrNotFound},
		{co, []osprey.Fingerprint{latency}, osprey.ErrConflict},
	} {
		if _, _, err := r.c.Split(ctx, tc.id, tc.fps, "bob"); !errors.Is(err, tc.want) {
			t.Errorf("split %s %v: %v, want %v", tc.id, tc.fps, err, tc.want)
		}
	}
	if got := r.get(db); len(got.Members) != 2 {
		t.Fatalf("refused splits changed the incident: %d members", len(got.Members))
	}

	r.at(3 * time.Minute)
	into, from, err := r.c.Split(ctx, db, []osprey.Fingerprint{latency}, "bob")
	if err != nil {
		t.Fatal(err)
	}
	if from.ID != db || len(from.Members) != 1 || from.Members[0].Name != "SlowQueries" || from.Severity != osprey.SeverityCritical {
		t.Errorf("split incident: %s with %v, severity %s", from.ID, from.Members, from.Severity)
	}
	if into.ID == db || into.ID == co || into.Status != osprey.IncidentOpen || len(into.Members) != 1 ||
		into.Members[0].Fingerprint != latency || into.Severity != osprey.SeverityWarning || into.Labels.Get("service") != "checkout" {
		t.Errorf("new incident: %+v", into)
	}
	if want := r.clock().Add(-2 * time.Minute); !into.OpenedAt.Equal(want) {
		t.Errorf("new incident opened at %s, want its member's first report %s", into.OpenedAt, want)
	}
	stored := r.get(into.ID)
	if e := lastEntry(stored); e.Kind != osprey.TimelineSplit || e.Ref != db || e.Actor != "bob" {
		t.Errorf("new incident's last entry: %+v", e)
	}
	if e := lastEntry(r.get(db)); e.Kind != osprey.TimelineSplit || e.Ref != into.ID {
		t.Errorf("split incident's last entry: %+v", e)
	}
	if got := r.get(db); len(got.Members) != 1 {
		t.Errorf("stored split incident has %d members, want 1", len(got.Members))
	}

	// The moved member's next report, and a new alert of its group, go to
	// the new incident; the db alert stays.
	r.send(
		ev{at: 4 * time.Minute, name: "HighLatency", labels: checkout},
		ev{at: 4 * time.Minute, name: "ErrorRate", labels: checkout},
		ev{at: 4 * time.Minute, name: "SlowQueries", labels: osprey.Labels{"service": "db"}},
	)
	got := r.get(into.ID)
	if len(got.Members) != 2 || got.Members[0].Count != 2 {
		t.Errorf("after the split, checkout signals gave %d members (count %d) in the new incident, want 2 (2)", len(got.Members), got.Members[0].Count)
	}
	if got := r.get(db); len(got.Members) != 1 || got.Members[0].Count != 2 {
		t.Errorf("db incident: %d members (count %d), want 1 (2)", len(got.Members), got.Members[0].Count)
	}
	audit, err := r.st.ListAudit(ctx, time.Time{}, 10)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, a := range audit {
		found = found || a.Action == correlate.AuditSplit && a.Actor == "bob" && a.Object == "incident/"+db
	}
	if !found {
		t.Errorf("no split in the audit log: %+v", audit)
	}
}
