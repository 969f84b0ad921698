package cli

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/osprey-aiops/osprey/internal/client"
)

// maxNoiseRules bounds the rules the noise table prints; -o json has all.
const maxNoiseRules = 20

func newStatsCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "stats",
		Short: "Show statistics of a running Osprey",
		Args:  groupArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	f := addClientFlags(cmd)
	cmd.AddCommand(newStatsNoiseCmd(stdout, f))
	return cmd
}

func newStatsNoiseCmd(stdout io.Writer, f *clientFlags) *cobra.Command {
	var since string
	cmd := &cobra.Command{
		Use:   "noise",
		Short: "Show what became of the signals received: per source and rule, compression, MTTA, MTTR",
		Long: `Show the noise accounting (GET /api/v1/stats/noise): how many signals
(alerts and anomalies) Osprey received since --since, how many of them were
deduplicated, grouped into an existing incident, opened one, were suppressed
(silenced, inhibited, in maintenance) or ignored; per source and per rule;
the compression ratio (signals per incident) and reduction; the mean time to
acknowledge and to resolve the incidents opened in the window; and the
notifications sent. See docs/noise.md.`,
		Example: `  osprey stats noise
  osprey stats noise --since 168h
  osprey stats noise -o json | jq .totals.compressionRatio`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return f.call(cmd, func(ctx context.Context, c *client.Client) error {
				st, err := c.NoiseStats(ctx, since)
				if err != nil {
					return err
				}
				if f.json() {
					return printJSON(stdout, st)
				}
				return printNoise(stdout, f, st)
			})
		},
	}
	cmd.Flags().StringVar(&since, "since", "24h", "window start: a duration ago (24h) or an RFC 3339 time")
	return cmd
}

// printNoise writes the noise accounting.
func printNoise(w io.Writer, f *clientFlags, st client.NoiseStats) error {
	now := f.now()
	t := st.Totals
	fmt.Fprintf(w, "Since %s\n", absTime(now, st.Since))
	fmt.Fprintf(w, "Signals: %d received → %d incidents opened; compression %s:1, reduction %s\n",
		t.Received, t.Opened, ratio(t.CompressionRatio), percent(t.Reduction))
	fmt.Fprintf(w, "  deduplicated %d, grouped %d, suppressed %d (silenced %d, inhibited %d, maintenance %d), ignored %d\n",
		t.Deduplicated, t.Grouped, t.Suppressed, t.Silenced, t.Inhibited, t.Maintenance, t.Ignored)
	in := st.Incidents
	fmt.Fprintf(w, "Incidents opened: %d, acknowledged %d (MTTA %s), resolved %d (MTTR %s)%s\n",
		in.Opened, in.Acknowledged, secs(in.MTTASeconds), in.Resolved, secs(in.MTTRSeconds), truncNote(in.Truncated))
	n := st.Notifications
	fmt.Fprintf(w, "Notifications: %d sent, %d failed, %d sending%s\n", n.Sent, n.Failed, n.Sending, truncNote(n.Truncated))
	receivers := make([]string, 0, len(n.ByReceiver))
	for r := range n.ByReceiver {
		receivers = append(receivers, r)
	}
	slices.Sort(receivers)
	for _, r := range receivers {
		fmt.Fprintf(w, "  %s: %d sent\n", cell(r, 40), n.ByReceiver[r])
	}
	for _, table := range []struct {
		title string
		rows  []client.NoiseRow
		rule  bool
	}{{"By source", st.Sources, false}, {"By rule", st.Rules, true}} {
		fmt.Fprintf(w, "\n%s:\n", table.title)
		if len(table.rows) == 0 {
			fmt.Fprintln(w, "  none")
			continue
		}
		tw := newTable(w)
		head := []string{"SOURCE"}
		if table.rule {
			head = append(head, "RULE")
		}
		row(tw, append(head, "RECEIVED", "DEDUP", "GROUPED", "OPENED", "SUPPRESSED", "IGNORED", "COMPRESSION", "REDUCTION")...)
		for i, r := range table.rows {
			if i == maxNoiseRules {
				break
			}
			cells := []string{cell(r.Source, 32)}
			if table.rule {
				cells = append(cells, cell(r.Rule, 40))
			}
			cells = append(cells, strconv.FormatInt(r.Received, 10), strconv.FormatInt(r.Deduplicated, 10),
				strconv.FormatInt(r.Grouped, 10), strconv.FormatInt(r.Opened, 10), strconv.FormatInt(r.Suppressed, 10),
				strconv.FormatInt(r.Ignored, 10), ratio(r.CompressionRatio)+":1", percent(r.Reduction))
			row(tw, cells...)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		if len(table.rows) > maxNoiseRules {
			fmt.Fprintf(w, "  ... %d more (-o json has them)\n", len(table.rows)-maxNoiseRules)
		}
	}
	return nil
}

// ratio formats a compression ratio with one decimal ("-" when none).
func ratio(r float64) string {
	if r == 0 {
		return "-"
	}
	return strconv.FormatFloat(r, 'f', 1, 64)
}

// percent formats a share as a percentage with one decimal.
func percent(p float64) string { return strconv.FormatFloat(p*100, 'f', 1, 64) + "%" }

// secs formats a mean duration in seconds ("-" when absent).
func secs(s float64) string {
	if s == 0 {
		return "-"
	}
	return shortDuration(time.Duration(s * float64(time.Second)))
}

func truncNote(truncated bool) string {
	if truncated {
		return " (window truncated to the most recent 10,000)"
	}
	return ""
}
