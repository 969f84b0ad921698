package rca

// The ranker as it was before Session 8's speed work (commit 8eef1e7), kept
// so that TestRankMatchesReference can demand the same output of the
// current one on random inputs.

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/osprey-aiops/osprey"
)

// refNode is the ranker's summary of one service.
type refNode struct {
	name     string
	strength float64
	onset    time.Time
	byKind   map[Kind]Evidence // strongest per kind
	all      []Evidence
	walk     float64
	// requests and along are from the evidence observed over the most
	// requests (Evidence.Requests), zero and nil if none was.
	requests int
	along    map[string]int
	// own is the noisy-or strength of the service's own evidence
	// (Evidence.Own), ownOnset the earliest onset of it (zero if none).
	own      float64
	ownOnset time.Time
	// ownUnexplained is the noisy-or of the own evidence no callee can
	// refExplain: its own broken spans (the trace stage tallies a broken
	// request at its deepest broken span, so no callee broke in it) and
	// its changes. Its own slowness is not in it: a failing callee can
	// lengthen a caller's self time (retries, error handling).
	ownUnexplained float64
	// explainedBy is the anomalous callee whose own evidence explains
	// the rest of this service's (Config.OwnExplains), or "".
	explainedBy string
}

// refRank ranks the services with evidence as root-cause candidates, best
// first. Services of the graph without evidence are not candidates; services
// with evidence that the graph does not know are ranked on their own
// evidence. The result is deterministic for a given input.
func refRank(g *Graph, evidence []Evidence, cfg Config) []osprey.Cause {
	if g == nil {
		g = NewGraph()
	}
	nodes := refSummarise(evidence, cfg.MinScore)
	if len(nodes) == 0 {
		return nil
	}
	refWalk(g, nodes, cfg)
	order := make([]*refNode, 0, len(nodes))
	for _, n := range nodes {
		order = append(order, n)
	}
	slices.SortFunc(order, func(a, b *refNode) int {
		if c := cmp.Compare(b.walk, a.walk); c != 0 {
			return c
		}
		if c := cmp.Compare(b.strength, a.strength); c != 0 {
			return c
		}
		if c := a.onset.Compare(b.onset); c != 0 {
			return c
		}
		return strings.Compare(a.name, b.name)
	})
	earliest := order[0].onset
	for _, n := range order {
		if n.onset.Before(earliest) {
			earliest = n.onset
		}
	}
	// Say what share of each strength is the service's own when the
	// start weighs it (Config.Symptom).
	showOwn := cfg.symptom() < 1 && slices.ContainsFunc(order, func(n *refNode) bool { return n.own > 0 })
	causes := make([]osprey.Cause, len(order))
	for i, n := range order {
		causes[i] = osprey.Cause{
			Kind:        osprey.CauseService,
			Name:        n.name,
			Score:       round(n.walk, 6),
			Explanation: refExplain(g, n, nodes, earliest, cfg, showOwn),
			EvidenceIDs: refEvidenceIDs(n),
		}
	}
	return causes
}

// refSummarise groups evidence by service: strongest evidence per kind, the
// noisy-or strength over kinds, and the earliest onset.
func refSummarise(evidence []Evidence, minScore float64) map[string]*refNode {
	// Count each service's evidence first, so that each refNode's list is
	// allocated once at its size (an incident's ranking runs on every
	// join, over all its members' evidence).
	counts := map[string]int{}
	for i := range evidence {
		if e := &evidence[i]; e.Service != "" && e.Score >= minScore {
			counts[e.Service]++
		}
	}
	nodes := make(map[string]*refNode, len(counts))
	for _, e := range evidence {
		if e.Service == "" || !(e.Score >= minScore) {
			continue
		}
		e.Score = min(e.Score, 1)
		n := nodes[e.Service]
		if n == nil {
			n = &refNode{name: e.Service, byKind: map[Kind]Evidence{}, onset: e.Onset, all: make([]Evidence, 0, counts[e.Service])}
			nodes[e.Service] = n
		}
		n.all = append(n.all, e)
		if e.Onset.Before(n.onset) {
			n.onset = e.Onset
		}
		if best, ok := n.byKind[e.Kind]; !ok || refStronger(e, best) {
			n.byKind[e.Kind] = e
		}
		if e.Requests > n.requests {
			n.requests, n.along = e.Requests, e.Along
		}
	}
	for _, n := range nodes {
		// Multiply in a fixed order: floating-point products depend on
		// it, and map order is random, so ties could flip between runs.
		miss := 1.0
		for _, k := range refSortedKinds(n.byKind) {
			miss *= 1 - n.byKind[k].Score
		}
		n.strength = 1 - miss
		n.own, n.ownOnset, n.ownUnexplained = refOwnStrength(n.all)
		slices.SortFunc(n.all, func(a, b Evidence) int {
			if refStronger(a, b) {
				return -1
			}
			if refStronger(b, a) {
				return 1
			}
			return 0
		})
	}
	return nodes
}

// refOwnStrength returns the noisy-or over kinds of the strongest own evidence
// (Evidence.Own) of each kind in all, and its earliest onset; 0 and the
// zero time if none is own (the common case: no map is allocated).
func refOwnStrength(all []Evidence) (own float64, onset time.Time, unexplained float64) {
	var best map[Kind]float64
	for _, e := range all {
		if !e.Own {
			continue
		}
		if best == nil {
			best = map[Kind]float64{}
		}
		best[e.Kind] = max(best[e.Kind], e.Score)
		if onset.IsZero() || e.Onset.Before(onset) {
			onset = e.Onset
		}
	}
	miss := 1.0
	for _, k := range refSortedKinds(best) { // fixed order: a deterministic product
		miss *= 1 - best[k]
	}
	return 1 - miss, onset, 1 - (1-best[KindFlow])*(1-best[KindChange])
}

// refStronger orders evidence: higher score, earlier onset, then kind, signal
// and id, so that the choice is deterministic.
func refStronger(a, b Evidence) bool {
	if a.Score != b.Score {
		return a.Score > b.Score
	}
	if !a.Onset.Equal(b.Onset) {
		return a.Onset.Before(b.Onset)
	}
	if a.Kind != b.Kind {
		return a.Kind < b.Kind
	}
	if a.Signal != b.Signal {
		return a.Signal < b.Signal
	}
	return a.ID < b.ID
}

// refWalk runs the personalised PageRank over the anomalous services and sets
// node.walk (summing to 1).
func refWalk(g *Graph, nodes map[string]*refNode, cfg Config) {
	names := make([]string, 0, len(nodes))
	for s := range nodes {
		names = append(names, s)
	}
	slices.Sort(names)
	idx := make(map[string]int, len(names))
	for i, s := range names {
		idx[s] = i
	}
	k := len(names)
	pers := make([]float64, k)
	total := 0.0
	symptom := cfg.symptom()
	// weight is a service's strength with the evidence that is not its
	// own weighed by Symptom: where the walk starts, how strongly a callee
	// explains a caller, and how much a service keeps.
	// Evidence without any Own is all scaled alike, so the walk is the
	// same as on the strengths.
	weight := func(n *refNode) float64 { return n.own + symptom*max(n.strength-n.own, 0) }
	for i, s := range names {
		pers[i] = weight(nodes[s])
		total += pers[i]
	}
	for i := range pers {
		pers[i] /= total
	}
	// Transition lists, only among anomalous services: a service with no
	// evidence cannot be blamed, and walking through it would only leak
	// mass.
	type step struct {
		to int
		p  float64
	}
	trans := make([][]step, k)
	for i, s := range names {
		n := nodes[s]
		var out []step
		sum, explained := 0.0, 0.0
		for _, c := range g.Callees(s) {
			j, ok := idx[c]
			if !ok {
				continue
			}
			m := nodes[c]
			w := refWeightShare(g.callees[s], c) * weight(m)
			// A caller's own break or change is not what a callee
			// explains: the walk goes on to callees only with the
			// chance that the caller's anomaly is not one.
			w *= 1 - n.ownUnexplained
			if m.onset.After(n.onset.Add(cfg.OnsetSlack)) {
				w *= cfg.LateCallee
			}
			joint := cfg.Joint && n.requests > 0 && m.requests > 0
			if joint {
				w *= float64(min(n.along[c], n.requests)) / float64(n.requests)
			}
			out = append(out, step{j, w})
			sum += w
			explained = max(explained, m.strength)
			if cfg.OwnExplains && !joint && m.own > 0 && !m.ownOnset.After(n.onset.Add(cfg.OnsetSlack)) &&
				(n.explainedBy == "" || m.own > nodes[n.explainedBy].own) {
				n.explainedBy = c
			}
		}
		for _, p := range g.Callers(s) {
			j, ok := idx[p]
			if !ok {
				continue
			}
			w := cfg.Back * refWeightShare(g.callers[s], p) * weight(nodes[p])
			out = append(out, step{j, w})
			sum += w
		}
		// Stay in proportion to the service's own strength (StayOwn), or
		// to the part of it that no anomalous callee reaches; a service
		// with no anomalous callee keeps all of it either way.
		self := max(n.strength-explained, 0)
		if cfg.StayOwn {
			self = weight(n)
			if n.explainedBy != "" {
				// Only its own evidence is unexplained.
				self = n.own
			}
		}
		if len(out) == 0 || sum == 0 {
			self = 1
		}
		out = append(out, step{i, self})
		sum += self
		for t := range out {
			out[t].p /= sum
		}
		trans[i] = out
	}
	rank := slices.Clone(pers)
	next := make([]float64, k)
	iters := max(cfg.Iterations, 1)
	for range iters {
		for j := range next {
			next[j] = (1 - cfg.Damping) * pers[j]
		}
		for i, out := range trans {
			for _, st := range out {
				next[st.to] += cfg.Damping * rank[i] * st.p
			}
		}
		delta := 0.0
		for j := range next {
			delta += math.Abs(next[j] - rank[j])
		}
		rank, next = next, rank
		if delta < 1e-12 {
			break
		}
	}
	for i, s := range names {
		nodes[s].walk = rank[i]
	}
}

// refWeightShare is m[k] as a share of the sum of m, so that a hub's many
// edges do not outweigh a leaf's one.
func refWeightShare(m map[string]float64, k string) float64 {
	sum := 0.0
	for _, key := range sortedKeys(m) { // fixed order: a deterministic sum
		sum += m[key]
	}
	if sum == 0 {
		return 0
	}
	return m[k] / sum
}

// refEvidenceIDs lists the ids behind a refNode, strongest first, without
// duplicates or empties.
func refEvidenceIDs(n *refNode) []string {
	ids := make([]string, 0, len(n.all))
	seen := make(map[string]bool, len(n.all))
	for _, e := range n.all {
		if e.ID == "" || seen[e.ID] {
			continue
		}
		seen[e.ID] = true
		ids = append(ids, e.ID)
	}
	if len(ids) == 0 {
		return nil // as before the list was allocated at its size
	}
	return ids
}

// refExplain writes the checkable reasons for n's rank: its strongest evidence
// per kind with onsets, its onset relative to the earliest anomaly and to its
// anomalous callers, which of its callers and callees are anomalous, the
// callee whose own evidence explains it (Config.OwnExplains), and, with
// showOwn, its own strength and the weight of the rest at the walk's start
// (Config.Symptom).
func refExplain(g *Graph, n *refNode, nodes map[string]*refNode, earliest time.Time, cfg Config, showOwn bool) string {
	var b strings.Builder
	b.WriteString(n.name)
	b.WriteString(": ")
	kinds := make([]Evidence, 0, len(n.byKind))
	for _, e := range n.byKind {
		kinds = append(kinds, e)
	}
	slices.SortFunc(kinds, func(a, b Evidence) int {
		if refStronger(a, b) {
			return -1
		}
		return 1
	})
	for i, e := range kinds {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %s (score %.2f at %s)", kindWord(e.Kind), e.Signal, e.Score, e.Onset.UTC().Format(time.TimeOnly))
		if i == 2 && len(kinds) > 3 {
			fmt.Fprintf(&b, " and %d more kinds", len(kinds)-3)
			break
		}
	}
	if extra := len(n.all) - len(kinds); extra > 0 {
		fmt.Fprintf(&b, " and %d more anomalies", extra)
	}
	b.WriteString("; ")
	// Onset.
	if !n.onset.After(earliest) {
		b.WriteString("earliest anomaly")
	} else {
		fmt.Fprintf(&b, "first anomalous %s after the earliest anomaly", secs(n.onset.Sub(earliest)))
	}
	var anomCallers, laterCallers []string
	callers := g.Callers(n.name)
	firstCaller := time.Time{}
	for _, p := range callers {
		if m, ok := nodes[p]; ok {
			anomCallers = append(anomCallers, p)
			if !m.onset.Before(n.onset.Add(-cfg.OnsetSlack)) {
				laterCallers = append(laterCallers, p)
			}
			if firstCaller.IsZero() || m.onset.Before(firstCaller) {
				firstCaller = m.onset
			}
		}
	}
	if len(anomCallers) > 0 {
		if d := firstCaller.Sub(n.onset); d > 0 {
			fmt.Fprintf(&b, " (%s before any anomalous caller)", secs(d))
		} else if d < 0 {
			fmt.Fprintf(&b, " (%s after its first anomalous caller)", secs(-d))
		} else {
			b.WriteString(" (with its first anomalous caller)")
		}
	}
	switch {
	case len(callers) == 0:
		b.WriteString(", no known callers")
	default:
		fmt.Fprintf(&b, ", %d of its %d callers anomalous", len(anomCallers), len(callers))
		if len(anomCallers) > 0 {
			fmt.Fprintf(&b, " (%d not earlier than it)", len(laterCallers))
		}
	}
	var anomCallees []string
	for _, c := range g.Callees(n.name) {
		if m, ok := nodes[c]; ok {
			e := fmt.Sprintf("%s %.2f", c, m.strength)
			if n.requests > 0 && m.requests > 0 {
				e += fmt.Sprintf(" (in %d of its %d anomalous requests)", min(n.along[c], n.requests), n.requests)
			}
			anomCallees = append(anomCallees, e)
		}
	}
	if len(anomCallees) == 0 {
		b.WriteString(", no anomalous callee")
	} else {
		fmt.Fprintf(&b, ", anomalous callees: %s", strings.Join(anomCallees, ", "))
	}
	if c := n.explainedBy; c != "" {
		m := nodes[c]
		fmt.Fprintf(&b, "; callee %s's own evidence (trace or change, %.2f) began %s and can explain %s's other anomalies",
			c, m.own, relOnset(m.ownOnset, n.onset, n.name), n.name)
		if n.own > 0 {
			fmt.Fprintf(&b, ", not its own (%.2f)", n.own)
		}
	}
	if inc := refConcurrentIncidents(n); len(inc) > 0 {
		fmt.Fprintf(&b, "; evidence from concurrent incident %s", strings.Join(inc, ", "))
	}
	if showOwn {
		fmt.Fprintf(&b, "; strength %.2f, its own (trace or change) %.2f, the rest weighed %.2f at the start", n.strength, n.own, cfg.symptom())
		fmt.Fprintf(&b, ", walk score %.3f", n.walk)
	} else {
		fmt.Fprintf(&b, "; strength %.2f, walk score %.3f", n.strength, n.walk)
	}
	return b.String()
}

// refConcurrentIncidents returns the ids of the concurrent incidents that
// n's evidence is from (Evidence.Incident), sorted.
func refConcurrentIncidents(n *refNode) []string {
	var out []string
	for _, e := range n.all {
		if e.Incident != "" && !slices.Contains(out, e.Incident) {
			out = append(out, e.Incident)
		}
	}
	slices.Sort(out)
	return out
}

// refSortedKinds returns the kinds (keys) of m in order: products over
// them are then deterministic, whatever the map's iteration order.
func refSortedKinds[V any](m map[Kind]V) []Kind {
	return slices.Sorted(maps.Keys(m))
}

func (r ConcurrentIncidentRanker) refRankCausesAmong(inc *osprey.Incident, concurrent []*osprey.Incident) []osprey.Cause {
	if len(concurrent) == 0 {
		return refRankCauses(r.IncidentRanker, inc)
	}
	ev := r.memberEvidence(inc, 0)
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
	return refRank(g, ev, r.Config)
}

func refRankCauses(r IncidentRanker, inc *osprey.Incident) []osprey.Cause {
	ev := r.memberEvidence(inc, 0)
	if r.Extra != nil && len(ev) > 0 {
		ev = append(ev, r.Extra.Evidence(inc)...)
	}
	if len(ev) == 0 {
		return nil
	}
	return refRank(r.graph(), ev, r.Config)
}
