package rca

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// writePetShopFixture writes a tiny scenario in PetShop's layout under
// dir/dataset/tiny: front calls api and static, api calls db; a normal
// period of 300 5-minute rows recorded months after the one issue, in
// which api's latency jumps tenfold from the second row on while front's,
// the symptom, rises by half (its alert names front's latency_Average).
func writePetShopFixture(t *testing.T, dir string) {
	t.Helper()
	sc := filepath.Join(dir, "dataset", "tiny")
	comps := []string{"front", "api", "db", "static"}
	base := map[string]float64{"front": 0.2, "api": 0.05, "db": 0.01, "static": 0.02}
	write := func(path, body string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// graph.csv: row → column = caller → callee.
	calls := map[[2]string]bool{{"front", "api"}: true, {"front", "static"}: true, {"api", "db"}: true}
	var g strings.Builder
	g.WriteString("," + strings.Join(comps, ",") + "\n")
	for _, a := range comps {
		g.WriteString(a)
		for _, b := range comps {
			w := "0.0"
			if calls[[2]string{a, b}] {
				w = "1.0"
			}
			g.WriteString("," + w)
		}
		g.WriteString("\n")
	}
	write(filepath.Join(sc, "graph.csv"), g.String())

	stats := []string{"Average", "p90"}
	table := func(start time.Time, rows int, value func(row int, comp string) float64) string {
		var b strings.Builder
		b.WriteString("microservice")
		for _, c := range comps {
			for range stats {
				b.WriteString("," + c)
			}
		}
		b.WriteString("\nmetric" + strings.Repeat(",latency", len(comps)*len(stats)) + "\nstatistic")
		for range comps {
			for _, s := range stats {
				b.WriteString("," + s)
			}
		}
		b.WriteString("\nunix_timestamp" + strings.Repeat(",", len(comps)*len(stats)) + "\n")
		for i := range rows {
			fmt.Fprintf(&b, "%d.0", start.Add(time.Duration(i)*5*time.Minute).Unix())
			for _, c := range comps {
				v := value(i, c)
				fmt.Fprintf(&b, ",%.6f,%.6f", v, 1.5*v)
			}
			b.WriteString("\n")
		}
		return b.String()
	}
	rng := rand.New(rand.NewPCG(1, 2))
	noisy := func(c string) float64 { return base[c] * (1 + 0.1*rng.NormFloat64()) }
	normalStart := time.Date(2023, 8, 1, 0, 0, 0, 0, time.UTC)
	write(filepath.Join(sc, "noissue", "metrics.csv"), table(normalStart, 300, func(_ int, c string) float64 { return noisy(c) }))
	issueStart := time.Date(2023, 4, 13, 1, 40, 0, 0, time.UTC)
	write(filepath.Join(sc, "train", "issue_0", "metrics.csv"), table(issueStart, 5, func(i int, c string) float64 {
		v := noisy(c)
		switch {
		case i >= 1 && c == "api":
			v *= 10
		case i >= 1 && c == "front":
			v *= 1.5
		}
		return v
	}))
	target := fmt.Sprintf(`{"target": {"node": "front", "metric": "latency", "agg": "Average", "timestamp": %d}, "root_cause": {"node": "api", "metric": null}}`,
		issueStart.Add(5*time.Minute+200*time.Second).Unix())
	write(filepath.Join(sc, "train", "issue_0", "target.json"), target)
}

// TestReplayPetShopServeFixture runs the serve path on the tiny fixture:
// the normal period, four months after the issue, is laid out before it
// and stored, the alert on front opens an incident, the history compares
// front's and its neighbours' series and the rerank puts the planted root
// cause, api, first; the same run twice ranks the same.
func TestReplayPetShopServeFixture(t *testing.T) {
	dir := t.TempDir()
	writePetShopFixture(t, dir)
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
		if want := (300 + 5) * 4 * 2; st.Samples != want || st.Rejected != 0 {
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
