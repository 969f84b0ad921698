package ingest

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/store"
	"github.com/osprey-aiops/osprey/internal/store/sqlite"
)

func testEvents(tb testing.TB, sources ...string) []osprey.Event {
	tb.Helper()
	evs := make([]osprey.Event, len(sources))
	for i, s := range sources {
		evs[i] = osprey.Event{Source: s, Name: fmt.Sprintf("e%d", i), Status: osprey.StatusFiring, StartsAt: testNow}
		if err := PrepareEvent(&evs[i], &testLimits, testNow); err != nil {
			tb.Fatal(err)
		}
	}
	return evs
}

func openStore(tb testing.TB) *sqlite.Store {
	tb.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "osprey.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = st.Close() })
	return st
}

func TestCommitter(t *testing.T) {
	st := openStore(t)
	var handedOff [][]osprey.Event
	var seqsAtHandoff []int64
	next := osprey.EventConsumerFunc(func(ctx context.Context, batch []osprey.Event) error {
		// The batch is in the store, with its Seq, before the hand-off.
		stored, err := st.ListEvents(ctx, store.EventQuery{Limit: 100})
		if err != nil || len(stored) != len(batch) {
			t.Errorf("at hand-off the store holds %d events (%v), want %d", len(stored), err, len(batch))
		}
		for _, e := range batch {
			seqsAtHandoff = append(seqsAtHandoff, e.Seq)
		}
		handedOff = append(handedOff, batch)
		return nil
	})
	c, err := NewCommitter(CommitterOptions{Store: st, Next: next})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ConsumeEvents(context.Background(), testEvents(t, "a", "a", "b")); err != nil {
		t.Fatal(err)
	}
	if len(handedOff) != 1 || len(handedOff[0]) != 3 || seqsAtHandoff[0] == 0 {
		t.Fatalf("handed off %v", handedOff)
	}
	if err := c.ConsumeEvents(context.Background(), nil); err != nil || len(handedOff) != 1 {
		t.Errorf("an empty batch: %v, %d hand-offs", err, len(handedOff))
	}
	if n := testutil.ToFloat64(c.accepted.WithLabelValues("a")); n != 2 {
		t.Errorf("accepted{a} = %v, want 2", n)
	}
	if n := testutil.ToFloat64(c.accepted.WithLabelValues("b")); n != 1 {
		t.Errorf("accepted{b} = %v, want 1", n)
	}
}

func TestCommitterHandoffFails(t *testing.T) {
	st := openStore(t)
	c, err := NewCommitter(CommitterOptions{Store: st, Next: osprey.EventConsumerFunc(func(context.Context, []osprey.Event) error {
		return errors.New("bus queue full")
	})})
	if err != nil {
		t.Fatal(err)
	}
	// The events are durable, so a failed hand-off is not the sender's
	// problem.
	if err := c.ConsumeEvents(context.Background(), testEvents(t, "a")); err != nil {
		t.Fatalf("ConsumeEvents = %v, want nil after the commit", err)
	}
	if n := testutil.ToFloat64(c.handoffFailures); n != 1 {
		t.Errorf("hand-off failures = %v, want 1", n)
	}
}

func TestCommitterStoreFails(t *testing.T) {
	st := openStore(t)
	handedOff := false
	c, err := NewCommitter(CommitterOptions{Store: st, Next: osprey.EventConsumerFunc(func(context.Context, []osprey.Event) error {
		handedOff = true
		return nil
	})})
	if err != nil {
		t.Fatal(err)
	}
	_ = st.Close()
	if err := c.ConsumeEvents(context.Background(), testEvents(t, "a")); err == nil {
		t.Fatal("ConsumeEvents succeeded on a closed store")
	}
	if handedOff {
		t.Error("a batch the store refused was handed off")
	}
	if _, err := NewCommitter(CommitterOptions{}); err == nil {
		t.Error("NewCommitter without a store succeeded")
	}
}

func TestSourceLabelBound(t *testing.T) {
	c, err := NewCommitter(CommitterOptions{Store: openStore(t)})
	if err != nil {
		t.Fatal(err)
	}
	for i := range maxSourceLabels + 10 {
		c.acceptedFor(fmt.Sprintf("source-%d", i)).Inc()
	}
	if n := testutil.CollectAndCount(c.accepted); n != maxSourceLabels+1 {
		t.Errorf("%d source series, want %d", n, maxSourceLabels+1)
	}
	if n := testutil.ToFloat64(c.accepted.WithLabelValues(otherSource)); n != 10 {
		t.Errorf("other = %v, want 10", n)
	}
}
