package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/client"
	"github.com/osprey-aiops/osprey/internal/match"
)

func newMaintenanceCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "maintenance",
		Short: "Add, list and delete maintenance windows of a running Osprey",
		Long: `Add, list and delete maintenance windows: a window mutes the signals its
matchers select while it is active, like a silence, but it is meant for
planned work: it can recur weekly, and what it held back is looked at again
when it ends. Windows from the configuration file (ids config/<name>) are
listed but cannot be deleted here.

Matchers are written as for silences: name=value, name!=value, name=~regex,
name!~regex.`,
		Args: groupArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	f := addClientFlags(cmd)
	cmd.AddCommand(newMaintenanceListCmd(stdout, f), newMaintenanceAddCmd(stdout, f), newMaintenanceDeleteCmd(stdout, f))
	return cmd
}

func newMaintenanceListCmd(stdout io.Writer, f *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the maintenance windows (configured, then stored) with their state",
		Example: `  osprey maintenance list
  osprey maintenance list -o json | jq -r '.[] | select(.state == "active") | .id'`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return f.call(cmd, func(ctx context.Context, c *client.Client) error {
				ms, err := c.ListMaintenance(ctx)
				if err != nil {
					return err
				}
				if f.json() {
					return printJSON(stdout, nonNil(ms))
				}
				return printMaintenance(stdout, f, ms)
			})
		},
	}
}

// printMaintenance writes the maintenance windows table.
func printMaintenance(w io.Writer, f *clientFlags, ms []client.Maintenance) error {
	if len(ms) == 0 {
		_, err := fmt.Fprintln(w, "No maintenance windows.")
		return err
	}
	now := f.now()
	tw := newTable(w)
	row(tw, "ID", "NAME", "MATCHERS", "STATE", "WHEN", "SOURCE", "CREATED BY", "COMMENT")
	for _, m := range ms {
		row(tw, cell(m.ID, maxCellWidth), orDash(cell(m.Name, 32)), cell(matchersText(m.Matchers), maxLabelsWidth), cell(m.State, 0),
			maintenanceWhen(now, m), cell(m.Source, 0), orDash(cell(m.CreatedBy, 24)), orDash(cell(m.Comment, 40)))
	}
	return tw.Flush()
}

// maintenanceWhen describes when a window applies: its weekly schedule or
// its time range.
func maintenanceWhen(now time.Time, m client.Maintenance) string {
	var s string
	if sc := m.Schedule; sc != nil {
		s = strings.Join(sc.Days, ",") + " " + sc.Start + " for " + sc.Duration
		if sc.Timezone != "" {
			s += " " + sc.Timezone
		}
		s = cell(s, 48)
	} else {
		s = relTime(now, m.StartsAt) + " to " + relTime(now, m.EndsAt)
	}
	if !m.ActiveUntil.IsZero() && m.Schedule != nil {
		s += " (until " + relTime(now, m.ActiveUntil) + ")"
	}
	return s
}

func newMaintenanceAddCmd(stdout io.Writer, f *clientFlags) *cobra.Command {
	var (
		name, comment, start, end string
		duration                  time.Duration
		days                      []string
		at, tz                    string
	)
	cmd := &cobra.Command{
		Use:   "add MATCHER... (--duration D | --end TIME | --days D,D --at HH:MM --duration D)",
		Short: "Add a maintenance window; prints its id",
		Long: `Add a maintenance window for the signals every MATCHER selects: a one-off
window from --start (default now) for --duration or until --end, or a weekly
one on --days (mon ... sun) from --at (HH:MM in --timezone, default UTC) for
--duration. In table mode only the new window's id is printed.`,
		Example: `  osprey maintenance add service=db --duration 2h --name "db upgrade" --comment "ticket 42"
  osprey maintenance add cluster=batch --days sat,sun --at 02:00 --duration 2h --timezone Europe/Berlin`,
		Args: minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			matchers, err := match.ParseAll(args)
			if err != nil {
				return usageError{fmt.Errorf("matcher %w", err)}
			}
			req := client.NewMaintenance{Name: strings.TrimSpace(name), Matchers: matchers, Comment: strings.TrimSpace(comment)}
			durSet, endSet := cmd.Flags().Changed("duration"), cmd.Flags().Changed("end")
			if durSet && duration <= 0 {
				return usageError{fmt.Errorf("--duration %v: must be positive", duration)}
			}
			if len(days) > 0 || at != "" {
				if len(days) == 0 || at == "" || !durSet {
					return usageError{errors.New("a weekly window needs --days, --at and --duration")}
				}
				if endSet || start != "" {
					return usageError{errors.New("--start and --end are for one-off windows, not with --days")}
				}
				req.Schedule = &osprey.WeeklySchedule{Days: days, Start: at, Duration: compactDuration(duration), Timezone: tz}
			} else {
				if tz != "" {
					return usageError{errors.New("--timezone is for weekly windows (--days, --at)")}
				}
				switch {
				case durSet == endSet:
					return usageError{errors.New("give exactly one of --duration and --end (or --days and --at for a weekly window)")}
				case durSet:
					req.Duration = compactDuration(duration)
				default:
					if req.EndsAt, err = time.Parse(time.RFC3339, end); err != nil {
						return usageError{fmt.Errorf("--end %q: want an RFC 3339 time (2026-11-27T06:00:00Z)", end)}
					}
				}
				if start != "" {
					if req.StartsAt, err = time.Parse(time.RFC3339, start); err != nil {
						return usageError{fmt.Errorf("--start %q: want an RFC 3339 time (2026-11-27T06:00:00Z)", start)}
					}
				}
			}
			return f.call(cmd, func(ctx context.Context, c *client.Client) error {
				m, err := c.CreateMaintenance(ctx, req)
				if err != nil {
					return err
				}
				if f.json() {
					return printJSON(stdout, m)
				}
				_, err = fmt.Fprintln(stdout, cell(m.ID, 0))
				return err
			})
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "a name for the window")
	cmd.Flags().StringVar(&comment, "comment", "", "why")
	cmd.Flags().DurationVar(&duration, "duration", 0, "how long the window (or each weekly occurrence) lasts (2h, 90m)")
	cmd.Flags().StringVar(&start, "start", "", "when a one-off window starts (RFC 3339, default now)")
	cmd.Flags().StringVar(&end, "end", "", "when a one-off window ends (RFC 3339)")
	cmd.Flags().StringSliceVar(&days, "days", nil, "weekdays of a weekly window: mon,tue,...,sun")
	cmd.Flags().StringVar(&at, "at", "", "start of each weekly occurrence, HH:MM")
	cmd.Flags().StringVar(&tz, "timezone", "", "IANA time zone of --at (default UTC)")
	return cmd
}

func newMaintenanceDeleteCmd(stdout io.Writer, f *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:     "delete ID...",
		Aliases: []string{"rm"},
		Short:   "Delete stored maintenance windows",
		Example: `  osprey maintenance delete 01JDX...`,
		Args:    minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.call(cmd, func(ctx context.Context, c *client.Client) error {
				return eachID(f, stdout, args, "delete", func(id string) (client.Maintenance, string, error) {
					m, err := c.DeleteMaintenance(ctx, id)
					return m, "maintenance window " + cell(m.ID, 0) + " deleted", err
				})
			})
		},
		ValidArgsFunction: f.completeWith(-1, func(ctx context.Context, c *client.Client) ([]string, error) {
			ms, err := c.ListMaintenance(ctx)
			var out []string
			for _, m := range ms {
				if m.Source == "api" {
					out = append(out, cobra.CompletionWithDesc(m.ID, m.State+": "+cell(matchersText(m.Matchers), maxLabelsWidth)))
				}
			}
			return out, err
		}),
	}
}

// compactDuration is d as Go writes it without zero trailing units: "2h"
// rather than "2h0m0s", "1h30m" rather than "1h30m0s".
func compactDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
