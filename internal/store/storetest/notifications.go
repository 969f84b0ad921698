package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/store"
)

func newNotification(id, incident, receiver, key, by string, claimed time.Duration) store.Notification {
	return store.Notification{
		ID: id, IncidentID: incident, Receiver: receiver, Key: key,
		ClaimedBy: by, ClaimedAt: at(claimed),
	}
}

func notificationID(n store.Notification) string { return n.ID }

func testNotifications(t *testing.T, open Opener) {
	t.Run("ClaimOnce", func(t *testing.T) {
		st := open(t)
		ctx := t.Context()
		n := newNotification("n1", "inc-1", "slack", "opened", "a", 0)
		got, ok, err := st.ClaimNotification(ctx, n, at(-time.Hour))
		must(t, "claim", err)
		if !ok {
			t.Fatal("first claim: not claimed")
		}
		n.Status = store.NotificationSending
		same(t, "claimed row", got, n)

		other := newNotification("n2", "inc-1", "slack", "opened", "b", time.Second)
		got, ok, err = st.ClaimNotification(ctx, other, at(-time.Hour))
		must(t, "second claim", err)
		if ok {
			t.Fatal("second claim of the same key succeeded")
		}
		same(t, "row of the first claimant", got, n)

		// Another key, receiver or incident is another notification.
		for i, o := range []store.Notification{
			newNotification("n3", "inc-1", "slack", "resolved", "b", time.Second),
			newNotification("n4", "inc-1", "pagerduty", "opened", "b", time.Second),
			newNotification("n5", "inc-2", "slack", "opened", "b", time.Second),
		} {
			if _, ok, err := st.ClaimNotification(ctx, o, at(-time.Hour)); err != nil || !ok {
				t.Fatalf("claim %d (%s/%s/%s): claimed %v, %v", i, o.IncidentID, o.Receiver, o.Key, ok, err)
			}
		}
	})

	t.Run("UpdateNeedsTheClaim", func(t *testing.T) {
		st := open(t)
		ctx := t.Context()
		n := newNotification("n1", "inc-1", "email", "opened", "a", 0)
		_, _, err := st.ClaimNotification(ctx, n, at(-time.Hour))
		must(t, "claim", err)
		n.Status, n.Attempts, n.LastError, n.FinishedAt = store.NotificationSent, 2, "first attempt: 503", at(time.Minute)
		must(t, "update", st.UpdateNotification(ctx, n))
		list, err := st.ListNotifications(ctx, store.NotificationQuery{IncidentID: "inc-1"})
		must(t, "list", err)
		same(t, "updated", list, []store.Notification{n})

		stranger := n
		stranger.ClaimedBy, stranger.Status = "b", store.NotificationFailed
		wantErr(t, "update by another claimant", st.UpdateNotification(ctx, stranger), osprey.ErrConflict)
		missing := n
		missing.ID = "nope"
		wantErr(t, "update missing", st.UpdateNotification(ctx, missing), osprey.ErrNotFound)
	})

	t.Run("StaleClaimIsTakenOver", func(t *testing.T) {
		st := open(t)
		ctx := t.Context()
		n := newNotification("n1", "inc-1", "webhook", "opened", "dead", 0)
		n.Attempts = 1
		_, _, err := st.ClaimNotification(ctx, n, time.Time{})
		must(t, "claim", err)

		later := newNotification("n2", "inc-1", "webhook", "opened", "alive", 10*time.Minute)
		// A claim renewed after staleBefore is live: no take-over.
		if _, ok, err := st.ClaimNotification(ctx, later, at(-time.Minute)); err != nil || ok {
			t.Fatalf("take-over of a live claim: claimed %v, %v", ok, err)
		}
		got, ok, err := st.ClaimNotification(ctx, later, at(5*time.Minute))
		must(t, "take over", err)
		if !ok {
			t.Fatal("stale claim was not taken over")
		}
		want := n
		want.Status, want.ClaimedBy, want.ClaimedAt = store.NotificationSending, "alive", at(10*time.Minute)
		same(t, "taken over (id and attempts kept)", got, want)
		wantErr(t, "the dead claimant's update", st.UpdateNotification(ctx, n), osprey.ErrConflict)

		// A finished row is never taken over.
		want.Status = store.NotificationSent
		must(t, "finish", st.UpdateNotification(ctx, want))
		if _, ok, err := st.ClaimNotification(ctx, newNotification("n3", "inc-1", "webhook", "opened", "c", time.Hour), at(2*time.Hour)); err != nil || ok {
			t.Fatalf("claim of a sent notification: claimed %v, %v", ok, err)
		}
	})

	t.Run("ConcurrentClaims", func(t *testing.T) {
		st := open(t)
		const claimants = 8
		var (
			wg  sync.WaitGroup
			mu  sync.Mutex
			won []string
		)
		for i := range claimants {
			wg.Add(1)
			go func() {
				defer wg.Done()
				by := fmt.Sprintf("c%d", i)
				_, ok, err := st.ClaimNotification(t.Context(), newNotification("id-"+by, "inc-1", "slack", "repeat-1", by, 0), at(-time.Hour))
				if err != nil {
					t.Errorf("claim %s: %v", by, err)
					return
				}
				if ok {
					mu.Lock()
					won = append(won, by)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if len(won) != 1 {
			t.Fatalf("claimants that won: %v, want exactly one", won)
		}
	})

	t.Run("List", func(t *testing.T) {
		st := open(t)
		ctx := t.Context()
		for _, n := range []store.Notification{
			newNotification("n2", "B", "slack", "opened", "a", 2*time.Minute),
			newNotification("n1", "A", "slack", "opened", "a", time.Minute),
			newNotification("n3", "A", "slack", "resolved", "a", 3*time.Minute),
		} {
			_, _, err := st.ClaimNotification(ctx, n, time.Time{})
			must(t, "claim", err)
		}
		cases := []struct {
			name string
			q    store.NotificationQuery
			want []string
		}{
			{"all newest first", store.NotificationQuery{}, []string{"n3", "n2", "n1"}},
			{"limit", store.NotificationQuery{Limit: 1}, []string{"n3"}},
			{"one incident", store.NotificationQuery{IncidentID: "A"}, []string{"n3", "n1"}},
			{"unknown incident", store.NotificationQuery{IncidentID: "Z"}, nil},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				got, err := st.ListNotifications(ctx, tc.q)
				must(t, "list", err)
				sameIDs(t, "notifications", ids(got, notificationID), tc.want)
			})
		}
	})

	t.Run("Invalid", func(t *testing.T) {
		st := open(t)
		_, _, err := st.ClaimNotification(t.Context(), store.Notification{ID: "x"}, time.Time{})
		if err == nil || !osprey.IsPermanent(err) {
			t.Fatalf("claim without a key: %v, want a permanent error", err)
		}
	})
}
