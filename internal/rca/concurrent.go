package rca

import (
	"slices"

	"github.com/osprey-aiops/osprey"
)

// ConcurrentIncidentRanker is an IncidentRanker that also reads the
// incidents concurrent with the one it ranks (the correlate stage's
// ConcurrentRanker). Hops, if positive, limits the services it takes from
// them to those within that many calls of the incident's, in either
// direction; 0 takes them all.
type ConcurrentIncidentRanker struct {
	IncidentRanker
	Hops int
}

// RankCausesAmong ranks inc's member services as RankCauses does and adds
// as candidates the evidence of the members of concurrent, the other
// incidents that the caller (the correlate stage) found to have begun
// about when inc did. A failure often shows its symptoms in one incident
// (the callers and siblings that log errors and slow down) and its cause
// in another (the service whose own spans broke, or whose CPU ran hot),
// which grouping keeps apart when the call graph does not connect them
// closely; the symptom incident then names the concurrent incident's
// service as a candidate, and its explanation says which incident the
// evidence is from (Evidence.Incident). A concurrent member counts as a
// member would: its own evidence (Evidence.Own: trace anomalies,
// changes) in full where the walk starts, its logs, metrics and alerts
// weighed by Config.Symptom. With r.Hops > 0, only services within that
// many calls of one of inc's member services, in either direction, are
// added.
func (r ConcurrentIncidentRanker) RankCausesAmong(inc *osprey.Incident, concurrent []*osprey.Incident) []osprey.Cause {
	if len(concurrent) == 0 {
		return r.RankCauses(inc)
	}
	// Room for every concurrent member: thousands in a storm, which
	// growing the slice would copy again and again.
	more := 0
	for _, o := range concurrent {
		if o != nil && o.ID != inc.ID {
			more += len(o.Members)
		}
	}
	ev := r.memberEvidence(inc, more)
	if len(ev) == 0 {
		return nil
	}
	g := r.graph()
	var near map[string]bool
	if r.Hops > 0 {
		seeds := make([]string, 0, len(ev))
		for _, e := range ev {
			seeds = append(seeds, e.Service)
		}
		near = g.Within(seeds, r.Hops)
	}
	for _, o := range concurrent {
		if o == nil || o.ID == inc.ID {
			continue
		}
		for i := range o.Members {
			e, ok := FromMember(&o.Members[i], r.ServiceLabel)
			if !ok || near != nil && !near[e.Service] {
				continue
			}
			e.Incident = o.ID
			ev = append(ev, e)
		}
	}
	if r.Extra != nil {
		ev = append(ev, r.Extra.Evidence(inc)...)
	}
	return rank(g, ev, r.Config, true)
}

// Within returns the services at most hops calls away from one of seeds,
// following calls in either direction, seeds included (those the graph
// knows or not).
func (g *Graph) Within(seeds []string, hops int) map[string]bool {
	out := make(map[string]bool, len(seeds))
	frontier := make([]string, 0, len(seeds))
	for _, s := range seeds {
		if !out[s] {
			out[s] = true
			frontier = append(frontier, s)
		}
	}
	for range hops {
		var next []string
		for _, s := range frontier {
			for _, n := range slices.Concat(g.Callees(s), g.Callers(s)) {
				if !out[n] {
					out[n] = true
					next = append(next, n)
				}
			}
		}
		frontier = next
	}
	return out
}
