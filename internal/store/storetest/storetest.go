// Package storetest is the conformance suite for store.Store backends. Every
// backend's tests call Run with a function that opens a fresh, empty store;
// Bench does the same for the benchmarks. A backend that passes Run behaves
// as the store package documents, so the rest of Osprey need not know which
// backend it runs on.
//
// The suite compares values after putting every time in UTC and turning
// empty maps and slices into nil: backends must return times in UTC with at
// least millisecond precision, and need not tell an empty label set from a
// missing one.
package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/store"
)

// Opener returns a new, empty store for a test and arranges (with t.Cleanup)
// for it to be closed when the test ends. Closing it again must be harmless.
type Opener func(t *testing.T) store.Store

// base is the time the fixtures are built around. It is deliberately not in
// UTC and has a millisecond part, so that the suite sees backends convert to
// UTC and keep sub-second precision.
var base = time.Date(2026, 3, 14, 15, 9, 26, 535_000_000, time.FixedZone("UTC+1", 3600))

// at returns base+d.
func at(d time.Duration) time.Time { return base.Add(d) }

// Run runs the conformance suite against the stores open returns. Each
// subtest opens its own store.
func Run(t *testing.T, open Opener) {
	t.Run("Events", func(t *testing.T) { testEvents(t, open) })
	t.Run("Incidents", func(t *testing.T) { testIncidents(t, open) })
	t.Run("Anomalies", func(t *testing.T) { testAnomalies(t, open) })
	t.Run("Feedback", func(t *testing.T) { testFeedback(t, open) })
	t.Run("Templates", func(t *testing.T) { testTemplates(t, open) })
	t.Run("Silences", func(t *testing.T) { testSilences(t, open) })
	t.Run("Maintenance", func(t *testing.T) { testMaintenance(t, open) })
	t.Run("Runs", func(t *testing.T) { testRuns(t, open) })
	t.Run("Audit", func(t *testing.T) { testAudit(t, open) })
	t.Run("Checkpoints", func(t *testing.T) { testCheckpoints(t, open) })
	t.Run("Notifications", func(t *testing.T) { testNotifications(t, open) })
	t.Run("Prune", func(t *testing.T) { testPrune(t, open) })
	t.Run("LargeIncident", func(t *testing.T) { testLargeIncident(t, open) })
	t.Run("Lifecycle", func(t *testing.T) { testLifecycle(t, open) })
}

// testLifecycle checks Ping and Close.
func testLifecycle(t *testing.T, open Opener) {
	t.Run("Ping", func(t *testing.T) {
		if err := open(t).Ping(t.Context()); err != nil {
			t.Fatalf("ping: %v", err)
		}
	})
	t.Run("CloseIsIdempotent", func(t *testing.T) {
		st := open(t)
		if err := st.Close(); err != nil {
			t.Fatalf("first close: %v", err)
		}
		if err := st.Close(); err != nil {
			t.Fatalf("second close: %v", err)
		}
	})
}

// wantErr fails the test unless errors.Is(err, target).
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want %v", what, err, target)
	}
}

// must fails the test when err is not nil.
func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// ids returns the IDs of xs, in order.
func ids[T any](xs []T, id func(T) string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = id(x)
	}
	return out
}

func eventID(e osprey.Event) string          { return e.ID }
func incidentID(i osprey.Incident) string    { return i.ID }
func anomalyID(a osprey.Anomaly) string      { return a.ID }
func templateID(t osprey.LogTemplate) string { return t.ID }
func silenceID(s osprey.Silence) string      { return s.ID }
func runID(r osprey.RunbookRun) string       { return r.ID }
func auditAction(e osprey.AuditEntry) string { return e.Action }
