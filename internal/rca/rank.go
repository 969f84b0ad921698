package rca

import (
	"cmp"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/osprey-aiops/osprey"
)

// Kind says which modality a piece of evidence comes from.
type Kind string

// Evidence kinds.
const (
	KindMetric  Kind = "metric"
	KindLog     Kind = "log"
	KindLatency Kind = "trace_latency"
	KindError   Kind = "trace_error"
	// KindChange is a change event such as a deploy.
	KindChange Kind = "change"
	// KindFlow is a broken request flow: log lines or calls that always
	// came together in one request and did not (an exception or an early
	// return). Logs and traces often see the same break (the line a span
	// used to write is missing from the span and from the log sequence),
	// so it is one modality whichever source saw it: only the strongest
	// counts, not a noisy-or of the two views of one event.
	KindFlow Kind = "flow"
)

// Evidence is one anomaly attributed to a service in the incident's window.
type Evidence struct {
	// ID is the id of the anomaly or event behind the evidence.
	ID      string
	Service string
	Kind    Kind
	// Signal names what was anomalous, as a person would read it:
	// "CpuUsageRate(%)", "new log template ...", "latency of GET /orders".
	Signal string
	// Score is the evidence's strength in [0, 1].
	Score float64
	// Onset is when the anomaly began.
	Onset time.Time
	// Requests is how many requests (traces) of the service were
	// anomalous in the window, when the evidence was observed per request;
	// 0 when it was not (a metric, a log without trace ids).
	Requests int
	// Along counts, per other service, how many of those Requests had an
	// anomalous span of that service too, or lacked the call to it that
	// a broken span of this service used to make. With Requests it is
	// what the walk's caller-callee test reads (Config.Joint).
	Along map[string]int
	// Own is set on evidence attributed to this service's own work rather
	// than to what it waited for: the trace detect stage's anomalies
	// (internal/detect/trace) judge a span's self time, without its
	// children's, and tally a broken span only when no span below it in
	// the request broke; a change (a deploy) is the service's own too.
	// Logs and metrics are not attributed so: a caller logs errors and
	// slows down when its callee fails. The walk reads it
	// (Config.OwnExplains).
	Own bool
	// Incident is the id of the concurrent incident the evidence is
	// from, when it is not the ranked incident's own member
	// (IncidentRanker.RankCausesAmong); "" otherwise.
	Incident string
}

// FromAnomaly turns an osprey.Anomaly into Evidence for the service named by
// its serviceLabel label (osprey.LabelService if empty). It reports false when
// the anomaly carries no service.
func FromAnomaly(a *osprey.Anomaly, serviceLabel string) (Evidence, bool) {
	if serviceLabel == "" {
		serviceLabel = osprey.LabelService
	}
	svc := a.Labels.Get(serviceLabel)
	if svc == "" {
		return Evidence{}, false
	}
	kind := KindMetric
	signal := a.Labels.Get(osprey.LabelMetric)
	switch a.Kind {
	case osprey.AnomalyLog:
		kind, signal = KindLog, "log template "+a.TemplateID
	case osprey.AnomalyTrace:
		kind = traceKind(a.Labels)
		signal = "trace " + a.Labels.Get(osprey.LabelTraceSignal)
		if len(a.Evidence) > 0 {
			signal = a.Evidence[0].Reason
		}
	}
	return Evidence{ID: a.ID, Service: svc, Kind: kind, Signal: signal, Score: a.Score, Onset: a.StartsAt,
		Own: a.Kind == osprey.AnomalyTrace}, true
}

// traceKind is the evidence kind of a trace anomaly labelled l
// (internal/detect/trace): a broken span pattern is a broken request flow,
// anything else slowness.
func traceKind(l osprey.Labels) Kind {
	if l.Get(osprey.LabelTraceSignal) == "flow" {
		return KindFlow
	}
	return KindLatency
}

// Config holds the ranker's parameters; DefaultConfig gives the measured
// defaults (docs/rca.md).
type Config struct {
	// MinScore is the least score a piece of evidence needs to count.
	MinScore float64
	// Damping is the PageRank continuation probability (1 − teleport).
	Damping float64
	// Back is the weight of walking from a service back to its callers,
	// relative to walking to its callees.
	Back float64
	// LateCallee discounts a step to a callee whose onset is later than
	// the caller's by more than OnsetSlack.
	LateCallee float64
	// OnsetSlack is the clock and sampling tolerance within which two
	// onsets count as simultaneous.
	OnsetSlack time.Duration
	// Iterations bounds the power iteration.
	Iterations int
	// StayOwn makes a service keep walk mass in proportion to its own
	// strength (the default; its strength weighed by Symptom where the
	// incident has Own evidence); without it, only in proportion to the part
	// of its strength that its strongest anomalous callee does not reach,
	// so a caller drained into any callee about as anomalous as itself,
	// and callees called by many anomalous services collected their mass
	// (docs/rca.md measures both).
	StayOwn bool
	// Joint scales a step from a caller to an anomalous callee by the
	// share of the caller's anomalous requests in which that callee was
	// anomalous too, when both were observed per request
	// (Evidence.Requests): a callee whose failure never shows in the
	// requests that failed at its caller does not explain the caller's
	// failure, however early it began.
	Joint bool
	// OwnExplains lets an anomalous callee's own evidence (Evidence.Own:
	// a break or slowness of its own spans, or a change) explain a
	// caller's other evidence when it began no later than the caller's
	// first anomaly (within OnsetSlack): the caller then keeps walk mass
	// only in proportion to its own evidence, not to the logs and
	// metrics that a failing callee makes its callers show. When both
	// were observed per request and Joint is set, the caller's requests
	// decide instead (a callee that never failed in them explains
	// nothing).
	OwnExplains bool
	// Symptom weighs a service's evidence that is not its own (logs,
	// metrics, alerts: what a failing callee also makes its callers
	// show) against its own (Evidence.Own) in the walk: a service starts
	// with, pulls a step towards it with and keeps its own strength plus
	// Symptom times the rest of its strength. Values outside (0, 1)
	// weigh both alike, as does evidence without any Own: the walk then
	// reads the strengths, as before. docs/rca.md measures it.
	Symptom float64
	// SymptomAlerts weighs alerts (KindAlert) by Symptom in a service's
	// strength when the ranked evidence holds anything else (anomalies,
	// changes, comparisons): an alert says where users see a problem, the
	// rest where something changed (Config.alertSymptom). A service's
	// alerts then count only when it has no other evidence: with other
	// evidence they add nothing to its strength, and its onset is that
	// of the other evidence (symptomOnset).
	SymptomAlerts bool
}

// alertSymptom returns what an alert's score counts for in a service's
// strength when the ranked evidence holds evidence of another kind than
// alerts and none of it is Own (summarise): Symptom with SymptomAlerts,
// else 1. With Own evidence, Symptom already weighs alerts with the rest
// of the non-own evidence. Alerts are written on symptoms — what users
// see: latency, errors, saturation of an entry point — while the
// detectors and the comparison with the normal period name where
// something changed; an alert of the service users call would otherwise
// outweigh its callees' anomalies, since a critical alert scores 1
// (docs/rca.md, "Session 9: alerts are symptoms"). A service that also
// has evidence of another kind is judged on that evidence alone
// (summarise): the alert restates, as a threshold crossed, what the
// service's own metrics (its detector's anomalies, its comparison with
// the normal period) measure, and counting both would make the alerting
// entry point outweigh the callee that explains it (docs/rca.md,
// "Session 10: PetShop serve").
func (c Config) alertSymptom() float64 {
	if !c.SymptomAlerts {
		return 1
	}
	return c.symptom()
}

// symptom returns Config.Symptom, 1 outside (0, 1).
func (c Config) symptom() float64 {
	if c.Symptom > 0 && c.Symptom < 1 {
		return c.Symptom
	}
	return 1
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{MinScore: 0.05, Damping: 0.85, Back: 0.2, LateCallee: 0.5, OnsetSlack: 30 * time.Second, Iterations: 100,
		StayOwn: true, Joint: true, OwnExplains: true, Symptom: 0.25, SymptomAlerts: true}
}

// node is the ranker's summary of one service.
type node struct {
	name     string
	strength float64
	onset    time.Time
	// kinds is the strongest evidence per kind, by kind (explain sorts
	// it by strength).
	kinds []Evidence
	// all indexes the service's evidence in src, the evidence ranked
	// (scores above 1 taken as 1), in the order it came.
	src  []Evidence
	all  []int32
	walk float64
	// idx is the node's place in the walk's order (by name); callees
	// and callers are the graph's for it, sorted, and calleeSum and
	// callerSum the sums of their edges' weights in that order.
	idx                  int
	callees, callers     []string
	calleeSum, callerSum float64
	// requests and along are from the evidence observed over the most
	// requests (Evidence.Requests), zero and nil if none was.
	requests int
	along    map[string]int
	// own is the noisy-or strength of the service's own evidence
	// (Evidence.Own), ownOnset the earliest onset of it (zero if none).
	own      float64
	ownOnset time.Time
	// ownUnexplained is the noisy-or of the own evidence no callee can
	// explain: its own broken spans (the trace stage tallies a broken
	// request at its deepest broken span, so no callee broke in it) and
	// its changes. Its own slowness is not in it: a failing callee can
	// lengthen a caller's self time (retries, error handling).
	ownUnexplained float64
	// alertWeight is what its alerts counted for in strength
	// (Config.alertSymptom), 1 when it has none or they count in full.
	alertWeight float64
	// explainedBy is the anomalous callee whose own evidence explains
	// the rest of this service's (Config.OwnExplains), or "".
	explainedBy string
}

// Rank ranks the services with evidence as root-cause candidates, best
// first. Services of the graph without evidence are not candidates; services
// with evidence that the graph does not know are ranked on their own
// evidence. The result is deterministic for a given input.
func Rank(g *Graph, evidence []Evidence, cfg Config) []osprey.Cause {
	return rank(g, evidence, cfg, false)
}

// rank is Rank; with owned, evidence is the caller's to give away, and
// rank uses it in place (scores above 1 become 1) instead of copying it.
func rank(g *Graph, evidence []Evidence, cfg Config, owned bool) []osprey.Cause {
	if g == nil {
		g = NewGraph()
	}
	nodes := summarise(evidence, cfg.MinScore, owned, cfg.alertSymptom())
	if len(nodes) == 0 {
		return nil
	}
	walk(g, nodes, cfg)
	order := make([]*node, 0, len(nodes))
	for _, n := range nodes {
		order = append(order, n)
	}
	slices.SortFunc(order, func(a, b *node) int {
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
	showOwn := cfg.symptom() < 1 && slices.ContainsFunc(order, func(n *node) bool { return n.own > 0 })
	causes := make([]osprey.Cause, len(order))
	for i, n := range order {
		kind, name := osprey.CauseService, n.name
		if host, ok := strings.CutPrefix(n.name, HostPrefix); ok {
			kind, name = osprey.CauseHost, host
		}
		causes[i] = osprey.Cause{
			Kind:        kind,
			Name:        name,
			Score:       round(n.walk, 6),
			Explanation: explain(g, n, nodes, earliest, cfg, showOwn),
			EvidenceIDs: evidenceIDs(n),
		}
	}
	return causes
}

// summarise groups evidence by service: strongest evidence per kind, the
// noisy-or strength over kinds, and the earliest onset. An incident's
// ranking runs on every join, over all its members' evidence and those of
// its concurrent incidents (thousands), so the evidence is copied once,
// into one slice (or, with owned, used in place), and each service's list
// is a list of indices into it. An alert's score counts alertSymptom of
// itself when the evidence ranked holds another kind and none is Own
// (Config.alertSymptom).
func summarise(evidence []Evidence, minScore float64, owned bool, alertSymptom float64) map[string]*node {
	src := evidence
	if !owned {
		kept := 0
		for i := range evidence {
			if e := &evidence[i]; e.Service != "" && e.Score >= minScore {
				kept++
			}
		}
		if kept == 0 {
			return map[string]*node{}
		}
		src = make([]Evidence, 0, kept)
	}
	nodes := map[string]*node{}
	anyOwn, anyOther := false, false
	var last *node // evidence comes in runs of one service: look it up once
	for i := range evidence {
		e := &evidence[i]
		if e.Service == "" || !(e.Score >= minScore) {
			continue
		}
		at := int32(i)
		if !owned {
			src = append(src, *e)
			at = int32(len(src) - 1)
			e = &src[at]
		}
		e.Score = min(e.Score, 1)
		n := last
		if n == nil || n.name != e.Service {
			n = nodes[e.Service]
			if n == nil {
				n = &node{name: e.Service, onset: e.Onset}
				nodes[e.Service] = n
			}
			last = n
		}
		n.all = append(n.all, at)
		if e.Onset.Before(n.onset) {
			n.onset = e.Onset
		}
		if e.Requests > n.requests {
			n.requests, n.along = e.Requests, e.Along
		}
		anyOwn = anyOwn || e.Own
		anyOther = anyOther || e.Kind != KindAlert
	}
	alertWeight := 1.0
	if anyOther && !anyOwn {
		alertWeight = alertSymptom
	}
	for _, n := range nodes {
		n.src = src
		for _, i := range n.all {
			e := &src[i]
			k := kindAt(n.kinds, e.Kind)
			if k == len(n.kinds) || n.kinds[k].Kind != e.Kind {
				n.kinds = slices.Insert(n.kinds, k, *e)
			} else if stronger(e, &n.kinds[k]) {
				n.kinds[k] = *e
			}
		}
		// Multiply in a fixed order (by kind): floating-point products
		// depend on it.
		miss := 1.0
		n.alertWeight = 1
		for i := range n.kinds {
			sc := n.kinds[i].Score
			if n.kinds[i].Kind == KindAlert {
				w := alertWeight
				if w < 1 && len(n.kinds) > 1 {
					// Its other evidence says how it changed; its
					// alerts, that users saw it (symptomOnset).
					w = 0
				}
				sc *= w
				n.alertWeight = w
			}
			miss *= 1 - sc
		}
		n.strength = 1 - miss
		if alertWeight < 1 {
			n.onset = symptomOnset(src, n.all, n.onset)
		}
		n.own, n.ownOnset, n.ownUnexplained = ownStrength(src, n.all)
	}
	return nodes
}

// ownStrength returns the noisy-or over kinds of the strongest own evidence
// (Evidence.Own) of each kind among src's evidence at all, and its
// earliest onset; 0 and the zero time if none is own.
func ownStrength(src []Evidence, all []int32) (own float64, onset time.Time, unexplained float64) {
	type kindScore struct {
		kind  Kind
		score float64
	}
	var best []kindScore // by kind, the greatest score of each
	for _, i := range all {
		e := &src[i]
		if !e.Own {
			continue
		}
		k := 0
		for k < len(best) && best[k].kind < e.Kind {
			k++
		}
		if k == len(best) || best[k].kind != e.Kind {
			best = slices.Insert(best, k, kindScore{e.Kind, max(0, e.Score)})
		} else {
			best[k].score = max(best[k].score, e.Score)
		}
		if onset.IsZero() || e.Onset.Before(onset) {
			onset = e.Onset
		}
	}
	miss := 1.0
	flow, change := 0.0, 0.0
	for _, b := range best { // by kind: a deterministic product
		miss *= 1 - b.score
		switch b.kind {
		case KindFlow:
			flow = b.score
		case KindChange:
			change = b.score
		}
	}
	return 1 - miss, onset, 1 - (1-flow)*(1-change)
}

// kindAt returns the place of kind in byKind, evidence sorted by kind with
// one piece per kind: where it is, or where it would go.
func kindAt(byKind []Evidence, kind Kind) int {
	k := 0
	for k < len(byKind) && byKind[k].Kind < kind {
		k++
	}
	return k
}

// compareStrength is stronger as a comparison: -1 when a is stronger than
// b, 1 when b is stronger than a, 0 when neither is (the same score,
// onset, kind, signal and id).
func compareStrength(a, b *Evidence) int {
	if a.Score != b.Score {
		if a.Score > b.Score {
			return -1
		}
		return 1
	}
	if c := a.Onset.Compare(b.Onset); c != 0 {
		return c
	}
	if c := strings.Compare(string(a.Kind), string(b.Kind)); c != 0 {
		return c
	}
	if c := strings.Compare(a.Signal, b.Signal); c != 0 {
		return c
	}
	return strings.Compare(a.ID, b.ID)
}

// stronger orders evidence: higher score, earlier onset, then kind, signal
// and id, so that the choice is deterministic.
func stronger(a, b *Evidence) bool {
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

// walk runs the personalised PageRank over the anomalous services and sets
// node.walk (summing to 1).
func walk(g *Graph, nodes map[string]*node, cfg Config) {
	names := make([]string, 0, len(nodes))
	for s := range nodes {
		names = append(names, s)
	}
	slices.Sort(names)
	for i, s := range names {
		n := nodes[s]
		n.idx = i
		// The sums weightShare took, in the same (sorted) order: the same
		// floating-point sums, once per service instead of once per edge.
		n.callees, n.callers = g.Callees(s), g.Callers(s)
		n.calleeSum, n.callerSum = 0, 0
		for _, c := range n.callees {
			n.calleeSum += g.callees[s][c]
		}
		for _, p := range n.callers {
			n.callerSum += g.callers[s][p]
		}
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
	weight := func(n *node) float64 { return n.own + symptom*max(n.strength-n.own, 0) }
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
		for _, c := range n.callees {
			m, ok := nodes[c]
			if !ok {
				continue
			}
			j := m.idx
			w := share(g.callees[s][c], n.calleeSum) * weight(m)
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
		for _, p := range n.callers {
			m, ok := nodes[p]
			if !ok {
				continue
			}
			j := m.idx
			w := cfg.Back * share(g.callers[s][p], n.callerSum) * weight(m)
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

// share is an edge's weight w as a share of sum, the sum of the weights of
// all the service's edges that way (summed in a fixed order: a
// deterministic sum), so that a hub's many edges do not outweigh a leaf's
// one.
func share(w, sum float64) float64 {
	if sum == 0 {
		return 0
	}
	return w / sum
}

// MaxEvidenceIDs is how many evidence ids a cause lists: its strongest.
// The explanation counts the rest ("and 107 more anomalies"); listing
// thousands (a chatty service's every log template, or every member of
// the concurrent incidents) would only grow the incident that is stored
// and sent on every change.
const MaxEvidenceIDs = 20

// evidenceIDs lists the ids behind a node, strongest first
// (compareStrength), each once (at its strongest) and without empties, at
// most MaxEvidenceIDs. It selects them in one pass instead of sorting all
// of a service's evidence (thousands with concurrent incidents).
func evidenceIDs(n *node) []string {
	var top []int32 // indices into n.src, strongest first
	for _, i := range n.all {
		e := &n.src[i]
		if e.ID == "" {
			continue
		}
		if len(top) == MaxEvidenceIDs && compareStrength(e, &n.src[top[len(top)-1]]) >= 0 {
			continue
		}
		if p := slices.IndexFunc(top, func(t int32) bool { return n.src[t].ID == e.ID }); p >= 0 {
			if compareStrength(e, &n.src[top[p]]) >= 0 {
				continue
			}
			top = slices.Delete(top, p, p+1)
		}
		at, _ := slices.BinarySearchFunc(top, e, func(t int32, e *Evidence) int { return compareStrength(&n.src[t], e) })
		top = slices.Insert(top, at, i)
		if len(top) > MaxEvidenceIDs {
			top = top[:MaxEvidenceIDs]
		}
	}
	if len(top) == 0 {
		return nil
	}
	ids := make([]string, len(top))
	for k, t := range top {
		ids[k] = n.src[t].ID
	}
	return ids
}

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

// explain writes the checkable reasons for n's rank: its strongest evidence
// per kind with onsets, its onset relative to the earliest anomaly and to its
// anomalous callers, which of its callers and callees are anomalous, the
// callee whose own evidence explains it (Config.OwnExplains), and, with
// showOwn, its own strength and the weight of the rest at the walk's start
// (Config.Symptom).
func explain(g *Graph, n *node, nodes map[string]*node, earliest time.Time, cfg Config, showOwn bool) string {
	// Appended with strconv, not fmt: an incident's ranking explains
	// every candidate on every join. The text is what fmt's verbs wrote
	// (%.2f is strconv's 'f' format with 2 digits).
	b := make([]byte, 0, 512)
	b = append(b, n.name...)
	b = append(b, ": "...)
	kinds := n.kinds // the node is explained once: sorted in place
	slices.SortFunc(kinds, func(a, b Evidence) int {
		if stronger(&a, &b) {
			return -1
		}
		return 1
	})
	for i, e := range kinds {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(append(append(append(b, kindWord(e.Kind)...), ' '), e.Signal...), " (score "...)
		b = strconv.AppendFloat(b, e.Score, 'f', 2, 64)
		b = append(b, " at "...)
		b = append(e.Onset.UTC().AppendFormat(b, time.TimeOnly), ')')
		if i == 2 && len(kinds) > 3 {
			b = append(strconv.AppendInt(append(b, " and "...), int64(len(kinds)-3), 10), " more kinds"...)
			break
		}
	}
	if extra := len(n.all) - len(kinds); extra > 0 {
		b = append(strconv.AppendInt(append(b, " and "...), int64(extra), 10), " more anomalies"...)
	}
	b = append(b, "; "...)
	// Onset.
	if !n.onset.After(earliest) {
		b = append(b, "earliest anomaly"...)
	} else {
		b = append(append(append(b, "first anomalous "...), secs(n.onset.Sub(earliest))...), " after the earliest anomaly"...)
	}
	var anomCallers, laterCallers []string
	callers := n.callers
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
			b = append(append(append(b, " ("...), secs(d)...), " before any anomalous caller)"...)
		} else if d < 0 {
			b = append(append(append(b, " ("...), secs(-d)...), " after its first anomalous caller)"...)
		} else {
			b = append(b, " (with its first anomalous caller)"...)
		}
	}
	switch {
	case len(callers) == 0:
		b = append(b, ", no known callers"...)
	default:
		b = strconv.AppendInt(append(b, ", "...), int64(len(anomCallers)), 10)
		b = append(strconv.AppendInt(append(b, " of its "...), int64(len(callers)), 10), " callers anomalous"...)
		if len(anomCallers) > 0 {
			b = append(strconv.AppendInt(append(b, " ("...), int64(len(laterCallers)), 10), " not earlier than it)"...)
		}
	}
	anomCallees := 0
	for _, c := range n.callees {
		if m, ok := nodes[c]; ok {
			if anomCallees == 0 {
				b = append(b, ", anomalous callees: "...)
			} else {
				b = append(b, ", "...)
			}
			anomCallees++
			b = strconv.AppendFloat(append(append(b, c...), ' '), m.strength, 'f', 2, 64)
			if n.requests > 0 && m.requests > 0 {
				b = strconv.AppendInt(append(b, " (in "...), int64(min(n.along[c], n.requests)), 10)
				b = append(strconv.AppendInt(append(b, " of its "...), int64(n.requests), 10), " anomalous requests)"...)
			}
		}
	}
	if anomCallees == 0 {
		b = append(b, ", no anomalous callee"...)
	}
	if c := n.explainedBy; c != "" {
		m := nodes[c]
		b = append(append(append(b, "; callee "...), c...), "'s own evidence (trace or change, "...)
		b = append(strconv.AppendFloat(b, m.own, 'f', 2, 64), ") began "...)
		b = append(append(append(append(b, relOnset(m.ownOnset, n.onset, n.name)...), " and can explain "...), n.name...), "'s other anomalies"...)
		if n.own > 0 {
			b = append(strconv.AppendFloat(append(b, ", not its own ("...), n.own, 'f', 2, 64), ')')
		}
	}
	if inc := concurrentIncidents(n); len(inc) > 0 {
		b = append(append(b, "; evidence from concurrent incident "...), strings.Join(inc, ", ")...)
	}
	if showOwn {
		b = strconv.AppendFloat(append(b, "; strength "...), n.strength, 'f', 2, 64)
		b = strconv.AppendFloat(append(b, ", its own (trace or change) "...), n.own, 'f', 2, 64)
		b = strconv.AppendFloat(append(b, ", the rest weighed "...), cfg.symptom(), 'f', 2, 64)
		b = strconv.AppendFloat(append(b, " at the start, walk score "...), n.walk, 'f', 3, 64)
	} else {
		b = strconv.AppendFloat(append(b, "; strength "...), n.strength, 'f', 2, 64)
		switch {
		case n.alertWeight == 0:
			b = append(b, " (its alerts not counted: symptoms of a service with other evidence)"...)
		case n.alertWeight < 1:
			b = strconv.AppendFloat(append(b, " (its alerts weighed "...), n.alertWeight, 'f', 2, 64)
			b = append(b, " as symptoms)"...)
		}
		b = strconv.AppendFloat(append(b, ", walk score "...), n.walk, 'f', 3, 64)
	}
	return string(b)
}

// concurrentIncidents returns the ids of the concurrent incidents that
// n's evidence is from (Evidence.Incident), sorted.
func concurrentIncidents(n *node) []string {
	var out []string
	for _, i := range n.all {
		if e := &n.src[i]; e.Incident != "" && !slices.Contains(out, e.Incident) {
			out = append(out, e.Incident)
		}
	}
	slices.Sort(out)
	return out
}

func kindWord(k Kind) string {
	switch k {
	case KindLatency:
		return "trace latency"
	case KindError:
		return "trace errors"
	case KindFlow:
		return "broken flow:"
	}
	return string(k)
}

// relOnset says when at was relative to ref, the first anomaly of
// service ("12s before s's first anomaly", "with ...", "20s after ...").
func relOnset(at, ref time.Time, service string) string {
	first := service + "'s first anomaly"
	switch d := ref.Sub(at); {
	case d > 0:
		return secs(d) + " before " + first
	case d < 0:
		return secs(-d) + " after " + first
	}
	return "with " + first
}

func secs(d time.Duration) string {
	return d.Round(time.Second).String()
}

// symptomOnset returns the onset of a service whose alerts weigh as
// symptoms (Config.alertSymptom): the earliest onset of its other
// evidence, or onset (the earliest of all) when it has only alerts. An
// alert's time is when a rule found its condition true, on a threshold and
// after its "for" while, not when the service changed, which is what the
// walk's timing asks (a callee that began later than its caller does not
// explain it, Config.LateCallee); on coarse metrics (5-minute cloud
// metrics) the alert's time also falls inside the sample where the
// comparison finds the change, and would precede it (docs/rca.md,
// "Session 10: PetShop serve").
func symptomOnset(src []Evidence, all []int32, onset time.Time) time.Time {
	var first time.Time
	for _, i := range all {
		if e := &src[i]; e.Kind != KindAlert && (first.IsZero() || e.Onset.Before(first)) {
			first = e.Onset
		}
	}
	if first.IsZero() {
		return onset
	}
	return first
}
