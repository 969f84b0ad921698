package rca

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey/internal/bench/rca/petshoptest"
)

// TestReplayPetShopServeFixture runs the serve path on the tiny fixture:
// the normal period, four months after the issue, is laid out before it
// and stored, the alert on front opens an incident, the history compares
// front's and its neighbours' series and the rerank puts the planted root
// cause, api, first; the same run twice ranks the same.
func TestReplayPetShopServeFixture(t *testing.T) {
	dir := t.TempDir()
	if err := petshoptest.Write(dir); err != nil {
		t.Fatal(err)
	}
	scs, err := FindPetShop(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(scs) != 1 || len(scs[0].Issues) != 1 || scs[0].Normal == nil {
		t.Fatalf("fixture: %d scenarios", len(scs))
	}
	var runs [2]*ScenarioResult
	for i := range runs {
		r, st, err := ReplayPetShopServe(context.Background(), &scs[0], PetShopNormals(scs), Options{})
		if err != nil {
			t.Fatal(err)
		}
		runs[i] = r
		if want := (petshoptest.NormalRows + petshoptest.IssueRows) * petshoptest.Components * petshoptest.Stats; st.Samples != want || st.Rejected != 0 {
			t.Errorf("stored %d samples (%d rejected), want %d and none", st.Samples, st.Rejected, want)
		}
		if st.Computations == 0 || st.Evidence == 0 || st.NoIncident != 0 {
			t.Errorf("stats %+v: want computations, evidence and an incident", st)
		}
		c := r.Cases[0]
		if c.Rank() != 1 {
			for _, cs := range r.Causes[0] {
				t.Logf("  %s", cs.Explanation)
			}
			t.Fatalf("ranking %v: want the planted api first", c.Ranking)
		}
		// The cause is explained by the comparison with the shifted
		// normal period, not by the alert.
		if e := r.Causes[0][0].Explanation; !strings.Contains(e, "above its normal median") {
			t.Errorf("explanation %q: want the comparison", e)
		}
		if !r.Warm || r.Borrowed {
			t.Errorf("warm %v borrowed %v: want the scenario's own normal period", r.Warm, r.Borrowed)
		}
	}
	if !slices.Equal(runs[0].Cases[0].Ranking, runs[1].Cases[0].Ranking) {
		t.Errorf("rankings differ: %v, %v", runs[0].Cases[0].Ranking, runs[1].Cases[0].Ranking)
	}

	// Without any normal period the alert alone opens the incident: the
	// ranking degrades to the alert's service.
	scs[0].Normal = nil
	r, st, err := ReplayPetShopServe(context.Background(), &scs[0], nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Warm || len(r.Cases[0].Ranking) == 0 || r.Cases[0].Ranking[0] != "front" || st.Evidence != 0 {
		t.Errorf("without a normal period: warm %v, ranking %v, stats %+v; want cold, front first, no evidence", r.Warm, r.Cases[0].Ranking, st)
	}
}

func TestPetshopAlertReceived(t *testing.T) {
	t0 := time.Date(2023, 4, 13, 1, 40, 0, 0, time.UTC)
	step := 5 * time.Minute
	times := []time.Time{t0, t0.Add(step), t0.Add(2 * step)}
	for _, c := range []struct{ onset, want time.Time }{
		{t0.Add(9 * time.Minute), t0.Add(10 * time.Minute)}, // in the second row: its end
		{t0, t0.Add(step)},                           // a row's start is in it
		{t0.Add(-time.Minute), t0.Add(-time.Minute)}, // before the rows: at once
		{t0.Add(20 * time.Minute), t0.Add(20 * time.Minute)},
	} {
		if got := petshopAlertReceived(times, step, c.onset); !got.Equal(c.want) {
			t.Errorf("onset %s: got %s, want %s", c.onset, got, c.want)
		}
	}
	if got := sanitizeMetricName("latency_p99.9-x"); got != "latency_p99_9_x" {
		t.Errorf("sanitize: %q", got)
	}
}
