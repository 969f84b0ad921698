package client

import (
	"context"
	"net/http"
	"time"
)

// Topology is the call graph as GET /api/v1/topology returns it: the calls
// learnt from traces and those declared in the configuration, and which
// services run on which hosts.
type Topology struct {
	// Window is the length of one statistics window, in seconds.
	Window    float64             `json:"window"`
	Nodes     []TopologyNode      `json:"nodes"`
	Edges     []TopologyEdge      `json:"edges"`
	Placement []TopologyPlacement `json:"placement"`
}

// TopologyNode is a service of the graph.
type TopologyNode struct {
	Service  string    `json:"service"`
	LastSeen time.Time `json:"lastSeen,omitzero"`
}

// TopologyEdge is a caller → callee call with its statistics over the
// windows kept; Declared when the configuration names it.
type TopologyEdge struct {
	Caller   string          `json:"caller"`
	Callee   string          `json:"callee"`
	Requests uint64          `json:"requests"`
	Errors   uint64          `json:"errors"`
	Latency  TopologyLatency `json:"latency"`
	LastSeen time.Time       `json:"lastSeen"`
	Declared bool            `json:"declared,omitempty"`
}

// TopologyLatency holds latency quantiles in seconds.
type TopologyLatency struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
}

// TopologyPlacement says that a service runs on a host: declared, or
// learnt from spans (LastSeen).
type TopologyPlacement struct {
	Host     string    `json:"host"`
	Service  string    `json:"service"`
	Declared bool      `json:"declared,omitempty"`
	LastSeen time.Time `json:"lastSeen,omitzero"`
}

// Topology returns the call graph and placements (GET /api/v1/topology).
func (c *Client) Topology(ctx context.Context) (Topology, error) {
	var out Topology
	err := c.do(ctx, http.MethodGet, "/api/v1/topology", nil, nil, http.StatusOK, &out)
	return out, err
}

// Of returns the part of t about one service or host: the calls it makes
// or receives, its placements, and the nodes they name.
func (t Topology) Of(name string) Topology {
	out := Topology{Window: t.Window}
	keep := map[string]bool{name: true}
	for _, e := range t.Edges {
		if e.Caller == name || e.Callee == name {
			out.Edges = append(out.Edges, e)
			keep[e.Caller], keep[e.Callee] = true, true
		}
	}
	for _, p := range t.Placement {
		if p.Service == name || p.Host == name {
			out.Placement = append(out.Placement, p)
			keep[p.Service] = true
		}
	}
	for _, n := range t.Nodes {
		if keep[n.Service] {
			out.Nodes = append(out.Nodes, n)
		}
	}
	return out
}
