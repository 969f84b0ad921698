package rca

import (
	"github.com/osprey-aiops/osprey"
)

// KindAlert is evidence from an alert (an event that is not a change).
const KindAlert Kind = "alert"

// severityScore is the score given to an incident member, which carries a
// severity but no anomaly score: an alert's severity is the sender's own
// judgement of its strength. A severity it does not know scores as
// SeverityUnknown does.
func severityScore(s osprey.Severity) float64 {
	switch s {
	case osprey.SeverityCritical:
		return 1
	case osprey.SeverityError:
		return 0.85
	case osprey.SeverityWarning:
		return 0.6
	case osprey.SeverityInfo:
		return 0.3
	}
	return 0.5
}

// HostPrefix marks a host among the ranked names: a host's evidence (a
// member with a host label and no service label) is attributed to
// HostNode(host), the call graph links each service to the hosts it runs
// on as to a callee (topology.Graph.RankGraph), and the host is ranked
// as a cause of kind osprey.CauseHost named without the prefix.
const HostPrefix = "host:"

// HostNode returns the ranked name of a host.
func HostNode(host string) string { return HostPrefix + host }

// FromMember turns an incident member into Evidence for the service named by
// its serviceLabel label (osprey.LabelService if empty), or for its host
// (HostNode) when it has a host label and no service; it reports false when
// the member carries neither. An anomaly member's strength is its peak
// score (Member.Score), any other member's (and an anomaly's stored
// without one) its severity's score; its onset is when it was first seen;
// an event named "deploy" is a change (osprey.IsChange). A trace anomaly member and a change
// are the service's own (Evidence.Own).
func FromMember(m *osprey.Member, serviceLabel string) (Evidence, bool) {
	if serviceLabel == "" {
		serviceLabel = osprey.LabelService
	}
	svc := m.Labels.Get(serviceLabel)
	if svc == "" {
		host := m.Labels.Get(osprey.LabelHost)
		if host == "" {
			return Evidence{}, false
		}
		svc = HostNode(host)
	}
	kind := KindAlert
	trace := osprey.IsTraceAnomaly(m.Kind, m.Labels)
	switch {
	case trace:
		kind = traceKind(m.Labels)
	case m.Kind == osprey.MemberAnomaly && m.Labels.Get("template_id") != "":
		kind = KindLog
	case m.Kind == osprey.MemberAnomaly:
		kind = KindMetric
	case osprey.IsChange(m.Kind, m.Name):
		kind = KindChange
	}
	score := severityScore(m.Severity)
	own := kind == KindChange || trace
	if m.Kind == osprey.MemberAnomaly && m.Score > 0 {
		// The detector's own measure, finer than the severity it maps
		// to: the trace stage raises a warning from a score of 0.23 on.
		score = min(m.Score, 1)
	}
	return Evidence{ID: m.FirstRef, Service: svc, Kind: kind, Signal: m.Name, Score: score, Onset: m.FirstSeen,
		Own: own}, true
}

// IncidentRanker ranks the services of an incident's members as root-cause
// candidates over the call graph that Graph returns (nil means no graph: each
// service is then ranked on its own evidence). It implements the correlate
// stage's CauseRanker.
type IncidentRanker struct {
	Graph        func() *Graph
	Config       Config
	ServiceLabel string
	// Extra, if set, adds evidence the members do not carry (a
	// HistoryEvidence: the comparison of coarse series with their normal
	// period). It is asked on every ranking and must answer at once.
	Extra EvidenceSource
}

// RankCauses ranks inc's member services, best first.
func (r IncidentRanker) RankCauses(inc *osprey.Incident) []osprey.Cause {
	ev := r.memberEvidence(inc, 0)
	if r.Extra != nil && len(ev) > 0 {
		ev = append(ev, r.Extra.Evidence(inc)...)
	}
	if len(ev) == 0 {
		return nil
	}
	return rank(r.graph(), ev, r.Config, true)
}

// memberEvidence returns the evidence of inc's members, in a slice with
// room for more further pieces.
func (r IncidentRanker) memberEvidence(inc *osprey.Incident, more int) []Evidence {
	ev := make([]Evidence, 0, len(inc.Members)+more)
	for i := range inc.Members {
		if e, ok := FromMember(inc.Members[i], r.ServiceLabel); ok {
			ev = append(ev, e)
		}
	}
	return ev
}

// graph returns the graph Graph gives, an empty one if none.
func (r IncidentRanker) graph() *Graph {
	var g *Graph
	if r.Graph != nil {
		g = r.Graph()
	}
	if g == nil {
		g = NewGraph()
	}
	return g
}
