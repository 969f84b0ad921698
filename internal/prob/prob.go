// Package prob holds the upper tails of the counting distributions the
// detectors and the ranking judge surprises with, summed in log space so
// that tails far below the smallest float64 still compare.
package prob

import "math"

// LogBinomTail is the natural log of P(X ≥ k) for X ~ Bin(n, p): 0 when
// k ≤ 0, -Inf when k > n.
func LogBinomTail(n, k int, p float64) float64 {
	if p >= 1 {
		return 0
	}
	return logBinomTail(n, k, math.Log(p), math.Log1p(-p))
}

// LogBinomTailLog is LogBinomTail with p given as its log, for rates too
// small to hold as a float64.
func LogBinomTailLog(n, k int, logp float64) float64 {
	if logp >= 0 {
		return 0
	}
	return logBinomTail(n, k, logp, math.Log1p(-math.Exp(logp)))
}

// logBinomTail sums the tail's terms from k up, stopping once a term no
// longer moves the sum (beyond the mode they only shrink).
func logBinomTail(n, k int, lp, lq float64) float64 {
	if k <= 0 {
		return 0
	}
	lgn, _ := math.Lgamma(float64(n + 1))
	tail := math.Inf(-1)
	for i := k; i <= n; i++ {
		a, _ := math.Lgamma(float64(i + 1))
		b, _ := math.Lgamma(float64(n - i + 1))
		t := lgn - a - b + float64(i)*lp + float64(n-i)*lq
		tail = LogAdd(tail, t)
		if float64(i) > float64(n)*math.Exp(lp) && t < tail-30 {
			break
		}
	}
	return min(tail, 0)
}

// LogPoissonTail is the natural log of P(X ≥ k) for X ~ Poisson(lambda),
// summed over at most 200 terms: 0 when k ≤ 0.
func LogPoissonTail(k int, lambda float64) float64 {
	if k <= 0 {
		return 0
	}
	lambda = max(lambda, 1e-9)
	ll := math.Log(lambda)
	tail := math.Inf(-1)
	for i := k; i < k+200; i++ {
		lg, _ := math.Lgamma(float64(i + 1))
		t := float64(i)*ll - lambda - lg
		tail = LogAdd(tail, t)
		if float64(i) > lambda && t < tail-30 {
			break
		}
	}
	return min(tail, 0)
}

// LogAdd returns log(exp(a) + exp(b)) without leaving log space.
func LogAdd(a, b float64) float64 {
	if math.IsInf(a, -1) {
		return b
	}
	if math.IsInf(b, -1) {
		return a
	}
	if a < b {
		a, b = b, a
	}
	return a + math.Log1p(math.Exp(b-a))
}
