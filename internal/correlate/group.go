package correlate

import (
	"fmt"
	"strings"
	"time"

	"github.com/osprey-aiops/osprey"
)

// signal is what the grouping logic needs of an event or an anomaly.
type signal struct {
	kind        osprey.MemberKind
	ref         string
	seq         int64
	name        string
	labels      osprey.Labels
	summary     string
	severity    osprey.Severity
	firing      bool
	fingerprint osprey.Fingerprint
	// at is when Osprey received the signal. Grouping windows are measured
	// in this time, not in wall-clock time, so replaying stored events after
	// a restart groups them exactly as the first pass did.
	at time.Time
}

func eventSignal(e *osprey.Event) signal {
	return signal{
		kind:        osprey.MemberEvent,
		ref:         e.ID,
		seq:         e.Seq,
		name:        e.Name,
		labels:      e.Labels,
		summary:     e.Annotations["summary"],
		severity:    e.Severity,
		firing:      e.Status == osprey.StatusFiring,
		fingerprint: e.Fingerprint,
		at:          e.ReceivedAt,
	}
}

func anomalySignal(a *osprey.Anomaly, now time.Time) signal {
	name := a.Labels.Get(osprey.LabelMetric)
	if a.Kind == osprey.AnomalyLog {
		name = "log template " + a.TemplateID
	}
	if name == "" {
		name = string(a.Kind) + " anomaly"
	}
	return signal{
		kind:        osprey.MemberAnomaly,
		ref:         a.ID,
		name:        name,
		labels:      a.Labels,
		summary:     fmt.Sprintf("%s: observed %.4g, expected %.4g", name, a.Observed, a.Expected),
		severity:    a.Severity,
		firing:      a.Active(),
		fingerprint: a.Fingerprint,
		at:          now,
	}
}

// change is what applying one signal did to one incident.
type change struct {
	inc     *osprey.Incident
	entries []osprey.TimelineEntry
	opened  bool
	// joined is set when a new member joined (its causes may change).
	joined bool
}

// state is the correlator's in-memory view of unresolved incidents. It is not
// safe for concurrent use; the Correlator serialises access.
type state struct {
	window  time.Duration
	groupBy []string
	newID   func(time.Time) string
	// topo, if set, lets a signal of one service join an incident of a
	// service it calls or is called by.
	topo Topology

	// open holds unresolved (open or acknowledged) incidents by id.
	open map[string]*osprey.Incident
	// byFingerprint finds the unresolved incident a member belongs to.
	byFingerprint map[osprey.Fingerprint]string
	// byGroup finds the latest unresolved incident of a group key.
	byGroup map[string]string
}

func newState(window time.Duration, groupBy []string, topo Topology, newID func(time.Time) string) *state {
	return &state{
		window:        window,
		groupBy:       groupBy,
		topo:          topo,
		newID:         newID,
		open:          make(map[string]*osprey.Incident),
		byFingerprint: make(map[osprey.Fingerprint]string),
		byGroup:       make(map[string]string),
	}
}

// load indexes an unresolved incident read from the store.
func (s *state) load(inc osprey.Incident) {
	inc.Timeline = nil
	p := &inc
	s.open[inc.ID] = p
	keys := []string{s.groupKey(inc.Labels)}
	for _, m := range inc.Members {
		s.byFingerprint[m.Fingerprint] = inc.ID
		keys = append(keys, s.groupKey(m.Labels))
	}
	for _, key := range keys {
		if key == "" {
			continue
		}
		if cur, ok := s.byGroup[key]; !ok || s.open[cur].OpenedAt.Before(inc.OpenedAt) {
			s.byGroup[key] = inc.ID
		}
	}
}

// groupKey returns "label=value" for the first group-by label present in l.
func (s *state) groupKey(l osprey.Labels) string {
	for _, name := range s.groupBy {
		if v := l.Get(name); v != "" {
			return name + "=" + v
		}
	}
	return ""
}

// apply folds one signal into the state and reports the incident it changed,
// or nil when it changed nothing (a replayed event, or the resolution of an
// alert no unresolved incident holds).
func (s *state) apply(sig signal) *change {
	if id, ok := s.byFingerprint[sig.fingerprint]; ok {
		return s.update(s.open[id], sig)
	}
	if !sig.firing {
		return nil
	}
	if key := s.groupKey(sig.labels); key != "" {
		if id, ok := s.byGroup[key]; ok {
			inc := s.open[id]
			if sig.at.Sub(lastActivity(inc)) <= s.window {
				return s.join(inc, sig, fmt.Sprintf("same %s within %s", key, s.window))
			}
		}
		if inc, why := s.neighbourIncident(key, sig.at); inc != nil {
			ch := s.join(inc, sig, why)
			s.byGroup[key] = inc.ID
			return ch
		}
	}
	return s.openIncident(sig)
}

// neighbourIncident finds the unresolved incident, active within the window,
// of a service that the service in key calls or is called by, according to
// the learned topology. It prefers the most recently active such incident
// (then the lowest id, for determinism) and says why it matched.
func (s *state) neighbourIncident(key string, at time.Time) (*osprey.Incident, string) {
	name, svc, ok := cut(key)
	if s.topo == nil || !ok || name != osprey.LabelService {
		return nil, ""
	}
	callers, callees := s.topo.Neighbours(svc)
	var best *osprey.Incident
	var why string
	consider := func(neighbour, relation string) {
		id, ok := s.byGroup[osprey.LabelService+"="+neighbour]
		if !ok {
			return
		}
		inc := s.open[id]
		last := lastActivity(inc)
		if at.Sub(last) > s.window {
			return
		}
		if best == nil || last.After(lastActivity(best)) || last.Equal(lastActivity(best)) && inc.ID < best.ID {
			best = inc
			why = fmt.Sprintf("service %s %s %s in the learned call graph, within %s", svc, relation, neighbour, s.window)
		}
	}
	for _, c := range callers {
		consider(c, "is called by")
	}
	for _, c := range callees {
		consider(c, "calls")
	}
	return best, why
}

// update applies a repeat or a resolution of an existing member.
func (s *state) update(inc *osprey.Incident, sig signal) *change {
	i := memberIndex(inc, sig.fingerprint)
	m := &inc.Members[i]
	if sig.seq != 0 && sig.seq <= m.LastSeq {
		return nil // already applied before a restart
	}
	ch := &change{inc: inc}
	wasFiring := m.Status == osprey.StatusFiring
	m.LastRef = sig.ref
	if sig.seq != 0 {
		m.LastSeq = sig.seq
	}
	m.LastSeen = laterOf(m.LastSeen, sig.at)
	m.Severity = max(m.Severity, sig.severity)
	if sig.firing {
		m.Count++
		m.Status = osprey.StatusFiring
		if !wasFiring {
			ch.entries = append(ch.entries, entry(sig.at, osprey.TimelineMemberUpdate, sig.ref,
				fmt.Sprintf("%s fires again", describe(m))))
		}
	} else {
		m.Status = osprey.StatusResolved
		if wasFiring {
			ch.entries = append(ch.entries, entry(sig.at, osprey.TimelineMemberUpdate, sig.ref,
				fmt.Sprintf("%s resolved", describe(m))))
		}
	}
	inc.UpdatedAt = laterOf(inc.UpdatedAt, sig.at)
	inc.Severity = max(inc.Severity, m.Severity)
	if allResolved(inc) {
		inc.Status = osprey.IncidentResolved
		inc.ResolvedAt = sig.at
		ch.entries = append(ch.entries, entry(sig.at, osprey.TimelineStatus, "",
			"resolved: every member has resolved"))
		s.forget(inc)
	}
	return ch
}

// join adds a new member to an unresolved incident; why says what the
// member shares with the incident.
func (s *state) join(inc *osprey.Incident, sig signal, why string) *change {
	m := newMember(sig)
	inc.Members = append(inc.Members, m)
	inc.UpdatedAt = laterOf(inc.UpdatedAt, sig.at)
	inc.Severity = max(inc.Severity, sig.severity)
	s.byFingerprint[sig.fingerprint] = inc.ID
	return &change{inc: inc, joined: true, entries: []osprey.TimelineEntry{entry(sig.at, osprey.TimelineMemberJoined, sig.ref,
		fmt.Sprintf("%s joined: %s", describe(&m), why))}}
}

// openIncident starts a new incident around sig.
func (s *state) openIncident(sig signal) *change {
	key := s.groupKey(sig.labels)
	inc := &osprey.Incident{
		ID:        s.newID(sig.at),
		Title:     title(sig, key),
		Status:    osprey.IncidentOpen,
		Severity:  sig.severity,
		OpenedAt:  sig.at,
		UpdatedAt: sig.at,
		Members:   []osprey.Member{newMember(sig)},
	}
	if name, value, ok := cut(key); ok {
		inc.Labels = osprey.Labels{name: value}
	}
	s.open[inc.ID] = inc
	s.byFingerprint[sig.fingerprint] = inc.ID
	if key != "" {
		s.byGroup[key] = inc.ID
	}
	return &change{inc: inc, opened: true, entries: []osprey.TimelineEntry{
		entry(sig.at, osprey.TimelineOpened, sig.ref, fmt.Sprintf("opened by %s", describe(&inc.Members[0]))),
	}}
}

// forget drops a resolved incident from the indexes.
func (s *state) forget(inc *osprey.Incident) {
	delete(s.open, inc.ID)
	for _, m := range inc.Members {
		if s.byFingerprint[m.Fingerprint] == inc.ID {
			delete(s.byFingerprint, m.Fingerprint)
		}
	}
	for k, id := range s.byGroup {
		if id == inc.ID {
			delete(s.byGroup, k)
		}
	}
}

func newMember(sig signal) osprey.Member {
	status := osprey.StatusFiring
	if !sig.firing {
		status = osprey.StatusResolved
	}
	return osprey.Member{
		Kind:        sig.kind,
		Fingerprint: sig.fingerprint,
		Name:        sig.name,
		Labels:      sig.labels.Clone(),
		Severity:    sig.severity,
		Status:      status,
		FirstRef:    sig.ref,
		LastRef:     sig.ref,
		FirstSeen:   sig.at,
		LastSeen:    sig.at,
		Count:       1,
		LastSeq:     sig.seq,
	}
}

func title(sig signal, key string) string {
	t := sig.name
	if sig.summary != "" {
		t = sig.summary
	}
	if _, value, ok := cut(key); ok {
		t += " (" + value + ")"
	}
	return t
}

func describe(m *osprey.Member) string {
	return fmt.Sprintf("%s %s%s", m.Kind, m.Name, m.Labels)
}

func entry(at time.Time, kind osprey.TimelineKind, ref, msg string) osprey.TimelineEntry {
	return osprey.TimelineEntry{At: at, Kind: kind, Actor: "osprey", Message: msg, Ref: ref}
}

func memberIndex(inc *osprey.Incident, fp osprey.Fingerprint) int {
	for i := range inc.Members {
		if inc.Members[i].Fingerprint == fp {
			return i
		}
	}
	panic(fmt.Sprintf("BUG: incident %s indexed for fingerprint %s has no such member", inc.ID, fp))
}

func allResolved(inc *osprey.Incident) bool {
	for _, m := range inc.Members {
		if m.Status != osprey.StatusResolved {
			return false
		}
	}
	return true
}

// lastActivity is the latest time any member of inc was seen.
func lastActivity(inc *osprey.Incident) time.Time {
	var t time.Time
	for _, m := range inc.Members {
		t = laterOf(t, m.LastSeen)
	}
	return t
}

func laterOf(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func cut(key string) (name, value string, ok bool) { return strings.Cut(key, "=") }
