package rca

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/osprey-aiops/osprey/internal/rca"
)

// petshopOptions are the PetShop replay's ablation switches; the zero
// value is the default method.
type petshopOptions struct {
	// stream judges every series with the streaming detector carried
	// over from the normal period, as before 2026-11-26 (session 5).
	stream bool
	// noReference is stream's twin for the decision rule's test: the
	// reference comparison is off even where it would apply.
	noReference bool
	// mode is what an incident sample is compared with (rca.CompareMode).
	mode rca.CompareMode
	// levelNoBase compares a series without a sample before the onset as
	// values only (by default it gives no evidence: what began at the
	// onset cannot be told from what was there before).
	levelNoBase bool
	// issueRef: a scenario without a normal period takes its reference
	// from the other issues' rows ("all") or the rows of the issues that
	// ended before this one began ("earlier"); "" degrades to relChange.
	issueRef string
	// allMetrics takes evidence from every metric, not only from the
	// metric of the issue's symptom.
	allMetrics bool
	// minSurprise overrides refMinSurprise when positive.
	minSurprise float64
}

// refMinSurprise is the least surprise (−log10 p) of a series' comparison
// with its normal period that counts as evidence, as for the other
// evidence of the harness (p < 10⁻³).
const refMinSurprise = 3.0

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

// refSet holds the normal period's references per column.
type refSet struct {
	step time.Duration
	refs map[Column]*rca.Reference
}

// refMaxLag bounds the lags (in steps) whose changes a reference keeps:
// an incident's samples this many steps after its last sample before the
// onset are compared as values only.
const refMaxLag = 12

// newIssueRefSet builds the references of a scenario without a normal
// period from the rows of its issues other than skip (each issue a
// segment); with earlierOnly, only from issues that ended before skip began.
func newIssueRefSet(sc *PetShopScenario, skip int, earlierOnly bool) *refSet {
	rs := &refSet{refs: map[Column]*rca.Reference{}}
	segs := map[Column][][]float64{}
	start := sc.Issues[skip].Metrics.Times[0]
	for k := range sc.Issues {
		t := sc.Issues[k].Metrics
		if k == skip || len(t.Times) == 0 || earlierOnly && !t.Times[len(t.Times)-1].Before(start) {
			continue
		}
		if rs.step == 0 {
			rs.step = medianStep(t.Times)
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

func newRefSet(t *Table) *refSet {
	rs := &refSet{refs: map[Column]*rca.Reference{}}
	if t == nil {
		return rs
	}
	rs.step = medianStep(t.Times)
	col := make([]float64, len(t.Times))
	for j, c := range t.Cols {
		for i := range t.Times {
			col[i] = t.Values[i][j]
		}
		if r := rca.NewReference([][]float64{col}, refMaxLag); r != nil {
			rs.refs[c] = r
		}
	}
	return rs
}

// evidence compares each series of the issue with its normal period: the
// rows from the one holding the onset on, each as a value and as a change
// from the last row that ended before the onset (see rca.Reference.Compare).
// A series counts when the surprise reaches refMinSurprise; its score is
// surprise/(surprise+10) as for the other evidence, its onset the first
// row of the set of rows that made the surprise.
func (rs *refSet) evidence(is *PetShopIssue, opt petshopOptions) []rca.Evidence {
	t := is.Metrics
	step := medianStep(t.Times)
	// base: the last row that ended before the onset.
	b := -1
	if !is.Onset.IsZero() {
		for i, ts := range t.Times {
			if !ts.Add(step).After(is.Onset) {
				b = i
			}
		}
	}
	if step != rs.step {
		b = -1 // changes over a lag need the reference's step
	}
	minS := float64(refMinSurprise)
	if opt.minSurprise > 0 {
		minS = opt.minSurprise
	}
	var out []rca.Evidence
	post := make([]float64, len(t.Times)-(b+1))
	for j, c := range t.Cols {
		r := rs.refs[c]
		if r == nil || !opt.allMetrics && is.Target != "" && c.Metric != is.Target {
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
			Signal:  fmt.Sprintf("%s %.3g, %s the normal period's median %.3g (p = 10^-%.1f)", name, cmp.Value, dir, r.Median(), cmp.Surprise),
			Score:   cmp.Surprise / (cmp.Surprise + 10),
			Onset:   at,
		})
	}
	return out
}
