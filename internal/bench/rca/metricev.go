package rca

import (
	"fmt"
	"math"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/rca"
)

// metricEvidence turns the metric anomalies that opened in [from, to] into
// evidence, calibrated by each service's own base rate of anomalies. With
// hundreds of series a few alarms fall into any window by chance, so a
// service counts only when it has clearly more anomalies than usual: its
// score is the surprise of k anomalies in the window under a Poisson law
// with the rate seen outside incident windows before from (with a prior of
// one anomaly per service per hour, so a young history is not trusted).
func metricEvidence(anomalies []osprey.Anomaly, windows [][2]time.Time, from, to time.Time, start time.Time) []rca.Evidence {
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
	for i := range anomalies {
		a := &anomalies[i]
		svc := a.Labels.Get(osprey.LabelService)
		if svc == "" {
			continue
		}
		switch {
		case a.StartsAt.Before(from):
			if !inAny(a.StartsAt) {
				base[svc]++
			}
		case !a.StartsAt.After(to):
			inWin[svc] = append(inWin[svc], a)
		}
	}
	winMin := to.Sub(from).Minutes()
	var out []rca.Evidence
	for _, svc := range sortedKeys(inWin) {
		as := inWin[svc]
		lambda := float64(base[svc]+1) / (histMin + 60) * winMin
		s := surpriseScore(poissonSurprise(len(as), lambda))
		if s == 0 {
			continue
		}
		for _, a := range as {
			out = append(out, rca.Evidence{
				ID: a.ID, Service: svc, Kind: rca.KindMetric, Score: s, Onset: a.StartsAt,
				Signal: fmt.Sprintf("%s (%d metric anomalies where %.1f are usual)", a.Labels.Get(osprey.LabelMetric), len(as), lambda),
			})
		}
	}
	return out
}

// poissonSurprise is −log10 P(X ≥ k) for X ~ Poisson(λ).
func poissonSurprise(k int, lambda float64) float64 {
	if k <= 0 || float64(k) <= lambda {
		return 0
	}
	lambda = max(lambda, 1e-9)
	tail := math.Inf(-1)
	for i := k; i < k+200; i++ {
		lg, _ := math.Lgamma(float64(i + 1))
		t := float64(i)*math.Log(lambda) - lambda - lg
		tail = logAdd(tail, t)
		if t < tail-30 {
			break
		}
	}
	return -tail / math.Ln10
}
