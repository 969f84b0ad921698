package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	benchrca "github.com/osprey-aiops/osprey/internal/bench/rca"
	"github.com/osprey-aiops/osprey/internal/config"
	"github.com/osprey-aiops/osprey/internal/progress"
	"github.com/osprey-aiops/osprey/internal/rca"
)

// newBenchRCACmd scores root-cause ranking on a fault-injection corpus.
func newBenchRCACmd(stdout, stderr io.Writer) *cobra.Command {
	var (
		dataset, dir, out, path, cfgPath string
		explain                          int
	)
	cmd := &cobra.Command{
		Use:   "rca --dataset nezha|petshop --data DIR [--path serve|harness] [--config FILE] [--out PRED.json]",
		Short: "Score root-cause ranking on Nezha or PetShop (AC@1, AC@3, AC@5, Avg@5)",
		Long: `Replays an unpacked fault-injection corpus through the production stages in
virtual time and ranks the services for every injected fault with internal/rca.

nezha: DIR holds one or more systems and days in Nezha's layout
(rca_data/<day>/{metric,log,trace}, rca_data/<day>/<day>-fault_list.json,
construct_data/<day>). Metrics go point by point into the streaming metric
detector, logs through the template miner, traces into the call graph; the
evidence in a window around each inject_time is ranked.

petshop: DIR is the unpacked PetShop dataset (dataset/<scenario>/...). The
series of each issue's symptom metric are compared with every normal period of
the corpus (rca.Reference: the normal periods do not reach the issues, so the
streaming detector would not be warm for them); without any normal period,
with the issue's first row.

--path says how a fault's ranking is computed. serve (the default) replays
the data through the production stages as serve wires them on a virtual
clock and scores the causes of the incident serve opened, the incident with
the most members whose onset lies in the fault's window (docs/rca.md, "The
serve path"): what osprey serve would have shown. harness ranks the
evidence the bench builds for the fault's window instead (flow profiles
learnt outside the faults' windows, request shares) and prints the noise
lines of the derived alert streams. For nezha the serve path replays the
day through the metric, log and trace detectors, the call graph and the
correlator with the incident ranker; for petshop each
issue in a fresh metric store (its normal period shifted to end just before
the issue), graph.csv as declared calls, the symptom as one alert to the
correlator, and the ranker's comparison with the normal period (rca.history)
(docs/rca.md, "Session 9: PetShop through serve"). The serve path wires its
stages from config.Default(), or from --config FILE (an osprey serve
configuration: its detect, logs, correlate and rca sections apply), so a
configuration can be replayed before it is deployed.

A DIR without an unpacked corpus but with corpus archives (*.tar.xz, *.tar.gz,
...) is unpacked into a temporary folder first (needs tar).

PRED.json is a JSON list of {"case": "<inject timestamp or issue>", "ranking":
[service, ...]}. The last line printed is "AC@1=.. AC@3=.. AC@5=.. Avg@5=..".`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				return usageError{fmt.Errorf("--data is required")}
			}
			if path != benchrca.PathHarness && path != benchrca.PathServe {
				return usageError{fmt.Errorf("--path must be %s or %s, not %q", benchrca.PathHarness, benchrca.PathServe, path)}
			}
			var cfg *config.Config
			if cfgPath != "" {
				if path != benchrca.PathServe {
					return usageError{fmt.Errorf("--config applies to --path %s only (the harness path ranks the bench's own evidence)", benchrca.PathServe)}
				}
				c, err := config.Load(cfgPath)
				if err != nil {
					return err
				}
				cfg = &c
			}
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			dir, cleanup, err := benchRCAData(ctx, stderr, dataset, dir)
			if err != nil {
				return err
			}
			defer cleanup()
			var cases []benchrca.Case
			switch dataset {
			case "nezha":
				cases, err = runBenchNezha(ctx, stdout, stderr, dir, path, cfg, explain)
			case "petshop":
				cases, err = runBenchPetShop(ctx, stdout, stderr, dir, path, cfg, explain)
			default:
				return usageError{fmt.Errorf("--dataset must be nezha or petshop, not %q", dataset)}
			}
			if err != nil {
				return err
			}
			if out != "" {
				if err := writePredictions(out, cases); err != nil {
					return err
				}
			}
			s := benchrca.Score(cases)
			_, err = fmt.Fprintf(stdout, "AC@1=%.4f AC@3=%.4f AC@5=%.4f Avg@5=%.4f\n", s.AC[0], s.AC[2], s.AC[4], s.Avg5)
			return err
		},
	}
	cmd.Flags().StringVar(&dataset, "dataset", "nezha", "corpus layout: nezha or petshop")
	cmd.Flags().StringVar(&dir, "data", "", "unpacked corpus folder")
	cmd.Flags().StringVar(&out, "out", "", "write the rankings to this JSON file")
	cmd.Flags().StringVar(&path, "path", benchrca.PathServe, "how faults are ranked: serve (the production stages' incidents) or harness (the bench's evidence)")
	cmd.Flags().StringVar(&cfgPath, "config", "", "with --path serve: wire the stages from this osprey serve configuration file instead of the defaults")
	cmd.Flags().IntVar(&explain, "explain", 0, "print the explanations of the first N candidates of every case")
	return cmd
}

// benchRCAData returns the unpacked corpus folder for dir: dir itself when
// it holds an unpacked corpus, else a temporary folder with the archives of
// dir unpacked (the shared data folders ship tarballs), removed by cleanup.
func benchRCAData(ctx context.Context, stderr io.Writer, dataset, dir string) (string, func(), error) {
	var err error
	switch dataset {
	case "nezha":
		_, err = benchrca.FindNezha(dir)
	case "petshop":
		_, err = benchrca.FindPetShop(dir)
	default:
		return dir, func() {}, nil // the caller rejects the dataset
	}
	if err == nil || len(benchrca.Archives(dir)) == 0 {
		return dir, func() {}, nil
	}
	fmt.Fprintf(stderr, "unpacking %s into a temporary folder\n", strings.Join(benchrca.Archives(dir), ", "))
	return benchrca.Unpack(ctx, dir)
}

func writePredictions(path string, cases []benchrca.Case) error {
	if cases == nil {
		cases = []benchrca.Case{}
	}
	for i := range cases {
		if cases[i].Ranking == nil {
			cases[i].Ranking = []string{}
		}
	}
	b, err := json.MarshalIndent(cases, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write predictions: %w", err)
	}
	return nil
}

func runBenchNezha(ctx context.Context, stdout, stderr io.Writer, dir, path string, cfg *config.Config, explain int) ([]benchrca.Case, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	days, err := benchrca.FindNezha(dir)
	if err != nil {
		return nil, err
	}
	files := 0
	for i := range days {
		files += days[i].Files()
	}
	bar := progress.New(stderr, "nezha", int64(files))
	var cases []benchrca.Case
	var notes []string
	var noise [][]benchrca.NoiseRun
	var serve []benchrca.ServeCase
	for i := range days {
		d := &days[i]
		bar.SetLabel("nezha " + d.Day)
		replay := benchrca.ReplayNezha
		if path == benchrca.PathServe {
			replay = benchrca.ReplayNezhaServe
		}
		r, err := replay(ctx, d, benchrca.Options{Config: cfg, Progress: func(n int) { bar.Add(int64(n)) }})
		if err != nil {
			return nil, fmt.Errorf("replay %s %s: %w", d.System, d.Day, err)
		}
		cases = append(cases, r.Cases...)
		noise = append(noise, r.Noise)
		serve = append(serve, r.Serve...)
		name := d.Day
		if d.System != "." {
			name = d.System + " " + d.Day
		}
		note := fmt.Sprintf("%s: %d faults, %d metric samples, %d anomalies, %d log lines, %d spans",
			name, len(r.Cases), r.Samples, r.Anomalies, r.LogLines, r.Spans)
		if len(r.Missing) > 0 {
			note += fmt.Sprintf(" (missing: %v)", r.Missing)
		}
		notes = append(notes, note)
		if explain > 0 {
			for j, c := range r.Cases {
				fmt.Fprintf(stdout, "case %s %s truth=%s rank=%d\n", c.ID, c.Type, c.Truth, c.Rank())
				for k, cs := range r.Causes[j] {
					if k >= explain {
						break
					}
					fmt.Fprintf(stdout, "  %d. %s\n", k+1, cs.Explanation)
				}
			}
		}
	}
	bar.Finish()
	for _, n := range notes {
		fmt.Fprintln(stdout, n)
	}
	for _, n := range benchrca.SumNoiseRuns(noise) {
		printBenchNoise(stdout, "noise ("+n.Name+")", n.Stats)
	}
	if path == benchrca.PathServe {
		// The harness's default output is unchanged; the serve path says
		// which ranking its figures are of.
		fmt.Fprintln(stdout, "path: serve (causes of the incident the production stages opened for each fault, final snapshot)")
		early := make([]benchrca.Case, len(cases))
		for i, c := range cases {
			sc := serve[i]
			early[i] = c
			early[i].Ranking = sc.AtWindowEnd
			if r := c.Rank(); r != 1 {
				fmt.Fprintf(stdout, "serve miss: %s %s %-14s truth=%s rank=%d at-window-end=%d best-incident=%d members-in-window=%d/%d truth-anomalies=%v top=%v\n",
					c.Group, c.ID, c.Type, c.Truth, r, early[i].Rank(), sc.BestRank, sc.Members, sc.Total, sc.TruthKinds, head(c.Ranking, 3))
			}
		}
		s := benchrca.Score(early)
		fmt.Fprintf(stdout, "serve, ranking at inject+%s: AC@1=%.4f AC@3=%.4f AC@5=%.4f Avg@5=%.4f\n", benchrca.WindowAfter, s.AC[0], s.AC[2], s.AC[4], s.Avg5)
	}
	return cases, printScoreTable(stdout, cases, "fault type")
}

// head returns the first n elements of s (all of them if fewer).
func head(s []string, n int) []string { return s[:min(n, len(s))] }

// printBenchNoise prints one line of correlator noise reduction figures.
func printBenchNoise(w io.Writer, what string, s benchrca.NoiseStats) {
	fmt.Fprintf(w, "%s: alerts=%d incidents=%d reduction=%.1f%% purity=%.3f faults=%d background=%d\n",
		what, s.Alerts, s.Incidents, 100*s.Reduction, s.Purity, s.Faults, s.Background)
}

func printScoreTable(stdout io.Writer, cases []benchrca.Case, by string) error {
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%s\tfaults\tAC@1\tAC@3\tAC@5\tAvg@5\t\n", by)
	keys, per := benchrca.ScoreBy(cases, func(c *benchrca.Case) string { return c.Type })
	for _, k := range keys {
		s := per[k]
		fmt.Fprintf(tw, "%s\t%d\t%.4f\t%.4f\t%.4f\t%.4f\t\n", k, s.N, s.AC[0], s.AC[2], s.AC[4], s.Avg5)
	}
	s := benchrca.Score(cases)
	fmt.Fprintf(tw, "pooled\t%d\t%.4f\t%.4f\t%.4f\t%.4f\t\n", s.N, s.AC[0], s.AC[2], s.AC[4], s.Avg5)
	return tw.Flush()
}

// petshopBaseline is the repository notebook's anomaly-traversal baseline
// (top-1, top-3) as quoted in the data README, by scenario and target.
var petshopBaseline = map[string][2]float64{
	"low_traffic latency":      {0.571, 0.571},
	"low_traffic availability": {0.833, 1.000},
	"high_traffic latency":     {0.571, 0.786},
}

func runBenchPetShop(ctx context.Context, stdout, stderr io.Writer, dir, path string, cfg *config.Config, explain int) ([]benchrca.Case, error) {
	scs, err := benchrca.FindPetShop(dir)
	if err != nil {
		return nil, err
	}
	total := 0
	for i := range scs {
		total += len(scs[i].Issues)
	}
	bar := progress.New(stderr, "petshop", int64(total))
	var cases []benchrca.Case
	var cold, borrowed []string
	normals := benchrca.PetShopNormals(scs)
	var serve benchrca.PetShopServeStats
	for i := range scs {
		sc := &scs[i]
		var r *benchrca.ScenarioResult
		if path == benchrca.PathServe {
			var st benchrca.PetShopServeStats
			r, st, err = benchrca.ReplayPetShopServe(ctx, sc, normals, benchrca.Options{Config: cfg, Progress: func(n int) { bar.Add(int64(n)) }})
			if err != nil {
				return nil, err
			}
			serve.Add(st)
		} else {
			r = benchrca.ReplayPetShop(sc, normals, rca.DefaultConfig())
			bar.Add(int64(len(sc.Issues)))
		}
		switch {
		case !r.Warm:
			cold = append(cold, sc.Name)
		case r.Borrowed:
			borrowed = append(borrowed, sc.Name)
		}
		cases = append(cases, r.Cases...)
		for j, c := range r.Cases {
			if explain <= 0 {
				break
			}
			fmt.Fprintf(stdout, "case %s truth=%s rank=%d\n", c.ID, c.Truth, c.Rank())
			for k, cs := range r.Causes[j] {
				if k >= explain {
					break
				}
				fmt.Fprintf(stdout, "  %d. %s\n", k+1, cs.Explanation)
			}
		}
	}
	bar.Finish()
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario target\ttest issues\ttop-1\ttop-3\tbaseline top-1\tbaseline top-3\tall issues\ttop-1\ttop-3\t")
	var test []benchrca.Case
	for _, c := range cases {
		if strings.Contains(c.ID, "/test/") {
			test = append(test, c)
		}
	}
	typ := func(c *benchrca.Case) string { return c.Type }
	keys, all := benchrca.ScoreBy(cases, typ)
	_, per := benchrca.ScoreBy(test, typ)
	for _, k := range keys {
		s, a := per[k], all[k]
		b1, b3 := "-", "-"
		if b, ok := petshopBaseline[k]; ok {
			b1, b3 = fmt.Sprintf("%.3f", b[0]), fmt.Sprintf("%.3f", b[1])
		}
		fmt.Fprintf(tw, "%s\t%d\t%.3f\t%.3f\t%s\t%s\t%d\t%.3f\t%.3f\t\n", k, s.N, s.AC[0], s.AC[2], b1, b3, a.N, a.AC[0], a.AC[2])
	}
	if err := tw.Flush(); err != nil {
		return nil, err
	}
	if len(borrowed) > 0 {
		fmt.Fprintf(stdout, "no normal period of its own (compared with the other scenarios'): %s\n", strings.Join(borrowed, ", "))
	}
	if len(cold) > 0 {
		what := "degraded to change against each issue's first row"
		if path == benchrca.PathServe {
			what = "ranked on the alert alone"
		}
		fmt.Fprintf(stdout, "no normal period (%s): %s\n", what, strings.Join(cold, ", "))
	}
	if path == benchrca.PathServe {
		fmt.Fprintf(stdout, "path: serve (causes of the incident the symptom's alert opened, final snapshot): %d samples stored (%d rejected), %d comparisons computed, %d evidence, %d issues without an incident\n",
			serve.Samples, serve.Rejected, serve.Computations, serve.Evidence, serve.NoIncident)
	}
	return cases, printScoreTable(stdout, cases, "target")
}
