package nab

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"
)

// ProbationaryRows is the number of leading rows of an n-row file that NAB
// does not score: min(⌊0.15·n⌋, 750).
func ProbationaryRows(n int) int {
	return min(int(math.Floor(0.15*float64(n))), 750)
}

// scaledSigmoid is NAB's σ: 2/(1+e^{5x}) − 1, clamped to −1 beyond x = 3.
// At exactly 3 it is not clamped (−0.9999994), as in NAB v1.1; the published
// scores depend on it.
func scaledSigmoid(x float64) float64 {
	if x > 3 {
		return -1
	}
	return 2/(1+math.Exp(5*x)) - 1
}

// point is one scored row: its detector score, the unweighted NAB value of a
// detection there, and the window it lies in (−1 outside every window).
type point struct {
	score  float64
	value  float64
	window int32
}

// Scoring holds every scored row of a set of files, ready to be scored at
// any threshold under any profile. Build it with Add, then call At or
// Optimal. It is not safe for concurrent Adds.
type Scoring struct {
	points   []point
	windows  int
	sorted   bool
	maxTPRaw float64
}

// NewScoring returns an empty Scoring.
func NewScoring() *Scoring {
	return &Scoring{maxTPRaw: scaledSigmoid(-1)}
}

// Windows returns the number of windows in the files added so far.
func (s *Scoring) Windows() int { return s.windows }

// Add adds one file: its row timestamps and detector scores in file order and
// its labelled windows. A window boundary that is not one of the timestamps
// is an error, as it is for NAB.
func (s *Scoring) Add(name string, times []time.Time, scores []float64, windows []Window) error {
	if len(times) != len(scores) {
		return fmt.Errorf("%s: %d timestamps but %d scores", name, len(times), len(scores))
	}
	firstIndex := func(t time.Time) int {
		return slices.IndexFunc(times, func(u time.Time) bool { return u.Equal(t) })
	}
	prob := ProbationaryRows(len(times))
	pending := windows
	inWindow := false
	var curEnd time.Time
	curID, curRight, curWidth := int32(-1), 0, 0.0
	prevRight, prevWidth := -1, 0.0
	for i, t := range times {
		if !inWindow && len(pending) > 0 && t.Equal(pending[0].Start) {
			w := pending[0]
			pending = pending[1:]
			curRight = firstIndex(w.End)
			if curRight < 0 {
				return fmt.Errorf("%s: window end %s is not a row", name, w.End)
			}
			curWidth = float64(curRight - firstIndex(w.Start) + 1)
			curEnd = w.End
			curID = int32(s.windows + len(windows) - len(pending) - 1)
			inWindow = true
		}
		var p point
		p.score = scores[i]
		if inWindow {
			p.window = curID
			p.value = scaledSigmoid(-float64(curRight-i+1)/curWidth) / s.maxTPRaw
		} else {
			p.window = -1
			// Before the first window a false positive costs the full
			// weight; after one, less the closer it follows.
			p.value = -1
			if prevRight >= 0 {
				p.value = scaledSigmoid(math.Abs(float64(prevRight-i)) / (prevWidth - 1))
			}
		}
		if i >= prob {
			s.points = append(s.points, p)
		}
		if inWindow && t.Equal(curEnd) {
			prevRight, prevWidth = i, curWidth
			inWindow = false
		}
	}
	if len(pending) > 0 {
		return fmt.Errorf("%s: window starting %s is not a row", name, pending[0].Start)
	}
	s.windows += len(windows)
	s.sorted = false
	return nil
}

// Result is the score of a set of files under one profile at one threshold.
type Result struct {
	Profile   string
	Threshold float64
	// Raw is the summed NAB score; Normalized maps null to 0 and perfect to
	// 100.
	Raw        float64
	Normalized float64
	// Detected counts windows with at least one detection out of Windows.
	Detected, Windows int
	// FPRows counts scored rows outside every window at or above the
	// threshold.
	FPRows int
}

// Normalize maps raw to NAB's 0 (null detector) .. 100 (perfect detector)
// scale for a set of files with the given number of windows.
func Normalize(p Profile, raw float64, windows int) float64 {
	null := -float64(windows) * p.FNWeight
	perfect := float64(windows) * p.TPWeight
	if perfect == null {
		return 0
	}
	return 100 * (raw - null) / (perfect - null)
}

// At scores the added files under p with every row whose score is at least
// threshold counted as a detection.
func (s *Scoring) At(p Profile, threshold float64) Result {
	best := make([]float64, s.windows)
	for i := range best {
		best[i] = math.Inf(-1)
	}
	r := Result{Profile: p.Name, Threshold: threshold, Windows: s.windows}
	fp := 0.0
	for _, pt := range s.points {
		if pt.score < threshold {
			continue
		}
		if pt.window < 0 {
			fp += pt.value * p.FPWeight
			r.FPRows++
		} else {
			best[pt.window] = max(best[pt.window], pt.value*p.TPWeight)
		}
	}
	r.Raw = fp
	for _, b := range best {
		if math.IsInf(b, -1) {
			r.Raw -= p.FNWeight
		} else {
			r.Raw += b
			r.Detected++
		}
	}
	r.Normalized = Normalize(p, r.Raw, s.windows)
	return r
}

// Optimal sweeps the threshold over every distinct score, from high to low,
// and returns the result with the highest raw score; among equal scores the
// highest threshold wins. Before the first distinct score the sweep considers
// detecting nothing (threshold 1.1, as NAB does).
func (s *Scoring) Optimal(p Profile) Result {
	if !s.sorted {
		slices.SortStableFunc(s.points, func(a, b point) int { return cmp.Compare(b.score, a.score) })
		s.sorted = true
	}
	best := make([]float64, s.windows)
	for i := range best {
		best[i] = math.Inf(-1)
	}
	fp, tp := 0.0, 0.0
	detected, fpRows := 0, 0
	raw := func() float64 { return fp + tp - float64(s.windows-detected)*p.FNWeight }
	top := Result{Threshold: 1.1, Raw: raw(), Windows: s.windows}
	found := false
	for i := 0; i < len(s.points); {
		th := s.points[i].score
		for ; i < len(s.points) && s.points[i].score == th; i++ {
			pt := s.points[i]
			if pt.window < 0 {
				fp += pt.value * p.FPWeight
				fpRows++
				continue
			}
			v := pt.value * p.TPWeight
			switch b := best[pt.window]; {
			case math.IsInf(b, -1):
				best[pt.window] = v
				tp += v
				detected++
			case v > b:
				best[pt.window] = v
				tp += v - b
			}
		}
		if r := raw(); r > top.Raw {
			top = Result{Threshold: th, Raw: r, Detected: detected, Windows: s.windows, FPRows: fpRows}
			found = true
		}
	}
	// Recompute the winner exactly, free of the running sums' rounding.
	if found {
		return s.At(p, top.Threshold)
	}
	top.Profile = p.Name
	top.Normalized = Normalize(p, top.Raw, s.windows)
	return top
}
