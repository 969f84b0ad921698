package nab

import (
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey/internal/testenv"
)

func TestScaledSigmoid(t *testing.T) {
	tests := []struct {
		x, want float64
	}{
		{-1, 0.9866142981514305},
		{-0.5, 0.8482836399575131},
		{0, 0},
		{1, -0.9866142981514305},
		{3, -0.9999993881955461},
		{3.0001, -1},
		{10, -1},
	}
	for _, tc := range tests {
		if got := scaledSigmoid(tc.x); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("scaledSigmoid(%v) = %v, want %v", tc.x, got, tc.want)
		}
	}
}

func TestProbationaryRows(t *testing.T) {
	for n, want := range map[int]int{0: 0, 100: 15, 4032: 604, 5000: 750, 22695: 750} {
		if got := ProbationaryRows(n); got != want {
			t.Errorf("ProbationaryRows(%d) = %d, want %d", n, got, want)
		}
	}
}

// TestSyntheticFile checks the window arithmetic on a hand-computed file:
// 100 rows, probation 15, one window rows 40..59.
func TestSyntheticFile(t *testing.T) {
	t0 := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	times := make([]time.Time, 100)
	for i := range times {
		times[i] = t0.Add(time.Duration(i) * time.Minute)
	}
	w := []Window{{Start: times[40], End: times[59]}}
	std := Profile{Name: "standard", TPWeight: 1, FPWeight: 0.11, FNWeight: 1}
	tests := []struct {
		name   string
		hits   []int
		want   float64
		detect int
	}{
		{"nothing", nil, -1, 0},
		{"probation only", []int{3}, -1, 0},
		{"first row of window", []int{40}, scaledSigmoid(-20.0/20) / scaledSigmoid(-1), 1},
		{"last row of window", []int{59}, scaledSigmoid(-1.0/20) / scaledSigmoid(-1), 1},
		{"earliest counts", []int{50, 41}, scaledSigmoid(-19.0/20) / scaledSigmoid(-1), 1},
		{"fp before window", []int{20}, -1 - 0.11, 0},
		{"fp after window", []int{69}, -1 + 0.11*scaledSigmoid(10.0/19), 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			scores := make([]float64, 100)
			for _, h := range tc.hits {
				scores[h] = 1
			}
			s := NewScoring()
			if err := s.Add("f", times, scores, w); err != nil {
				t.Fatal(err)
			}
			r := s.At(std, 0.5)
			if math.Abs(r.Raw-tc.want) > 1e-12 || r.Detected != tc.detect {
				t.Errorf("raw = %v detected %d, want %v detected %d", r.Raw, r.Detected, tc.want, tc.detect)
			}
		})
	}
}

// TestReproducesPublishedScores scores the shipped result files of three
// reference detectors and compares with EXPECTED_SCORES.md.
func TestReproducesPublishedScores(t *testing.T) {
	dir := testenv.SharedData(t, "nab")
	c, err := LoadCorpus(dir)
	if err != nil {
		t.Fatal(err)
	}
	thresholds, err := LoadThresholds(filepath.Join(dir, "config", "thresholds.json"))
	if err != nil {
		t.Fatal(err)
	}
	// From EXPECTED_SCORES.md: normalized score and windows detected, shipped
	// and optimal, per profile in ProfileNames order; optimal thresholds.
	type want struct {
		shipped, optimal float64
		optThreshold     float64
		shippedFP        int
	}
	expected := map[string][3]want{
		"ARTime": {
			{73.8326036168, 73.8682873252, 0.309287, 162},
			{63.7082326633, 64.1733650197, 0.382773, 161},
			{79.3030365576, 79.3268256965, 0.309287, 162},
		},
		"numenta": {
			{68.5629481829, 68.7140084695, 0.575335555563, 117},
			{62.7274574127, 62.7274574127, 0.575335555563, 95},
			{72.9444044796, 72.9444044796, 0.543099145074, 117},
		},
		"windowedGaussian": {
			{36.9832398239, 36.9832398239, 1.0, 329},
			{15.6881534207, 15.6881534207, 1.0, 329},
			{45.3872005330, 45.4593417130, 0.999999999999, 329},
		},
	}
	for det, wants := range expected {
		t.Run(det, func(t *testing.T) {
			s := NewScoring()
			for _, f := range c.Files {
				cat, file, _ := strings.Cut(f, "/")
				tab, err := ReadColumn(filepath.Join(dir, "results", det, cat, det+"_"+file+".gz"), "anomaly_score")
				if err != nil {
					t.Fatal(err)
				}
				if err := s.Add(f, tab.Times, tab.Values, c.Windows[f]); err != nil {
					t.Fatal(err)
				}
			}
			if s.Windows() != 82 || len(s.points) != 232898 {
				t.Fatalf("%d windows, %d scored rows; want 82 and 232898", s.Windows(), len(s.points))
			}
			for i, p := range c.Profiles {
				w := wants[i]
				got := s.At(p, thresholds[det][p.Name])
				if math.Abs(got.Normalized-w.shipped) > 1e-8 || got.FPRows != w.shippedFP {
					t.Errorf("%s shipped: %.10f (%d FP rows), want %.10f (%d)", p.Name, got.Normalized, got.FPRows, w.shipped, w.shippedFP)
				}
				opt := s.Optimal(p)
				if math.Abs(opt.Normalized-w.optimal) > 1e-8 || math.Abs(opt.Threshold-w.optThreshold) > 1e-6 {
					t.Errorf("%s optimal: %.10f at %v, want %.10f at %v", p.Name, opt.Normalized, opt.Threshold, w.optimal, w.optThreshold)
				}
			}
		})
	}
}
