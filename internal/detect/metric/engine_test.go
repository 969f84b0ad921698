package metric

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/osprey-aiops/osprey"
)

type collector struct {
	mu  sync.Mutex
	got []osprey.Anomaly
}

func (c *collector) ConsumeAnomalies(_ context.Context, batch []osprey.Anomaly) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got = append(c.got, batch...)
	return nil
}

func TestEngineOpensAndClosesAnomaly(t *testing.T) {
	out := &collector{}
	cfg := DefaultConfig()
	eng, err := NewEngine(cfg, out, 0)
	if err != nil {
		t.Fatal(err)
	}
	labels := osprey.Labels{osprey.LabelMetric: "cpu", "host": "a"}
	values := signal(2000, 11, func(i int, e float64) float64 {
		if i == 1500 {
			return 130
		}
		return 50 + e
	})
	// Feed in batches of 100, as a receiver would.
	for start := 0; start < len(values); start += 100 {
		s := osprey.Series{Labels: labels}
		for i := start; i < start+100; i++ {
			s.Samples = append(s.Samples, osprey.Sample{TimestampMs: int64(i) * step, Value: values[i]})
		}
		if err := eng.ConsumeSeries(context.Background(), []osprey.Series{s}); err != nil {
			t.Fatal(err)
		}
	}
	var spike []osprey.Anomaly
	for _, a := range out.got {
		if a.StartsAt.UnixMilli() == 1500*step {
			spike = append(spike, a)
		}
	}
	if len(spike) != 2 {
		for _, a := range out.got {
			t.Logf("%d %v %.3f", a.StartsAt.UnixMilli()/step, a.EndsAt, a.Score)
		}
		t.Fatalf("got %d anomalies for the spike (all: %d), want opened and closed", len(spike), len(out.got))
	}
	open, closed := spike[0], spike[1]
	if !open.Active() || closed.Active() || closed.ID != open.ID {
		t.Errorf("open/closed pair wrong: %+v / %+v", open, closed)
	}
	if open.Observed != 130 || open.Expected < 49 || open.Expected > 51 || open.Upper >= 130 {
		t.Errorf("observed %v expected %v band %v..%v", open.Observed, open.Expected, open.Lower, open.Upper)
	}
	if open.Fingerprint != labels.Fingerprint() || open.Kind != osprey.AnomalyMetric || open.Score < cfg.Threshold {
		t.Errorf("anomaly fields: %+v", open)
	}
	if len(open.Evidence) == 0 || open.Evidence[0].Detector != "point" || !strings.Contains(open.Evidence[0].Reason, "observed 130") {
		t.Errorf("evidence = %+v", open.Evidence)
	}
}

func TestEngineSeriesBound(t *testing.T) {
	eng, err := NewEngine(DefaultConfig(), &collector{}, 2)
	if err != nil {
		t.Fatal(err)
	}
	var batch []osprey.Series
	for _, h := range []string{"a", "b", "c"} {
		batch = append(batch, osprey.Series{Labels: osprey.Labels{"host": h}, Samples: []osprey.Sample{{TimestampMs: 1, Value: 1}, {TimestampMs: 2, Value: 2}}})
	}
	if err := eng.ConsumeSeries(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	if eng.Series() != 2 || eng.Dropped() != 2 {
		t.Errorf("series %d dropped %d, want 2 and 2", eng.Series(), eng.Dropped())
	}
}

func TestNewEngineRejectsBadConfig(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Threshold = -1
	if _, err := NewEngine(cfg, &collector{}, 0); err == nil {
		t.Error("bad config accepted")
	}
	if _, err := NewEngine(DefaultConfig(), nil, 0); err == nil {
		t.Error("nil consumer accepted")
	}
}
