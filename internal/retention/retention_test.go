package retention

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/store"
	"github.com/osprey-aiops/osprey/internal/store/sqlite"
)

func openStore(t *testing.T) store.Store {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "osprey.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func event(id string, recv time.Time) osprey.Event {
	labels := osprey.Labels{"alertname": "X", "id": id}
	return osprey.Event{
		ID: id, Source: "test", Name: "X", Labels: labels, Severity: osprey.SeverityWarning,
		Status: osprey.StatusFiring, StartsAt: recv, Fingerprint: osprey.EventFingerprint("X", labels), ReceivedAt: recv,
	}
}

// TestPruneOnceKeepsUnconsumedEvents checks that the pruner applies the
// retention relative to its clock and never deletes events past the
// consuming stage's checkpoint, and counts what it deleted.
func TestPruneOnceKeepsUnconsumedEvents(t *testing.T) {
	st := openStore(t)
	ctx := t.Context()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	batch := []osprey.Event{
		event("old-consumed", now.Add(-40*24*time.Hour)),
		event("old-unconsumed", now.Add(-35*24*time.Hour)),
		event("new", now.Add(-time.Hour)),
	}
	if err := st.AppendEvents(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if err := st.SetCheckpoint(ctx, "correlate/events", batch[0].Seq); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	p, err := New(Options{
		Store: st, Keep: Keep{Events: 30 * 24 * time.Hour}, Interval: time.Hour,
		EventsCheckpoint: "correlate/events", Now: func() time.Time { return now }, Registerer: reg,
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.PruneOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res["events"] != 1 || len(res) != 1 {
		t.Fatalf("pruned %v, want only events: 1", res)
	}
	left, err := st.ListEvents(ctx, store.EventQuery{OldestFirst: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 2 || left[0].ID != "old-unconsumed" || left[1].ID != "new" {
		t.Fatalf("events left: %v", left)
	}
	if got := testutil.ToFloat64(p.rows.WithLabelValues("events")); got != 1 {
		t.Errorf("osprey_store_pruned_rows_total{table=events} = %v, want 1", got)
	}
	if got := testutil.ToFloat64(p.last); got != float64(now.Unix()) {
		t.Errorf("last success = %v, want %d", got, now.Unix())
	}

	// Once the stage has consumed it, the old event goes too.
	if err := st.SetCheckpoint(ctx, "correlate/events", batch[2].Seq); err != nil {
		t.Fatal(err)
	}
	if res, err = p.PruneOnce(ctx); err != nil || res["events"] != 1 {
		t.Fatalf("second prune: %v, %v; want events: 1", res, err)
	}
}

// TestStartShutdown checks that the loop prunes at start and stops on
// Shutdown.
func TestStartShutdown(t *testing.T) {
	st := openStore(t)
	now := time.Now()
	if err := st.AppendAudit(t.Context(), osprey.AuditEntry{At: now.Add(-48 * time.Hour), Actor: "a", Action: "x"}); err != nil {
		t.Fatal(err)
	}
	p, err := New(Options{Store: st, Keep: Keep{Audit: 24 * time.Hour}, Interval: time.Hour, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		left, err := st.ListAudit(t.Context(), time.Time{}, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the audit entry past retention was not pruned after start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := p.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := p.Shutdown(t.Context()); err != nil {
		t.Fatalf("second shutdown: %v", err)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	if _, err := New(Options{Interval: time.Hour}); err == nil {
		t.Error("no store: want an error")
	}
	if _, err := New(Options{Store: openStore(t)}); err == nil {
		t.Error("zero interval: want an error")
	}
}
