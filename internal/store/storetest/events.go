package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/store"
)

// newEvent returns a firing event named name with labels, received at
// base+recv.
func newEvent(id, name string, labels osprey.Labels, recv time.Duration) osprey.Event {
	return osprey.Event{
		ID:          id,
		Source:      "alertmanager",
		Name:        name,
		Labels:      labels,
		Severity:    osprey.SeverityWarning,
		Status:      osprey.StatusFiring,
		StartsAt:    at(recv - time.Minute),
		Fingerprint: osprey.EventFingerprint(name, labels),
		ReceivedAt:  at(recv),
	}
}

// appendEvents appends batch and returns it with Seqs set.
func appendEvents(t *testing.T, st store.Store, batch ...osprey.Event) []osprey.Event {
	t.Helper()
	must(t, "append events", st.AppendEvents(t.Context(), batch))
	return batch
}

func testEvents(t *testing.T, open Opener) {
	t.Run("RoundTrip", func(t *testing.T) {
		st := open(t)
		full := osprey.Event{
			ID:          "evt-full",
			Source:      "grafana",
			Name:        "HighLatency",
			Labels:      osprey.Labels{"service": "checkout", "host": "web-1", "quote": `"x"`, "unicode": "ünï ✓"},
			Annotations: map[string]string{"summary": "p99 > 2s", "runbook_url": "https://example.com/rb?x=1&y=2"},
			Severity:    osprey.SeverityCritical,
			Status:      osprey.StatusResolved,
			StartsAt:    at(-10 * time.Minute),
			EndsAt:      at(-time.Minute),
			Fingerprint: osprey.Fingerprint(0xfedcba9876543210), // high bit set: must survive as unsigned
			ReceivedAt:  at(0),
		}
		minimal := osprey.Event{ID: "evt-min", Name: "deploy", Status: osprey.StatusFiring}
		batch := appendEvents(t, st, full, minimal)
		for _, want := range batch {
			got, err := st.GetEvent(t.Context(), want.ID)
			must(t, "get "+want.ID, err)
			same(t, want.ID, got, want)
		}
	})

	t.Run("GetMissing", func(t *testing.T) {
		_, err := open(t).GetEvent(t.Context(), "nope")
		wantErr(t, "get missing event", err, osprey.ErrNotFound)
	})

	t.Run("SeqIncreases", func(t *testing.T) {
		st := open(t)
		first := appendEvents(t, st, newEvent("a", "A", nil, 0), newEvent("b", "A", nil, 0), newEvent("c", "A", nil, 0))
		second := appendEvents(t, st, newEvent("d", "A", nil, 0))
		var last int64
		for _, e := range append(first, second...) {
			if e.Seq <= last {
				t.Fatalf("event %s: Seq %d after %d; want increasing in batch and append order", e.ID, e.Seq, last)
			}
			last = e.Seq
		}
		got, err := st.GetEvent(t.Context(), "c")
		must(t, "get", err)
		if got.Seq != first[2].Seq {
			t.Errorf("stored Seq %d, AppendEvents set %d", got.Seq, first[2].Seq)
		}
	})

	t.Run("EmptyBatch", func(t *testing.T) {
		must(t, "append nothing", open(t).AppendEvents(t.Context(), nil))
	})

	t.Run("RejectedBatches", testRejectedEvents(open))
	t.Run("List", testListEvents(open))
	t.Run("Limits", testEventLimits(open))
	t.Run("ConcurrentAppends", testConcurrentAppends(open))
}

// testRejectedEvents checks that a bad batch stores none of its events.
func testRejectedEvents(open Opener) func(t *testing.T) {
	return func(t *testing.T) {
		cases := []struct {
			name     string
			stored   []string // appended first, successfully
			batch    []string // then this batch, which must fail
			conflict bool     // with osprey.ErrConflict
		}{
			{name: "duplicate within batch", batch: []string{"x", "y", "x"}, conflict: true},
			{name: "duplicate of stored event", stored: []string{"x"}, batch: []string{"y", "x", "z"}, conflict: true},
			{name: "missing id", batch: []string{"y", ""}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				st := open(t)
				for _, id := range tc.stored {
					appendEvents(t, st, newEvent(id, "A", nil, 0))
				}
				var batch []osprey.Event
				for _, id := range tc.batch {
					batch = append(batch, newEvent(id, "A", nil, 0))
				}
				err := st.AppendEvents(t.Context(), batch)
				if err == nil {
					t.Fatal("append succeeded, want an error")
				}
				if tc.conflict {
					wantErr(t, "append", err, osprey.ErrConflict)
				}
				all, err := st.ListEvents(t.Context(), store.EventQuery{})
				must(t, "list", err)
				sameIDs(t, "events stored", ids(all, eventID), tc.stored)
			})
		}
	}
}

func testListEvents(open Opener) func(t *testing.T) {
	return func(t *testing.T) {
		st := open(t)
		la := osprey.Labels{"service": "api"}
		lb := osprey.Labels{"service": "db"}
		// e0..e5, received a minute apart, alternating between two alerts.
		evs := appendEvents(t, st,
			newEvent("e0", "A", la, 0), newEvent("e1", "B", lb, time.Minute), newEvent("e2", "A", la, 2*time.Minute))
		evs = append(evs, appendEvents(t, st,
			newEvent("e3", "B", lb, 3*time.Minute), newEvent("e4", "A", la, 4*time.Minute), newEvent("e5", "B", lb, 5*time.Minute))...)
		fpA, fpB := evs[0].Fingerprint, evs[1].Fingerprint
		byID := map[string]osprey.Event{}
		for _, e := range evs {
			byID[e.ID] = e
		}
		cases := []struct {
			name string
			q    store.EventQuery
			want []string
		}{
			{"all newest first", store.EventQuery{}, []string{"e5", "e4", "e3", "e2", "e1", "e0"}},
			{"limit", store.EventQuery{Limit: 2}, []string{"e5", "e4"}},
			{"after seq oldest first", store.EventQuery{AfterSeq: evs[1].Seq}, []string{"e2", "e3", "e4", "e5"}},
			{"after seq page", store.EventQuery{AfterSeq: evs[1].Seq, Limit: 2}, []string{"e2", "e3"}},
			{"after last seq", store.EventQuery{AfterSeq: evs[5].Seq}, nil},
			{"oldest first from start", store.EventQuery{OldestFirst: true, Limit: 3}, []string{"e0", "e1", "e2"}},
			{"since is inclusive", store.EventQuery{Since: evs[3].ReceivedAt}, []string{"e5", "e4", "e3"}},
			{"since in another zone", store.EventQuery{Since: evs[3].ReceivedAt.UTC()}, []string{"e5", "e4", "e3"}},
			{"fingerprint", store.EventQuery{Fingerprint: fpA}, []string{"e4", "e2", "e0"}},
			{"fingerprint after seq", store.EventQuery{Fingerprint: fpB, AfterSeq: evs[1].Seq}, []string{"e3", "e5"}},
			{"all filters", store.EventQuery{Fingerprint: fpA, Since: evs[1].ReceivedAt, AfterSeq: evs[2].Seq, Limit: 5}, []string{"e4"}},
			{"no match", store.EventQuery{Fingerprint: osprey.Fingerprint(1)}, nil},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				got, err := st.ListEvents(t.Context(), tc.q)
				must(t, "list", err)
				sameIDs(t, "events", ids(got, eventID), tc.want)
				for _, e := range got {
					same(t, "listed "+e.ID, e, byID[e.ID])
				}
			})
		}
	}
}

// testEventLimits checks DefaultLimit and MaxLimit, with one batch larger
// than a backend can insert in one statement.
func testEventLimits(open Opener) func(t *testing.T) {
	return func(t *testing.T) {
		if testing.Short() {
			t.Skip("appends MaxLimit+1 events")
		}
		st := open(t)
		batch := make([]osprey.Event, store.MaxLimit+1)
		for i := range batch {
			batch[i] = newEvent(fmt.Sprintf("e%05d", i), "A", osprey.Labels{"i": fmt.Sprint(i)}, time.Duration(i)*time.Millisecond)
		}
		appendEvents(t, st, batch...)
		cases := []struct {
			name string
			q    store.EventQuery
			want int
		}{
			{"zero means default", store.EventQuery{}, store.DefaultLimit},
			{"negative means default", store.EventQuery{Limit: -1}, store.DefaultLimit},
			{"clamped to max", store.EventQuery{Limit: store.MaxLimit + 1}, store.MaxLimit},
			{"replay clamped to max", store.EventQuery{OldestFirst: true, Limit: 2 * store.MaxLimit}, store.MaxLimit},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				got, err := st.ListEvents(t.Context(), tc.q)
				must(t, "list", err)
				if len(got) != tc.want {
					t.Errorf("got %d events, want %d", len(got), tc.want)
				}
			})
		}
		rest, err := st.ListEvents(t.Context(), store.EventQuery{AfterSeq: batch[store.MaxLimit-1].Seq})
		must(t, "list rest", err)
		sameIDs(t, "after the first MaxLimit", ids(rest, eventID), []string{batch[store.MaxLimit].ID})
	}
}

// testConcurrentAppends appends from several goroutines and checks that
// every event got a distinct Seq, that each goroutine's appends got
// increasing Seqs, and that replay by AfterSeq sees every event once, in
// Seq order. Meanwhile a reader tails the events by AfterSeq, as the
// correlator does: if an event could become visible after one with a
// higher Seq, the tail would skip it.
func testConcurrentAppends(open Opener) func(t *testing.T) {
	return func(t *testing.T) {
		st := open(t)
		const writers, appends, size = 6, 15, 4
		done := make(chan struct{})
		tailed := make(chan map[string]bool)
		go func() { tailed <- tail(t, st, done) }()
		var wg sync.WaitGroup
		results := make([][]osprey.Event, writers)
		errs := make([]error, writers)
		for w := range writers {
			wg.Go(func() {
				for a := range appends {
					batch := make([]osprey.Event, size)
					for i := range batch {
						batch[i] = newEvent(fmt.Sprintf("w%d-a%02d-%d", w, a, i), "A", osprey.Labels{"writer": fmt.Sprint(w)}, 0)
					}
					if err := st.AppendEvents(t.Context(), batch); err != nil {
						errs[w] = err
						return
					}
					results[w] = append(results[w], batch...)
				}
			})
		}
		wg.Wait()
		close(done)
		if seen := <-tailed; len(seen) != writers*appends*size {
			t.Errorf("a reader tailing by AfterSeq saw %d events, want %d: Seq order is not commit order", len(seen), writers*appends*size)
		}
		seqOf := map[string]int64{}
		bySeq := map[int64]string{}
		for w, res := range results {
			must(t, fmt.Sprintf("writer %d", w), errs[w])
			var last int64
			for _, e := range res {
				if e.Seq <= last {
					t.Errorf("writer %d: event %s got Seq %d after %d", w, e.ID, e.Seq, last)
				}
				last = e.Seq
				if other, dup := bySeq[e.Seq]; dup {
					t.Errorf("Seq %d given to %s and %s", e.Seq, other, e.ID)
				}
				bySeq[e.Seq], seqOf[e.ID] = e.ID, e.Seq
			}
		}
		var after int64
		seen := 0
		for {
			page, err := st.ListEvents(t.Context(), store.EventQuery{AfterSeq: after, OldestFirst: true, Limit: 7})
			must(t, "replay", err)
			if len(page) == 0 {
				break
			}
			for _, e := range page {
				if e.Seq <= after {
					t.Fatalf("replay: Seq %d after %d", e.Seq, after)
				}
				if seqOf[e.ID] != e.Seq {
					t.Errorf("replay: event %s has Seq %d, AppendEvents set %d", e.ID, e.Seq, seqOf[e.ID])
				}
				after = e.Seq
				seen++
			}
		}
		if want := writers * appends * size; seen != want {
			t.Errorf("replay saw %d events, want %d", seen, want)
		}
	}
}

// tail follows the events by AfterSeq until done is closed, then reads what
// is left, and returns the IDs it saw.
func tail(t *testing.T, st store.Store, done <-chan struct{}) map[string]bool {
	seen := map[string]bool{}
	var after int64
	for last := false; ; {
		select {
		case <-done:
			last = true
		default:
		}
		for {
			page, err := st.ListEvents(t.Context(), store.EventQuery{AfterSeq: after, OldestFirst: true, Limit: 50})
			if err != nil {
				t.Errorf("tail: %v", err)
				return seen
			}
			for _, e := range page {
				seen[e.ID] = true
				after = e.Seq
			}
			if len(page) < 50 {
				break
			}
		}
		if last {
			return seen
		}
	}
}
