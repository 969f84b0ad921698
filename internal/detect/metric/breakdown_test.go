package metric

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/osprey-aiops/osprey/internal/bench/nab"
)

// TestNABBreakdown prints where the default detector wins and loses on the
// NAB corpus at the fixed threshold, standard profile: per category the raw
// score, windows found and FP rows; per window the first alarm (as a
// fraction of the window's width: 0.5 is its middle, where NAB centres the
// labelled anomaly) or, for a missed window, the highest score inside it
// and each component's score there; and how many FP rows each combination
// of components raised. It is the diagnostic behind docs/detection.md and
// runs with OSPREY_NAB_ABLATION=1.
func TestNABBreakdown(t *testing.T) {
	if os.Getenv("OSPREY_NAB_ABLATION") == "" {
		t.Skip("set OSPREY_NAB_ABLATION=1 to run the NAB breakdown")
	}
	c, fs := loadDev(t)
	cfg := DefaultConfig()
	cats := map[string]*nab.Scoring{}
	fpBy := map[string]int{}
	for _, f := range fs {
		var m Model
		rs := make([]Result, len(f.ms))
		alarm := make([]float64, len(f.ms))
		for i := range f.ms {
			rs[i] = m.Update(&cfg, f.ms[i], f.tab.Values[i])
			alarm[i] = rs[i].Alarm
		}
		cat, _, _ := strings.Cut(f.name, "/")
		if cats[cat] == nil {
			cats[cat] = nab.NewScoring()
		}
		if err := cats[cat].Add(f.name, f.tab.Times, alarm, c.Windows[f.name]); err != nil {
			t.Fatal(err)
		}
		inWindow := make([]bool, len(f.ms))
		for _, w := range c.Windows[f.name] {
			a := slices.Index(f.ms, w.Start.UnixMilli())
			b := slices.Index(f.ms, w.End.UnixMilli())
			first, best := -1, a
			for i := a; i <= b; i++ {
				inWindow[i] = true
				if first < 0 && alarm[i] >= cfg.Threshold {
					first = i
				}
				if rs[i].Score > rs[best].Score {
					best = i
				}
			}
			if first >= 0 {
				t.Logf("hit  %-55s window %5d..%5d first alarm at %.2f by %s", f.name, a, b, float64(first-a)/float64(b-a+1), fired(&cfg, &rs[first]))
			} else {
				t.Logf("MISS %-55s window %5d..%5d best %.3f at %.2f %.2f", f.name, a, b, rs[best].Score, float64(best-a)/float64(b-a+1), rs[best].Components)
			}
		}
		for i := nab.ProbationaryRows(len(f.ms)); i < len(f.ms); i++ {
			if alarm[i] >= cfg.Threshold && !inWindow[i] {
				fpBy[fired(&cfg, &rs[i])]++
			}
		}
	}
	for _, cat := range slices.Sorted(func(yield func(string) bool) {
		for k := range cats {
			if !yield(k) {
				return
			}
		}
	}) {
		r := cats[cat].At(c.Profiles[0], cfg.Threshold)
		t.Logf("%-22s raw %6.2f of %2d, windows %2d/%-2d, FP rows %3d", cat, r.Raw, r.Windows, r.Detected, r.Windows, r.FPRows)
	}
	for k, n := range fpBy {
		t.Logf("FP rows raised by %-24s %3d", k, n)
	}
}

// fired names the components of r at or above the threshold.
func fired(cfg *Config, r *Result) string {
	var s []string
	for c := range numComponents {
		if r.Fired(Component(c), cfg.Threshold) {
			s = append(s, Component(c).String())
		}
	}
	return strings.Join(s, "+")
}
