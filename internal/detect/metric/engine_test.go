package metric

import (
	"context"
	"reflect"
	"strconv"
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

// engineBatches is n series of many samples with a few spikes each, in
// batches of per samples per series.
func engineBatches(n, samples, per int) [][]osprey.Series {
	vals := make([][]float64, n)
	for h := range n {
		vals[h] = signal(samples, uint64(h+1), func(i int, e float64) float64 {
			if i > 300 && i%(97+h) == 0 {
				return 130
			}
			return 50 + float64(h) + e
		})
	}
	var out [][]osprey.Series
	for start := 0; start < samples; start += per {
		batch := make([]osprey.Series, n)
		for h := range n {
			batch[h].Labels = osprey.Labels{osprey.LabelMetric: "cpu", "host": strconv.Itoa(h)}
			for i := start; i < min(start+per, samples); i++ {
				batch[h].Samples = append(batch[h].Samples, osprey.Sample{TimestampMs: int64(i) * step, Value: vals[h][i]})
			}
		}
		out = append(out, batch)
	}
	return out
}

// TestConsumeFingerprintedMatchesConsumeSeries: with the series'
// fingerprints passed in, an engine finds the same anomalies (IDs aside:
// they are random) and drops the same samples as one that computes them.
func TestConsumeFingerprintedMatchesConsumeSeries(t *testing.T) {
	batches := engineBatches(12, 1200, 100)
	for _, maxSeries := range []int{0, 7} {
		a, b := &collector{}, &collector{}
		ea, err := NewEngine(DefaultConfig(), a, maxSeries)
		if err != nil {
			t.Fatal(err)
		}
		eb, err := NewEngine(DefaultConfig(), b, maxSeries)
		if err != nil {
			t.Fatal(err)
		}
		for _, batch := range batches {
			fps := make([]osprey.Fingerprint, len(batch))
			for i := range batch {
				fps[i] = batch[i].Labels.Fingerprint()
			}
			if err := ea.ConsumeSeries(context.Background(), batch); err != nil {
				t.Fatal(err)
			}
			if err := eb.ConsumeFingerprinted(context.Background(), batch, fps); err != nil {
				t.Fatal(err)
			}
		}
		if len(a.got) == 0 {
			t.Fatal("no anomalies")
		}
		for _, as := range [][]osprey.Anomaly{a.got, b.got} {
			for i := range as {
				as[i].ID = ""
			}
		}
		if !reflect.DeepEqual(a.got, b.got) {
			t.Errorf("maxSeries %d: ConsumeSeries %d anomalies, ConsumeFingerprinted %d; they differ", maxSeries, len(a.got), len(b.got))
		}
		if ea.Dropped() != eb.Dropped() || ea.Series() != eb.Series() {
			t.Errorf("maxSeries %d: dropped %d and %d, series %d and %d", maxSeries, ea.Dropped(), eb.Dropped(), ea.Series(), eb.Series())
		}
		if maxSeries > 0 && (eb.Series() != maxSeries || eb.Dropped() == 0) {
			t.Errorf("maxSeries %d: %d series, %d dropped", maxSeries, eb.Series(), eb.Dropped())
		}
	}
}

func TestConsumeFingerprintedRejectsMismatchedLengths(t *testing.T) {
	out := &collector{}
	eng, err := NewEngine(DefaultConfig(), out, 0)
	if err != nil {
		t.Fatal(err)
	}
	batch := engineBatches(2, 10, 10)[0]
	for _, fps := range [][]osprey.Fingerprint{nil, {batch[0].Labels.Fingerprint()}, {1, 2, 3}} {
		err := eng.ConsumeFingerprinted(context.Background(), batch, fps)
		if err == nil || !strings.Contains(err.Error(), "fingerprints for 2 series") {
			t.Errorf("%d fingerprints for 2 series: err = %v", len(fps), err)
		}
	}
	if eng.Series() != 0 {
		t.Errorf("%d series modelled after rejected batches, want 0", eng.Series())
	}
}

// BenchmarkConsumeSeries and BenchmarkConsumeFingerprinted score batches
// of 1,000 series of one sample each (a remote_write batch); the
// difference is the cost of the label fingerprints.
func BenchmarkConsumeSeries(b *testing.B) { benchConsume(b, false) }

func BenchmarkConsumeFingerprinted(b *testing.B) { benchConsume(b, true) }

func benchConsume(b *testing.B, withFps bool) {
	batches := engineBatches(1000, 512, 1)
	fps := make([][]osprey.Fingerprint, len(batches))
	for j, batch := range batches {
		for i := range batch {
			fps[j] = append(fps[j], batch[i].Labels.Fingerprint())
		}
	}
	eng, err := NewEngine(DefaultConfig(), osprey.AnomalyConsumerFunc(func(context.Context, []osprey.Anomaly) error { return nil }), 0)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		j := i % len(batches)
		if j == 0 && i > 0 { // time goes on: the next pass is later
			b.StopTimer()
			for _, batch := range batches {
				for k := range batch {
					batch[k].Samples[0].TimestampMs += int64(len(batches)) * step
				}
			}
			b.StartTimer()
		}
		if withFps {
			err = eng.ConsumeFingerprinted(ctx, batches[j], fps[j])
		} else {
			err = eng.ConsumeSeries(ctx, batches[j])
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/sample")
}
