// Package petshoptest writes a tiny scenario in the PetShop dataset's
// layout for the tests of the bench and of its command.
package petshoptest

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Scenario, Issue, RootCause and Symptom name what Write lays out: the
// case is Scenario+"/train/"+Issue, its planted root cause RootCause and
// the alert's component Symptom.
const (
	Scenario  = "tiny"
	Issue     = "issue_0"
	RootCause = "api"
	Symptom   = "front"
)

// NormalRows and IssueRows are how many 5-minute rows the normal period
// and the issue hold; every row has Components × Stats values.
const (
	NormalRows = 300
	IssueRows  = 5
	Components = 4
	Stats      = 2
)

// Write lays out, under dir/dataset/tiny, a scenario in which front
// calls api and static and api calls db; a normal period of NormalRows
// 5-minute rows recorded months after the one issue, in which api's
// latency jumps tenfold from the second row on while front's, the
// symptom, rises by half (its target names front's latency_Average).
// The values wobble by a seeded 10 % noise, so every call writes the
// same files.
func Write(dir string) error {
	sc := filepath.Join(dir, "dataset", Scenario)
	comps := []string{"front", "api", "db", "static"}
	base := map[string]float64{"front": 0.2, "api": 0.05, "db": 0.01, "static": 0.02}
	files := map[string]string{}

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
	files["graph.csv"] = g.String()

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
	files["noissue/metrics.csv"] = table(normalStart, NormalRows, func(_ int, c string) float64 { return noisy(c) })
	issueStart := time.Date(2023, 4, 13, 1, 40, 0, 0, time.UTC)
	files["train/"+Issue+"/metrics.csv"] = table(issueStart, IssueRows, func(i int, c string) float64 {
		v := noisy(c)
		switch {
		case i >= 1 && c == RootCause:
			v *= 10
		case i >= 1 && c == Symptom:
			v *= 1.5
		}
		return v
	})
	files["train/"+Issue+"/target.json"] = fmt.Sprintf(
		`{"target": {"node": %q, "metric": "latency", "agg": "Average", "timestamp": %d}, "root_cause": {"node": %q, "metric": null}}`,
		Symptom, issueStart.Add(5*time.Minute+200*time.Second).Unix(), RootCause)

	// Written in a fixed order, so a failure names the same file each time.
	for _, name := range []string{"graph.csv", "noissue/metrics.csv", "train/" + Issue + "/metrics.csv", "train/" + Issue + "/target.json"} {
		path := filepath.Join(sc, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("petshop fixture: %w", err)
		}
		if err := os.WriteFile(path, []byte(files[name]), 0o644); err != nil {
			return fmt.Errorf("petshop fixture: %w", err)
		}
	}
	return nil
}
