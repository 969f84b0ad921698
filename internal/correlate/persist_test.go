package correlate_test

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/correlate"
	"github.com/osprey-aiops/osprey/internal/rca"
	"github.com/osprey-aiops/osprey/internal/store"
)

// crashWorkload returns 480 events in batches of 24: 8 services with 5
// alerts each, repeating every few seconds, some resolving, with a quiet
// gap long enough for incidents to resolve and the alerts to come back.
func crashWorkload() [][]osprey.Event {
	var batches [][]osprey.Event
	var batch []osprey.Event
	at := t0
	for i := range 480 {
		at = at.Add(3 * time.Second)
		if i == 240 {
			at = at.Add(20 * time.Minute) // everything resolved by now
		}
		svc, alert := i%8, (i/8)%5
		labels := osprey.Labels{"service": fmt.Sprintf("svc%d", svc), "pod": fmt.Sprintf("p%d", alert)}
		name := []string{"HighLatency", "Errors", "Saturation"}[alert%3]
		status := osprey.StatusFiring
		if (i/40)%3 == 2 || i >= 200 && i < 240 {
			status = osprey.StatusResolved
		}
		batch = append(batch, osprey.Event{
			ID: osprey.NewID(at), Source: []string{"alertmanager", "grafana"}[svc%2], Name: name, Labels: labels,
			Severity: osprey.Severity(1 + alert%4), Status: status, StartsAt: at, ReceivedAt: at,
			Fingerprint: osprey.EventFingerprint(name, labels),
		})
		if len(batch) == 24 {
			batches = append(batches, batch)
			batch = nil
		}
	}
	return batches
}

// failingStore fails the failAt-th SaveIncidents, as a crash between
// applying a batch and committing it would lose it.
type failingStore struct {
	store.Store
	calls, failAt int
}

func (f *failingStore) SaveIncidents(ctx context.Context, b store.IncidentBatch) error {
	f.calls++
	if f.calls == f.failAt {
		return errors.New("simulated crash before commit")
	}
	return f.Store.SaveIncidents(ctx, b)
}

func startCorrelator(t *testing.T, st store.Store) *correlate.Correlator {
	t.Helper()
	c := startWith(t, correlate.Options{
		Store: st, Window: 5 * time.Minute, GroupBy: []string{"service"}, ResolveGrace: time.Minute,
		CatchUpInterval: time.Hour, Now: func() time.Time { return t0 }, Registerer: prometheus.NewRegistry(),
	})
	return c
}

// copyBatch returns a copy of b, so that each store assigns its own Seqs.
func copyBatch(b []osprey.Event) []osprey.Event { return slices.Clone(b) }

// finalState returns every stored incident with its timeline, without ids
// and Seqs, in opening order, and the noise counters.
func finalState(t *testing.T, st store.Store) ([]osprey.Incident, []store.NoiseCount) {
	t.Helper()
	list, err := st.ListIncidents(t.Context(), store.IncidentQuery{Limit: store.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	var out []osprey.Incident
	for _, l := range list {
		inc, err := st.GetIncident(t.Context(), l.ID)
		if err != nil {
			t.Fatal(err)
		}
		inc.ID = ""
		for i := range inc.Timeline {
			inc.Timeline[i].Seq = 0
		}
		out = append(out, inc)
	}
	slices.SortFunc(out, func(a, b osprey.Incident) int {
		return cmp.Or(a.OpenedAt.Compare(b.OpenedAt), cmp.Compare(a.Title, b.Title))
	})
	noise, err := st.NoiseCounts(t.Context(), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	return out, noise
}

// uninterruptedState runs batches through a synchronous correlator on a
// fresh store and returns the stored end state (finalState).
func uninterruptedState(t *testing.T, batches [][]osprey.Event) ([]osprey.Incident, []store.NoiseCount) {
	t.Helper()
	ref := openStore(t)
	c := startCorrelator(t, ref)
	for _, b := range batches {
		b = copyBatch(b)
		if err := ref.AppendEvents(t.Context(), b); err != nil {
			t.Fatal(err)
		}
		if err := c.ConsumeEvents(t.Context(), b); err != nil {
			t.Fatal(err)
		}
	}
	return finalState(t, ref)
}

// TestCrashRecoveryMatchesUninterruptedRun stops the correlator in the middle
// of the stream twice, once by a batch whose commit fails (the crash loses it
// after it was applied in memory) and once right after a commit, starts a new
// one on the same store, and checks that the stored incidents, timelines and
// noise counters equal those of a run that was never interrupted.
func TestCrashRecoveryMatchesUninterruptedRun(t *testing.T) {
	batches := crashWorkload()
	want, wantNoise := uninterruptedState(t, batches)
	if len(want) < 8 {
		t.Fatalf("the workload opened only %d incidents", len(want))
	}

	for _, tc := range []struct {
		name   string
		failAt int // 0: no failed commit, the correlator just stops
	}{{"CommitLost", 7}, {"AfterCommit", 0}} {
		t.Run(tc.name, func(t *testing.T) {
			st := openStore(t)
			fs := &failingStore{Store: st, failAt: tc.failAt}
			c1 := startCorrelator(t, fs)
			const crashAfter = 7 // batches fed to the first correlator
			stored := make([][]osprey.Event, len(batches))
			for i, b := range batches {
				b = copyBatch(b)
				if err := st.AppendEvents(t.Context(), b); err != nil {
					t.Fatal(err)
				}
				stored[i] = b
				if i >= crashAfter {
					continue // the first correlator is gone
				}
				err := c1.ConsumeEvents(t.Context(), b)
				if tc.failAt > 0 && fs.calls >= tc.failAt {
					if err == nil {
						t.Fatal("the failed commit was not reported")
					}
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			c2 := startCorrelator(t, st) // replays everything after the checkpoint
			for _, b := range stored[crashAfter:] {
				// The bus redelivers what it had; all of it is at or below
				// the checkpoint now, so it changes nothing.
				if err := c2.ConsumeEvents(t.Context(), b); err != nil {
					t.Fatal(err)
				}
			}
			got, gotNoise := finalState(t, st)
			same(t, "incidents after the crash", got, want)
			same(t, "noise counters after the crash", gotNoise, wantNoise)
		})
	}
}

// TestStoredMembersMatchMemory checks, over the crash workload and people's
// actions, that the incidents the stage hands on (from memory) equal what
// the store returns: the incremental member writes miss no change, and
// neither do the causes the ranker sets, which are written only when they
// changed (store.IncidentChange.KeepCauses).
func TestStoredMembersMatchMemory(t *testing.T) {
	st := openStore(t)
	var last map[string]osprey.Incident = map[string]osprey.Incident{}
	c, err := correlate.New(correlate.Options{
		Causes: rca.IncidentRanker{Config: rca.DefaultConfig()},
		Store:  st, Window: 5 * time.Minute, GroupBy: []string{"service"}, ResolveGrace: time.Minute,
		CatchUpInterval: time.Hour, Now: func() time.Time { return t0.Add(time.Hour) }, Registerer: prometheus.NewRegistry(),
		Out: osprey.IncidentConsumerFunc(func(_ context.Context, incs []osprey.Incident) error {
			for _, inc := range incs {
				inc.Timeline = nil
				last[inc.ID] = inc
			}
			return nil
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer c.Shutdown(context.Background())
	batches := crashWorkload()
	for i, b := range batches {
		if err := st.AppendEvents(t.Context(), b); err != nil {
			t.Fatal(err)
		}
		if err := c.ConsumeEvents(t.Context(), b); err != nil {
			t.Fatal(err)
		}
		if i == 5 {
			// Merge two open incidents: members move between incidents.
			var open []string
			for id, inc := range last {
				if inc.Status == osprey.IncidentOpen {
					open = append(open, id)
				}
			}
			slices.Sort(open)
			if len(open) < 2 {
				t.Fatalf("only %d open incidents to merge", len(open))
			}
			if _, err := c.Merge(t.Context(), open[0], open[1], "alice"); err != nil {
				t.Fatal(err)
			}
		}
	}
	for id, inc := range last {
		stored, err := st.GetIncident(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		stored.Timeline = nil
		same(t, "incident "+id, stored, inc)
	}
}

// same fails the test unless got and want encode to the same JSON, with
// empty and missing member lists counted as equal.
func same(t *testing.T, what string, got, want any) {
	t.Helper()
	g, w := canonicalJSON(t, got), canonicalJSON(t, want)
	if g != w {
		t.Errorf("%s: mismatch\n got: %s\nwant: %s", what, g, w)
	}
}

func canonicalJSON(t *testing.T, v any) string {
	t.Helper()
	switch x := v.(type) {
	case osprey.Incident:
		if len(x.Members) == 0 {
			x.Members = nil
		}
		v = x
	case []osprey.Incident:
		y := slices.Clone(x)
		for i := range y {
			if len(y[i].Members) == 0 {
				y[i].Members = nil
			}
		}
		v = y
	}
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
