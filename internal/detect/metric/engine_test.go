package metric

import (
	"bytes"
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

// shareLabels makes every batch carry the label maps of the first, as the
// remote_write receiver hands them on.
func shareLabels(batches [][]osprey.Series) {
	for _, batch := range batches[1:] {
		for i := range batch {
			batch[i].Labels = batches[0][i].Labels
		}
	}
}

// stripIDs clears the anomalies' random IDs, for comparison.
func stripIDs(as []osprey.Anomaly) []osprey.Anomaly {
	for i := range as {
		as[i].ID = ""
	}
	return as
}

// TestConsumeSeriesSharedLabels: with every batch of a series carrying the
// same label map (found by the map after the second batch), an engine
// finds the same anomalies and drops the same samples as one given the
// fingerprints; its lookup by map holds one entry per series (none for
// series beyond the bound).
func TestConsumeSeriesSharedLabels(t *testing.T) {
	batches := engineBatches(12, 1200, 100)
	shareLabels(batches)
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
		if !reflect.DeepEqual(stripIDs(a.got), stripIDs(b.got)) {
			t.Errorf("maxSeries %d: shared maps %d anomalies, fingerprinted %d; they differ", maxSeries, len(a.got), len(b.got))
		}
		for _, an := range a.got {
			if an.Fingerprint != an.Labels.Fingerprint() {
				t.Fatalf("anomaly fingerprint %v, its labels' %v", an.Fingerprint, an.Labels.Fingerprint())
			}
		}
		if ea.Dropped() != eb.Dropped() || ea.Series() != eb.Series() {
			t.Errorf("maxSeries %d: dropped %d and %d, series %d and %d", maxSeries, ea.Dropped(), eb.Dropped(), ea.Series(), eb.Series())
		}
		if n := len(ea.byLabels); n != ea.Series() {
			t.Errorf("maxSeries %d: %d label maps remembered for %d series", maxSeries, n, ea.Series())
		}
	}
}

// TestConsumeSeriesLabelMapChanges: a series whose label map changes (the
// receiver's cache was emptied and built a new one) or alternates between
// two equal maps is still one series, found by its newest map once it came
// twice; the old map is forgotten. Maps that are new in every batch are
// never remembered.
func TestConsumeSeriesLabelMapChanges(t *testing.T) {
	eng, err := NewEngine(DefaultConfig(), &collector{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	labels := osprey.Labels{osprey.LabelMetric: "cpu", "host": "a"}
	ts := int64(0)
	feed := func(l osprey.Labels) {
		t.Helper()
		ts += step
		if err := eng.ConsumeSeries(ctx, []osprey.Series{{Labels: l, Samples: []osprey.Sample{{TimestampMs: ts, Value: 1}}}}); err != nil {
			t.Fatal(err)
		}
	}
	for range 5 {
		feed(labels.Clone())
	}
	if len(eng.byLabels) != 0 {
		t.Fatalf("%d maps remembered after five new maps, want 0", len(eng.byLabels))
	}
	first, second := labels.Clone(), labels.Clone()
	feed(first)
	feed(first)
	if bl := eng.byLabels[first.Identity()]; bl.tr == nil || bl.fp != labels.Fingerprint() {
		t.Fatalf("map given twice not remembered: %+v", bl)
	}
	feed(second)
	feed(first) // alternating: still found by first
	feed(second)
	feed(second)
	if _, ok := eng.byLabels[first.Identity()]; ok || len(eng.byLabels) != 1 || eng.byLabels[second.Identity()].tr == nil {
		t.Fatalf("after the series' map changed: %d maps remembered, first %v", len(eng.byLabels), ok)
	}
	if eng.Series() != 1 {
		t.Fatalf("%d series, want 1", eng.Series())
	}
	if eng.byLabels[second.Identity()].tr != eng.series[labels.Fingerprint()] {
		t.Error("the remembered map leads to another Tracker than the series'")
	}
}

// TestConsumeSeriesAfterRestore: a Restore replaces the series, and the
// label maps remembered before it lead to the restored models, not the
// discarded ones.
func TestConsumeSeriesAfterRestore(t *testing.T) {
	batches := engineBatches(4, 800, 100)
	shareLabels(batches)
	ctx := context.Background()
	// src learns the first half; its snapshot is restored into a (which
	// had learnt the other half with the same maps) and into b (fresh).
	src, err := NewEngine(DefaultConfig(), &collector{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	a, b := &collector{}, &collector{}
	ea, err := NewEngine(DefaultConfig(), a, 0)
	if err != nil {
		t.Fatal(err)
	}
	eb, err := NewEngine(DefaultConfig(), b, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, batch := range batches[:4] {
		if err := src.ConsumeSeries(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	for _, batch := range batches[4:] {
		if err := ea.ConsumeSeries(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	a.got = nil
	var snap bytes.Buffer
	if err := src.Snapshot(&snap); err != nil {
		t.Fatal(err)
	}
	for _, e := range []*Engine{ea, eb} {
		if err := e.Restore(bytes.NewReader(snap.Bytes())); err != nil {
			t.Fatal(err)
		}
	}
	for _, batch := range batches[4:] {
		for _, e := range []*Engine{ea, eb} {
			if err := e.ConsumeSeries(ctx, batch); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(b.got) == 0 {
		t.Fatal("no anomalies after the restore")
	}
	if !reflect.DeepEqual(stripIDs(a.got), stripIDs(b.got)) {
		t.Errorf("engine with maps remembered before the restore: %d anomalies, fresh engine %d; they differ", len(a.got), len(b.got))
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

// BenchmarkConsumeSharedLabels scores 20,000 series of ten labels in
// batches of 1,000 series of one sample each, every batch of a series
// carrying the same label map: what the remote_write receiver hands on (its
// series cache shares one map per series). The engine finds such a series
// by its map, without fingerprinting its labels again. fresh=true
// gives every batch new maps (as a producer without a cache does): the
// labels are fingerprinted each time.
func BenchmarkConsumeSharedLabels(b *testing.B) {
	for _, fresh := range []bool{false, true} {
		b.Run("fresh="+strconv.FormatBool(fresh), func(b *testing.B) {
			const nSeries, per = 20_000, 1000
			labelsOf := func(i int) osprey.Labels {
				return osprey.Labels{
					osprey.LabelMetric: "node_metric_" + strconv.Itoa(i%50),
					"cluster":          "eu-west-1",
					"device":           "dev" + strconv.Itoa(i%7),
					"env":              "prod",
					"instance":         "10.0." + strconv.Itoa(i/250) + "." + strconv.Itoa(i%250) + ":9100",
					"job":              "node",
					"region":           "eu",
					"service":          "infra",
					"team":             "sre",
				}
			}
			shared := make([]osprey.Labels, nSeries)
			for i := range shared {
				shared[i] = labelsOf(i)
			}
			eng, err := NewEngine(DefaultConfig(), osprey.AnomalyConsumerFunc(func(context.Context, []osprey.Anomaly) error { return nil }), 0)
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			batch := make([]osprey.Series, per)
			samples := make([]osprey.Sample, per)
			next := func(i int) {
				pass, first := i/(nSeries/per), i%(nSeries/per)*per
				for k := range batch {
					l := shared[first+k]
					if fresh {
						l = labelsOf(first + k)
					}
					samples[k] = osprey.Sample{TimestampMs: int64(pass) * step, Value: float64(50 + (first+k+pass)%7)}
					batch[k] = osprey.Series{Labels: l, Samples: samples[k : k+1 : k+1]}
				}
			}
			// One pass to create the models.
			for i := range nSeries / per {
				next(i)
				if err := eng.ConsumeSeries(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := nSeries / per; b.Loop(); i++ {
				b.StopTimer()
				next(i)
				b.StartTimer()
				if err := eng.ConsumeSeries(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*per), "ns/sample")
		})
	}
}
