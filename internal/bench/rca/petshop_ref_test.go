package rca

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey/internal/rca"
)

func TestReaches(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	times := func(start time.Time, n int) []time.Time {
		out := make([]time.Time, n)
		for i := range out {
			out[i] = start.Add(time.Duration(i) * 5 * time.Minute)
		}
		return out
	}
	normal := times(t0, 200)
	end := normal[len(normal)-1]
	for _, tc := range []struct {
		name   string
		issue  []time.Time
		warmup int
		want   bool
	}{
		{"next step", times(end.Add(5*time.Minute), 5), 100, true},
		{"two steps missing", times(end.Add(15*time.Minute), 5), 100, true},
		{"an hour later", times(end.Add(time.Hour), 5), 100, false},
		{"months earlier", times(t0.AddDate(0, -4, 0), 5), 100, false},
		{"too short to be warm", times(end.Add(5*time.Minute), 5), 300, false},
	} {
		if got := reaches(normal, tc.issue, tc.warmup); got != tc.want {
			t.Errorf("%s: reaches = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestReplayPetShopReference builds a scenario whose normal period lies
// months after its issue (as PetShop's does): the front end calls a
// backend and a database; the backend's latency jumps after the onset and
// the front end's with it, while the database sat at an unusual level
// from the issue's first row on. The backend must rank first, the database
// must give no evidence (its level did not change at the onset), and the
// request counts, not the symptom's metric, must not count. Moved to end
// just before the issue, the normal period warms the streaming detector,
// which then judges the issue instead.
func TestReplayPetShopReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	cols := []Column{
		{"front", "latency", "Average"}, {"backend", "latency", "Average"}, {"db", "latency", "Average"},
		{"db", "requests", "Sum"},
	}
	level := []float64{0.5, 0.2, 0.01, 100}
	spread := []float64{0.02, 0.01, 0.001, 5}
	t0 := time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC)
	normal := &Table{Cols: cols}
	for i := range 400 {
		normal.Times = append(normal.Times, t0.Add(time.Duration(i)*5*time.Minute))
		row := make([]float64, len(cols))
		for j := range cols {
			row[j] = level[j] + spread[j]*rng.NormFloat64()
		}
		normal.Values = append(normal.Values, row)
	}
	i0 := time.Date(2026, 4, 1, 12, 0, 0, 0, time.UTC)
	issue := &Table{Cols: cols}
	for i := range 5 {
		issue.Times = append(issue.Times, i0.Add(time.Duration(i)*5*time.Minute))
		row := make([]float64, len(cols))
		for j := range cols {
			row[j] = level[j] + spread[j]*rng.NormFloat64()
		}
		row[2] = 0.05 + 0.001*rng.NormFloat64() // db: off from the first row on
		if i >= 2 {
			row[0] += 0.3  // front: the symptom
			row[1] += 0.3  // backend: the cause
			row[3] = 10000 // db requests: not the symptom's metric
		}
		issue.Values = append(issue.Values, row)
	}
	g := rca.NewGraph()
	g.AddCall("front", "backend", 1)
	g.AddCall("front", "db", 1)
	sc := &PetShopScenario{Name: "synthetic", Graph: g, Normal: normal, Issues: []PetShopIssue{{
		ID: "test/issue_0", Metrics: issue, RootCause: "backend", Target: "latency",
		Onset: i0.Add(7 * time.Minute),
	}}}
	res := ReplayPetShop(sc, []*Table{normal}, rca.DefaultConfig())
	if !res.Warm || len(res.Cases) != 1 {
		t.Fatalf("warm %v, %d cases", res.Warm, len(res.Cases))
	}
	rank := res.Cases[0].Ranking
	if len(rank) == 0 || rank[0] != "backend" {
		t.Fatalf("ranking %v, want backend first", rank)
	}
	if slices.Contains(rank, "db") {
		t.Fatalf("ranking %v: db's level was there before the onset", rank)
	}
	for _, c := range res.Causes[0] {
		if !strings.Contains(c.Explanation, "normal median") {
			t.Fatalf("not the reference comparison: %s", c.Explanation)
		}
	}
	// With every metric, the request count's jump makes db a candidate.
	all := replayPetShop(sc, []*Table{normal}, rca.DefaultConfig(), petshopOptions{allMetrics: true})
	if !slices.Contains(all.Cases[0].Ranking, "db") {
		t.Fatalf("all metrics: ranking %v, want db in it", all.Cases[0].Ranking)
	}
	// A normal period that runs up to the issue warms the streaming
	// detector, whose alarms are then the evidence.
	shift := i0.Sub(normal.Times[len(normal.Times)-1]) - 5*time.Minute
	for i := range normal.Times {
		normal.Times[i] = normal.Times[i].Add(shift)
	}
	res = ReplayPetShop(sc, []*Table{normal}, rca.DefaultConfig())
	if len(res.Causes[0]) == 0 {
		t.Fatal("streaming detector: no cause")
	}
	for _, c := range res.Causes[0] {
		if strings.Contains(c.Explanation, "normal median") {
			t.Fatalf("contiguous normal period: reference comparison used: %s", c.Explanation)
		}
	}
}
