package cli

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/client"
)

// maxOutputLines bounds the lines of an action's output that runbook show
// prints; -o json has all of it.
const maxOutputLines = 20

func newRunbookCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "runbook",
		Aliases: []string{"runbooks"},
		Short:   "List, inspect, approve and reject runbook runs of a running Osprey",
		Long: `List and inspect runbook runs, with the exact commands and HTTP requests
they planned and what those did, and approve or reject the runs that wait
for a person (runbooks in mode: approval). See docs/remediation.md.`,
		Args: groupArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	f := addClientFlags(cmd)
	cmd.AddCommand(
		newRunbookRunsCmd(stdout, f),
		newRunbookShowCmd(stdout, f),
		newRunbookDecideCmd(stdout, f, "approve", "Approve a run waiting for approval: its steps start", (*client.Client).ApproveRun),
		newRunbookDecideCmd(stdout, f, "reject", "Reject a run waiting for approval: nothing of it runs", (*client.Client).RejectRun),
	)
	return cmd
}

// completeRuns offers run ids with their runbook and status; pending
// limits them to runs waiting for approval.
func completeRuns(f *clientFlags, pending bool) cobra.CompletionFunc {
	return f.completeWith(1, func(ctx context.Context, c *client.Client) ([]string, error) {
		runs, err := c.ListRuns(ctx, "", completionListLimit)
		var out []string
		for _, r := range runs {
			if pending && r.Status != osprey.RunPendingApproval {
				continue
			}
			out = append(out, cobra.CompletionWithDesc(r.ID, cell(r.Runbook, 40)+" "+string(r.Status)+", incident "+r.IncidentID))
		}
		return out, err
	})
}

func newRunbookRunsCmd(stdout io.Writer, f *clientFlags) *cobra.Command {
	var (
		incident string
		limit    int
	)
	cmd := &cobra.Command{
		Use:   "runs",
		Short: "List runbook runs, newest first",
		Example: `  osprey runbook runs
  osprey runbook runs --incident 01JDX...
  osprey runbook runs -o json | jq -r '.[] | select(.status == "pending_approval") | .id'`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if limit < 0 {
				return usageError{fmt.Errorf("--limit %d: must not be negative", limit)}
			}
			return f.call(cmd, func(ctx context.Context, c *client.Client) error {
				runs, err := c.ListRuns(ctx, incident, limit)
				if err != nil {
					return err
				}
				if f.json() {
					return printJSON(stdout, nonNil(runs))
				}
				return printRuns(stdout, f, runs)
			})
		},
	}
	cmd.Flags().StringVar(&incident, "incident", "", "only this incident's runs")
	cmd.Flags().IntVar(&limit, "limit", 0, "at most this many (server default 100)")
	_ = cmd.RegisterFlagCompletionFunc("incident", completeIncidents(f, false))
	return cmd
}

// printRuns writes the runs table.
func printRuns(w io.Writer, f *clientFlags, runs []client.Run) error {
	if len(runs) == 0 {
		_, err := fmt.Fprintln(w, "No runbook runs.")
		return err
	}
	now := f.now()
	tw := newTable(w)
	row(tw, "ID", "RUNBOOK", "INCIDENT", "STATUS", "OUTCOME", "DRY RUN", "ACTIONS", "REQUESTED", "FINISHED", "DECIDED BY")
	for _, r := range runs {
		row(tw, cell(r.ID, maxCellWidth), cell(r.Runbook, 40), cell(r.IncidentID, maxCellWidth), cell(string(r.Status), 0),
			orDash(cell(r.Outcome, 0)), strconv.FormatBool(r.DryRun), strconv.Itoa(len(r.Actions)), relTime(now, r.RequestedAt), relTime(now, r.FinishedAt),
			cell(r.ApprovedBy, 24))
	}
	return tw.Flush()
}

func newRunbookShowCmd(stdout io.Writer, f *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "show RUN_ID",
		Short: "Show one run: its planned and executed actions, with their output",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.call(cmd, func(ctx context.Context, c *client.Client) error {
				run, err := c.GetRun(ctx, args[0])
				if err != nil {
					return err
				}
				if f.json() {
					return printJSON(stdout, run)
				}
				return printRun(stdout, f, run)
			})
		},
		ValidArgsFunction: completeRuns(f, false),
	}
}

// printRun writes one run in full.
func printRun(w io.Writer, f *clientFlags, r client.Run) error {
	now := f.now()
	tw := newTable(w)
	row(tw, "ID:", cell(r.ID, 0))
	row(tw, "Runbook:", cell(r.Runbook, 0))
	row(tw, "Incident:", cell(r.IncidentID, 0))
	row(tw, "Status:", cell(string(r.Status), 0))
	row(tw, "Outcome:", orDash(cell(r.Outcome, 0)))
	row(tw, "Dry run:", strconv.FormatBool(r.DryRun))
	row(tw, "Decided by:", cell(r.ApprovedBy, 0))
	row(tw, "Requested:", absTime(now, r.RequestedAt))
	row(tw, "Started:", absTime(now, r.StartedAt))
	row(tw, "Finished:", absTime(now, r.FinishedAt))
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nActions (%d):\n", len(r.Actions))
	for i, a := range r.Actions {
		fmt.Fprintf(w, "  %d. %s %s: %s", i+1, cell(a.Type, 0), cell(a.Target, 0), cell(string(a.Status), 0))
		if !a.StartedAt.IsZero() {
			fmt.Fprintf(w, " (started %s", relTime(now, a.StartedAt))
			if !a.FinishedAt.IsZero() {
				fmt.Fprintf(w, ", took %s", a.FinishedAt.Sub(a.StartedAt).Round(1e6))
			}
			fmt.Fprint(w, ")")
		}
		fmt.Fprintln(w)
		if len(a.Args) > 0 {
			fmt.Fprintf(w, "     args: %s\n", argvText(a.Args))
		}
		if a.Error != "" {
			indent(w, "     error: ", a.Error)
		}
		if a.Output != "" {
			fmt.Fprintln(w, "     output:")
			indent(w, "       | ", firstLines(a.Output, maxOutputLines))
		}
	}
	return nil
}

// argvText renders an argv with each element quoted where it needs to be,
// so that the exact arguments are visible.
func argvText(args []string) string {
	parts := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsFunc(a, func(r rune) bool { return r <= ' ' || strings.ContainsRune(`"'\$`+"`", r) || r > '~' }) {
			parts[i] = strconv.Quote(a)
		} else {
			parts[i] = a
		}
	}
	return strings.Join(parts, " ")
}

// firstLines returns the first n lines of s, with a note of how many more
// there were.
func firstLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) <= n {
		return strings.Join(lines, "\n")
	}
	return strings.Join(lines[:n], "\n") + fmt.Sprintf("\n... %d more lines (-o json has them)", len(lines)-n)
}

// runDecision is Client.ApproveRun or Client.RejectRun.
type runDecision func(c *client.Client, ctx context.Context, id, reason string) (osprey.RunbookRun, error)

func newRunbookDecideCmd(stdout io.Writer, f *clientFlags, verb, short string, decide runDecision) *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   verb + " RUN_ID",
		Short: short,
		Long: short + `. Who decided (the token's name) and the reason go to the
audit log and the incident's timeline. Look at the plan first with
"osprey runbook show RUN_ID".`,
		Example: "  osprey runbook " + verb + ` 01JDX... --reason "checked the dashboard"`,
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.call(cmd, func(ctx context.Context, c *client.Client) error {
				run, err := decide(c, ctx, args[0], reason)
				if err != nil {
					return err
				}
				if f.json() {
					return printJSON(stdout, run)
				}
				_, err = fmt.Fprintf(stdout, "run %s of runbook %s %s by %s: status %s\n",
					cell(run.ID, 0), cell(run.Runbook, 0), pastTense(verb), cell(run.ApprovedBy, 0), cell(string(run.Status), 0))
				return err
			})
		},
		ValidArgsFunction: completeRuns(f, true),
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why, for the audit log (at most 1024 bytes)")
	return cmd
}
