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
	var b ConcurrentBatch
	b.r = r
	return b.rankAmong(inc, concurrent, r.memberEvidence, nil)
}

// ConcurrentBatch ranks several incidents as RankCausesAmong does while
// none of their members changes: the correlate stage ranks every incident
// of a batch that gained a member, each among the same concurrent
// incidents, so each incident's members would be turned into evidence
// once for every ranking that reads them (ten times for ten concurrent
// incidents). A batch turns them once and copies that evidence into one
// slice it reuses for every ranking. Its results are RankCausesAmong's.
// It is not safe for concurrent use, and must not be used once a member
// of an incident it ranked or read has changed (its evidence would be
// the old members').
type ConcurrentBatch struct {
	r ConcurrentIncidentRanker
	// evidence is the evidence of each incident's members read so far,
	// as memberEvidence gives it (Evidence.Incident empty).
	evidence map[*osprey.Incident][]Evidence
	// buf is the evidence of the last ranking, reused by the next (rank
	// keeps none of it).
	buf []Evidence
}

// Batch returns a ConcurrentBatch ranking with r.
func (r ConcurrentIncidentRanker) Batch() *ConcurrentBatch {
	return &ConcurrentBatch{r: r, evidence: make(map[*osprey.Incident][]Evidence)}
}

// RankBatch returns the RankCausesAmong of a new ConcurrentBatch (the
// correlate stage's BatchRanker).
func (r ConcurrentIncidentRanker) RankBatch() func(inc *osprey.Incident, concurrent []*osprey.Incident) []osprey.Cause {
	return r.Batch().RankCausesAmong
}

// RankCausesAmong returns what b's ranker's RankCausesAmong returns for
// inc and concurrent, reading the members of each incident once per
// batch.
func (b *ConcurrentBatch) RankCausesAmong(inc *osprey.Incident, concurrent []*osprey.Incident) []osprey.Cause {
	buf := b.buf[:0]
	if len(concurrent) == 0 {
		buf = append(buf, b.members(inc)...)
		if b.r.Extra != nil && len(buf) > 0 {
			buf = append(buf, b.r.Extra.Evidence(inc)...)
		}
		b.buf = buf
		if len(buf) == 0 {
			return nil
		}
		return rank(b.r.graph(), buf, b.r.Config, true)
	}
	return b.rankAmong(inc, concurrent, func(inc *osprey.Incident, more int) []Evidence {
		return append(slices.Grow(buf, len(b.members(inc))+more), b.members(inc)...)
	}, b.members)
}

// members returns the evidence of inc's members, which b keeps: callers
// copy it before ranking (rank changes the evidence it owns).
func (b *ConcurrentBatch) members(inc *osprey.Incident) []Evidence {
	ev, ok := b.evidence[inc]
	if !ok {
		ev = b.r.memberEvidence(inc, 0)
		b.evidence[inc] = ev
	}
	return ev
}

// rankAmong is RankCausesAmong for a non-empty concurrent: own returns
// the evidence of inc's members in a slice rank may own, with room for
// more further pieces; of, if not nil, the evidence of a concurrent
// incident's members (else it is read from them). b.buf keeps the slice
// ranked.
func (b *ConcurrentBatch) rankAmong(inc *osprey.Incident, concurrent []*osprey.Incident,
	own func(inc *osprey.Incident, more int) []Evidence, of func(*osprey.Incident) []Evidence) []osprey.Cause {
	r := b.r
	// Room for every concurrent member: thousands in a storm, which
	// growing the slice would copy again and again.
	more := 0
	for _, o := range concurrent {
		if o != nil && o.ID != inc.ID {
			more += len(o.Members)
		}
	}
	ev := own(inc, more)
	defer func() { b.buf = ev }()
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
		if of != nil {
			src := of(o)
			for i := range src {
				if near != nil && !near[src[i].Service] {
					continue
				}
				ev = append(ev, src[i])
				ev[len(ev)-1].Incident = o.ID
			}
			continue
		}
		for i := range o.Members {
			e, ok := FromMember(o.Members[i], r.ServiceLabel)
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
