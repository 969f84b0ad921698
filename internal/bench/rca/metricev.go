package rca

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/prob"
	"github.com/osprey-aiops/osprey/internal/rca"
)

// metricEvidence turns the metric anomalies that opened in [from, to] into
// evidence, calibrated by each service's own base rate of anomalies. With
// hundreds of series a few alarms fall into any window by chance, so a
// service counts only when it has clearly more anomalies than usual: its
// score is the surprise of k anomalies in the window under a Poisson law
// with the rate seen outside incident windows before from (with a prior of
// one anomaly per service per hour, so a young history is not trusted).
func metricEvidence(anomalies []osprey.Anomaly, windows [][2]time.Time, from, to time.Time, start time.Time, opt Options) []rca.Evidence {
	inAny := func(t time.Time) bool {
		for _, w := range windows {
			if !t.Before(w[0]) && !t.After(w[1]) {
				return true
			}
		}
		return false
	}
	// Normal history: from the first sample to from, minus incident windows.
	hist := from.Sub(start)
	for _, w := range windows {
		if w[1].Before(from) && !w[0].Before(start) {
			hist -= w[1].Sub(w[0])
		}
	}
	histMin := max(hist.Minutes(), 0)
	base := map[string]int{}
	inWin := map[string][]*osprey.Anomaly{}
	services := map[string]bool{}
	var normalDev []float64            // deviations of the normal history's anomalies
	byMetric := map[string][]float64{} // the same per metric name
	for i := range anomalies {
		a := &anomalies[i]
		svc := a.Labels.Get(osprey.LabelService)
		if svc == "" {
			continue
		}
		services[svc] = true
		switch {
		case a.StartsAt.Before(from):
			if !inAny(a.StartsAt) {
				base[svc]++
				if d := deviation(a); d > 0 {
					normalDev = append(normalDev, d)
					m := a.Labels.Get(osprey.LabelMetric)
					byMetric[m] = append(byMetric[m], d)
				}
			}
		case !a.StartsAt.After(to):
			inWin[svc] = append(inWin[svc], a)
		}
	}
	slices.Sort(normalDev)
	for _, d := range byMetric {
		slices.Sort(d)
	}
	winMin := to.Sub(from).Minutes()
	var out []rca.Evidence
	for _, svc := range sortedKeys(inWin) {
		as := inWin[svc]
		lambda := float64(base[svc]+1) / (histMin + 60) * winMin
		s := surpriseScore(poissonSurprise(len(as), lambda))
		// Extremeness: an anomaly far outside its band (a CPU at 100 %
		// where 1 % is usual) is rarer than its count says. Its rate is
		// learnt from the normal history, pooled over services: how many
		// anomalies per service-minute deviated at least as far.
		var worst *osprey.Anomaly
		sx, lx := 0.0, 0.0
		if !opt.noExtreme {
			for _, a := range as {
				d := deviation(a)
				if d == 0 {
					continue
				}
				var n float64
				if opt.pooledExtreme {
					n = float64(len(normalDev)-sort.SearchFloat64s(normalDev, d)) + 1
				} else {
					pool := byMetric[a.Labels.Get(osprey.LabelMetric)]
					if len(pool) < tailK {
						pool = normalDev
					}
					n = tailCount(pool, d)
				}
				l := n / (histMin*float64(len(services)) + 60) * winMin
				if v := surpriseScore(poissonSurprise(1, l)); v > sx {
					worst, sx, lx = a, v, l
				}
			}
		}
		if s == 0 && sx == 0 {
			continue
		}
		for _, a := range as {
			sig := fmt.Sprintf("%s (%d metric anomalies where %.1f are usual)", a.Labels.Get(osprey.LabelMetric), len(as), lambda)
			sc := s
			if a == worst && sx > s {
				sc = sx
				sig = fmt.Sprintf("%s %.3g against %.3g expected, %.0f band widths off (%.2g as far in this window are usual)",
					a.Labels.Get(osprey.LabelMetric), a.Observed, a.Expected, deviation(a), lx)
			}
			if sc == 0 {
				continue
			}
			out = append(out, rca.Evidence{ID: a.ID, Service: svc, Kind: rca.KindMetric, Score: sc, Onset: a.StartsAt, Signal: sig})
		}
	}
	return out
}

// tailK is how many of the largest normal deviations the exponential tail
// is fitted to.
const tailK = 10

// tailCount estimates how many of the normal anomalies in sorted (ascending)
// deviate at least d. Within the observed range it is the count plus one
// (a prior: never seen is not impossible); beyond the tailK-th largest it is
// the exponential tail fitted to the tailK largest (peaks over a threshold,
// as SPOT does with a shape of 0): tailK·exp(−(d − t)/μ), t the tailK-th
// largest and μ their mean excess over it, never less than the count. So a
// CPU 40 band widths off, where normal anomalies of CPU reach 3, counts as
// far rarer than "not seen in five hours", and one just beyond the largest
// seen does not.
func tailCount(sorted []float64, d float64) float64 {
	n := float64(len(sorted) - sort.SearchFloat64s(sorted, d))
	if len(sorted) < tailK {
		return n + 1
	}
	t := sorted[len(sorted)-tailK]
	if d <= t {
		return n + 1
	}
	mu := 0.0
	for _, v := range sorted[len(sorted)-tailK:] {
		mu += v - t
	}
	mu /= tailK
	if !(mu > 0) {
		return n + 1
	}
	return max(n, tailK*math.Exp(-(d-t)/mu), 1e-9)
}

// deviation is how far an anomaly's value lies from the prediction, in
// widths of the detector's band (1 = just at the alarm threshold), or 0
// when the band has no width (a series that was constant, such as a count
// that is usually 0): any change is "infinitely" far off there, which says
// nothing about how unusual it is.
func deviation(a *osprey.Anomaly) float64 {
	band := (a.Upper - a.Lower) / 2
	if !(band > 0) {
		return 0
	}
	return math.Abs(a.Observed-a.Expected) / band
}

// poissonSurprise is −log10 P(X ≥ k) for X ~ Poisson(λ).
func poissonSurprise(k int, lambda float64) float64 {
	if k <= 0 || float64(k) <= lambda {
		return 0
	}
	return -prob.LogPoissonTail(k, lambda) / math.Ln10
}
