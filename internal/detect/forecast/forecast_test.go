package forecast

import (
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
)

var availLabels = osprey.Labels{osprey.LabelMetric: "node_filesystem_avail_bytes", "instance": "db-1:9100", "mountpoint": "/"}

// feed runs value(e) for e from 0 to dur every step through a fresh
// Forecaster with cfg and returns it and everything it emitted.
func feed(t *testing.T, cfg Config, step, dur time.Duration, value func(e time.Duration) float64) (*Forecaster, []osprey.Anomaly) {
	t.Helper()
	var got []osprey.Anomaly
	f, err := New(cfg, osprey.AnomalyConsumerFunc(func(_ context.Context, b []osprey.Anomaly) error {
		got = append(got, b...)
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	for e := time.Duration(0); e <= dur; e += step {
		ts := t0.Add(e).UnixMilli()
		batch := []osprey.Series{
			{Labels: sizeLabels, Samples: []osprey.Sample{{TimestampMs: ts, Value: 100 * gib}}},
			{Labels: availLabels, Samples: []osprey.Sample{{TimestampMs: ts, Value: value(e)}}},
		}
		if err := f.ConsumeSeries(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
	}
	return f, got
}

// TestLinearFillCrossing: a disk filling linearly, with Gaussian noise, is
// forecast to be full at the right time: the true crossing lies within the
// forecast's bounds, and the central forecast is within 4 standard errors
// of the crossing time (the noise's share of the slope's uncertainty,
// computed from the same prediction).
func TestLinearFillCrossing(t *testing.T) {
	for _, sd := range []float64{0, 0.5, 2} {
		rng := rand.New(rand.NewPCG(7, uint64(sd*10)))
		// 80 % falling 4 %/h: full after 20h; observed for 8h.
		f, _ := feed(t, DefaultConfig(), 30*time.Second, 8*time.Hour, func(e time.Duration) float64 {
			return pct(80 - 4*e.Hours() + sd*rng.NormFloat64())
		})
		fs := f.Forecasts(true)
		if len(fs) != 1 {
			t.Fatalf("sd %g: %d forecasts, want 1", sd, len(fs))
		}
		p := fs[0].Prediction
		want := t0.Add(20 * time.Hour)
		if p.Status != StatusForecast {
			t.Fatalf("sd %g: status %s, want forecast: %s", sd, p.Status, fs[0].Reason)
		}
		if p.Earliest.After(want) || p.Latest.Before(want) {
			t.Errorf("sd %g: true crossing %s outside the bounds %s..%s", sd, want, p.Earliest, p.Latest)
		}
		// The crossing time's standard error, from the slope's: dt = T·se/slope.
		se := (p.SlopeHighPerHour - p.SlopeLowPerHour) / 6
		tol := time.Duration(4*p.TimeLeft.Seconds()*se/math.Abs(p.SlopePerHour)*float64(time.Second)) + time.Second
		if d := p.CrossesAt.Sub(want); d.Abs() > tol {
			t.Errorf("sd %g: forecast crossing %s, want %s ± %s", sd, p.CrossesAt, want, tol)
		}
		if got, wantRate := p.SlopePerHour, -pct(4); math.Abs(got-wantRate) > 6*se+1 {
			t.Errorf("sd %g: slope %g/h, want %g/h", sd, got, wantRate)
		}
	}
}

// TestFlatNoisyNeverForecasts: flat noisy series, far from and near the
// threshold, never forecast in a simulated week.
func TestFlatNoisyNeverForecasts(t *testing.T) {
	for seed := range uint64(4) {
		for _, c := range []struct{ level, sd float64 }{{50, 5}, {5, 2}, {1, 0.5}, {20, 0.01}} {
			rng := rand.New(rand.NewPCG(seed, 2))
			_, got := feed(t, DefaultConfig(), time.Minute, 7*24*time.Hour, func(time.Duration) float64 {
				return pct(max(0, c.level+c.sd*rng.NormFloat64()))
			})
			if len(got) != 0 {
				t.Errorf("seed %d, flat %g%% sd %g%%: %d forecasts, first: %s", seed, c.level, c.sd, len(got), got[0].Evidence[0].Reason)
			}
		}
	}
}

// TestSawtoothResets: a log that fills the disk fast and is rotated every
// hour is forecast in its first cycle (nothing says it will be rotated),
// the forecast ends at the first rotation, and later cycles, whose
// rotation is due before the crossing, are not forecast.
func TestSawtoothResets(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	_, got := feed(t, DefaultConfig(), 15*time.Second, 24*time.Hour, func(e time.Duration) float64 {
		return pct(40 - 20*math.Mod(e.Hours(), 1) + 0.2*rng.NormFloat64())
	})
	if len(got) != 2 {
		t.Fatalf("%d anomalies, want one forecast opened and closed: %+v", len(got), got)
	}
	open, closed := got[0], got[1]
	if !open.Active() || closed.Active() || open.ID != closed.ID {
		t.Fatalf("want an open then a close of one forecast, got %+v", got)
	}
	rotation := t0.Add(time.Hour)
	if closed.EndsAt.Before(rotation) || closed.EndsAt.After(rotation.Add(time.Minute)) {
		t.Errorf("forecast ended at %s, want at the rotation %s", closed.EndsAt, rotation)
	}
	if !strings.Contains(closed.Evidence[len(closed.Evidence)-1].Reason, "ended:") {
		t.Errorf("closing evidence: %+v", closed.Evidence)
	}
}

// TestHysteresis: a series whose time left hovers around the horizon (an
// exponential decay with a time constant of 22h: the time left at the
// current rate is always 22h) opens one forecast and does not flap.
func TestHysteresis(t *testing.T) {
	cfg := DefaultConfig()
	rng := rand.New(rand.NewPCG(5, 5))
	_, got := feed(t, cfg, time.Minute, 4*24*time.Hour, func(e time.Duration) float64 {
		return pct(90*math.Exp(-e.Hours()/22) + 0.05*rng.NormFloat64())
	})
	opens := 0
	for _, a := range got {
		if a.Active() && a.Severity == osprey.SeverityWarning {
			opens++
		}
	}
	if opens != 1 {
		t.Errorf("%d forecasts opened, want 1 (no flapping); anomalies: %d", opens, len(got))
	}
	// OpenAfter: one sample forecasting a crossing opens nothing.
	cfg.OpenAfter = 1_000_000
	_, got = feed(t, cfg, 30*time.Second, 8*time.Hour, func(e time.Duration) float64 { return pct(80 - 4*e.Hours()) })
	if len(got) != 0 {
		t.Errorf("OpenAfter not respected: %d anomalies", len(got))
	}
}

// TestFastFill: the demo's case: a disk full in 10 minutes, sampled every
// 2s, with no history before the fill, is forecast minutes ahead, and
// critical.
func TestFastFill(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	_, got := feed(t, DefaultConfig(), 2*time.Second, 10*time.Minute, func(e time.Duration) float64 {
		return pct(max(0, 40-4*e.Minutes()+0.2*rng.NormFloat64()))
	})
	if len(got) == 0 {
		t.Fatal("no forecast")
	}
	a := got[0]
	if lead := t0.Add(10 * time.Minute).Sub(a.StartsAt); lead < 5*time.Minute {
		t.Errorf("forecast %s before the disk is full, want at least 5m", lead)
	}
	if a.Expected != 0 || a.Lower != 0 || a.Upper < 0 || a.Observed <= 0 {
		t.Errorf("observed %g expected %g band %g..%g: want the threshold 0 expected at the horizon", a.Observed, a.Expected, a.Lower, a.Upper)
	}
	if a.Kind != osprey.AnomalyForecast || a.Severity != osprey.SeverityCritical {
		t.Errorf("kind %s severity %s, want forecast critical", a.Kind, a.Severity)
	}
	if a.Fingerprint == availLabels.Fingerprint() || a.Fingerprint != Fingerprint(availLabels) {
		t.Errorf("fingerprint %s should be the forecast's, not the series'", a.Fingerprint)
	}
	r := a.Evidence[0].Reason
	for _, want := range []string{"falling", "GiB/h", "fitted over", "now ", "of 100 GiB", "reaches 0 B in", "UTC"} {
		if !strings.Contains(r, want) {
			t.Errorf("reason %q lacks %q", r, want)
		}
	}
}

// TestStaleCloses: a staleness marker (NaN) ends an open forecast.
func TestStaleCloses(t *testing.T) {
	f, got := feed(t, DefaultConfig(), 2*time.Second, 5*time.Minute, func(e time.Duration) float64 {
		return pct(40 - 4*e.Minutes())
	})
	if len(got) != 1 || !got[0].Active() {
		t.Fatalf("want one open forecast, got %d", len(got))
	}
	var closed []osprey.Anomaly
	f.out = osprey.AnomalyConsumerFunc(func(_ context.Context, b []osprey.Anomaly) error { closed = append(closed, b...); return nil })
	at := t0.Add(6 * time.Minute)
	_ = f.ConsumeSeries(context.Background(), []osprey.Series{{Labels: availLabels, Samples: []osprey.Sample{{TimestampMs: at.UnixMilli(), Value: math.NaN()}}}})
	if len(closed) != 1 || closed[0].ID != got[0].ID || !closed[0].EndsAt.Equal(at) {
		t.Fatalf("stale marker: %+v", closed)
	}
	if r := closed[0].Evidence[len(closed[0].Evidence)-1].Reason; !strings.Contains(r, "stale") {
		t.Errorf("closing reason %q", r)
	}
}

// TestEscalation: a slow fill opens a warning, then the same forecast (same
// ID, still open) becomes critical when the crossing is within Critical.
func TestEscalation(t *testing.T) {
	_, got := feed(t, DefaultConfig(), time.Minute, 19*time.Hour, func(e time.Duration) float64 {
		return pct(80 - 4*e.Hours())
	})
	if len(got) != 2 {
		t.Fatalf("%d anomalies, want open then escalate", len(got))
	}
	w, c := got[0], got[1]
	if w.Severity != osprey.SeverityWarning || c.Severity != osprey.SeverityCritical || w.ID != c.ID || !c.Active() || !w.StartsAt.Equal(c.StartsAt) {
		t.Errorf("want a warning then the same forecast critical, got %+v", got)
	}
	// Full at 20h; critical within 4h: escalated at 16h (the third sample
	// within the critical window: same-sample checks, no open-after).
	if at := c.Evidence[0].Reason; !strings.Contains(at, "reaches 0 B in 4h") && !strings.Contains(at, "reaches 0 B in 3h59m") {
		t.Errorf("escalation reason: %s", at)
	}
}

// TestDailyPatternAfterADay: a daily cycle is not forecast once a day of
// history shows it comes back.
func TestDailyPatternAfterADay(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 11))
	_, got := feed(t, DefaultConfig(), time.Minute, 7*24*time.Hour, func(e time.Duration) float64 {
		return pct(30 + 15*math.Sin(2*math.Pi*e.Hours()/24) + 0.5*rng.NormFloat64())
	})
	for _, a := range got {
		if a.Active() && a.StartsAt.After(t0.Add(25*time.Hour)) {
			t.Errorf("forecast opened at %s, after a day of history: %s", a.StartsAt, a.Evidence[0].Reason)
		}
	}
}

// TestStepChange: a step down (a large file written at once) followed by a
// flat series is not forecast.
func TestStepChange(t *testing.T) {
	for _, drop := range []float64{30, 50, 59} {
		rng := rand.New(rand.NewPCG(13, 13))
		_, got := feed(t, DefaultConfig(), 15*time.Second, 24*time.Hour, func(e time.Duration) float64 {
			v := 60.0
			if e > 6*time.Hour {
				v -= drop
			}
			return pct(v + 0.3*rng.NormFloat64()*v/60)
		})
		if len(got) != 0 {
			t.Errorf("step of %g%%: %d forecasts: %s", drop, len(got), got[0].Evidence[0].Reason)
		}
	}
}

// TestPercentThreshold: a percentage threshold is resolved against the
// capacity series; without it nothing is forecast.
func TestPercentThreshold(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Rules[0].Threshold, cfg.Rules[0].Percent = 10, true
	f, _ := feed(t, cfg, time.Minute, 4*time.Hour, func(e time.Duration) float64 { return pct(80 - 5*e.Hours()) })
	p := f.Forecasts(true)[0].Prediction
	// 80 % - 5 %/h reaches 10 % after 14h.
	if want := t0.Add(14 * time.Hour); p.CrossesAt.Sub(want).Abs() > time.Second || p.Threshold != pct(10) {
		t.Errorf("crosses %s (threshold %g), want %s (%g)", p.CrossesAt, p.Threshold, want, pct(10))
	}
	f, err := New(cfg, osprey.AnomalyConsumerFunc(func(context.Context, []osprey.Anomaly) error { return nil }))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		_ = f.ConsumeSeries(context.Background(), []osprey.Series{{Labels: availLabels,
			Samples: []osprey.Sample{{TimestampMs: t0.Add(time.Duration(i) * time.Minute).UnixMilli(), Value: pct(80 - float64(i))}}}})
	}
	if p := f.Forecasts(true)[0]; p.Status != StatusWarmingUp {
		t.Errorf("without the capacity series: status %s, want warming_up", p.Status)
	}
}

// TestOtherMetricsIgnored: series named by no rule get no model, and the
// capacity series is remembered, not forecast.
func TestOtherMetricsIgnored(t *testing.T) {
	f, err := New(DefaultConfig(), osprey.AnomalyConsumerFunc(func(context.Context, []osprey.Anomaly) error { return nil }))
	if err != nil {
		t.Fatal(err)
	}
	batch := []osprey.Series{
		{Labels: osprey.Labels{osprey.LabelMetric: "http_requests_total"}, Samples: []osprey.Sample{{TimestampMs: 1, Value: 1}}},
		{Labels: sizeLabels, Samples: []osprey.Sample{{TimestampMs: 1, Value: 1}}},
		{Labels: osprey.Labels{"job": "no name"}, Samples: []osprey.Sample{{TimestampMs: 1, Value: 1}}},
	}
	if err := f.ConsumeSeries(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	if f.Series() != 0 || len(f.caps) != 1 {
		t.Errorf("series %d caps %d, want 0 and 1", f.Series(), len(f.caps))
	}
}

// TestMaxSeries: series beyond the bound are dropped and counted.
func TestMaxSeries(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxSeries = 2
	f, err := New(cfg, osprey.AnomalyConsumerFunc(func(context.Context, []osprey.Anomaly) error { return nil }))
	if err != nil {
		t.Fatal(err)
	}
	var batch []osprey.Series
	for _, m := range []string{"/", "/var", "/home"} {
		batch = append(batch, osprey.Series{Labels: osprey.Labels{osprey.LabelMetric: "node_filesystem_avail_bytes", "mountpoint": m},
			Samples: []osprey.Sample{{TimestampMs: 1, Value: 1}, {TimestampMs: 2, Value: 1}}})
	}
	_ = f.ConsumeSeries(context.Background(), batch)
	if f.Series() != 2 || f.Dropped() != 2 {
		t.Errorf("series %d dropped %d, want 2 and 2", f.Series(), f.Dropped())
	}
}

// TestConsumeSeriesNoAllocs: the per-sample path of a known series does
// not allocate.
func TestConsumeSeriesNoAllocs(t *testing.T) {
	f, err := New(DefaultConfig(), osprey.AnomalyConsumerFunc(func(context.Context, []osprey.Anomaly) error { return nil }))
	if err != nil {
		t.Fatal(err)
	}
	ts := int64(0)
	batch := []osprey.Series{{Labels: availLabels, Samples: make([]osprey.Sample, 10)},
		{Labels: osprey.Labels{osprey.LabelMetric: "up"}, Samples: make([]osprey.Sample, 10)}}
	fill := func() {
		for i := range batch[0].Samples {
			ts += 1000
			batch[0].Samples[i] = osprey.Sample{TimestampMs: ts, Value: 50}
		}
	}
	fill()
	_ = f.ConsumeSeries(context.Background(), batch)
	if n := testing.AllocsPerRun(100, func() { fill(); _ = f.ConsumeSeries(context.Background(), batch) }); n != 0 {
		t.Errorf("%g allocations per batch, want 0", n)
	}
}

func TestModelIgnoresStaleAndOutOfOrder(t *testing.T) {
	var m Model
	cfg := DefaultConfig()
	p := cfg.params()
	m.Update(&p, 1000, 5)
	m.Update(&p, 2000, math.NaN())
	m.Update(&p, 500, 7)
	m.Update(&p, 1000, 7)
	if m.Samples() != 1 {
		t.Errorf("samples %d, want 1", m.Samples())
	}
	if ts, v := m.Last(); ts != 1000 || v != 5 {
		t.Errorf("last (%d, %g), want (1000, 5)", ts, v)
	}
}

func TestParseThreshold(t *testing.T) {
	for _, c := range []struct {
		in      string
		v       float64
		percent bool
		bad     bool
	}{
		{in: "0", v: 0}, {in: " 0.95 ", v: 0.95}, {in: "1e9", v: 1e9}, {in: "-5", v: -5},
		{in: "10%", v: 10, percent: true}, {in: "12.5 %", v: 12.5, percent: true},
		{in: "", bad: true}, {in: "%", bad: true}, {in: "NaN", bad: true}, {in: "inf", bad: true},
		{in: "101%", bad: true}, {in: "-1%", bad: true}, {in: "10GiB", bad: true}, {in: "1%%", bad: true},
	} {
		v, pc, err := ParseThreshold(c.in)
		if c.bad {
			if err == nil {
				t.Errorf("%q: accepted as %g", c.in, v)
			}
			continue
		}
		if err != nil || v != c.v || pc != c.percent {
			t.Errorf("%q: got %g %v %v, want %g %v", c.in, v, pc, err, c.v, c.percent)
		}
	}
}

func FuzzParseThreshold(f *testing.F) {
	for _, s := range []string{"0", "10%", " 1e9 ", "-0.5", "100%", "", "%", "NaN", "0x1p-2", "1_000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, pc, err := ParseThreshold(s)
		if err != nil {
			return
		}
		if math.IsNaN(v) || math.IsInf(v, 0) || pc && (v < 0 || v > 100) {
			t.Fatalf("%q: accepted %g percent=%v", s, v, pc)
		}
		r := Rule{Metric: "m", Direction: Down, Threshold: v, Percent: pc, Capacity: "c", Horizon: time.Hour}
		if err := r.Validate(); err != nil {
			t.Fatalf("%q: parsed rule invalid: %v", s, err)
		}
	})
}

func TestConfigValidate(t *testing.T) {
	if c := DefaultConfig(); c.Validate() != nil {
		t.Fatal(c.Validate())
	}
	c := DefaultConfig()
	c.Rules = append(c.Rules,
		Rule{Metric: "node_filesystem_avail_bytes", Direction: Down, Horizon: time.Hour},
		Rule{Metric: "x", Direction: "sideways", Horizon: 0, Critical: time.Hour, Percent: true},
		Rule{Metric: "node_filesystem_size_bytes", Direction: Up, Horizon: time.Hour})
	c.HalfLife = 0
	c.MinSamples = 1
	err := c.Validate()
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{
		`rules[2]: metric "node_filesystem_avail_bytes" is already forecast by rules[0]`,
		`rules[3]: direction: "sideways" is neither down nor up`,
		"rules[3]: capacity: a percentage threshold needs the capacity metric",
		"rules[3]: horizon: must be positive",
		"rules[3]: critical: must be from 0 to the horizon",
		`rules[0]: capacity "node_filesystem_size_bytes" is forecast by rules[4]`,
		"half_life: must be positive",
		"min_samples: must be at least 4",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		3*time.Hour + 10*time.Minute + 20*time.Second: "3h10m",
		50 * time.Hour:                   "2d2h",
		8*time.Minute + 20*time.Second:   "8m20s",
		45 * time.Second:                 "45s",
		25 * time.Minute:                 "25m",
		-90 * time.Second:                "-1m30s",
		time.Duration(math.MaxInt64):     "forever",
		time.Hour + 500*time.Millisecond: "1h",
		time.Hour + 5*time.Minute:        "1h05m",
	} {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%s) = %q, want %q", d, got, want)
		}
	}
}

// TestReusedLabelMaps: a producer handing the same label map with every
// batch (the remote_write receiver) gets the series a rule names forecast
// every time, its capacity series read every time, and the others skipped
// by the map's identity from their second batch on.
func TestReusedLabelMaps(t *testing.T) {
	f, err := New(DefaultConfig(), osprey.AnomalyConsumerFunc(func(context.Context, []osprey.Anomaly) error { return nil }))
	if err != nil {
		t.Fatal(err)
	}
	other := osprey.Labels{osprey.LabelMetric: "node_cpu_seconds_total", "instance": "db-1:9100"}
	size := sizeLabels.Clone()
	for i := range 5 {
		ts := t0.Add(time.Duration(i) * time.Minute).UnixMilli()
		batch := []osprey.Series{
			{Labels: other, Samples: []osprey.Sample{{TimestampMs: ts, Value: 1}}},
			{Labels: size, Samples: []osprey.Sample{{TimestampMs: ts, Value: float64(100 + i)}}},
			{Labels: availLabels, Samples: []osprey.Sample{{TimestampMs: ts, Value: float64(50 - i)}}},
		}
		if err := f.ConsumeSeries(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
		_, skipped := f.skip[other.Identity()]
		if want := i >= 1; skipped != want {
			t.Errorf("batch %d: other metric skipped by identity %v, want %v", i, skipped, want)
		}
		for _, l := range []osprey.Labels{size, availLabels} {
			if _, ok := f.skip[l.Identity()]; ok {
				t.Errorf("batch %d: %v skipped", i, l)
			}
		}
		fs := f.Forecasts(true)
		if len(fs) != 1 || fs[0].Current != float64(50-i) || fs[0].Labels.String() != availLabels.String() {
			t.Fatalf("batch %d: forecasts %+v, want the avail series at %d", i, fs, 50-i)
		}
		if c := f.caps[capKey(size, size[osprey.LabelMetric])]; c != float64(100+i) {
			t.Errorf("batch %d: capacity %g, want %d", i, c, 100+i)
		}
	}
	// A new map of the same labels is looked up by name again.
	if _, ok := f.skip[other.Clone().Identity()]; ok {
		t.Error("a new map is skipped")
	}
}
