package metricstore

import (
	"context"
	"errors"
	"math"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"

	"github.com/osprey-aiops/osprey"
)

func open(t *testing.T, dir string, maxSeries int) *Store {
	t.Helper()
	s, err := New(Options{Dir: dir, MaxSeries: maxSeries})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

func count(t *testing.T, s *Store) int {
	t.Helper()
	q, err := s.Querier(math.MinInt64, math.MaxInt64)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	set := q.Select(context.Background(), false, nil, labels.MustNewMatcher(labels.MatchRegexp, "__name__", ".+"))
	n := 0
	for set.Next() {
		it := set.At().Iterator(nil)
		for it.Next() == chunkenc.ValFloat {
			n++
		}
	}
	return n
}

func TestLifecycleAndRestart(t *testing.T) {
	dir := t.TempDir()
	s, err := New(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Querier(0, 1); !errors.Is(err, ErrNotOpen) {
		t.Errorf("Querier before Start = %v, want ErrNotOpen", err)
	}
	if _, err := s.AppendSeries(context.Background(), nil); !errors.Is(err, ErrNotOpen) {
		t.Errorf("AppendSeries before Start = %v", err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err == nil {
		t.Error("second Start succeeded")
	}
	res, err := s.AppendSeries(context.Background(), []osprey.Series{{
		Labels:  osprey.Labels{"__name__": "m", "a": "1", "empty": ""},
		Samples: []osprey.Sample{{TimestampMs: 1000, Value: 1}, {TimestampMs: 2000, Value: 2}},
	}})
	if err != nil || res.Appended() != 2 || res.Rejected() != 0 || s.NumSeries() != 1 {
		t.Fatalf("append: %v %v, %d series", res, err, s.NumSeries())
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
	// The write-ahead log brings the samples back.
	s = open(t, dir, 0)
	defer s.Shutdown(context.Background())
	if n := count(t, s); n != 2 {
		t.Errorf("%d samples after restart, want 2", n)
	}
}

func TestAppendOutcomes(t *testing.T) {
	s := open(t, t.TempDir(), 1)
	defer s.Shutdown(context.Background())
	series := func(name string, ts ...int64) osprey.Series {
		sr := osprey.Series{Labels: osprey.Labels{"__name__": name}}
		for _, t := range ts {
			sr.Samples = append(sr.Samples, osprey.Sample{TimestampMs: t, Value: float64(t)})
		}
		return sr
	}
	if _, err := s.AppendSeries(context.Background(), []osprey.Series{series("a", 10_000_000)}); err != nil {
		t.Fatal(err)
	}
	a, err := s.Appender(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var b labels.ScratchBuilder
	la := LabelsFrom(&b, osprey.Labels{"__name__": "a"})
	tests := []struct {
		name string
		l    labels.Labels
		t    int64
		v    float64
		want Outcome
	}{
		{"in order", la, 10_001_000, 1, OutcomeAppended},
		{"out of order", la, 9_999_000, 1, OutcomeOutOfOrder},
		{"duplicate", la, 10_000_000, 5, OutcomeDuplicate},
		{"same value again", la, 10_000_000, 10_000_000, OutcomeAppended},
		{"too old", la, 1000, 1, OutcomeTooOld},
		{"cap", LabelsFrom(&b, osprey.Labels{"__name__": "c"}), 10_000_000, 1, OutcomeCardinalityCap},
	}
	for _, tc := range tests {
		var ref storage.SeriesRef
		o, err := a.Append(&ref, tc.l, tc.t, tc.v)
		if err != nil || o != tc.want {
			t.Errorf("%s: %v, %v; want %v", tc.name, o, err, tc.want)
		}
	}
	res, err := a.Commit()
	if err != nil {
		t.Fatal(err)
	}
	if res.Appended() != 2 || res.Rejected() != 4 || res[OutcomeCardinalityCap] != 1 {
		t.Errorf("result %v", res)
	}
	if _, err := a.Commit(); err == nil {
		t.Error("second Commit succeeded")
	}
	a.Rollback() // harmless after Commit
	if OutcomeTooOld.String() != "too_old" {
		t.Errorf("String = %s", OutcomeTooOld)
	}
}

// TestAppendWithUnknownRef checks what the remote_write series cache relies
// on: a ref the head does not know (a series dropped by head compaction)
// with the right labels stores the sample and yields the series' real ref.
func TestAppendWithUnknownRef(t *testing.T) {
	s := open(t, t.TempDir(), 0)
	defer s.Shutdown(context.Background())
	a, err := s.Appender(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if a.Generation() == 0 {
		t.Error("generation 0 for an open store")
	}
	lset := labels.FromStrings("__name__", "m", "job", "a")
	ref := storage.SeriesRef(1 << 40)
	if o, err := a.Append(&ref, lset, 1000, 1); err != nil || o != OutcomeAppended {
		t.Fatalf("Append = %v, %v", o, err)
	}
	if ref == 1<<40 || ref == 0 {
		t.Errorf("ref = %d, want the series' own", ref)
	}
	if _, err := a.Commit(); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s); n != 1 {
		t.Errorf("stored %d samples, want 1", n)
	}
}
