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

// completionListLimit is how many objects an id completion asks for.
const completionListLimit = 200

func newIncidentsCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "incidents",
		Aliases: []string{"incident", "inc"},
		Short:   "List, inspect and act on incidents of a running Osprey",
		Long: `List, inspect and act on the incidents of a running Osprey server.

The server is --server (or $OSPREY_URL, default http://127.0.0.1:9464); the
token is --token-file, --token or $OSPREY_TOKEN. Tables show relative times;
-o json prints the API's JSON for scripts.`,
		Args: groupArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	f := addClientFlags(cmd)
	cmd.AddCommand(
		newIncidentsListCmd(stdout, f),
		newIncidentsShowCmd(stdout, f),
		newIncidentActionCmd(stdout, f, "ack", "Acknowledge an incident: someone is on it", (*client.Client).AckIncident),
		newIncidentActionCmd(stdout, f, "resolve", "Resolve an incident by hand", (*client.Client).ResolveIncident),
		newIncidentActionCmd(stdout, f, "reopen", "Reopen an acknowledged or resolved incident", (*client.Client).ReopenIncident),
		newIncidentsCommentCmd(stdout, f),
		newIncidentsAssignCmd(stdout, f),
		newIncidentsMergeCmd(stdout, f),
		newIncidentsSplitCmd(stdout, f),
	)
	return cmd
}

// completeIncidents offers incident ids, with their status and title;
// unresolved limits them to open and acknowledged incidents.
func completeIncidents(f *clientFlags, unresolved bool) cobra.CompletionFunc {
	return f.completeWith(1, func(ctx context.Context, c *client.Client) ([]string, error) {
		q := client.IncidentQuery{Limit: completionListLimit}
		if unresolved {
			q.Statuses = []osprey.IncidentStatus{osprey.IncidentOpen, osprey.IncidentAcknowledged}
		}
		incs, err := c.ListIncidents(ctx, q)
		out := make([]string, len(incs))
		for i, inc := range incs {
			out[i] = cobra.CompletionWithDesc(inc.ID, string(inc.Status)+": "+cell(inc.Title, maxTitleWidth))
		}
		return out, err
	})
}

func newIncidentsListCmd(stdout io.Writer, f *clientFlags) *cobra.Command {
	var (
		statuses []string
		limit    int
		since    string
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List incidents, most recently updated first",
		Example: `  osprey incidents list
  osprey incidents list --status open --status acknowledged --limit 20
  osprey incidents list --since 24h -o json | jq -r '.[].id'`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			q := client.IncidentQuery{Limit: limit, Since: since}
			for _, s := range statuses {
				for part := range strings.SplitSeq(s, ",") {
					st := osprey.IncidentStatus(strings.TrimSpace(part))
					if !st.Valid() {
						return usageError{fmt.Errorf("--status %q: want open, acknowledged or resolved", part)}
					}
					q.Statuses = append(q.Statuses, st)
				}
			}
			if limit < 0 {
				return usageError{fmt.Errorf("--limit %d: must not be negative", limit)}
			}
			return f.call(cmd, func(ctx context.Context, c *client.Client) error {
				incs, err := c.ListIncidents(ctx, q)
				if err != nil {
					return err
				}
				if f.json() {
					return printJSON(stdout, nonNil(incs))
				}
				return printIncidents(stdout, f, incs)
			})
		},
	}
	cmd.Flags().StringSliceVar(&statuses, "status", nil, "keep incidents in this status: open, acknowledged, resolved (repeat or comma-separate)")
	cmd.Flags().IntVar(&limit, "limit", 0, "at most this many (server default 100)")
	cmd.Flags().StringVar(&since, "since", "", "updated since: RFC 3339 time or a duration ago (1h)")
	_ = cmd.RegisterFlagCompletionFunc("status", cobra.FixedCompletions(
		[]string{string(osprey.IncidentOpen), string(osprey.IncidentAcknowledged), string(osprey.IncidentResolved)},
		cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// printIncidents writes the incidents table.
func printIncidents(w io.Writer, f *clientFlags, incs []osprey.Incident) error {
	if len(incs) == 0 {
		_, err := fmt.Fprintln(w, "No incidents.")
		return err
	}
	now := f.now()
	tw := newTable(w)
	row(tw, "ID", "STATUS", "SEVERITY", "TITLE", "MEMBERS", "ASSIGNEE", "OPENED", "UPDATED")
	for _, inc := range incs {
		row(tw, cell(inc.ID, maxCellWidth), cell(string(inc.Status), 0), inc.Severity.String(), cell(inc.Title, maxTitleWidth),
			strconv.Itoa(len(inc.Members)), cell(inc.Assignee, 24), relTime(now, inc.OpenedAt), relTime(now, inc.UpdatedAt))
	}
	return tw.Flush()
}

func newIncidentsShowCmd(stdout io.Writer, f *clientFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show one incident: members, ranked root causes with their explanation, timeline",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.call(cmd, func(ctx context.Context, c *client.Client) error {
				inc, err := c.GetIncident(ctx, args[0])
				if err != nil {
					return err
				}
				if f.json() {
					return printJSON(stdout, inc)
				}
				return printIncident(stdout, f, inc)
			})
		},
		ValidArgsFunction: completeIncidents(f, false),
	}
	return cmd
}

// printIncident writes one incident in full.
func printIncident(w io.Writer, f *clientFlags, inc osprey.Incident) error {
	now := f.now()
	tw := newTable(w)
	row(tw, "ID:", cell(inc.ID, 0))
	row(tw, "Title:", cell(inc.Title, 0))
	row(tw, "Status:", cell(string(inc.Status), 0))
	row(tw, "Severity:", inc.Severity.String())
	row(tw, "Labels:", cell(labelsText(inc.Labels), 0))
	row(tw, "Assignee:", cell(inc.Assignee, 0))
	row(tw, "Opened:", absTime(now, inc.OpenedAt))
	row(tw, "Updated:", absTime(now, inc.UpdatedAt))
	if !inc.ResolvedAt.IsZero() {
		row(tw, "Resolved:", absTime(now, inc.ResolvedAt))
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintf(w, "\nMembers (%d):\n", len(inc.Members))
	if len(inc.Members) > 0 {
		tw = newTable(w)
		row(tw, "  KIND", "NAME", "LABELS", "SEVERITY", "STATUS", "COUNT", "FIRST SEEN", "LAST SEEN")
		for _, m := range inc.Members {
			row(tw, "  "+cell(string(m.Kind), 0), cell(m.Name, 40), cell(labelsText(m.Labels), maxLabelsWidth), m.Severity.String(),
				cell(string(m.Status), 0), strconv.Itoa(m.Count), relTime(now, m.FirstSeen), relTime(now, m.LastSeen))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}

	fmt.Fprintf(w, "\nRoot causes (%d):\n", len(inc.Causes))
	if len(inc.Causes) == 0 {
		fmt.Fprintln(w, "  none ranked yet")
	}
	for i, c := range inc.Causes {
		fmt.Fprintf(w, "  %d. %s %s (score %.2f)\n", i+1, cell(string(c.Kind), 0), cell(c.Name, 0), c.Score)
		if c.Explanation != "" {
			indent(w, "     ", c.Explanation)
		}
		if len(c.EvidenceIDs) > 0 {
			fmt.Fprintf(w, "     evidence: %s\n", cell(strings.Join(c.EvidenceIDs, ", "), 0))
		}
	}

	fmt.Fprintf(w, "\nTimeline (%d):\n", len(inc.Timeline))
	if len(inc.Timeline) > 0 {
		tw = newTable(w)
		row(tw, "  AT", "KIND", "ACTOR", "MESSAGE")
		for _, e := range inc.Timeline {
			row(tw, "  "+e.At.UTC().Format("2006-01-02 15:04:05"), cell(string(e.Kind), 0), cell(e.Actor, 24), cell(e.Message, 0))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

// incidentAction is one of Client.AckIncident, ResolveIncident,
// ReopenIncident.
type incidentAction func(c *client.Client, ctx context.Context, id, comment string) (osprey.Incident, error)

// pastTense names what the action verb did, for its confirmation line.
func pastTense(verb string) string {
	switch verb {
	case "ack":
		return "acknowledged"
	case "reject", "reopen":
		return verb + "ed"
	}
	return verb + "d" // resolved, approved
}

func newIncidentActionCmd(stdout io.Writer, f *clientFlags, verb, short string, act incidentAction) *cobra.Command {
	var comment string
	cmd := &cobra.Command{
		Use:   verb + " ID",
		Short: short,
		Long: short + `. The change, who made it (the token's name) and the
comment go to the incident's timeline and the audit log.`,
		Example: "  osprey incidents " + verb + ` 01JDX... --comment "looking at the checkout pods"`,
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.call(cmd, func(ctx context.Context, c *client.Client) error {
				inc, err := act(c, ctx, args[0], comment)
				if err != nil {
					return err
				}
				if f.json() {
					return printJSON(stdout, inc)
				}
				_, err = fmt.Fprintf(stdout, "incident %s %s: status %s, %s\n", cell(inc.ID, 0), pastTense(verb), cell(string(inc.Status), 0), cell(inc.Title, maxTitleWidth))
				return err
			})
		},
		ValidArgsFunction: completeIncidents(f, verb != "reopen"),
	}
	cmd.Flags().StringVar(&comment, "comment", "", "a comment for the timeline")
	return cmd
}

func newIncidentsCommentCmd(stdout io.Writer, f *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "comment ID TEXT...",
		Short: "Add a comment to an incident's timeline",
		Long: `Add a comment to an incident's timeline, signed with the token's name.
The words after the id are joined with spaces.`,
		Example: `  osprey incidents comment 01JDX... "rolled back deploy 4512"`,
		Args:    minArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			text := strings.Join(args[1:], " ")
			if strings.TrimSpace(text) == "" {
				return usageError{fmt.Errorf("empty comment")}
			}
			return f.call(cmd, func(ctx context.Context, c *client.Client) error {
				e, err := c.CommentIncident(ctx, args[0], text)
				if err != nil {
					return err
				}
				if f.json() {
					return printJSON(stdout, e)
				}
				_, err = fmt.Fprintf(stdout, "comment added to incident %s (timeline entry %d by %s)\n", cell(args[0], 0), e.Seq, cell(e.Actor, 0))
				return err
			})
		},
		ValidArgsFunction: completeIncidents(f, false),
	}
}

func newIncidentsAssignCmd(stdout io.Writer, f *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:     "assign ID ASSIGNEE",
		Short:   `Assign an incident to someone ("" unassigns it)`,
		Example: `  osprey incidents assign 01JDX... alice`,
		Args:    exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.call(cmd, func(ctx context.Context, c *client.Client) error {
				inc, err := c.AssignIncident(ctx, args[0], args[1])
				if err != nil {
					return err
				}
				if f.json() {
					return printJSON(stdout, inc)
				}
				_, err = fmt.Fprintf(stdout, "incident %s assigned to %s\n", cell(inc.ID, 0), cell(inc.Assignee, 0))
				return err
			})
		},
		ValidArgsFunction: completeIncidents(f, true),
	}
}

func newIncidentsMergeCmd(stdout io.Writer, f *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "merge INTO_ID FROM_ID",
		Short: "Merge incident FROM_ID into INTO_ID: one problem, one incident",
		Long: `Merge incident FROM_ID into INTO_ID when the correlator kept apart what is one
problem: FROM_ID's members join INTO_ID, and both timelines record it.`,
		Example: `  osprey incidents merge 01JDX... 01JDY...`,
		Args:    exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.call(cmd, func(ctx context.Context, c *client.Client) error {
				inc, err := c.MergeIncident(ctx, args[0], args[1])
				if err != nil {
					return err
				}
				if f.json() {
					return printJSON(stdout, inc)
				}
				_, err = fmt.Fprintf(stdout, "incident %s merged into %s: %d members, status %s\n",
					cell(args[1], 0), cell(inc.ID, 0), len(inc.Members), cell(string(inc.Status), 0))
				return err
			})
		},
		ValidArgsFunction: f.completeWith(2, func(ctx context.Context, c *client.Client) ([]string, error) {
			incs, err := c.ListIncidents(ctx, client.IncidentQuery{Limit: completionListLimit,
				Statuses: []osprey.IncidentStatus{osprey.IncidentOpen, osprey.IncidentAcknowledged}})
			out := make([]string, len(incs))
			for i, inc := range incs {
				out[i] = cobra.CompletionWithDesc(inc.ID, string(inc.Status)+": "+cell(inc.Title, maxTitleWidth))
			}
			return out, err
		}),
	}
}

// nonNil returns s, or an empty slice for nil, so that -o json prints []
// rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func newIncidentsSplitCmd(stdout io.Writer, f *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "split ID FINGERPRINT...",
		Short: "Move members of incident ID to a new incident: two problems, two incidents",
		Long: `Split incident ID when the correlator grouped two problems together: the
members with the given fingerprints (as "incidents show ID" lists them) move to
a new incident, their later reports and new alerts of their group follow them,
and both timelines record it. At least one member must stay.`,
		Example: `  osprey incidents split 01JDX... 9c1f0e2a7b3d4c55`,
		Args:    minArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.call(cmd, func(ctx context.Context, c *client.Client) error {
				inc, err := c.SplitIncident(ctx, args[0], args[1:])
				if err != nil {
					return err
				}
				if f.json() {
					return printJSON(stdout, inc)
				}
				_, err = fmt.Fprintf(stdout, "%d members of incident %s split into new incident %s: %s\n",
					len(inc.Members), cell(args[0], 0), cell(inc.ID, 0), cell(inc.Title, maxTitleWidth))
				return err
			})
		},
		ValidArgsFunction: completeIncidents(f, true),
	}
}
