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
concatenated corpus repeatedly. The last line is "GA=.. FGA=.. PA=.. FTA=..".`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				return usageError{fmt.Errorf("--data is required")}
			}
			systems, err := loghub.Load(dir, original)
			if err != nil {
				return err
			}
			return runBenchLoghub(stdout, stderr, systems, original, throughput)
		},
	}
	cmd.Flags().StringVar(&dir, "data", "", "Loghub-2k folder (with formats.json)")
	cmd.Flags().BoolVar(&original, "original", false, "score against the original ground truth instead of the corrected one")
	cmd.Flags().IntVar(&throughput, "throughput-lines", 2_000_000, "lines to mine for the throughput figure (0 skips it)")
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
		tp := measureThroughput(stderr, systems, cfg, throughputLines)
		fmt.Fprintf(stdout, "throughput: %d lines in %s = %.0f lines/s on one goroutine (header parsing + masking + mining), %.3f allocs/line\n",
			tp.lines, tp.elapsed.Round(time.Millisecond), float64(tp.lines)/tp.elapsed.Seconds(), float64(tp.allocs)/float64(tp.lines))
	}
	_, err := fmt.Fprintf(stdout, "GA=%.3f FGA=%.3f PA=%.3f FTA=%.3f\n", m.GA, m.FGA, m.PA, m.FTA)
	return err
}

type throughputResult struct {
	lines   int
	elapsed time.Duration
	allocs  uint64
}

// measureThroughput runs the concatenated corpus through fresh miners (one
// per system, as one per source in production) until at least n lines have
// been mined, on the calling goroutine.
func measureThroughput(stderr io.Writer, systems []loghub.System, cfg logmine.Config, n int) throughputResult {
	miners := make([]*logmine.Miner, len(systems))
	for i, s := range systems {
		miners[i] = logmine.NewMiner(s.Name, cfg)
	}
	bar := progress.New(stderr, "throughput", int64(n))
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	var fields []string
	var zero time.Time
	lines := 0
	for lines < n {
		for i, s := range systems {
			m := miners[i]
			for _, line := range s.Lines {
				var content string
				content, fields, _ = s.Format.Content(line, fields)
				m.Add(zero, content)
			}
			lines += len(s.Lines)
			bar.Add(int64(len(s.Lines)))
		}
	}
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	bar.Finish()
	return throughputResult{lines: lines, elapsed: elapsed, allocs: after.Mallocs - before.Mallocs}
}
