package rca

import "slices"

// Graph is a service call graph: directed caller → callee edges with a
// weight, typically the number of calls seen. An edge added by
// AddDeclaredCall is declared: its weight was not observed. The zero
// value is not usable; use NewGraph. A Graph is not safe for concurrent
// mutation.
type Graph struct {
	callees map[string]map[string]float64
	callers map[string]map[string]float64
	// declared holds the declared edges, by caller and callee; nil until
	// the first.
	declared map[string]map[string]bool
}

// NewGraph returns an empty graph.
func NewGraph() *Graph {
	return &Graph{callees: map[string]map[string]float64{}, callers: map[string]map[string]float64{}}
}

// AddCall adds weight to the edge caller → callee, creating both services.
// Self-calls and non-positive weights only create the services. The
// weight is taken as observed: a declared edge it adds to is declared no
// more.
func (g *Graph) AddCall(caller, callee string, weight float64) {
	if g.add(caller, callee, weight) {
		delete(g.declared[caller], callee)
	}
}

// AddDeclaredCall adds the edge caller → callee with a weight that was
// not observed (a call the configuration declares and no span showed,
// weighed by a convention such as the mean of the caller's calls), and
// marks it declared unless it already has an observed weight. The walk
// shares a caller's declared calls among its anomalous callees only
// (Config.DeclaredToAnomalous). Self-calls and non-positive weights
// only create the services.
func (g *Graph) AddDeclaredCall(caller, callee string, weight float64) {
	_, had := g.callees[caller][callee]
	if !g.add(caller, callee, weight) || (had && !g.declared[caller][callee]) {
		return
	}
	if g.declared == nil {
		g.declared = map[string]map[string]bool{}
	}
	if g.declared[caller] == nil {
		g.declared[caller] = map[string]bool{}
	}
	g.declared[caller][callee] = true
}

// add adds weight to the edge caller → callee, creating both services; it
// reports whether it added an edge weight.
func (g *Graph) add(caller, callee string, weight float64) bool {
	g.AddService(caller)
	g.AddService(callee)
	if caller == callee || !(weight > 0) {
		return false
	}
	g.callees[caller][callee] += weight
	g.callers[callee][caller] += weight
	return true
}

// Declared reports whether the edge caller → callee is declared: added
// by AddDeclaredCall alone, its weight not observed.
func (g *Graph) Declared(caller, callee string) bool { return g.declared[caller][callee] }

// AddService adds a service without edges (no-op if it exists).
func (g *Graph) AddService(s string) {
	if _, ok := g.callees[s]; !ok {
		g.callees[s] = map[string]float64{}
		g.callers[s] = map[string]float64{}
	}
}

// Has reports whether s is in the graph.
func (g *Graph) Has(s string) bool { _, ok := g.callees[s]; return ok }

// Weight returns the weight of the edge caller → callee (0 if absent).
func (g *Graph) Weight(caller, callee string) float64 { return g.callees[caller][callee] }

// Services returns every service, sorted.
func (g *Graph) Services() []string {
	out := make([]string, 0, len(g.callees))
	for s := range g.callees {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// Callees returns the services s calls, sorted.
func (g *Graph) Callees(s string) []string { return sortedKeys(g.callees[s]) }

// Callers returns the services that call s, sorted.
func (g *Graph) Callers(s string) []string { return sortedKeys(g.callers[s]) }

// Edges returns the number of caller → callee edges.
func (g *Graph) Edges() int {
	n := 0
	for _, m := range g.callees {
		n += len(m)
	}
	return n
}

func sortedKeys(m map[string]float64) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
