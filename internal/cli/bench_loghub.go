package cli

import (
	"fmt"
	"io"
	"runtime"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/osprey-aiops/osprey/internal/bench/loghub"
	"github.com/osprey-aiops/osprey/internal/logmine"
	"github.com/osprey-aiops/osprey/internal/progress"
)

// newBenchLoghubCmd scores the log template miner on a Loghub-2k folder.
func newBenchLoghubCmd(stdout, stderr io.Writer) *cobra.Command {
	var (
		dir        string
		original   bool
		throughput int
		detect     bool
	)
	cmd := &cobra.Command{
		Use:   "loghub --data DIR",
		Short: "Score log header parsing and template mining on Loghub-2k (GA, FGA, PA, FTA)",
		Long: `Runs the header parser (with each system's format from DIR/formats.json) and the
template miner (one configuration for every system) over each <Sys>/<Sys>_2k.log of
DIR, and scores the templates against the corrected ground truth
(<Sys>_2k.log_structured_corrected.csv, or the original one with --original) with
the Loghub-2.0 measures: grouping accuracy GA, its F1 FGA, parsing accuracy PA and
template-level F1 FTA. Then it measures throughput on one goroutine by running the
concatenated corpus repeatedly. With --detect-headers the formats are not used:
headers are found by the built-in layout detection, as osprey serve does when no
format is configured. The last line is "GA=.. FGA=.. PA=.. FTA=..".`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				return usageError{fmt.Errorf("--data is required")}
			}
			systems, err := loghub.Load(dir, original)
			if err != nil {
				return err
			}
			if detect {
				for i := range systems {
					systems[i].Format = nil
				}
			}
			return runBenchLoghub(stdout, stderr, systems, original, throughput)
		},
	}
	cmd.Flags().StringVar(&dir, "data", "", "Loghub-2k folder (with formats.json)")
	cmd.Flags().BoolVar(&original, "original", false, "score against the original ground truth instead of the corrected one")
	cmd.Flags().BoolVar(&detect, "detect-headers", false, "find headers with the built-in layout detection instead of DIR/formats.json")
	cmd.Flags().IntVar(&throughput, "throughput-lines", loghub.ThroughputLines, "lines to mine for the throughput figure (0 skips it)")
	return cmd
}

func runBenchLoghub(stdout, stderr io.Writer, systems []loghub.System, original bool, throughputLines int) error {
	total := 0
	for _, s := range systems {
		total += len(s.Lines)
	}
	bar := progress.New(stderr, "loghub", int64(total))
	var cfg logmine.Config // the one configuration for every system
	var all []loghub.Scores
	var results []loghub.Result
	for _, s := range systems {
		bar.SetLabel("loghub " + s.Name)
		r := loghub.Run(s, cfg, func(n int) { bar.Add(int64(n)) })
		results = append(results, r)
		all = append(all, r.Scores)
	}
	bar.Finish()

	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "system\tlines\ttemplates\ttruth\tGA\tFGA\tPA\tFTA\tunparsed\t")
	for _, r := range results {
		s := r.Scores
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.3f\t%.3f\t%.3f\t%.3f\t%d\t\n",
			r.System, s.Lines, s.Predicted, s.Truth, s.GA, s.FGA, s.PA, s.FTA, r.Unmatched)
	}
	m := loghub.Mean(all)
	fmt.Fprintf(tw, "average\t%d\t%d\t%d\t%.3f\t%.3f\t%.3f\t%.3f\t\t\n", m.Lines, m.Predicted, m.Truth, m.GA, m.FGA, m.PA, m.FTA)
	if err := tw.Flush(); err != nil {
		return err
	}
	truth := "corrected (<Sys>_2k.log_structured_corrected.csv)"
	if original {
		truth = "original (<Sys>_2k.log_structured.csv)"
	}
	fmt.Fprintf(stdout, "ground truth: %s; averages are unweighted means over %d systems\n", truth, len(systems))

	if throughputLines > 0 {
		bar := progress.New(stderr, "throughput", int64(throughputLines))
		runtime.GC() // start from a clean heap, so the run pays only for its own garbage
		tp := loghub.MeasureThroughput(systems, cfg, throughputLines, func(n int) { bar.Add(int64(n)) })
		bar.Finish()
		fmt.Fprintf(stdout, "throughput: %d lines in %s = %.0f lines/s on one goroutine (header parsing + masking + mining), %.4f allocs/line\n",
			tp.Lines, tp.Elapsed.Round(time.Millisecond), tp.LinesPerSecond(), tp.AllocsPerLine())
	}
	_, err := fmt.Fprintf(stdout, "GA=%.3f FGA=%.3f PA=%.3f FTA=%.3f\n", m.GA, m.FGA, m.PA, m.FTA)
	return err
}
