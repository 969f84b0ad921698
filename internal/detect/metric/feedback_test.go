package metric

import (
	"context"
	"math"
	"testing"

	"github.com/osprey-aiops/osprey"
)

// feedbackLabels label the series of the feedback tests.
var feedbackLabels = osprey.Labels{osprey.LabelMetric: "latency", "host": "a"}

// feedbackSignal is noise around 50 (σ = 1) with a spike to 62 at samples
// 1500 and 4500 (identical) and a larger one to 80 at 7500.
func feedbackSignal() []float64 {
	return signal(9000, 5, func(i int, e float64) float64 {
		switch i {
		case 1500, 4500:
			return 62
		case 7500:
			return 80
		}
		return 50 + e
	})
}

// feed hands values[from:to] to eng in batches of 100 and returns the
// anomalies opened, by start sample.
func feed(t *testing.T, eng *Engine, out *collector, values []float64, from, to int) map[int]osprey.Anomaly {
	t.Helper()
	out.got = nil
	for start := from; start < to; start += 100 {
		s := osprey.Series{Labels: feedbackLabels}
		for i := start; i < min(start+100, to); i++ {
			s.Samples = append(s.Samples, osprey.Sample{TimestampMs: int64(i) * step, Value: values[i]})
		}
		if err := eng.ConsumeSeries(context.Background(), []osprey.Series{s}); err != nil {
			t.Fatal(err)
		}
	}
	opened := map[int]osprey.Anomaly{}
	for _, a := range out.got {
		if a.Active() {
			opened[int(a.StartsAt.UnixMilli()/step)] = a
		}
	}
	return opened
}

func newFeedbackEngine(t *testing.T) (*Engine, *collector) {
	t.Helper()
	out := &collector{}
	eng, err := NewEngine(DefaultConfig(), out, 0)
	if err != nil {
		t.Fatal(err)
	}
	return eng, out
}

// TestFeedbackFalsePositive checks that a false-positive verdict on a spike
// suppresses an identical spike later in the same series, which fires
// without the verdict, while a larger spike still fires.
func TestFeedbackFalsePositive(t *testing.T) {
	values := feedbackSignal()
	cfg := DefaultConfig()
	for _, tc := range []struct {
		name        string
		verdict     osprey.Feedback
		wantRepeat  bool
		wantLarger  bool
		wantRaised  bool
		wantApplied bool
	}{
		{name: "no verdict", wantRepeat: true, wantLarger: true},
		{name: "true positive", verdict: osprey.FeedbackTruePositive, wantRepeat: true, wantLarger: true, wantApplied: true},
		{name: "false positive", verdict: osprey.FeedbackFalsePositive, wantRepeat: false, wantLarger: true, wantRaised: true, wantApplied: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			eng, out := newFeedbackEngine(t)
			first, ok := feed(t, eng, out, values, 0, 3000)[1500]
			if !ok {
				t.Fatalf("the first spike did not fire: %+v", out.got)
			}
			if first.Score >= 1 || first.Score < cfg.Threshold {
				t.Fatalf("first spike scored %.3f; the test needs a score between the threshold and 1", first.Score)
			}
			if tc.verdict != "" {
				if got := eng.Feedback(first, tc.verdict); got != tc.wantApplied {
					t.Errorf("Feedback = %v, want %v", got, tc.wantApplied)
				}
			}
			thr, _ := eng.Threshold(feedbackLabels)
			if raised := thr > cfg.Threshold; raised != tc.wantRaised {
				t.Errorf("threshold %.4f after the verdict; raised = %v, want %v", thr, raised, tc.wantRaised)
			}
			if tc.wantRaised && thr <= first.Score {
				t.Errorf("threshold %.4f is not above the marked anomaly's score %.4f", thr, first.Score)
			}
			opened := feed(t, eng, out, values, 3000, len(values))
			if a, ok := opened[4500]; ok != tc.wantRepeat {
				t.Errorf("identical spike fired = %v (score %.3f), want %v", ok, a.Score, tc.wantRepeat)
			}
			if a, ok := opened[7500]; ok != tc.wantLarger {
				t.Errorf("larger spike fired = %v (score %.3f), want %v", ok, a.Score, tc.wantLarger)
			}
			t.Logf("first spike %.3f, threshold after %.3f, repeat %.3f, larger %.3f",
				first.Score, thr, opened[4500].Score, opened[7500].Score)
		})
	}
}

// TestFeedbackBounds checks the cap on repeated false positives, the way
// true positives relax the threshold back, and what is ignored.
func TestFeedbackBounds(t *testing.T) {
	cfg := DefaultConfig()
	var tr Tracker
	marked := cfg.Threshold
	for range 50 {
		tr.Feedback(&cfg, marked, osprey.FeedbackFalsePositive)
	}
	capped := cfg.Threshold + 0.5*math.Log2(cfg.FeedbackMax)/cfg.ScoreOctaves
	if got := tr.Threshold(&cfg); math.Abs(got-capped) > 1e-6 {
		t.Fatalf("threshold after 50 false positives = %.6f, want the cap %.6f", got, capped)
	}
	tr.Feedback(&cfg, 1, osprey.FeedbackFalsePositive) // a clamped score: still the cap
	if got := tr.Threshold(&cfg); math.Abs(got-capped) > 1e-6 {
		t.Errorf("threshold after a score-1 false positive = %.6f, want the cap %.6f", got, capped)
	}
	tr.Feedback(&cfg, 0, "maybe")
	if got := tr.Threshold(&cfg); math.Abs(got-capped) > 1e-6 {
		t.Errorf("unknown verdict changed the threshold to %.6f", got)
	}
	tr.Feedback(&cfg, 0, osprey.FeedbackTruePositive)
	half := cfg.Threshold + 0.25*math.Log2(cfg.FeedbackMax)/cfg.ScoreOctaves
	if got := tr.Threshold(&cfg); math.Abs(got-half) > 1e-6 {
		t.Errorf("threshold after one true positive = %.6f, want %.6f (half the rise)", got, half)
	}
	for range 20 {
		tr.Feedback(&cfg, 0, osprey.FeedbackTruePositive)
	}
	if got := tr.Threshold(&cfg); got != cfg.Threshold {
		t.Errorf("threshold after many true positives = %.6f, want %.6f", got, cfg.Threshold)
	}

	// One false positive on an anomaly that just reached the threshold
	// asks FeedbackStep times its surprise.
	var one Tracker
	one.Feedback(&cfg, cfg.Threshold, osprey.FeedbackFalsePositive)
	want := cfg.Threshold + 0.5*math.Log2(cfg.FeedbackStep)/cfg.ScoreOctaves
	if got := one.Threshold(&cfg); math.Abs(got-want) > 1e-6 {
		t.Errorf("threshold after one false positive = %.6f, want %.6f", got, want)
	}

	off := cfg
	off.FeedbackMax = 1
	var none Tracker
	none.Feedback(&off, 0.9, osprey.FeedbackFalsePositive)
	if got := none.Threshold(&off); got != off.Threshold {
		t.Errorf("FeedbackMax 1 still raised the threshold to %.6f", got)
	}
}

func TestEngineFeedbackIgnored(t *testing.T) {
	eng, _ := newFeedbackEngine(t)
	if err := eng.ConsumeSeries(context.Background(), []osprey.Series{{Labels: feedbackLabels,
		Samples: []osprey.Sample{{TimestampMs: 1, Value: 1}}}}); err != nil {
		t.Fatal(err)
	}
	a := osprey.Anomaly{Kind: osprey.AnomalyMetric, Labels: feedbackLabels, Score: 0.7}
	for name, tc := range map[string]struct {
		a osprey.Anomaly
		f osprey.Feedback
	}{
		"log anomaly":     {a: osprey.Anomaly{Kind: osprey.AnomalyLog, Labels: feedbackLabels, Score: 0.7}, f: osprey.FeedbackFalsePositive},
		"unknown series":  {a: osprey.Anomaly{Kind: osprey.AnomalyMetric, Labels: osprey.Labels{"host": "b"}, Score: 0.7}, f: osprey.FeedbackFalsePositive},
		"unknown verdict": {a: a, f: "unsure"},
	} {
		if eng.Feedback(tc.a, tc.f) {
			t.Errorf("%s: Feedback applied", name)
		}
	}
	if thr, ok := eng.Threshold(feedbackLabels); !ok || thr != DefaultConfig().Threshold {
		t.Errorf("threshold = %v, %v; want the default", thr, ok)
	}
	if !eng.Feedback(a, osprey.FeedbackFalsePositive) {
		t.Error("Feedback on the modelled series not applied")
	}
}
