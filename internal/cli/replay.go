package cli

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/pprof"
	"time"

	"github.com/spf13/cobra"

	"github.com/osprey-aiops/osprey/internal/config"
	"github.com/osprey-aiops/osprey/internal/progress"
	"github.com/osprey-aiops/osprey/internal/replay"
)

// replayFlags are the flags of `osprey replay`.
type replayFlags struct {
	tsdb, promJSON, csv, logs, events []string
	synthetic                         string
	from, to                          string
	step                              time.Duration
	configPath, configA, configB      string
	reportJSON, reportMD              string
	dataDir                           string
	cpuProfile                        string
}

// newReplayCmd is `osprey replay`: a backtest of the production pipeline on
// recorded data.
func newReplayCmd(stdout, stderr io.Writer) *cobra.Command {
	var f replayFlags
	cmd := &cobra.Command{
		Use:   "replay [--tsdb DIR] [--prom-json FILE] [--csv FILE] [--logs FILE] [--events FILE.jsonl] [--synthetic NxM] [--config FILE | --config-a A --config-b B] [--report-json F] [--report-md F]",
		Short: "Backtest: replay recorded data through the pipeline and report what would have happened",
		Long: `Feeds recorded data through the production pipeline stages (metric detection,
log template mining and log anomalies, correlation with ranked root causes,
remediation) on a virtual clock that follows the data's timestamps, as fast as
the machine allows, and reports the anomalies, incidents, runbook runs and
noise figures it would have produced. Nothing is sent and no action runs:
every runbook is forced to dry-run.

Inputs (each flag may repeat, in any combination):
  --tsdb DIR           a Prometheus TSDB directory, opened read-only
  --prom-json FILE     a saved query_range response (resultType matrix)
  --csv FILE           NAB-style timestamp,value rows; series named after the file
  --logs FILE          a log file; times and levels found by osprey's log parser
  --events FILE.jsonl  one event per line, as POST /api/v1/events takes them
  --synthetic NxM      N generated series of M one-minute samples with injected anomalies

With --config-a and --config-b the data is replayed under both and the report
lists the anomalies and incidents only one of them found. Results go to stdout
(a summary), --report-json and --report-md. docs/replay.md describes the report.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runReplay(cmd, stdout, stderr, &f)
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&f.tsdb, "tsdb", nil, "Prometheus TSDB directory (repeatable)")
	fl.StringArrayVar(&f.promJSON, "prom-json", nil, "Prometheus query_range JSON response file (repeatable)")
	fl.StringArrayVar(&f.csv, "csv", nil, "timestamp,value CSV file (repeatable)")
	fl.StringArrayVar(&f.logs, "logs", nil, "log file (repeatable)")
	fl.StringArrayVar(&f.events, "events", nil, "JSONL events file (repeatable)")
	fl.StringVar(&f.synthetic, "synthetic", "", "generated input <series>x<samples>, e.g. 10000x1440 (one day of 10,000 series)")
	fl.StringVar(&f.from, "from", "", "replay from this time (RFC 3339 or Unix seconds)")
	fl.StringVar(&f.to, "to", "", "replay up to this time (RFC 3339 or Unix seconds)")
	fl.DurationVar(&f.step, "step", time.Minute, "width of the metric sample batches handed to the detector")
	fl.StringVar(&f.configPath, "config", "", "YAML configuration (default: built-in defaults)")
	fl.StringVar(&f.configA, "config-a", "", "first configuration to compare (with --config-b)")
	fl.StringVar(&f.configB, "config-b", "", "second configuration to compare (with --config-a)")
	fl.StringVar(&f.reportJSON, "report-json", "", "write the JSON report to this file")
	fl.StringVar(&f.reportMD, "report-md", "", "write the Markdown report to this file")
	fl.StringVar(&f.dataDir, "data-dir", "", "keep the replay's store here (empty directory; default: a temporary one)")
	fl.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile of the replay to this file")
	return cmd
}

func runReplay(cmd *cobra.Command, stdout, stderr io.Writer, f *replayFlags) error {
	inputs, err := replayInputs(f)
	if err != nil {
		return err
	}
	configs, err := replayConfigs(f)
	if err != nil {
		return err
	}
	w := replay.Window{Step: f.step}
	if f.step <= 0 {
		return usageError{fmt.Errorf("--step %s must be positive", f.step)}
	}
	if w.From, err = parseReplayTime("--from", f.from); err != nil {
		return err
	}
	if w.To, err = parseReplayTime("--to", f.to); err != nil {
		return err
	}
	if !w.From.IsZero() && !w.To.IsZero() && w.To.Before(w.From) {
		return usageError{errors.New("--to is before --from")}
	}
	if f.cpuProfile != "" {
		pf, err := os.Create(f.cpuProfile)
		if err != nil {
			return err
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	var bar *progress.Bar
	var barConfig string
	var shown time.Duration
	opts := replay.Options{
		Inputs:  inputs,
		Window:  w,
		Configs: configs,
		DataDir: f.dataDir,
		Logger:  newLogger(stderr, config.LogConfig{Level: "warn"}),
		Progress: func(cfg string, done, total time.Duration) {
			if bar == nil || cfg != barConfig {
				if bar != nil {
					bar.Finish()
				}
				bar = progress.New(stderr, "replay "+cfg+" (minutes of data)", int64(total/time.Minute))
				barConfig, shown = cfg, 0
			}
			if d := done / time.Minute; d > shown {
				bar.Add(int64(d - shown))
				shown = d
			}
		},
	}
	rep, err := replay.Run(cmd.Context(), opts)
	if bar != nil {
		bar.Finish()
	}
	if err != nil {
		return err
	}
	if f.reportJSON != "" {
		if err := writeReportFile(f.reportJSON, rep.WriteJSON); err != nil {
			return err
		}
	}
	if f.reportMD != "" {
		if err := writeReportFile(f.reportMD, rep.WriteMarkdown); err != nil {
			return err
		}
	}
	return rep.WriteSummary(stdout)
}

// replayInputs turns the input flags into sources.
func replayInputs(f *replayFlags) ([]replay.Source, error) {
	var in []replay.Source
	for _, d := range f.tsdb {
		in = append(in, replay.TSDBSource{Dir: d, Logger: slog.New(slog.DiscardHandler)})
	}
	for _, p := range f.promJSON {
		in = append(in, replay.PromJSONSource{Path: p})
	}
	for _, p := range f.csv {
		in = append(in, replay.CSVSource{Path: p})
	}
	for _, p := range f.logs {
		in = append(in, replay.LogSource{Path: p})
	}
	for _, p := range f.events {
		in = append(in, replay.EventsSource{Path: p})
	}
	if f.synthetic != "" {
		s, err := replay.ParseSynthetic(f.synthetic)
		if err != nil {
			return nil, usageError{err}
		}
		in = append(in, s)
	}
	if len(in) == 0 {
		return nil, usageError{errors.New("no input: give --tsdb, --prom-json, --csv, --logs, --events or --synthetic")}
	}
	return in, nil
}

// replayConfigs loads --config, or --config-a and --config-b.
func replayConfigs(f *replayFlags) ([]replay.NamedConfig, error) {
	if (f.configA == "") != (f.configB == "") {
		return nil, usageError{errors.New("--config-a and --config-b go together")}
	}
	if f.configA != "" {
		if f.configPath != "" {
			return nil, usageError{errors.New("--config cannot be combined with --config-a/--config-b")}
		}
		a, err := loadConfig(f.configA)
		if err != nil {
			return nil, err
		}
		b, err := loadConfig(f.configB)
		if err != nil {
			return nil, err
		}
		return []replay.NamedConfig{{Name: "A", Path: f.configA, Config: a}, {Name: "B", Path: f.configB, Config: b}}, nil
	}
	cfg, err := loadConfig(f.configPath)
	if err != nil {
		return nil, err
	}
	return []replay.NamedConfig{{Name: "default", Path: f.configPath, Config: cfg}}, nil
}

// parseReplayTime parses an RFC 3339 time or Unix seconds; "" is zero.
func parseReplayTime(flag, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	var sec int64
	if _, err := fmt.Sscanf(s, "%d", &sec); err == nil && fmt.Sprint(sec) == s {
		return time.Unix(sec, 0).UTC(), nil
	}
	return time.Time{}, usageError{fmt.Errorf("%s %q is not an RFC 3339 time or Unix seconds", flag, s)}
}

// writeReportFile writes a report through write to path.
func writeReportFile(path string, write func(io.Writer) error) (err error) {
	fh, err := os.Create(path)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := fh.Close(); err == nil {
			err = cerr
		}
	}()
	return write(fh)
}
