package forecast

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
)

// The synthetic scenarios of the accuracy table (docs/detection.md,
// "Forecasting"): free space of a 100 GiB disk, in bytes.

const gib = float64(1 << 30)

// t0 is the scenarios' start: 2026-01-05 00:00 UTC.
var t0 = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)

type scenario struct {
	name string
	// step is the sample interval, dur the length.
	step, dur time.Duration
	// value returns the value at elapsed time e; rng adds noise.
	value func(e time.Duration, rng *rand.Rand) float64
	// crosses is the elapsed time at which the series reaches 0, or 0 if
	// it never does.
	crosses time.Duration
}

func pct(p float64) float64 { return p / 100 * 100 * gib }

func scenarios() []scenario {
	h := time.Hour
	return []scenario{
		{name: "linear fill 2%/h after 6h flat", step: 15 * time.Second, dur: 40 * h, crosses: 36 * h,
			value: func(e time.Duration, _ *rand.Rand) float64 {
				return pct(60 - 2*max(0, e.Hours()-6))
			}},
		{name: "linear fill 2%/h, noise sd 1%", step: 15 * time.Second, dur: 40 * h, crosses: 36 * h,
			value: func(e time.Duration, rng *rand.Rand) float64 {
				return pct(60 - 2*max(0, e.Hours()-6) + rng.NormFloat64())
			}},
		{name: "fast fill: full in 10m, no history, 2s", step: 2 * time.Second, dur: 11 * time.Minute, crosses: 10 * time.Minute,
			value: func(e time.Duration, rng *rand.Rand) float64 {
				return pct(40 - 4*e.Minutes() + 0.2*rng.NormFloat64())
			}},
		{name: "fast fill: full in 10m after 5m flat, 5s", step: 5 * time.Second, dur: 16 * time.Minute, crosses: 15 * time.Minute,
			value: func(e time.Duration, rng *rand.Rand) float64 {
				return pct(40 - 4*max(0, e.Minutes()-5) + 0.2*rng.NormFloat64())
			}},
		{name: "accelerating leak (quadratic) from 80%", step: 30 * time.Second, dur: 30 * h, crosses: 28284 * time.Second * 3,
			value: func(e time.Duration, rng *rand.Rand) float64 {
				// 80 - 80·(e/T)², T = 84,852 s (23.57h)
				x := e.Seconds() / (28284 * 3)
				return pct(80 - 80*x*x + 0.3*rng.NormFloat64())
			}},
		{name: "sawtooth: 20%/h for 1h, rotation back to 40%", step: 15 * time.Second, dur: 72 * h,
			value: func(e time.Duration, rng *rand.Rand) float64 {
				cyc := math.Mod(e.Hours(), 1)
				return pct(40 - 20*cyc + 0.2*rng.NormFloat64())
			}},
		{name: "sawtooth: 2%/h for 12h, cleanup back to 30%", step: 15 * time.Second, dur: 7 * 24 * h,
			value: func(e time.Duration, rng *rand.Rand) float64 {
				cyc := math.Mod(e.Hours(), 12)
				return pct(30 - 2*cyc + 0.2*rng.NormFloat64())
			}},
		{name: "step down 60% to 30% (file copied), then flat", step: 15 * time.Second, dur: 48 * h,
			value: func(e time.Duration, rng *rand.Rand) float64 {
				v := 60.0
				if e > 12*h {
					v = 30
				}
				return pct(v + 0.3*rng.NormFloat64())
			}},
		{name: "fill 2%/h for 10h that stops at 40%", step: 15 * time.Second, dur: 48 * h,
			value: func(e time.Duration, rng *rand.Rand) float64 {
				return pct(60 - 2*min(10, max(0, e.Hours()-6)) + 0.2*rng.NormFloat64())
			}},
		{name: "daily cycle 50% ± 15%, 7 days", step: 60 * time.Second, dur: 7 * 24 * h,
			value: func(e time.Duration, rng *rand.Rand) float64 {
				return pct(50 + 15*math.Sin(2*math.Pi*e.Hours()/24) + 0.5*rng.NormFloat64())
			}},
		{name: "daily cycle 30% ± 15%, 7 days", step: 60 * time.Second, dur: 7 * 24 * h,
			value: func(e time.Duration, rng *rand.Rand) float64 {
				return pct(30 + 15*math.Sin(2*math.Pi*e.Hours()/24) + 0.5*rng.NormFloat64())
			}},
		{name: "flat 50%, noise sd 5%, 7 days", step: 15 * time.Second, dur: 7 * 24 * h,
			value: func(_ time.Duration, rng *rand.Rand) float64 { return pct(50 + 5*rng.NormFloat64()) }},
		{name: "flat 5%, noise sd 2%, 7 days", step: 15 * time.Second, dur: 7 * 24 * h,
			value: func(_ time.Duration, rng *rand.Rand) float64 { return pct(5 + 2*rng.NormFloat64()) }},
		{name: "random walk from 50%, 7 days", step: 15 * time.Second, dur: 7 * 24 * h,
			value: randomWalk(50, 0.05)},
	}
}

// randomWalk returns a value function (called in time order) that starts
// at start % and moves by sd % per sample, reflected at 1 % and 99 %.
func randomWalk(start, sd float64) func(time.Duration, *rand.Rand) float64 {
	v := start
	return func(_ time.Duration, rng *rand.Rand) float64 {
		v += sd * rng.NormFloat64()
		if v < 1 {
			v = 2 - v
		}
		if v > 99 {
			v = 198 - v
		}
		return pct(v)
	}
}

// outcome is what a forecaster did in one scenario.
type outcome struct {
	opened, falseOpen int
	// lead is the time from the first true forecast to the crossing;
	// predicted the forecast crossing time then, minus the true one.
	lead, predictedErr time.Duration
	found              bool
}

// sizeLabels are the labels of the scenarios' capacity series.
var sizeLabels = osprey.Labels{osprey.LabelMetric: "node_filesystem_size_bytes", "instance": "db-1:9100", "mountpoint": "/"}

// run feeds sc through a Forecaster with cfg, one sample per batch, and
// scores its forecasts: a forecast opened at t is true when the series
// reaches 0 within CloseMargin × the horizon of t.
func run(t testing.TB, cfg Config, sc scenario, seed uint64) (outcome, []osprey.Anomaly) {
	var got []osprey.Anomaly
	f, err := New(cfg, osprey.AnomalyConsumerFunc(func(_ context.Context, b []osprey.Anomaly) error {
		got = append(got, b...)
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 1))
	labels := osprey.Labels{osprey.LabelMetric: "node_filesystem_avail_bytes", "instance": "db-1:9100", "mountpoint": "/"}
	ctx := context.Background()
	var out outcome
	horizon := cfg.Rules[0].Horizon
	for e := time.Duration(0); e <= sc.dur; e += sc.step {
		ts := t0.Add(e).UnixMilli()
		v := max(0, sc.value(e, rng))
		batch := []osprey.Series{
			{Labels: sizeLabels, Samples: []osprey.Sample{{TimestampMs: ts, Value: 100 * gib}}},
			{Labels: labels, Samples: []osprey.Sample{{TimestampMs: ts, Value: v}}},
		}
		n := len(got)
		if err := f.ConsumeSeries(ctx, batch); err != nil {
			t.Fatal(err)
		}
		for _, a := range got[n:] {
			if !a.Active() || a.Severity == osprey.SeverityCritical && len(got) > 1 && got[len(got)-2].ID == a.ID {
				continue
			}
			out.opened++
			opened := a.StartsAt.Sub(t0)
			if sc.crosses > 0 && opened <= sc.crosses && sc.crosses-opened <= time.Duration(cfg.CloseMargin*float64(horizon)) {
				if !out.found {
					out.found = true
					out.lead = sc.crosses - opened
					pred := f.Forecasts(true)[0].CrossesAt
					out.predictedErr = pred.Sub(t0.Add(sc.crosses))
				}
			} else {
				out.falseOpen++
			}
		}
	}
	return out, got
}

// TestAccuracy runs every scenario with the defaults and checks the
// outcome against what the scenario calls for; -v prints the table of
// docs/detection.md.
func TestAccuracy(t *testing.T) {
	cfg := DefaultConfig()
	var b strings.Builder
	fmt.Fprintf(&b, "| scenario | true crossing | lead time of the first forecast | forecast crossing error then | forecasts opened | false forecasts |\n|---|---|---|---|---|---|\n")
	for _, sc := range scenarios() {
		o, _ := run(t, cfg, sc, 1)
		cross, lead, perr := "never", "—", "—"
		if sc.crosses > 0 {
			cross = "after " + FormatDuration(sc.crosses)
		}
		if o.found {
			lead = FormatDuration(o.lead)
			perr = FormatDuration(o.predictedErr)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %d | %d |\n", sc.name, cross, lead, perr, o.opened, o.falseOpen)
		if sc.crosses > 0 && !o.found {
			t.Errorf("%s: the crossing was not forecast", sc.name)
		}
		if o.falseOpen > 1 {
			t.Errorf("%s: %d false forecasts", sc.name, o.falseOpen)
		}
	}
	t.Log("\n" + b.String())
}

// holt is the alternative measured against the regression: Holt's linear
// trend on the samples (level α, trend β per sample, time-aware), with no
// confidence bounds: it forecasts when level + trend·t reaches the
// threshold within the horizon.
type holt struct {
	alpha, beta float64
	n           int
	last        int64
	level, b    float64 // b per second
}

func (h *holt) update(t int64, v float64) {
	if h.n == 0 {
		h.level, h.last, h.n = v, t, 1
		return
	}
	dt := float64(t-h.last) / 1000
	pred := h.level + h.b*dt
	nl := h.alpha*v + (1-h.alpha)*pred
	h.b = h.beta*(nl-h.level)/dt + (1-h.beta)*h.b
	h.level, h.last = nl, t
	h.n++
}

// runHolt counts Holt's forecasts in sc with the same open/close counts as
// the Forecaster (OpenAfter, CloseAfter) and the rule's horizon.
func runHolt(cfg Config, sc scenario, seed uint64, alpha, beta float64) outcome {
	h := holt{alpha: alpha, beta: beta}
	rng := rand.New(rand.NewPCG(seed, 1))
	horizon := cfg.Rules[0].Horizon.Seconds()
	var o outcome
	hits, misses, open := 0, 0, false
	var first time.Duration
	for e := time.Duration(0); e <= sc.dur; e += sc.step {
		v := max(0, sc.value(e, rng))
		h.update(t0.Add(e).UnixMilli(), v)
		within := h.n >= cfg.MinSamples && h.b < 0 && -h.level/h.b <= horizon
		if !open {
			if !within {
				hits = 0
				continue
			}
			if hits == 0 {
				first = e
			}
			hits++
			if hits >= cfg.OpenAfter {
				open, misses = true, 0
				o.opened++
				if sc.crosses > 0 && first <= sc.crosses && (sc.crosses-first).Seconds() <= cfg.CloseMargin*horizon {
					if !o.found {
						o.found, o.lead = true, sc.crosses-first
					}
				} else {
					o.falseOpen++
				}
			}
			continue
		}
		if within {
			misses = 0
			continue
		}
		misses++
		if misses >= cfg.CloseAfter {
			open, hits = false, 0
		}
	}
	return o
}

// TestAccuracyVariants prints the measurements behind the defaults: the
// regression with other half-lives, extrapolation bounds and confidence,
// and Holt's method. Set OSPREY_FORECAST_VARIANTS=1 to run it (a few
// seconds).
func TestAccuracyVariants(t *testing.T) {
	if os.Getenv("OSPREY_FORECAST_VARIANTS") == "" {
		t.Skip("set OSPREY_FORECAST_VARIANTS=1 to measure the variants")
	}
	type variant struct {
		name string
		cfg  Config
		holt [2]float64
	}
	mk := func(name string, f func(*Config)) variant {
		c := DefaultConfig()
		f(&c)
		return variant{name: name, cfg: c}
	}
	vs := []variant{
		mk("defaults (half-life 1h, extrapolation 4×, z 3, Huber 2, open after 3)", func(*Config) {}),
		mk("half-life 15m", func(c *Config) { c.HalfLife = 15 * time.Minute }),
		mk("half-life 4h", func(c *Config) { c.HalfLife = 4 * time.Hour }),
		mk("extrapolation 2×", func(c *Config) { c.MaxExtrapolation = 2 }),
		mk("extrapolation 8×", func(c *Config) { c.MaxExtrapolation = 8 }),
		mk("extrapolation unbounded", func(c *Config) { c.MaxExtrapolation = 1e9 }),
		mk("z 2", func(c *Config) { c.Z = 2 }),
		mk("no Huber weights", func(c *Config) { c.Huber = 0 }),
		mk("Huber 3", func(c *Config) { c.Huber = 3 }),
		mk("open after 1 sample", func(c *Config) { c.OpenAfter = 1 }),
		mk("no confidence bound (z≈0)", func(c *Config) { c.Z = 1e-9 }),
		{name: "Holt α=0.05 β=0.005 per sample", cfg: DefaultConfig(), holt: [2]float64{0.05, 0.005}},
		{name: "Holt α=0.02 β=0.001 per sample", cfg: DefaultConfig(), holt: [2]float64{0.02, 0.001}},
	}
	var b strings.Builder
	fmt.Fprintf(&b, "| variant | crossings forecast | mean lead (fast fills) | mean lead (slow fills) | false forecasts |\n|---|---|---|---|---|\n")
	for _, v := range vs {
		found, total, falses := 0, 0, 0
		var fastLead, slowLead time.Duration
		nFast, nSlow := 0, 0
		for _, sc := range scenarios() {
			var o outcome
			if v.holt[0] > 0 {
				o = runHolt(v.cfg, sc, 1, v.holt[0], v.holt[1])
			} else {
				o, _ = run(t, v.cfg, sc, 1)
			}
			falses += o.falseOpen
			if sc.crosses > 0 {
				total++
				if o.found {
					found++
					if sc.crosses < time.Hour {
						fastLead += o.lead
						nFast++
					} else {
						slowLead += o.lead
						nSlow++
					}
				}
			}
		}
		mean := func(d time.Duration, n int) string {
			if n == 0 {
				return "—"
			}
			return FormatDuration(d / time.Duration(n))
		}
		fmt.Fprintf(&b, "| %s | %d/%d | %s | %s | %d |\n", v.name, found, total, mean(fastLead, nFast), mean(slowLead, nSlow), falses)
	}
	t.Log("\n" + b.String())
}
