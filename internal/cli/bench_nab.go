package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/osprey-aiops/osprey/internal/bench/nab"
	"github.com/osprey-aiops/osprey/internal/detect/metric"
	"github.com/osprey-aiops/osprey/internal/progress"
)

// newBenchNABCmd is `osprey bench nab`: the production metric detector over a
// NAB-layout corpus, scored with the NAB v1.1 rules.
func newBenchNABCmd(stdout, stderr io.Writer) *cobra.Command {
	var dataDir, outDir string
	var threshold float64
	cfg := metric.DefaultConfig()
	cmd := &cobra.Command{
		Use:   "nab --data DIR --results-out OUT [--threshold T]",
		Short: "Score the metric anomaly detector on the Numenta Anomaly Benchmark",
		Long: `Runs the production metric detector, streaming and with a fresh model per
file, over every DIR/data/<category>/<file>.csv in file order; writes
OUT/osprey/<category>/osprey_<file>.csv (timestamp,value,anomaly_score) and
scores them with the NAB v1.1 rules against DIR/labels/combined_windows.json
and DIR/config/profiles.json. Prints each profile's score at the
sweep-optimal threshold and at the fixed threshold (--threshold, by default
the one serve uses); the last line is the fixed-threshold scores.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dataDir == "" || outDir == "" {
				return usageError{errors.New("--data and --results-out are required")}
			}
			if threshold < 0 || threshold > 1 {
				return usageError{fmt.Errorf("--threshold %v is not in [0, 1]", threshold)}
			}
			return runBenchNAB(cmd, stdout, stderr, cfg, dataDir, outDir, threshold)
		},
	}
	cmd.Flags().StringVar(&dataDir, "data", "", "NAB corpus root (with data/, labels/, config/)")
	cmd.Flags().StringVar(&outDir, "results-out", "", "directory for the result files")
	cmd.Flags().Float64Var(&threshold, "threshold", cfg.Threshold, "fixed alarm threshold to report")
	return cmd
}

func runBenchNAB(cmd *cobra.Command, stdout, stderr io.Writer, cfg metric.Config, dataDir, outDir string, threshold float64) error {
	corpus, err := nab.LoadCorpus(dataDir)
	if err != nil {
		return err
	}
	bar := progress.New(stderr, "nab", int64(len(corpus.Files)))
	scoring := nab.NewScoring()
	start := time.Now()
	rows := 0
	for _, rel := range corpus.Files {
		if err := cmd.Context().Err(); err != nil {
			return err
		}
		bar.SetLabel(rel)
		tab, err := nab.ReadColumn(corpus.DataPath(rel), "value")
		if err != nil {
			return err
		}
		scores := detectFile(&cfg, tab)
		rows += len(scores)
		if err := writeNABResult(outDir, rel, tab, scores); err != nil {
			return err
		}
		if err := scoring.Add(rel, tab.Times, scores, corpus.Windows[rel]); err != nil {
			return err
		}
		bar.Add(1)
	}
	bar.Finish()
	elapsed := time.Since(start)

	w := bufio.NewWriter(stdout)
	fmt.Fprintf(w, "osprey metric detector on %s: %d files, %d rows, %d windows (%.0f ns/row incl. I/O)\n",
		dataDir, len(corpus.Files), rows, scoring.Windows(), float64(elapsed.Nanoseconds())/float64(max(rows, 1)))
	fmt.Fprintf(w, "%-20s %-14s %10s %10s %9s %7s\n", "profile", "threshold", "", "score", "windows", "FP rows")
	var fixed [3]float64
	for i, p := range corpus.Profiles {
		o := scoring.Optimal(p)
		f := scoring.At(p, threshold)
		fixed[i] = f.Normalized
		fmt.Fprintf(w, "%-20s %-14s %10.6f %10.2f %5d/%-3d %7d\n", p.Name, "sweep-optimal", o.Threshold, o.Normalized, o.Detected, o.Windows, o.FPRows)
		fmt.Fprintf(w, "%-20s %-14s %10.6f %10.2f %5d/%-3d %7d\n", p.Name, "fixed", f.Threshold, f.Normalized, f.Detected, f.Windows, f.FPRows)
	}
	fmt.Fprintf(w, "results in %s; last line: fixed threshold %v\n", filepath.Join(outDir, "osprey"), threshold)
	fmt.Fprintf(w, "standard=%.2f low_fp=%.2f low_fn=%.2f\n", fixed[0], fixed[1], fixed[2])
	return w.Flush()
}

// detectFile runs a fresh model over one file in order and returns the
// debounced score of every row.
func detectFile(cfg *metric.Config, tab *nab.Table) []float64 {
	var m metric.Model
	scores := make([]float64, len(tab.Values))
	for i, v := range tab.Values {
		scores[i] = m.Update(cfg, tab.Times[i].UnixMilli(), v).Alarm
	}
	return scores
}

// writeNABResult writes OUT/osprey/<category>/osprey_<file>.csv.
func writeNABResult(outDir, rel string, tab *nab.Table, scores []float64) (err error) {
	cat, file, ok := strings.Cut(rel, "/")
	if !ok {
		return fmt.Errorf("data file %s is not in a category folder", rel)
	}
	dir := filepath.Join(outDir, "osprey", cat)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, "osprey_"+file))
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	w := bufio.NewWriter(f)
	w.WriteString("timestamp,value,anomaly_score\n")
	var buf []byte
	for i, t := range tab.Times {
		buf = t.AppendFormat(buf[:0], time.DateTime)
		buf = append(buf, ',')
		buf = strconv.AppendFloat(buf, tab.Values[i], 'f', -1, 64)
		buf = append(buf, ',')
		buf = strconv.AppendFloat(buf, scores[i], 'f', -1, 64)
		buf = append(buf, '\n')
		w.Write(buf)
	}
	return w.Flush()
}
