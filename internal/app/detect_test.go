package app

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/tsdb/chunkenc"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/metricstore"
	"github.com/osprey-aiops/osprey/internal/store"
)

func TestScoreLabels(t *testing.T) {
	got := ScoreLabels(osprey.Labels{"__name__": "latency", "service": "checkout", "metric": "p99"})
	want := osprey.Labels{"__name__": "osprey_anomaly_score", "metric": "latency", "exported_metric": "p99", "service": "checkout"}
	if !got.Equal(want) {
		t.Errorf("ScoreLabels = %v, want %v", got, want)
	}
}

// fakeAnomalies is the part of the store the sink uses.
type fakeAnomalies struct {
	store.Anomalies
	saved []osprey.Anomaly
	err   error
}

func (f *fakeAnomalies) SaveAnomalies(_ context.Context, batch []osprey.Anomaly) error {
	if f.err != nil {
		return f.err
	}
	f.saved = append(f.saved, batch...)
	return nil
}

func TestAnomalySink(t *testing.T) {
	ms, err := metricstore.New(metricstore.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := ms.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer ms.Shutdown(context.Background())
	st := &fakeAnomalies{}
	var handed []osprey.Anomaly
	sink := newAnomalySink(st, ms,
		osprey.AnomalyConsumerFunc(func(_ context.Context, b []osprey.Anomaly) error { handed = append(handed, b...); return nil }),
		slog.New(slog.DiscardHandler))
	if err := registerDetectMetrics(prometheus.NewRegistry(), nil, sink); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	lbls := osprey.Labels{"__name__": "latency", "service": "checkout"}
	open := osprey.Anomaly{ID: "a", Kind: osprey.AnomalyMetric, Labels: lbls, Score: 0.9, StartsAt: t0}
	closed := open
	closed.EndsAt = t0.Add(time.Minute)
	if err := sink.ConsumeAnomalies(context.Background(), []osprey.Anomaly{open}); err != nil {
		t.Fatal(err)
	}
	if err := sink.ConsumeAnomalies(context.Background(), []osprey.Anomaly{closed}); err != nil {
		t.Fatal(err)
	}
	if len(st.saved) != 2 || len(handed) != 2 {
		t.Fatalf("saved %d, handed on %d; want 2 and 2", len(st.saved), len(handed))
	}
	scores := func() [][2]float64 {
		q, err := ms.Querier(math.MinInt64, math.MaxInt64)
		if err != nil {
			t.Fatal(err)
		}
		defer q.Close()
		set := q.Select(context.Background(), false, nil, labels.MustNewMatcher(labels.MatchEqual, "__name__", ScoreMetric))
		var points [][2]float64
		for set.Next() {
			if got := set.At().Labels().String(); got != `{__name__="osprey_anomaly_score", metric="latency", service="checkout"}` {
				t.Errorf("score series %s", got)
			}
			it := set.At().Iterator(nil)
			for it.Next() == chunkenc.ValFloat {
				ts, v := it.At()
				points = append(points, [2]float64{float64(ts), v})
			}
		}
		return points
	}
	want := [][2]float64{{float64(t0.UnixMilli()), 0.9}, {float64(t0.Add(time.Minute).UnixMilli()), 0}}
	if points := scores(); !slices.Equal(points, want) {
		t.Errorf("score samples %v, want %v", points, want)
	}
	// An escalation: the ended anomaly writes no 0 where its successor's
	// score goes.
	small := osprey.Anomaly{ID: "b", Kind: osprey.AnomalyMetric, Labels: lbls, Score: 0.6, StartsAt: t0.Add(2 * time.Minute)}
	ended, big := small, open
	ended.EndsAt = t0.Add(3 * time.Minute)
	ended.Evidence = []osprey.Evidence{{Detector: osprey.EvidenceEscalated}}
	big.ID, big.StartsAt, big.Score = "c", ended.EndsAt, 0.95
	big.Evidence = []osprey.Evidence{{Detector: osprey.EvidenceEscalation}}
	for _, b := range [][]osprey.Anomaly{{small}, {ended, big}} {
		if err := sink.ConsumeAnomalies(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	}
	want = append(want, [2]float64{float64(small.StartsAt.UnixMilli()), 0.6}, [2]float64{float64(big.StartsAt.UnixMilli()), 0.95})
	if points := scores(); !slices.Equal(points, want) {
		t.Errorf("score samples with an escalation %v, want %v", points, want)
	}
	handed, st.saved = handed[:2], st.saved[:2]

	// A store failure hands nothing on.
	st.err = errors.New("disk full")
	if err := sink.ConsumeAnomalies(context.Background(), []osprey.Anomaly{open}); err == nil || len(handed) != 2 {
		t.Errorf("store failure: err %v, handed on %d", err, len(handed))
	}
	// A score the TSDB refuses (out of order) is counted, the anomaly kept.
	st.err = nil
	early := open
	early.StartsAt = t0.Add(-time.Hour)
	if err := sink.ConsumeAnomalies(context.Background(), []osprey.Anomaly{early}); err != nil || len(handed) != 3 {
		t.Errorf("out-of-order score: err %v, handed on %d", err, len(handed))
	}
	if n := testutil.ToFloat64(sink.scoreRejected); n != 1 {
		t.Errorf("rejected scores = %v, want 1", n)
	}
}
