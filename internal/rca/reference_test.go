package rca

import (
	"math"
	"math/rand/v2"
	"testing"
)

// noisy returns n values of a series around level with a spread of about
// sd, reproducibly.
func noisy(n int, level, sd float64) []float64 {
	rng := rand.New(rand.NewPCG(1, 2))
	out := make([]float64, n)
	for i := range out {
		out[i] = level + sd*rng.NormFloat64()
	}
	return out
}

func constant(n int, v float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func TestNewReferenceNeedsEnoughValues(t *testing.T) {
	vals := []float64{1, 2, 3, math.NaN(), 4, 5, 6, 7, 8, 9}
	if r := NewReference([][]float64{vals}, 4); r != nil {
		t.Fatalf("9 values: got a reference of %d", r.Len())
	}
	vals = append(vals, 10)
	r := NewReference([][]float64{vals}, 4)
	if r == nil || r.Len() != 10 || r.Median() != 5.5 {
		t.Fatalf("10 values: %+v", r)
	}
}

func TestCompare(t *testing.T) {
	lat := NewReference([][]float64{noisy(500, 0.2, 0.01)}, 8)
	avail := NewReference([][]float64{constant(500, 100)}, 8)
	nan := math.NaN()
	for _, tc := range []struct {
		name       string
		ref        *Reference
		base       float64
		post       []float64
		mode       CompareMode
		minS, maxS float64
		first      int
		above      bool
	}{
		{"normal samples", lat, 0.2, []float64{0.2, 0.19, 0.21, 0.2}, CompareBoth, 0, 1, -1, false},
		// 0.2 → 0.7 is 50 spreads off: far beyond the largest of 500
		// normal values, the exponential tail makes it far rarer than
		// 1/501.
		{"latency jump", lat, 0.2, []float64{0.2, 0.7, 0.65, 0.2}, CompareBoth, 20, math.Inf(1), 1, true},
		// Already off before the onset: unusual as a value, not as a
		// change from the incident's start.
		{"shift before onset, both", lat, 0.7, []float64{0.7, 0.71, 0.69, 0.7}, CompareBoth, 0, 1, -1, false},
		{"shift before onset, level", lat, 0.7, []float64{0.7, 0.71, 0.69, 0.7}, CompareLevel, 20, math.Inf(1), 0, true},
		// Off before the onset and falling back towards normal: still
		// unusual as a value (above) and as a change (a fall), but the
		// change is not on the value's side; as changes alone it is.
		{"falling back towards normal, both", lat, 1.2, []float64{0.7, 0.69, 0.7, 0.71}, CompareBoth, 0, 1, -1, false},
		{"falling back towards normal, change", lat, 1.2, []float64{0.7, 0.69, 0.7, 0.71}, CompareChange, 20, math.Inf(1), 0, true},
		// Off before the onset and rising further: both sides agree.
		{"rising further, both", lat, 0.7, []float64{1.2, 1.19, 1.2, 1.21}, CompareBoth, 20, math.Inf(1), 0, true},
		{"no base, both", lat, nan, []float64{0.7, 0.71}, CompareBoth, 0, 0, -1, false},
		{"no base, level", lat, nan, []float64{0.7, 0.71}, CompareLevel, 20, math.Inf(1), 0, true},
		// A constant reference bounds any other value's probability at
		// 1/501: one odd sample of four is not enough, two are.
		{"one drop of a constant", avail, 100, []float64{100, 97, 100, 100}, CompareBoth, 1, 3, -1, false},
		{"two drops of a constant", avail, 100, []float64{100, 97, 95, 100}, CompareBoth, 3.5, 5, 1, false},
		{"three drops of a constant", avail, 100, []float64{100, 97, 95, 99}, CompareBoth, 5.5, 8, 1, false},
		{"missing samples are skipped", lat, 0.2, []float64{nan, 0.7, nan}, CompareBoth, 10, math.Inf(1), 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.ref.Compare(tc.base, 1, tc.post, tc.mode)
			if c.Surprise < tc.minS || c.Surprise > tc.maxS {
				t.Fatalf("surprise %.2f, want in [%g, %g]", c.Surprise, tc.minS, tc.maxS)
			}
			if tc.first >= 0 && (c.First != tc.first || c.Above != tc.above) {
				t.Fatalf("first %d above %v, want %d %v", c.First, c.Above, tc.first, tc.above)
			}
		})
	}
}

// TestCompareMoreSamplesMoreSurprise: the order-statistic combination
// grows with the number of odd samples and does not depend on their order.
func TestCompareMoreSamplesMoreSurprise(t *testing.T) {
	r := NewReference([][]float64{noisy(300, 10, 1)}, 8)
	one := r.Compare(10, 1, []float64{10, 14.5, 10, 10}, CompareBoth)
	two := r.Compare(10, 1, []float64{10, 14.5, 14.5, 10}, CompareBoth)
	if !(two.Surprise > one.Surprise) {
		t.Fatalf("two odd samples %.2f, one %.2f", two.Surprise, one.Surprise)
	}
	// As values (changes depend on the lag from the base).
	two = r.Compare(10, 1, []float64{10, 14.5, 14.5, 10}, CompareLevel)
	swapped := r.Compare(10, 1, []float64{14.5, 10, 10, 14.5}, CompareLevel)
	if math.Abs(swapped.Surprise-two.Surprise) > 1e-9 || swapped.First != 0 {
		t.Fatalf("order changed the surprise: %.6f vs %.6f (first %d)", swapped.Surprise, two.Surprise, swapped.First)
	}
}

// TestCompareSegments: changes are taken within a segment, never across
// the gap between two.
func TestCompareSegments(t *testing.T) {
	a, b := constant(50, 1), constant(50, 5)
	var all []float64
	for range 3 {
		all = append(append(all, a...), b...)
	}
	joined := NewReference([][]float64{all}, 2)
	split := NewReference([][]float64{a, b, a, b, a, b}, 2)
	// A jump of +4 happened three times in the joined period, never
	// within a segment.
	cj := joined.Compare(1, 1, []float64{5}, CompareChange)
	cs := split.Compare(1, 1, []float64{5}, CompareChange)
	if !(cs.Surprise > cj.Surprise) {
		t.Fatalf("split %.2f, joined %.2f", cs.Surprise, cj.Surprise)
	}
}
