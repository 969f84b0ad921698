package rca

import (
	"context"
	"slices"
	"testing"
)

// TestReplayServeFixture runs the serve path end to end on the fixture day
// and checks that two replays rank every fault the same way (anomaly and
// incident ids carry random bits; the rankings must not depend on them).
func TestReplayServeFixture(t *testing.T) {
	days, err := FindNezha("testdata/nezha")
	if err != nil {
		t.Fatal(err)
	}
	var runs [2]*DayResult
	for i := range runs {
		r, err := ReplayNezhaServe(context.Background(), &days[0], Options{})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Cases) != len(days[0].Faults) {
			t.Fatalf("%d cases for %d faults", len(r.Cases), len(days[0].Faults))
		}
		if r.LogLines == 0 || r.Spans == 0 || r.Samples == 0 {
			t.Fatalf("replayed %d samples, %d log lines, %d spans: want all three", r.Samples, r.LogLines, r.Spans)
		}
		runs[i] = r
		t.Logf("run %d: %d anomalies, cases %+v", i, r.Anomalies, r.Cases)
	}
	if runs[0].Anomalies != runs[1].Anomalies {
		t.Errorf("anomalies differ: %d, %d", runs[0].Anomalies, runs[1].Anomalies)
	}
	for i := range runs[0].Cases {
		a, b := runs[0].Cases[i], runs[1].Cases[i]
		if !slices.Equal(a.Ranking, b.Ranking) {
			t.Errorf("case %s: rankings differ: %v, %v", a.ID, a.Ranking, b.Ranking)
		}
	}
}
