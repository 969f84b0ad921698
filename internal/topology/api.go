package topology

import (
	"cmp"
	"net/http"
	"slices"
	"time"

	"github.com/osprey-aiops/osprey/internal/auth"
	"github.com/osprey-aiops/osprey/internal/ingest"
	"github.com/osprey-aiops/osprey/internal/rca"
)

// Route is the topology route.
const Route = "GET /api/v1/topology"

// Latency holds latency quantiles, in seconds in JSON.
type Latency struct {
	P50 Seconds `json:"p50"`
	P90 Seconds `json:"p90"`
	P99 Seconds `json:"p99"`
}

// Seconds is a duration that encodes as a number of seconds in JSON.
type Seconds time.Duration

// MarshalJSON writes s in seconds.
func (s Seconds) MarshalJSON() ([]byte, error) {
	return []byte(formatSeconds(time.Duration(s))), nil
}

func formatSeconds(d time.Duration) string {
	b := make([]byte, 0, 16)
	return string(appendFloat(b, d.Seconds()))
}

// WindowStats are one window's statistics of an edge.
type WindowStats struct {
	Start    time.Time `json:"start"`
	Requests uint64    `json:"requests"`
	Errors   uint64    `json:"errors"`
	Latency  Latency   `json:"latency"`
}

// Edge is a caller → callee edge with its statistics over the windows kept
// (totals and latency over all of them) and per window, oldest first.
type Edge struct {
	EdgeKey
	Requests uint64        `json:"requests"`
	Errors   uint64        `json:"errors"`
	Latency  Latency       `json:"latency"`
	LastSeen time.Time     `json:"lastSeen"`
	Windows  []WindowStats `json:"windows"`
	// Declared is set on a configured call (Options.Declared); one no
	// span showed in the windows kept has no requests and no windows.
	Declared bool `json:"declared,omitempty"`
}

// Node is a service of the graph.
type Node struct {
	Service  string    `json:"service"`
	LastSeen time.Time `json:"lastSeen,omitzero"`
}

// Snapshot is the whole graph: GET /api/v1/topology's reply.
type Snapshot struct {
	// Window is the length of one window, in seconds.
	Window Seconds `json:"window"`
	Nodes  []Node  `json:"nodes"`
	Edges  []Edge  `json:"edges"`
	// Placement lists which services run on which hosts (Placements).
	Placement []Placement `json:"placement"`
}

// Edges returns every edge with a request in the windows kept, sorted by
// caller and callee.
func (g *Graph) Edges() []Edge {
	now := g.opts.Now()
	g.mu.Lock()
	defer g.mu.Unlock()
	oldest := g.windowOf(now) - int64(g.opts.Windows) + 1
	out := make([]Edge, 0, len(g.edges)+len(g.decl.calls.sorted))
	for k, e := range g.edges {
		if ed, ok := g.export(k, e, oldest); ok {
			_, ed.Declared = g.decl.calls.set[k]
			out = append(out, ed)
		}
	}
	for _, k := range g.decl.calls.sorted {
		if e, ok := g.edges[k]; !ok || !hasRequests(e, oldest) {
			out = append(out, Edge{EdgeKey: k, Declared: true})
		}
	}
	slices.SortFunc(out, func(a, b Edge) int {
		return byCallerCallee(a.EdgeKey, b.EdgeKey)
	})
	return out
}

// hasRequests reports whether e has a request in the windows from oldest
// on.
func hasRequests(e *edge, oldest int64) bool {
	for i := range e.ring {
		if w := &e.ring[i]; w.requests > 0 && w.index >= oldest {
			return true
		}
	}
	return false
}

// export summarises e over the windows from oldest on; false when none
// has a request.
func (g *Graph) export(k EdgeKey, e *edge, oldest int64) (Edge, bool) {
	out := Edge{EdgeKey: k}
	var all [numBuckets]uint32
	ws := make([]*window, 0, len(e.ring))
	for i := range e.ring {
		w := &e.ring[i]
		if w.requests > 0 && w.index >= oldest {
			ws = append(ws, w)
		}
	}
	if len(ws) == 0 {
		return out, false
	}
	slices.SortFunc(ws, func(a, b *window) int { return cmp.Compare(a.index, b.index) })
	for _, w := range ws {
		out.Requests += uint64(w.requests)
		out.Errors += uint64(w.errors)
		for i, n := range w.hist {
			all[i] += n
		}
		out.Windows = append(out.Windows, WindowStats{
			Start:    time.Unix(0, w.index*int64(g.opts.Window)).UTC(),
			Requests: uint64(w.requests),
			Errors:   uint64(w.errors),
			Latency:  latencyOf(&w.hist),
		})
	}
	out.Latency = latencyOf(&all)
	out.LastSeen = time.Unix(0, (ws[len(ws)-1].index+1)*int64(g.opts.Window)).UTC()
	return out, true
}

func latencyOf(h *[numBuckets]uint32) Latency {
	return Latency{P50: Seconds(quantile(h, 0.5)), P90: Seconds(quantile(h, 0.9)), P99: Seconds(quantile(h, 0.99))}
}

// Call is an edge as the root-cause ranking reads it: caller → callee and
// its requests, counted with a half-life of Windows × Window.
type Call struct {
	EdgeKey
	// Weight is the edge's request count, each request counted at
	// 2^(−age / (Windows × Window)): about the requests of the windows
	// kept while traffic flows, and the last such count, fading slowly
	// and evenly across a service's calls, when it pauses.
	Weight float64
	// Unseen is set on a declared call (Options.Declared) with no
	// request within Retain: its Weight is the caller's mean, not a
	// count.
	Unseen bool
}

// Calls returns every edge remembered (with a request within Retain),
// sorted by caller and callee. While traffic pauses the weights of a
// caller's calls decay together, so the shares of its calls stay those of
// its traffic before the pause.
//
// A declared call (Options.Declared) no span showed weighs the mean of
// its caller's remembered calls, 1 when it has none: the configuration
// says that the call happens, not how often, so it takes an average
// share of the caller's traffic.
func (g *Graph) Calls() []Call {
	now := g.opts.Now()
	g.mu.Lock()
	defer g.mu.Unlock()
	w := g.windowOf(now)
	oldest := w - int64(g.opts.Retain/g.opts.Window)
	out := make([]Call, 0, len(g.edges)+len(g.decl.calls.sorted))
	var mean callerMeans
	if len(g.decl.calls.sorted) > 0 {
		mean = callerMeans{}
	}
	for k, e := range g.edges {
		if e.last < oldest {
			continue
		}
		c := Call{EdgeKey: k, Weight: e.decayed(w, g.opts.Windows)}
		out = append(out, c)
		mean.add(k.Caller, c.Weight)
	}
	for _, k := range g.decl.calls.sorted {
		if e, ok := g.edges[k]; ok && e.last >= oldest {
			continue // learnt: weighs its requests
		}
		out = append(out, Call{EdgeKey: k, Weight: mean.of(k.Caller), Unseen: true})
	}
	slices.SortFunc(out, func(a, b Call) int {
		return byCallerCallee(a.EdgeKey, b.EdgeKey)
	})
	return out
}

// RankGraph is the call graph as the root-cause ranking walks it: Calls,
// each edge weighted by its decaying request count, and for every
// placement (Placements) a call from the service to its host
// (rca.HostNode), weighed as the mean of the service's calls (1 when it
// has none): a service depends on its host as on a callee, so the walk
// reaches a host whose own signals explain its services'. An unseen
// declared call (Call.Unseen) is a declared edge of the result
// (rca.Graph.AddDeclaredCall): no count says how the caller's traffic
// divides among such calls, so the walk shares them among the caller's
// anomalous callees.
func (g *Graph) RankGraph() *rca.Graph {
	out := rca.NewGraph()
	mean := callerMeans{}
	for _, c := range g.Calls() {
		if c.Unseen {
			out.AddDeclaredCall(c.Caller, c.Callee, c.Weight)
		} else {
			out.AddCall(c.Caller, c.Callee, c.Weight)
		}
		mean.add(c.Caller, c.Weight)
	}
	for _, p := range g.Placements() {
		out.AddCall(p.Service, rca.HostNode(p.Host), mean.of(p.Service))
	}
	return out
}

// callerMeans sums each caller's call weights (nil sums nothing).
type callerMeans map[string]struct {
	w float64
	n int
}

func (m callerMeans) add(caller string, w float64) {
	if m != nil {
		s := m[caller]
		s.w, s.n = s.w+w, s.n+1
		m[caller] = s
	}
}

// of is what a call of caller the traffic does not weigh (a declared
// call no span showed, a placement) weighs: the mean of its calls, 1 when
// it has none.
func (m callerMeans) of(caller string) float64 {
	if s := m[caller]; s.n > 0 && s.w > 0 {
		return s.w / float64(s.n)
	}
	return 1
}

// Neighbours returns the services that call service and those it calls,
// each sorted, from the edges in the windows kept and the declared calls
// (Options.Declared).
func (g *Graph) Neighbours(service string) (callers, callees []string) {
	now := g.opts.Now()
	g.mu.Lock()
	defer g.mu.Unlock()
	oldest := g.windowOf(now) - int64(g.opts.Windows) + 1
	for k, e := range g.edges {
		if e.last < oldest {
			continue
		}
		if _, ok := g.decl.calls.set[k]; ok {
			continue // listed below
		}
		if k.Callee == service {
			callers = append(callers, k.Caller)
		}
		if k.Caller == service {
			callees = append(callees, k.Callee)
		}
	}
	callers = append(callers, g.decl.calls.firsts[service]...)
	callees = append(callees, g.decl.calls.seconds[service]...)
	slices.Sort(callers)
	slices.Sort(callees)
	return callers, callees
}

// Snapshot returns the nodes (every service seen in the windows kept, and
// every service of an edge) and the edges.
func (g *Graph) Snapshot() Snapshot {
	edges := g.Edges()
	now := g.opts.Now()
	g.mu.Lock()
	horizon := now.Add(-time.Duration(g.opts.Windows) * g.opts.Window)
	nodes := make(map[string]time.Time, len(g.services))
	for s, at := range g.services {
		if !at.Before(horizon) {
			nodes[s] = at
		}
	}
	g.mu.Unlock()
	for _, e := range edges {
		for _, s := range []string{e.Caller, e.Callee} {
			if _, ok := nodes[s]; !ok {
				nodes[s] = time.Time{}
			}
		}
	}
	placement := g.Placements()
	for _, p := range placement {
		if _, ok := nodes[p.Service]; !ok {
			nodes[p.Service] = time.Time{}
		}
	}
	snap := Snapshot{Window: Seconds(g.opts.Window), Nodes: make([]Node, 0, len(nodes)), Edges: edges, Placement: placement}
	for s, at := range nodes {
		snap.Nodes = append(snap.Nodes, Node{Service: s, LastSeen: at.UTC()})
	}
	slices.SortFunc(snap.Nodes, func(a, b Node) int { return cmp.Compare(a.Service, b.Service) })
	return snap
}

// ServeHTTP serves GET /api/v1/topology: the Snapshot as JSON.
func (g *Graph) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	ingest.WriteJSON(w, http.StatusOK, g.Snapshot())
}

// Routes returns the topology route, for the viewer role.
func (g *Graph) Routes() []ingest.Route {
	return []ingest.Route{{Pattern: Route, Role: auth.RoleViewer, Handler: g}}
}
