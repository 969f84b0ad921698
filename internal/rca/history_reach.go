package rca

import "slices"

// historyCallerCost is how many calls a step from a service to one of its
// callers counts for in readOrder; a step to a callee counts for one.
// A symptom is seen where users call and a root cause is more often in
// what the symptom's service waits for, directly or through others, than
// in what calls it (docs/rca.md, "Session 10: PetShop serve"): with a
// budget of series, the callees a few calls down are read before the
// callers next to the incident.
const historyCallerCost = 2

// readOrder returns the services whose series a computation reads, in the
// order the budget takes them: the incident's services (start, in their
// order), then every service of g connected to them, nearest first, where
// a call towards a callee counts for 1 and one towards a caller for
// historyCallerCost; services at the same distance in the order they were
// reached (callees before callers, each sorted). At most limit services
// are returned (none with limit ≤ 0 but the start), so that a large graph
// costs no more than limit reads.
func readOrder(g *Graph, start []string, limit int) []string {
	out := slices.Clone(start)
	if g == nil || len(out) >= limit {
		return out
	}
	seen := make(map[string]bool, len(start))
	for _, s := range start {
		seen[s] = true
	}
	// Buckets by distance: a breadth-first search with two step costs.
	buckets := [][]string{slices.Clone(start)}
	push := func(d int, s string) {
		for len(buckets) <= d {
			buckets = append(buckets, nil)
		}
		buckets[d] = append(buckets[d], s)
	}
	for d := 0; d < len(buckets); d++ {
		for i := 0; i < len(buckets[d]); i++ {
			s := buckets[d][i]
			if d > 0 {
				// Settled at d: distances only grow, so the first
				// time a service is taken from a bucket is its
				// nearest.
				if seen[s] {
					continue
				}
				seen[s] = true
				out = append(out, s)
				if len(out) >= limit {
					return out
				}
			}
			for _, c := range g.Callees(s) {
				if !seen[c] {
					push(d+1, c)
				}
			}
			for _, p := range g.Callers(s) {
				if !seen[p] {
					push(d+historyCallerCost, p)
				}
			}
		}
	}
	return out
}
