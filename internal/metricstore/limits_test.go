package metricstore

import (
	"context"
	"math"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/storage"
)

func openWith(t *testing.T, opts Options) *Store {
	t.Helper()
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	return s
}

// appendOne appends one sample in a batch of its own and returns its outcome.
func appendOne(t *testing.T, s *Store, lset labels.Labels, ts int64, v float64) Outcome {
	t.Helper()
	a, err := s.Appender(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var ref storage.SeriesRef
	o, err := a.Append(&ref, lset, ts, v)
	if err != nil {
		a.Rollback()
		t.Fatal(err)
	}
	if _, err := a.Commit(); err != nil {
		t.Fatal(err)
	}
	return o
}

func series(name string, i int) labels.Labels {
	return labels.FromStrings("__name__", name, "i", strconv.Itoa(i))
}

func TestSeriesPerMetricCap(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := openWith(t, Options{Dir: t.TempDir(), MaxSeries: 100, MaxSeriesPerMetric: 2, Registerer: reg})
	const ts = 1_000_000
	tests := []struct {
		name string
		l    labels.Labels
		t    int64
		want Outcome
	}{
		{"first of a", series("a", 1), ts, OutcomeAppended},
		{"second of a", series("a", 2), ts, OutcomeAppended},
		{"third of a", series("a", 3), ts, OutcomeSeriesPerMetric},
		{"third of a again", series("a", 3), ts + 1000, OutcomeSeriesPerMetric},
		{"another name", series("b", 1), ts, OutcomeAppended},
		{"existing series of a full name", series("a", 1), ts + 1000, OutcomeAppended},
		{"no metric name counts as one name", labels.FromStrings("job", "x"), ts, OutcomeAppended},
	}
	for _, tc := range tests {
		if o := appendOne(t, s, tc.l, tc.t, 1); o != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, o, tc.want)
		}
	}
	for name, want := range map[string]int{"a": 2, "b": 1, "": 1, "c": 0} {
		if got := s.SeriesOfMetric(name); got != want {
			t.Errorf("SeriesOfMetric(%q) = %d, want %d", name, got, want)
		}
	}
	if got := testutil.ToFloat64(s.perMetricHits); got != 2 {
		t.Errorf("osprey_tsdb_series_per_metric_rejected_samples_total = %v, want 2", got)
	}
	if got := testutil.ToFloat64(s.capHits); got != 0 {
		t.Errorf("cardinality cap counted %v rejections, want 0", got)
	}
	if n, err := testutil.GatherAndCount(reg, "osprey_tsdb_series_per_metric_highest"); err != nil || n != 1 {
		t.Errorf("highest gauge: %d, %v", n, err)
	}
	if got := s.highestSeriesPerMetric(); got != 2 {
		t.Errorf("highest = %d, want 2", got)
	}
	if OutcomeSeriesPerMetric.String() != "series_per_metric" {
		t.Errorf("String = %s", OutcomeSeriesPerMetric)
	}
}

// TestCapsInOneBatch checks that a refused series leaves the rest of its
// batch alone, and that the total cap is checked before the per-metric one.
func TestCapsInOneBatch(t *testing.T) {
	s := openWith(t, Options{Dir: t.TempDir(), MaxSeries: 3, MaxSeriesPerMetric: 2})
	a, err := s.Appender(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []Outcome{OutcomeAppended, OutcomeAppended, OutcomeSeriesPerMetric, OutcomeAppended, OutcomeCardinalityCap}
	for i, l := range []labels.Labels{series("a", 1), series("a", 2), series("a", 3), series("b", 1), series("c", 1)} {
		var ref storage.SeriesRef
		if o, err := a.Append(&ref, l, 1000, 1); err != nil || o != want[i] {
			t.Errorf("sample %d (%s): %v, %v; want %v", i, l, o, err, want[i])
		}
	}
	res, err := a.Commit()
	if err != nil {
		t.Fatal(err)
	}
	if res.Appended() != 3 || res[OutcomeSeriesPerMetric] != 1 || res[OutcomeCardinalityCap] != 1 || res.Rejected() != 2 {
		t.Errorf("result %v", res)
	}
	if n := count(t, s); n != 3 {
		t.Errorf("stored %d samples, want 3", n)
	}
	// The full store refuses a new series of a name with room to spare
	// as cardinality_cap.
	if o := appendOne(t, s, series("b", 2), 2000, 1); o != OutcomeCardinalityCap {
		t.Errorf("new series in a full store: %v", o)
	}
}

// TestSeriesPerMetricCountGoesDown checks that series the head drops after a
// head compaction no longer count against their metric's cap.
func TestSeriesPerMetricCountGoesDown(t *testing.T) {
	s := openWith(t, Options{Dir: t.TempDir(), MaxSeriesPerMetric: 2})
	hour := time.Hour.Milliseconds()
	for i := 1; i <= 2; i++ {
		if o := appendOne(t, s, series("a", i), 0, 1); o != OutcomeAppended {
			t.Fatalf("a%d: %v", i, o)
		}
	}
	if o := appendOne(t, s, series("a", 3), 5*hour, 1); o != OutcomeSeriesPerMetric {
		t.Fatalf("a3 before compaction: %v", o)
	}
	// b spans the head beyond 1.5 block ranges, so that the head is
	// compactable: the first 2h go to a block, and the series with no
	// sample after them leave the head.
	for _, ts := range []int64{0, 2 * hour, 4 * hour, 5 * hour} {
		if o := appendOne(t, s, series("b", 1), ts, 1); o != OutcomeAppended {
			t.Fatalf("b at %d: %v", ts, o)
		}
	}
	if err := s.db.Compact(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := s.SeriesOfMetric("a"); got != 0 {
		t.Fatalf("after compaction a has %d series, want 0 (head has %d series)", got, s.NumSeries())
	}
	if got := s.SeriesOfMetric("b"); got != 1 {
		t.Errorf("after compaction b has %d series, want 1", got)
	}
	for i := 3; i <= 4; i++ {
		if o := appendOne(t, s, series("a", i), 5*hour, 1); o != OutcomeAppended {
			t.Errorf("a%d after compaction: %v", i, o)
		}
	}
	if o := appendOne(t, s, series("a", 5), 5*hour, 1); o != OutcomeSeriesPerMetric {
		t.Errorf("a5 after compaction: %v", o)
	}
}

// TestReplayIgnoresCaps checks that series stored before come back from the
// write-ahead log even when the caps were lowered since, and count against
// them.
func TestReplayIgnoresCaps(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, 0)
	for i := 1; i <= 3; i++ {
		if o := appendOne(t, s, series("a", i), 1000, 1); o != OutcomeAppended {
			t.Fatalf("a%d: %v", i, o)
		}
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	s = openWith(t, Options{Dir: dir, MaxSeries: 3, MaxSeriesPerMetric: 2})
	if n := count(t, s); n != 3 {
		t.Fatalf("%d samples after restart, want 3", n)
	}
	if got := s.SeriesOfMetric("a"); got != 3 {
		t.Errorf("a has %d series after replay, want 3", got)
	}
	if o := appendOne(t, s, series("a", 1), 2000, 2); o != OutcomeAppended {
		t.Errorf("existing series after replay: %v", o)
	}
	if o := appendOne(t, s, series("a", 4), 2000, 1); o != OutcomeCardinalityCap {
		t.Errorf("new series after replay: %v, want cardinality_cap (3 of 3 series)", o)
	}
}

// TestSpecialValues checks that the store keeps what Prometheus keeps: NaN
// (which is not the staleness marker), ±Inf, and the staleness marker, a
// particular NaN whose bits survive.
func TestSpecialValues(t *testing.T) {
	s := openWith(t, Options{Dir: t.TempDir()})
	stale := math.Float64frombits(value.StaleNaN)
	a, err := s.Appender(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1), stale, 0} {
		var ref storage.SeriesRef
		if o, err := a.Append(&ref, series("m", i), 1000, v); err != nil || o != OutcomeAppended {
			t.Errorf("value %v: %v, %v", v, o, err)
		}
	}
	if n := a.NonFinite(); n != 3 {
		t.Errorf("NonFinite = %d, want 3 (NaN, +Inf, -Inf; not the staleness marker)", n)
	}
	if _, err := a.Commit(); err != nil {
		t.Fatal(err)
	}
	q, err := s.Querier(math.MinInt64, math.MaxInt64)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	set := q.Select(context.Background(), true, nil, labels.MustNewMatcher(labels.MatchEqual, "__name__", "m"))
	var got []float64
	for set.Next() {
		it := set.At().Iterator(nil)
		for it.Next() != 0 {
			_, v := it.At()
			got = append(got, v)
		}
	}
	if len(got) != 5 || !math.IsNaN(got[0]) || value.IsStaleNaN(got[0]) || !math.IsInf(got[1], 1) || !math.IsInf(got[2], -1) || !value.IsStaleNaN(got[3]) {
		t.Errorf("stored %v", got)
	}
}

func TestNewRejectsNegativeCaps(t *testing.T) {
	if _, err := New(Options{Dir: t.TempDir(), MaxSeriesPerMetric: -1}); err == nil {
		t.Error("New accepted a negative max series per metric")
	}
}

// TestSeriesPerMetricConcurrent: appenders creating series of one name at
// once may overshoot the cap by at most one series each (check and count
// are two steps), and the count matches what the head holds.
func TestSeriesPerMetricConcurrent(t *testing.T) {
	const workers, perWorker, limit = 4, 100, 50
	s := openWith(t, Options{Dir: t.TempDir(), MaxSeriesPerMetric: limit})
	accepted := make([]int, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWorker {
				a, err := s.Appender(context.Background())
				if err != nil {
					t.Error(err)
					return
				}
				var ref storage.SeriesRef
				o, err := a.Append(&ref, series("a", w*perWorker+i), 1000, 1)
				if _, cerr := a.Commit(); err != nil || cerr != nil {
					t.Error(err, cerr)
					return
				}
				if o == OutcomeAppended {
					accepted[w]++
				}
			}
		}()
	}
	wg.Wait()
	total := 0
	for _, n := range accepted {
		total += n
	}
	if total < limit || total > limit+workers-1 {
		t.Errorf("%d series accepted, want %d to %d", total, limit, limit+workers-1)
	}
	if got := s.SeriesOfMetric("a"); got != total || uint64(got) != s.NumSeries() {
		t.Errorf("SeriesOfMetric = %d, head has %d, accepted %d", got, s.NumSeries(), total)
	}
}
