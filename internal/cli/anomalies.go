package cli

import (
	"context"
	"fmt"
	"io"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/client"
)

func newAnomaliesCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "anomalies",
		Aliases: []string{"anomaly"},
		Short:   "List the anomalies the detectors of a running Osprey found",
		Args:    groupArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	f := addClientFlags(cmd)
	cmd.AddCommand(newAnomaliesListCmd(stdout, f))
	return cmd
}

func newAnomaliesListCmd(stdout io.Writer, f *clientFlags) *cobra.Command {
	var (
		since  string
		active bool
		limit  int
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List anomalies, newest start first",
		Long: `List anomalies, newest start first: the series (or log template), the
calibrated score in [0, 1], what was observed against the model's
expectation and band, and when it started and ended.`,
		Example: `  osprey anomalies list --since 1h
  osprey anomalies list --active
  osprey anomalies list -o json | jq -r '.[] | [.labels.__name__, .score] | @tsv'`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if limit < 0 {
				return usageError{fmt.Errorf("--limit %d: must not be negative", limit)}
			}
			return f.call(cmd, func(ctx context.Context, c *client.Client) error {
				list, err := c.ListAnomalies(ctx, client.AnomalyQuery{Since: since, Active: active, Limit: limit})
				if err != nil {
					return err
				}
				if f.json() {
					return printJSON(stdout, nonNil(list))
				}
				return printAnomalies(stdout, f, list)
			})
		},
	}
	cmd.Flags().StringVar(&since, "since", "", "started since: RFC 3339 time or a duration ago (1h)")
	cmd.Flags().BoolVar(&active, "active", false, "only ongoing anomalies")
	cmd.Flags().IntVar(&limit, "limit", 0, "at most this many (server default 100)")
	return cmd
}

// printAnomalies writes the anomalies table.
func printAnomalies(w io.Writer, f *clientFlags, list []osprey.Anomaly) error {
	if len(list) == 0 {
		_, err := fmt.Fprintln(w, "No anomalies.")
		return err
	}
	now := f.now()
	tw := newTable(w)
	row(tw, "ID", "KIND", "SERIES", "SCORE", "SEVERITY", "OBSERVED", "EXPECTED (BAND)", "STARTED", "ENDED")
	for _, a := range list {
		ended := relTime(now, a.EndsAt)
		if a.Active() {
			ended = "ongoing"
		}
		row(tw, cell(a.ID, maxCellWidth), cell(string(a.Kind), 0), cell(seriesText(a), maxLabelsWidth),
			strconv.FormatFloat(a.Score, 'f', 2, 64), a.Severity.String(), number(a.Observed),
			number(a.Expected)+" ("+number(a.Lower)+".."+number(a.Upper)+")", relTime(now, a.StartsAt), ended)
	}
	return tw.Flush()
}

// seriesText names an anomaly's series: name{labels} for a metric, the
// template id and labels for a log anomaly.
func seriesText(a osprey.Anomaly) string {
	l := a.Labels.Clone()
	name := l[osprey.LabelMetric]
	delete(l, osprey.LabelMetric)
	if a.TemplateID != "" {
		name = "template " + a.TemplateID
	}
	if len(l) == 0 {
		return orDash(name)
	}
	return name + l.String()
}

// number renders a float compactly: 62, 50.1, 0.00123.
func number(v float64) string {
	return strconv.FormatFloat(v, 'g', 6, 64)
}
