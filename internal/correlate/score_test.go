package correlate_test

import (
	"context"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/correlate"
)

// countingRanker records the member scores of every incident it ranks.
type countingRanker struct {
	mu     sync.Mutex
	scores [][]float64
}

func (r *countingRanker) RankCauses(inc *osprey.Incident) []osprey.Cause {
	r.mu.Lock()
	defer r.mu.Unlock()
	var s []float64
	for _, m := range inc.Members {
		s = append(s, m.Score)
	}
	r.scores = append(r.scores, s)
	return []osprey.Cause{{Kind: osprey.CauseService, Name: "checkout"}}
}

// An anomaly member keeps the highest score its anomaly was reported with,
// the ranker sees it and the store keeps it; an event member has none. A
// score that is not a number is kept as 0.
func TestMemberKeepsTheAnomalysPeakScore(t *testing.T) {
	st := openStore(t)
	rk := &countingRanker{}
	c := startWith(t, correlate.Options{
		Store: st, Window: 5 * time.Minute, GroupBy: []string{"service"}, CatchUpInterval: time.Hour,
		Now: func() time.Time { return t0 }, Registerer: prometheus.NewRegistry(), Causes: rk,
	})
	labels := osprey.Labels{"__name__": "http_latency_seconds", "service": "checkout"}
	a := osprey.Anomaly{
		ID: osprey.NewID(t0), Kind: osprey.AnomalyMetric, Labels: labels, Score: 0.55,
		StartsAt: t0, Severity: osprey.SeverityWarning, Fingerprint: labels.Fingerprint(),
	}
	nan := osprey.Labels{"__name__": "errors", "service": "checkout"}
	send := func(as ...osprey.Anomaly) {
		t.Helper()
		if err := c.ConsumeAnomalies(context.Background(), as); err != nil {
			t.Fatal(err)
		}
	}
	send(a, osprey.Anomaly{ID: osprey.NewID(t0), Kind: osprey.AnomalyMetric, Labels: nan, Score: math.NaN(),
		StartsAt: t0, Severity: osprey.SeverityWarning, Fingerprint: nan.Fingerprint()})
	if err := c.ConsumeEvents(context.Background(), appendEvents(t, st, []ev{{at: time.Minute, name: "HighLatency", labels: osprey.Labels{"service": "checkout"}}})); err != nil {
		t.Fatal(err)
	}
	// It ends with its peak; a lower report later does not lower it.
	a.Score, a.EndsAt = 0.72, t0.Add(2*time.Minute)
	send(a)
	a.Score = 0.3
	send(a)
	incs := incidents(t, st)
	if len(incs) != 1 || len(incs[0].Members) != 3 {
		t.Fatalf("incidents = %+v, want one with three members", incs)
	}
	got := map[string]float64{}
	for _, m := range incs[0].Members {
		got[m.Name] = m.Score
	}
	want := map[string]float64{"http_latency_seconds": 0.72, "errors": 0, "HighLatency": 0}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("stored member %s has score %v, want %v (all: %v)", name, got[name], w, got)
		}
	}
	// The last ranking was the event's join, when the anomaly had 0.55.
	if last := rk.scores[len(rk.scores)-1]; len(last) != 3 || !slices.Contains(last, 0.55) {
		t.Errorf("the ranker last saw member scores %v, want 0.55 among them", last)
	}
}
