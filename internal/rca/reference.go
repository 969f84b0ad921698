package rca

import (
	"math"
	"slices"
	"sort"

	"github.com/osprey-aiops/osprey/internal/prob"
)

// Reference is one series over a normal period, kept to compare an
// incident's few samples with. It is the evidence for series a streaming
// detector cannot judge: too coarse or too short for the detector to be
// warm by the incident (five 5-minute samples, or a history that does not
// reach the incident), where the detector's evidence is at best one alarm
// whose score says little about how far off the series is. The comparison
// needs no model: each incident sample's tail probability under the normal
// period's values (and, when the incident has samples before its onset,
// under the normal period's changes over the same lag), the samples
// combined by their order statistics. A Reference is immutable once built
// and safe for concurrent use.
type Reference struct {
	sorted []float64 // the non-missing values, ascending
	neg    []float64 // their negations, ascending (the lower tail)
	// lags[k] holds the changes x[i+k] − x[i] over the period, ascending,
	// with their negations; built for lags 1..len(lags)-1.
	lags [][2][]float64
}

// MinReference is the least number of values a Reference needs: fewer
// say nothing about a tail.
const MinReference = 10

// refTail is how many of the most extreme reference values the
// exponential tail beyond them is fitted to (peaks over a threshold with
// shape 0, as SPOT does).
const refTail = 10

// NewReference builds the reference of a series from its values over a
// normal period: one or more segments, each in time order at a regular
// step (NaN where missing); changes are taken within a segment only.
// maxLag bounds the lags (in steps) whose changes are kept. It returns nil
// when fewer than MinReference values are present.
func NewReference(segments [][]float64, maxLag int) *Reference {
	r := &Reference{}
	for _, seg := range segments {
		for _, v := range seg {
			if !math.IsNaN(v) {
				r.sorted = append(r.sorted, v)
			}
		}
	}
	if len(r.sorted) < MinReference {
		return nil
	}
	r.sorted, r.neg = sortedPair(r.sorted)
	r.lags = make([][2][]float64, max(maxLag, 0)+1)
	for k := 1; k <= maxLag; k++ {
		var d []float64
		for _, seg := range segments {
			for i := 0; i+k < len(seg); i++ {
				if a, b := seg[i], seg[i+k]; !math.IsNaN(a) && !math.IsNaN(b) {
					d = append(d, b-a)
				}
			}
		}
		if len(d) >= MinReference {
			r.lags[k][0], r.lags[k][1] = sortedPair(d)
		}
	}
	return r
}

func sortedPair(v []float64) (asc, negAsc []float64) {
	asc = slices.Clone(v)
	slices.Sort(asc)
	negAsc = make([]float64, len(asc))
	for i, x := range asc {
		negAsc[len(asc)-1-i] = -x
	}
	return asc, negAsc
}

// Len is the number of reference values.
func (r *Reference) Len() int { return len(r.sorted) }

// Median is the reference's median.
func (r *Reference) Median() float64 {
	n := len(r.sorted)
	if n%2 == 1 {
		return r.sorted[n/2]
	}
	return (r.sorted[n/2-1] + r.sorted[n/2]) / 2
}

// Comparison is the outcome of comparing an incident's samples with a
// Reference.
type Comparison struct {
	// Surprise is −log10 of the probability that the normal period
	// produces samples as far off as the incident's: 0 when they look
	// normal.
	Surprise float64
	// First is the index (into the incident's samples from the onset)
	// of the earliest sample of the set that makes the surprise.
	First int
	// Value is the sample at First; Above says it is above the
	// reference's median.
	Value float64
	Above bool
}

// CompareMode selects what an incident sample is compared with.
type CompareMode int

// Comparison modes. CompareBoth, the default, asks a sample to be unusual
// both as a value and as a change from the incident's last sample before
// its onset, the change on the side the value lies on (a rise for a value
// above the normal ones): a level the normal period never had but that
// the incident already had before it began (a period months away from
// the incident, a slow drift) is not evidence of what began at the
// onset, nor is such a level moving back towards normal, and a change
// that is large only against the incident's own unusual start is not
// either.
const (
	CompareBoth CompareMode = iota
	CompareLevel
	CompareChange
)

// Compare scores the incident samples post (from the onset on, at the
// reference's step; NaN where missing) against the reference. base is the
// incident's last sample before the onset and baseLag the steps from it to
// post[0]. Each sample's probability is its one-sided tail probability
// (the side it lies on) under the reference's values (CompareLevel), under
// the reference's changes over the same lag from base (CompareChange), or
// the larger of the two (CompareBoth, the change's tail on the value's
// side); the tail beyond the refTail-th most
// extreme value is extrapolated exponentially. Without a base (NaN, or
// baseLag ≤ 0) or beyond the kept lags, a change cannot be judged and
// only CompareLevel scores. The samples are combined by their order
// statistics: with q₁ ≤ … ≤ q_m the sorted probabilities, the probability
// that at least j of m normal samples reach q_j is a binomial tail; the
// smallest over j is kept and multiplied by m for having looked at m of
// them. A constant reference (availability that was always 100 %) gives
// any other value a probability of 1/(n+1), so one odd sample of four
// says little and three say a lot. A zero Comparison means nothing could
// be judged or nothing is unusual.
func (r *Reference) Compare(base float64, baseLag int, post []float64, mode CompareMode) Comparison {
	type sp struct {
		logp float64 // natural log of the probability
		i    int
	}
	var ps []sp
	med := r.Median()
	for i, v := range post {
		if math.IsNaN(v) {
			continue
		}
		lp := math.Inf(1)
		if mode != CompareChange {
			lp = r.logTail(r.sorted, r.neg, v)
		}
		if mode != CompareLevel {
			k := baseLag + i
			if math.IsNaN(base) || baseLag <= 0 || k >= len(r.lags) || r.lags[k][0] == nil {
				continue // no change to judge: not shown to be unusual
			}
			var lc float64
			if mode == CompareBoth {
				// The change on the side the value lies on: a sample
				// above its normal values counts only if it rose from
				// the base (below, if it fell), not a level that was
				// off before the onset and moved back towards normal.
				lc = r.logTailSide(r.lags[k][0], r.lags[k][1], v-base, r.above(v))
			} else {
				lc = r.logTail(r.lags[k][0], r.lags[k][1], v-base)
			}
			if math.IsInf(lp, 1) || lc > lp {
				lp = lc
			}
		}
		if math.IsInf(lp, 1) {
			continue
		}
		ps = append(ps, sp{min(lp, 0), i})
	}
	m := len(ps)
	if m == 0 {
		return Comparison{}
	}
	slices.SortStableFunc(ps, func(a, b sp) int {
		switch {
		case a.logp < b.logp:
			return -1
		case a.logp > b.logp:
			return 1
		}
		return a.i - b.i
	})
	best, bestJ := 0.0, -1
	for j := 1; j <= m; j++ {
		if lt := prob.LogBinomTailLog(m, j, ps[j-1].logp); bestJ < 0 || lt < best {
			best, bestJ = lt, j
		}
	}
	best += math.Log(float64(m))
	c := Comparison{Surprise: max(-best/math.Ln10, 0)}
	c.First = ps[0].i
	for _, p := range ps[:bestJ] {
		c.First = min(c.First, p.i)
	}
	c.Value = post[c.First]
	c.Above = c.Value > med
	return c
}

// logTail is the log of the one-sided tail probability of v under the
// values asc (ascending) and negAsc (their negations, ascending): the
// side v lies on, (count + 1)/(n + 1) within the range, an exponential
// tail fitted to the refTail most extreme values beyond it.
func (r *Reference) logTail(asc, negAsc []float64, v float64) float64 {
	n := float64(len(asc))
	up := logCountAtLeast(asc, v)
	down := logCountAtLeast(negAsc, -v)
	return min(up, down, math.Log(n+1)) - math.Log(n+1)
}

// above reports whether v lies on the upper side of the reference's
// values: its upper tail is the smaller (the side logTail takes).
func (r *Reference) above(v float64) bool {
	return logCountAtLeast(r.sorted, v) < logCountAtLeast(r.neg, -v)
}

// logTailSide is logTail on one side: the upper tail of d under asc with
// up, the lower one (under negAsc, the negations) without. A d on the
// other side has a probability near 1.
func (r *Reference) logTailSide(asc, negAsc []float64, d float64, up bool) float64 {
	n := float64(len(asc))
	var c float64
	if up {
		c = logCountAtLeast(asc, d)
	} else {
		c = logCountAtLeast(negAsc, -d)
	}
	return min(c, math.Log(n+1)) - math.Log(n+1)
}

// logCountAtLeast estimates the log of how many of asc (ascending) are at
// least d: the count plus one within the range (a prior: never seen is not
// impossible); beyond the refTail-th largest, refTail·exp(−(d − t)/μ) with
// t that value and μ the mean excess of the refTail largest over it, never
// less than the count nor more than the count plus one (as the metric
// evidence's tailCount in the bench does). A reference whose largest
// values are all equal has no tail to fit: anything beyond them counts as
// one.
func logCountAtLeast(asc []float64, d float64) float64 {
	cnt := float64(len(asc) - sort.SearchFloat64s(asc, d))
	if len(asc) < refTail {
		return math.Log(cnt + 1)
	}
	t := asc[len(asc)-refTail]
	if d <= t {
		return math.Log(cnt + 1)
	}
	mu := 0.0
	for _, v := range asc[len(asc)-refTail:] {
		mu += v - t
	}
	mu /= refTail
	if !(mu > 0) {
		return math.Log(cnt + 1)
	}
	return min(max(math.Log(refTail)-(d-t)/mu, math.Log(max(cnt, 1e-300))), math.Log(cnt+1))
}
