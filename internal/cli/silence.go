package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/client"
	"github.com/osprey-aiops/osprey/internal/match"
)

func newSilenceCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "silence",
		Aliases: []string{"silences"},
		Short:   "Add, list and expire silences of a running Osprey",
		Long: `Add, list and expire silences: a silence mutes notifications and runbook
actions for the signals its matchers select, for a window of time.

Matchers are written as in amtool and Alertmanager: name=value, name!=value,
name=~regex, name!~regex; regular expressions are anchored; a silence needs
every matcher to match.`,
		Args: groupArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	f := addClientFlags(cmd)
	cmd.AddCommand(newSilenceAddCmd(stdout, f), newSilenceListCmd(stdout, f), newSilenceExpireCmd(stdout, f))
	return cmd
}

func newSilenceAddCmd(stdout io.Writer, f *clientFlags) *cobra.Command {
	var (
		duration   time.Duration
		start, end string
		comment    string
	)
	cmd := &cobra.Command{
		Use:   "add MATCHER... (--duration D | --end TIME) --comment TEXT",
		Short: "Add a silence; prints its id",
		Long: `Add a silence for the signals every MATCHER selects, from --start (default
now) for --duration or until --end. In table mode only the new silence's id
is printed, so that a script can keep it.`,
		Example: `  osprey silence add service=checkout env=~"prod|stage" --duration 2h --comment "DB migration"
  osprey silence add alertname=DiskFull host!=db1 --end 2026-11-27T06:00:00Z --comment "disk swap"
  id=$(osprey silence add service=web --duration 30m --comment deploy)`,
		Args: minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			matchers, err := match.ParseAll(args)
			if err != nil {
				return usageError{fmt.Errorf("matcher %w", err)}
			}
			req := client.NewSilence{Matchers: matchers, Comment: strings.TrimSpace(comment)}
			if req.Comment == "" {
				return usageError{errors.New("--comment is required: say why the silence is there")}
			}
			durSet, endSet := cmd.Flags().Changed("duration"), cmd.Flags().Changed("end")
			switch {
			case durSet == endSet:
				return usageError{errors.New("give exactly one of --duration and --end")}
			case durSet && duration <= 0:
				return usageError{fmt.Errorf("--duration %v: must be positive", duration)}
			case durSet:
				req.Duration = duration.String()
			default:
				if req.EndsAt, err = time.Parse(time.RFC3339, end); err != nil {
					return usageError{fmt.Errorf("--end %q: want an RFC 3339 time (2026-11-27T06:00:00Z)", end)}
				}
			}
			if start != "" {
				if req.StartsAt, err = time.Parse(time.RFC3339, start); err != nil {
					return usageError{fmt.Errorf("--start %q: want an RFC 3339 time (2026-11-27T06:00:00Z)", start)}
				}
				if !req.EndsAt.IsZero() && !req.EndsAt.After(req.StartsAt) {
					return usageError{errors.New("--end must be after --start")}
				}
			}
			return f.call(cmd, func(ctx context.Context, c *client.Client) error {
				s, err := c.CreateSilence(ctx, req)
				if err != nil {
					return err
				}
				if f.json() {
					return printJSON(stdout, s)
				}
				_, err = fmt.Fprintln(stdout, cell(s.ID, 0))
				return err
			})
		},
	}
	cmd.Flags().DurationVar(&duration, "duration", 0, "how long the silence lasts from its start (2h, 30m)")
	cmd.Flags().StringVar(&end, "end", "", "when the silence ends (RFC 3339)")
	cmd.Flags().StringVar(&start, "start", "", "when the silence starts (RFC 3339, default now)")
	cmd.Flags().StringVar(&comment, "comment", "", "why (required)")
	return cmd
}

// silenceStates returns the values of silence list --state.
func silenceStates() []string {
	return []string{client.SilenceActive, client.SilencePending, client.SilenceExpired, client.SilenceAll}
}

func newSilenceListCmd(stdout io.Writer, f *clientFlags) *cobra.Command {
	var state string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List silences (by default the active and pending ones)",
		Example: `  osprey silence list
  osprey silence list --state all -o json | jq -r '.[] | select(.createdBy == "alice") | .id'`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if state != "" && !slices.Contains(silenceStates(), state) {
				return usageError{fmt.Errorf("--state %q: want active, pending, expired or all", state)}
			}
			return f.call(cmd, func(ctx context.Context, c *client.Client) error {
				ss, err := c.ListSilences(ctx, state)
				if err != nil {
					return err
				}
				if f.json() {
					return printJSON(stdout, nonNil(ss))
				}
				return printSilences(stdout, f, ss)
			})
		},
	}
	cmd.Flags().StringVar(&state, "state", "", "active, pending, expired or all (default active and pending)")
	_ = cmd.RegisterFlagCompletionFunc("state", cobra.FixedCompletions(silenceStates(), cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// printSilences writes the silences table.
func printSilences(w io.Writer, f *clientFlags, ss []client.Silence) error {
	if len(ss) == 0 {
		_, err := fmt.Fprintln(w, "No silences.")
		return err
	}
	now := f.now()
	tw := newTable(w)
	row(tw, "ID", "MATCHERS", "STATE", "STARTS", "ENDS", "CREATED BY", "COMMENT")
	for _, s := range ss {
		row(tw, cell(s.ID, maxCellWidth), cell(matchersText(s.Matchers), maxLabelsWidth), cell(s.State, 0),
			relTime(now, s.StartsAt), relTime(now, s.EndsAt), cell(s.CreatedBy, 24), cell(s.Comment, 40))
	}
	return tw.Flush()
}

// matchersText renders matchers as amtool does: name="value" joined by
// spaces, each as match.Parse reads it back.
func matchersText(ms []osprey.Matcher) string {
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = match.String(m)
	}
	return strings.Join(parts, " ")
}

func newSilenceExpireCmd(stdout io.Writer, f *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:     "expire ID...",
		Short:   "Expire silences now",
		Example: `  osprey silence expire 01JDX... 01JDY...`,
		Args:    minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.call(cmd, func(ctx context.Context, c *client.Client) error {
				return eachID(f, stdout, args, "expire", func(id string) (client.Silence, string, error) {
					s, err := c.ExpireSilence(ctx, id)
					return s, "silence " + cell(s.ID, 0) + " expired", err
				})
			})
		},
		ValidArgsFunction: f.completeWith(-1, func(ctx context.Context, c *client.Client) ([]string, error) {
			ss, err := c.ListSilences(ctx, "")
			out := make([]string, len(ss))
			for i, s := range ss {
				out[i] = cobra.CompletionWithDesc(s.ID, s.State+": "+cell(matchersText(s.Matchers), maxLabelsWidth))
			}
			return out, err
		}),
	}
}
