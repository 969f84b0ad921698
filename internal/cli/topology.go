package cli

import (
	"context"
	"fmt"
	"io"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/osprey-aiops/osprey/internal/client"
)

func newTopologyCmd(stdout io.Writer) *cobra.Command {
	var service string
	cmd := &cobra.Command{
		Use:   "topology",
		Short: "Show the service call graph and host placements of a running Osprey",
		Long: `Show the call graph the correlate stage groups along and the root-cause
ranking walks (GET /api/v1/topology): every call learnt from traces in the
last 15 minutes with its requests, errors and latency, every call declared
in the configuration (topology.dependencies), and which services run on
which hosts (topology.placement, or learnt from spans' host.name). SOURCE
says where a call or placement comes from: traces, config, or both.`,
		Example: `  osprey topology
  osprey topology --service checkout
  osprey topology -o json | jq '.edges[] | select(.declared)'`,
		Args: exactArgs(0),
	}
	f := addClientFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		return f.call(cmd, func(ctx context.Context, c *client.Client) error {
			topo, err := c.Topology(ctx)
			if err != nil {
				return err
			}
			if service != "" {
				topo = topo.Of(service)
			}
			if f.json() {
				topo.Nodes, topo.Edges, topo.Placement = nonNil(topo.Nodes), nonNil(topo.Edges), nonNil(topo.Placement)
				return printJSON(stdout, topo)
			}
			return printTopology(stdout, f, topo)
		})
	}
	cmd.Flags().StringVar(&service, "service", "", "only the calls and placements of this service (or host)")
	return cmd
}

// printTopology writes the calls and placements tables.
func printTopology(w io.Writer, f *clientFlags, topo client.Topology) error {
	now := f.now()
	if len(topo.Edges) == 0 {
		fmt.Fprintln(w, "No calls.")
	} else {
		tw := newTable(w)
		row(tw, "CALLER", "CALLEE", "SOURCE", "REQUESTS", "ERRORS", "P50", "P99", "LAST SEEN")
		for _, e := range topo.Edges {
			src, p50, p99, seen := "traces", latencyText(e.Latency.P50), latencyText(e.Latency.P99), relTime(now, e.LastSeen)
			switch {
			case e.Declared && e.Requests == 0:
				src, p50, p99, seen = "config", "-", "-", "-"
			case e.Declared:
				src = "both"
			}
			row(tw, cell(e.Caller, maxCellWidth), cell(e.Callee, maxCellWidth), src, strconv.FormatUint(e.Requests, 10),
				strconv.FormatUint(e.Errors, 10), p50, p99, seen)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	fmt.Fprintln(w)
	if len(topo.Placement) == 0 {
		_, err := fmt.Fprintln(w, "No placements.")
		return err
	}
	tw := newTable(w)
	row(tw, "HOST", "SERVICE", "SOURCE", "LAST SEEN")
	for _, p := range topo.Placement {
		src := "traces"
		if p.Declared {
			src = "config"
			if !p.LastSeen.IsZero() {
				src = "both"
			}
		}
		seen := "-"
		if !p.LastSeen.IsZero() {
			seen = relTime(now, p.LastSeen)
		}
		row(tw, cell(p.Host, maxCellWidth), cell(p.Service, maxCellWidth), src, seen)
	}
	return tw.Flush()
}

// latencyText renders a latency given in seconds as milliseconds or seconds.
func latencyText(s float64) string {
	if s < 1 {
		return strconv.FormatFloat(s*1000, 'g', 3, 64) + "ms"
	}
	return strconv.FormatFloat(s, 'g', 3, 64) + "s"
}
