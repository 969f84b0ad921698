package rca

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/osprey-aiops/osprey/internal/rca"
)

// petshopOptions are the PetShop replay's ablation switches; the zero
// value is the default method (docs/rca.md measures each).
type petshopOptions struct {
	// stream judges every series with the streaming detector carried
	// over from the scenario's own normal period, as before session 5
	// (2026-11-26).
	stream bool
	// ownNormal takes a scenario's references from its own normal period
	// only, when it has one (by default from every normal period of the
	// corpus); noOthers never from another scenario's.
	ownNormal, noOthers bool
	// mode is what an incident sample is compared with (rca.CompareMode).
	mode rca.CompareMode
	// levelNoBase compares a series without a sample before the onset as
	// values only (by default it gives no evidence: what began at the
	// onset cannot be told from what was there before).
	levelNoBase bool
	// allMetrics takes evidence from every metric, not only from the
	// metric of the issue's symptom.
	allMetrics bool
	// minSurprise overrides refMinSurprise when positive.
	minSurprise float64
}

// refMinSurprise is the least surprise (−log10 p) of a series' comparison
// with its references that counts as evidence, as for the other evidence
// of the harness (p < 10⁻³).
const refMinSurprise = 3.0

// refMaxLag bounds the lags (in steps) whose changes a reference keeps:
// an incident's samples further from its last sample before the onset
// are not judged (PetShop's issues have five rows).
const refMaxLag = 12

// reaches reports whether the normal period's times run up to the
// issue's first row with no gap longer than a few steps and hold at least
// warmup samples: only then has a streaming detector fed the normal period
// a state that applies to the issue's rows.
func reaches(normal, issue []time.Time, warmup int) bool {
	if len(normal) < warmup || len(issue) == 0 {
		return false
	}
	step := medianStep(normal)
	last := normal[len(normal)-1]
	gap := issue[0].Sub(last)
	return step > 0 && gap > 0 && gap <= 3*step
}

// medianStep is the median spacing of ts, 0 with fewer than two.
func medianStep(ts []time.Time) time.Duration {
	if len(ts) < 2 {
		return 0
	}
	d := make([]time.Duration, 0, len(ts)-1)
	for i := 1; i < len(ts); i++ {
		d = append(d, ts[i].Sub(ts[i-1]))
	}
	slices.Sort(d)
	return d[len(d)/2]
}

// refSet holds the references per column, built from one or more normal
// periods (each a segment: no change is taken across two of them).
type refSet struct {
	step time.Duration
	refs map[Column]*rca.Reference
}

// newRefSet builds the references of every column from the normal
// periods ts that share the first one's step (nil tables are skipped).
func newRefSet(ts ...*Table) *refSet {
	rs := &refSet{refs: map[Column]*rca.Reference{}}
	segs := map[Column][][]float64{}
	for _, t := range ts {
		if t == nil {
			continue
		}
		step := medianStep(t.Times)
		if rs.step == 0 {
			rs.step = step
		}
		if step != rs.step {
			continue
		}
		for j, c := range t.Cols {
			col := make([]float64, len(t.Times))
			for i := range t.Times {
				col[i] = t.Values[i][j]
			}
			segs[c] = append(segs[c], col)
		}
	}
	for c, ss := range segs {
		if r := rca.NewReference(ss, refMaxLag); r != nil {
			rs.refs[c] = r
		}
	}
	return rs
}

// evidence compares each series of the issue's symptom metric (every
// metric with allMetrics, or when the issue names none) with its
// reference: the rows from the one holding the onset on, each as a value
// and as a change from the last row that ended before the onset (see
// rca.Reference.Compare). A series counts when its surprise reaches
// refMinSurprise; its score is surprise/(surprise+10) as for the other
// evidence of the harness, its onset the first row of the set of rows that
// made the surprise.
func (rs *refSet) evidence(is *PetShopIssue, opt petshopOptions) []rca.Evidence {
	t := is.Metrics
	step := medianStep(t.Times)
	// b: the last row that ended before the onset (rows are labelled
	// with their start).
	b := -1
	if !is.Onset.IsZero() {
		for i, ts := range t.Times {
			if !ts.Add(step).After(is.Onset) {
				b = i
			}
		}
	}
	if step != rs.step {
		b = -1 // changes over a lag need the references' step
	}
	minS := float64(refMinSurprise)
	if opt.minSurprise > 0 {
		minS = opt.minSurprise
	}
	var out []rca.Evidence
	post := make([]float64, len(t.Times)-(b+1))
	for j, c := range t.Cols {
		r := rs.refs[c]
		if r == nil || !symptomMetric(is, c, opt) {
			continue
		}
		base := math.NaN()
		if b >= 0 {
			base = t.Values[b][j]
		}
		for i := range post {
			post[i] = t.Values[b+1+i][j]
		}
		mode := opt.mode
		if opt.levelNoBase && math.IsNaN(base) && mode == rca.CompareBoth {
			mode = rca.CompareLevel
		}
		cmp := r.Compare(base, 1, post, mode)
		if cmp.Surprise < minS {
			continue
		}
		at := t.Times[b+1+cmp.First]
		name := c.Metric + "_" + c.Statistic
		dir := "below"
		if cmp.Above {
			dir = "above"
		}
		out = append(out, rca.Evidence{
			ID:      fmt.Sprintf("%s/%s/%d", c.Component, name, at.Unix()),
			Service: c.Component,
			Kind:    rca.KindMetric,
			Signal:  fmt.Sprintf("%s %.3g, %s the normal median %.3g (p = 10^-%.1f)", name, cmp.Value, dir, r.Median(), cmp.Surprise),
			Score:   cmp.Surprise / (cmp.Surprise + 10),
			Onset:   at,
		})
	}
	return out
}
