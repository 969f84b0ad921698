package correlate

import (
	"cmp"
	"fmt"
	"slices"
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
	score       float64 // an anomaly's score (osprey.Anomaly.Score), 0 for an event
	firing      bool
	fingerprint osprey.Fingerprint
	// source is the event's sender, or "detect/<kind>" for an anomaly
	// (for grouping rules).
	source string
	// at is when Osprey received the signal. Grouping windows are measured
	// in this time, not in wall-clock time, so replaying stored events after
	// a restart groups them exactly as the first pass did.
	at time.Time
	// words is a log anomaly's template text for similarity
	// (anomalyText); nil for other signals or when it has too little.
	words []string
	// escalation is set on the two anomalies of an escalation: the one
	// that ended in it and the one that began with it (osprey.Anomaly's
	// Escalated and Escalates). See state.newOnset.
	escalation bool
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
		source:      e.Source,
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
	summary := fmt.Sprintf("%s: observed %.4g, expected %.4g", name, a.Observed, a.Expected)
	if a.Kind == osprey.AnomalyForecast {
		// A forecast's Expected is the threshold it is heading for, not
		// what the model expected now: say so.
		summary = fmt.Sprintf("%s: forecast to reach %.4g (now %.4g)", name, a.Expected, a.Observed)
	}
	return signal{
		kind:        osprey.MemberAnomaly,
		ref:         a.ID,
		name:        name,
		labels:      a.Labels,
		summary:     summary,
		severity:    a.Severity,
		score:       memberScore(a.Score),
		firing:      a.Active(),
		source:      "detect/" + string(a.Kind),
		fingerprint: a.Fingerprint,
		at:          now,
		escalation:  a.Escalated() || a.Active() && a.Escalates(),
		words:       anomalyText(a),
	}
}

// change is what applying one signal (or one person's action) did to one
// incident.
type change struct {
	inc     *osprey.Incident
	entries []osprey.TimelineEntry
	opened  bool
	// joined is set when a new member joined (its causes may change).
	joined bool
	// rerank is set when a member's severity rose, as when an anomaly
	// escalates within the window of its incident's opening: its causes
	// may change too.
	rerank bool
	// autoResolved is set when the change resolved the incident because
	// its members cleared.
	autoResolved bool
}

// state is the correlator's in-memory view of unresolved and recently
// resolved incidents. It is not safe for concurrent use; the Correlator
// serialises access.
//
// Lifecycle rules it implements:
//   - When every member of an open (or acknowledged) incident has resolved,
//     the incident waits grace (correlate.resolve_grace) and then resolves,
//     with ResolvedAt = the last member's clearing + grace. A member that
//     fires again within the grace keeps it open. A zero grace resolves at
//     once.
//   - A resolved incident is kept for window after ResolvedAt: a firing
//     signal of one of its resolved members in that time reopens it (a
//     flapping alert stays one incident). A repeat of a member that was
//     still firing when a person resolved the incident is recorded on the
//     member but does not reopen it; after the window, any firing signal
//     starts afresh (joins or opens an incident as a new signal would). New
//     alerts of the same group never join a resolved incident.
//   - An incident a person reopened while all its members were clear is held
//     open (not auto-resolved) until one of its members fires again.
//   - A new alert of a group joins the group's open incident only while
//     one of the group's members there still fires (after the incident's
//     first window, without having refired since); once they have all
//     cleared it is a new onset and opens an incident of its own
//     (groupIncident).
//   - After the incident's first window, a new alert of a service the
//     call graph knows is a new onset as well when its group holds the
//     incident only by standing alerts: the incident gained no member for
//     half the window and the group's service has not reported for half
//     the window (standing).
//   - An anomaly that began with an escalation is a new onset (newOnset):
//     when the incident of its series opened more than window before it,
//     it is grouped as a new signal, not as a repeat of that member.
type state struct {
	// similarity is Options.Similarity; texts the words of the first
	// members of each incident (noteText), for similarIncident.
	similarity float64
	texts      map[string][]incidentText
	window     time.Duration
	grace      time.Duration
	groupBy    []string
	newID      func(time.Time) string
	// topo, if set, lets a signal of one service join an incident of a
	// service it calls or is called by.
	topo Topology
	// burst, if positive, lets a new signal join an incident opened at
	// most burst before it (burstIncident); recent holds the unresolved
	// incidents opened within burst of the latest signal (a superset:
	// burstIncident drops the stale ones).
	burst  time.Duration
	recent []*burstCandidate
	// rules are the user grouping rules (with their held signals) and
	// flaps the flip tracker; both may be nil (rules_ext.go).
	rules *ruleSet
	flaps *flapTracker

	// open holds unresolved (open or acknowledged) incidents by id.
	open map[string]*osprey.Incident
	// resolved holds incidents resolved less than window ago, by id; their
	// members' fingerprints stay in byFingerprint so that a member firing
	// again reopens the incident.
	resolved map[string]*osprey.Incident
	// clearing holds the open incidents whose members have all resolved
	// and that wait out the grace period.
	clearing map[string]struct{}
	// held holds the open incidents a person reopened while every member
	// was clear; they are not auto-resolved until a member fires again.
	held map[string]struct{}
	// nextDue is the earliest signal time at which expire has something to
	// do; zero when it has nothing.
	nextDue time.Time
	// byFingerprint finds the unresolved (or recently resolved) incident a
	// member belongs to.
	byFingerprint map[osprey.Fingerprint]string
	// byGroup finds the latest unresolved incident of a group key.
	byGroup map[string]string
	// noted remembers, per fingerprint, the suppression last recorded on an
	// incident's timeline, so a suppressed alert that repeats every minute
	// adds one entry, not one per repeat.
	noted map[osprey.Fingerprint]string
	// own holds, per incident, the members (and so the member array) the
	// state copied since a snapshot handed them to the next stages
	// (members.go); any other member is copied before it is changed in
	// place.
	own map[*osprey.Incident]ownMembers
}

// maxNoted bounds state.noted; when full it is cleared (at worst one more
// timeline entry per suppressed alert).
const maxNoted = 100_000

func newState(window, grace, burst time.Duration, groupBy []string, topo Topology, newID func(time.Time) string) *state {
	return &state{
		window:        window,
		burst:         burst,
		grace:         grace,
		groupBy:       groupBy,
		topo:          topo,
		newID:         newID,
		open:          make(map[string]*osprey.Incident),
		resolved:      make(map[string]*osprey.Incident),
		clearing:      make(map[string]struct{}),
		held:          make(map[string]struct{}),
		byFingerprint: make(map[osprey.Fingerprint]string),
		byGroup:       make(map[string]string),
		noted:         make(map[osprey.Fingerprint]string),
		own:           make(map[*osprey.Incident]ownMembers),
	}
}

// load indexes an unresolved incident read from the store. held says a
// person reopened it while all its members were clear (see state).
func (s *state) load(inc osprey.Incident, held bool) {
	inc.Timeline = nil
	p := &inc
	s.open[inc.ID] = p
	s.index(p)
	if s.burst > 0 {
		s.recent = append(s.recent, &burstCandidate{inc: p})
	}
	switch {
	case held:
		s.held[inc.ID] = struct{}{}
	case allResolved(p):
		s.startClearing(p)
	}
}

// loadResolved keeps an incident resolved at most window ago, so that its
// members firing again reopen it. Load these before the unresolved ones:
// a fingerprint an unresolved incident holds belongs to that one.
func (s *state) loadResolved(inc osprey.Incident) {
	inc.Timeline = nil
	p := &inc
	s.resolved[inc.ID] = p
	for _, m := range inc.Members {
		if _, ok := s.byFingerprint[m.Fingerprint]; !ok {
			s.byFingerprint[m.Fingerprint] = inc.ID
		}
	}
	s.due(inc.ResolvedAt.Add(s.window))
}

// index makes the members of the unresolved incident inc findable by
// fingerprint, and its group keys lead to it, unless a later-opened
// unresolved incident holds them (a member whose escalation was grouped
// afresh is in two: state.newOnset).
func (s *state) index(inc *osprey.Incident) {
	keys := []string{s.incidentKey(inc)}
	for _, m := range inc.Members {
		if cur, ok := s.byFingerprint[m.Fingerprint]; !ok || cur == inc.ID || s.open[cur] == nil || openedBefore(s.open[cur], inc) {
			s.byFingerprint[m.Fingerprint] = inc.ID
		}
		keys = append(keys, s.memberKey(m))
	}
	for _, key := range keys {
		if key == "" {
			continue
		}
		if cur, ok := s.byGroup[key]; !ok || s.open[cur] == nil || openedBefore(s.open[cur], inc) {
			s.byGroup[key] = inc.ID
		}
	}
}

// lookup returns the in-memory incident with id, unresolved or recently
// resolved, or nil.
func (s *state) lookup(id string) *osprey.Incident {
	if inc, ok := s.open[id]; ok {
		return inc
	}
	return s.resolved[id]
}

// due records that expire has something to do at t.
func (s *state) due(t time.Time) {
	if s.nextDue.IsZero() || t.Before(s.nextDue) {
		s.nextDue = t
	}
}

// startClearing starts the grace period of an open incident whose members
// have all resolved.
func (s *state) startClearing(inc *osprey.Incident) {
	s.clearing[inc.ID] = struct{}{}
	s.due(lastActivity(inc).Add(s.grace))
}

// expire resolves the clearing incidents whose grace ended at or before at,
// and forgets the resolved incidents that left the reopen window. Times are
// signal times (or the clock, when the stage sweeps while idle), so a replay
// of stored events expires exactly as the first pass did.
func (s *state) expire(at time.Time) []*change {
	if s.nextDue.IsZero() || at.Before(s.nextDue) {
		return nil
	}
	s.nextDue = time.Time{}
	var out []*change
	clearing := make([]*osprey.Incident, 0, len(s.clearing))
	for id := range s.clearing {
		inc := s.open[id]
		if inc == nil || !allResolved(inc) {
			delete(s.clearing, id)
			continue
		}
		clearing = append(clearing, inc)
	}
	// In opening order, not by id: ids carry random bits.
	slices.SortFunc(clearing, compareOpened)
	for _, inc := range clearing {
		due := lastActivity(inc).Add(s.grace)
		if at.Before(due) {
			s.due(due)
			continue
		}
		e := entry(due, osprey.TimelineStatus, "", fmt.Sprintf("resolved: every member has been clear for %s", s.grace))
		s.resolve(inc, due)
		out = append(out, &change{inc: inc, entries: []osprey.TimelineEntry{e}, autoResolved: true})
	}
	for _, inc := range s.resolved {
		end := inc.ResolvedAt.Add(s.window)
		if at.After(end) {
			s.forget(inc)
			continue
		}
		s.due(end)
	}
	return out
}

// resolve marks an unresolved incident resolved at at and moves it to the
// recently resolved set; its group keys no longer attract new members.
func (s *state) resolve(inc *osprey.Incident, at time.Time) {
	inc.Status = osprey.IncidentResolved
	inc.ResolvedAt = at
	delete(s.open, inc.ID)
	delete(s.clearing, inc.ID)
	delete(s.held, inc.ID)
	for k, id := range s.byGroup {
		if id == inc.ID {
			delete(s.byGroup, k)
		}
	}
	s.resolved[inc.ID] = inc
	s.due(at.Add(s.window))
}

// reopen makes a resolved incident open again. A person's reopen of an
// incident whose members are all clear holds it open (see state).
func (s *state) reopen(inc *osprey.Incident, byPerson bool) {
	delete(s.resolved, inc.ID)
	inc.Status = osprey.IncidentOpen
	inc.ResolvedAt = time.Time{}
	s.open[inc.ID] = inc
	s.index(inc)
	if byPerson && allResolved(inc) {
		s.held[inc.ID] = struct{}{}
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
	if ch, ok := s.flap(sig); ok {
		return ch
	}
	if id, ok := s.byFingerprint[sig.fingerprint]; ok {
		if inc, ok := s.open[id]; ok && !s.newOnset(inc, sig) {
			return s.update(inc, sig)
		}
		if inc, ok := s.resolved[id]; ok && !s.newOnset(inc, sig) {
			if sig.at.Sub(inc.ResolvedAt) <= s.window {
				return s.updateResolved(inc, sig)
			}
			s.forget(inc) // left the reopen window; the signal is new
		}
	}
	if !sig.firing {
		s.unhold(sig)
		return nil
	}
	if r, key := s.rules.match(&sig); r != nil {
		return s.applyRule(sig, r, key)
	}
	key := s.groupKey(sig.labels)
	group, settled, stands := s.groupIncident(&sig, key)
	if group != nil {
		return s.join(group, sig, fmt.Sprintf("same %s within %s", key, s.window))
	}
	var after time.Time // a neighbour's incident must open after it
	if stands {
		after = latestOnset(settled)
	}
	inc, why := s.neighbourIncident(key, sig.at, settled, after)
	if inc == nil {
		inc, why = s.placementIncident(key, sig.at, settled)
	}
	if inc == nil {
		inc, why = s.similarIncident(&sig, sig.at, settled)
	}
	if inc == nil {
		inc, why = s.burstIncident(&sig)
	}
	if inc == nil {
		ch := s.openIncident(sig)
		if !after.IsZero() {
			ch.entries[0].Message += fmt.Sprintf("; a new onset: incident %s of the same %s had gained no member for %s and its %s alerts had not reported for %s",
				settled.ID, key, sig.at.Sub(after).Round(time.Second), key, s.window/2)
		} else if settled != nil {
			ch.entries[0].Message += fmt.Sprintf("; a new onset: incident %s of the same %s opened %s earlier and its %s alerts had all cleared (or fired again after clearing)",
				settled.ID, key, sig.at.Sub(settled.OpenedAt).Round(time.Second), key)
		}
		return ch
	}
	if !after.IsZero() {
		why += fmt.Sprintf("; incident %s of the same %s had gained no member for %s", settled.ID, key, sig.at.Sub(after).Round(time.Second))
	}
	ch := s.join(inc, sig, why)
	if key != "" {
		s.byGroup[key] = inc.ID
	}
	return ch
}

// groupIncident returns the unresolved incident a new signal joins by its
// group key (key, from groupKey). The group's incident takes it while
//
//   - a member of the group other than the signal's own was active within
//     the window (groupActiveSince), as before, and
//   - a member of the group other than the signal's own is still firing
//     (or flapping) without having refired after the incident's first
//     window (holdsGroup; for a trace anomaly after the first window, a
//     trace anomaly of the group: below). Within the first window (the
//     incident opened at most window before the signal) any firing member
//     of the group holds it.
//
// The second condition keeps an incident from chaining faults. A service
// that is a symptom of one fault after another (a caller logging new
// errors each time something it calls breaks) raises new alerts, each
// lasting a few minutes, for every fault; when faults come minutes apart
// the next one's alerts arrive within the window of the last one's
// clearing, so with the first condition alone one incident gathered fault
// after fault for as long as the service kept failing now and then, and
// was ranked on all of it (docs/rca.md, "One incident per onset"). A new
// alert of a service whose alerts in the incident have all cleared, after
// the incident's first window, is a new onset: the service recovered and
// failed again, and an operator expects a new incident (its neighbours'
// symptoms then join it through the call graph while it spreads). While
// the service's alerts still fire, a new one is part of the same ongoing
// problem (a database slow for ten minutes that now runs out of
// connections) and joins as before. Until session 9 a group that had
// cleared still took new alerts within the incident's first window, for
// alerts of one failure that stagger; see below for why it no longer
// does. Repeats of members, flapping and reopens go by fingerprint and
// are not affected, but a member that cleared and fired again after the
// first window no longer counts as still firing: the service recovered in
// between, and an old alert refiring with the next fault held the group
// open to that fault's new alerts, chaining faults as before.
//
// A trace detect stage anomaly (a break or slowness of the service's own
// spans) counts only the group's trace anomalies in the second
// condition: the service's logs and metrics still firing after the first
// window are symptoms of what the incident is about, and a new break of
// its own is a new onset, a cause candidate of its own (docs/rca.md,
// "Session 8: a service's own break after the first window").
//
// Within the first window the incident takes a new alert of the group
// only while a member of the group there still fires (any member, for
// every kind of signal): a service all of whose alerts in a young
// incident have cleared has recovered, and a new alert of it is a new
// wave, not a staggered alert of the incident's onset. A failure's
// symptoms in a caller (a burst of error log templates) clear within a
// minute or two of its cause recovering, so when the next fault breaks
// something the caller uses a few minutes later, its new symptoms arrived
// just before the first incident's window ended and joined it
// (docs/rca.md, "Session 9: a recovered service's new wave"). Such a
// signal does not join the settled incident through the call graph
// either (neighbourIncident's except).
//
// Past the first window, a group that holds its incident only by
// standing alerts (standing: the incident stopped spreading, the group's
// service has not reported for half the window, and the call graph knows
// the service) does not take the new alert either: it is a new onset.
//
// settled is the group's incident when only the second condition or a
// standing group kept the signal out of it (for the new incident's
// timeline), else nil; stands says a standing group did.
func (s *state) groupIncident(sig *signal, key string) (inc, settled *osprey.Incident, stands bool) {
	if key == "" {
		return nil, nil, false
	}
	id, ok := s.byGroup[key]
	if !ok {
		return nil, nil, false
	}
	inc = s.open[id]
	if !s.groupActiveSince(inc, key, sig.at.Add(-s.window), sig.fingerprint) {
		return nil, nil, false
	}
	held := s.groupFiring(inc, key, sig.fingerprint, osprey.IsTraceAnomaly(sig.kind, sig.labels)) ||
		sig.at.Sub(inc.OpenedAt) <= s.window && s.groupFiring(inc, key, sig.fingerprint, false)
	switch {
	case !held:
		return nil, inc, false
	case s.standing(inc, key, sig):
		return nil, inc, true
	}
	return inc, nil, false
}

// standing reports whether the group key holds its incident inc only by
// standing alerts, for a new alert sig of a service the call graph
// knows: inc is past its first window and has stopped spreading (no
// member's onset for half the window, latestOnset: the bound that ends a
// call-graph join), and no member of the group other than sig's own was
// active (seen: an onset, a repeat, a resolution) within half the window.
// The group's alerts may still fire — a metric detector keeps an anomaly
// open, without reporting it again, for as long as its series stays off,
// often for hours — but that is a standing condition, not evidence that
// a new alert of the service belongs to the old problem: the next fault
// next to it would otherwise join the previous fault's incident through
// the service's symptoms of that fault (docs/rca.md, "Session 11: a
// standing group"). The new alert is a new onset: it joins the spreading
// incident of a neighbour in the call graph that opened after inc's last
// onset (a new problem next to it; neighbourIncident's after), or opens
// one, which its neighbours' symptoms then join. Without a call graph
// that knows the service nothing else could relate the alert, and it
// joins its group as before; a group whose service still reports (an
// alert re-sent, a new anomaly within half the window) holds as before:
// a database slow for ten minutes that then runs out of connections is
// one incident.
func (s *state) standing(inc *osprey.Incident, key string, sig *signal) bool {
	half := s.window / 2
	if sig.at.Sub(inc.OpenedAt) <= s.window || sig.at.Sub(latestOnset(inc)) <= half {
		return false
	}
	name, svc, ok := cut(key)
	if !ok || name != osprey.LabelService || !s.known(svc) {
		return false
	}
	return !s.groupActiveSince(inc, key, sig.at.Add(-half), sig.fingerprint)
}

// newOnset reports whether sig, a signal of a member of inc, is to be
// grouped as a new signal instead: an anomaly that began with an
// escalation (its series became at least twice as surprising as the open
// anomaly it replaced) more than window after inc opened. Such an anomaly
// is a new onset of its series, as a new alert would be; left with the
// member it would stay in an incident that may have opened hours earlier,
// on a small anomaly the detector kept open, and neither the incident's
// neighbours (neighbourIncident asks an incident to have opened within
// window) nor its timing would relate it to what fails now. Within window
// of the opening it is the same failure growing, and stays a repeat. If
// the grouping leads back to inc (its group is active apart from this
// member), it is a repeat there after all (join).
func (s *state) newOnset(inc *osprey.Incident, sig signal) bool {
	return sig.escalation && sig.firing && sig.at.Sub(inc.OpenedAt) > s.window
}

// burstIncident finds the incident a new signal joins because it started
// failing together with it: an unresolved incident opened at most burst
// before the signal (its opening burst, so that joins do not chain), where
// the call graph has no say — it does not know the signal's service, or
// knows none of the incident's services. Where it knows both, they are more
// than two calls apart or neighbourIncident would have joined them, and
// that is evidence they are unrelated. Of several, the one opened first, so
// that a burst collapses into one incident.
func (s *state) burstIncident(sig *signal) (*osprey.Incident, string) {
	if s.burst <= 0 {
		return nil, ""
	}
	keep := s.recent[:0]
	for _, c := range s.recent {
		if s.open[c.inc.ID] == c.inc && sig.at.Sub(c.inc.OpenedAt) <= s.burst {
			keep = append(keep, c)
		}
	}
	clear(s.recent[len(keep):])
	s.recent = keep
	if len(keep) == 0 {
		return nil, ""
	}
	svc := sig.labels.Get(osprey.LabelService)
	sigKnown := svc != "" && s.known(svc)
	var best *osprey.Incident
	for _, c := range s.recent {
		inc := c.inc
		if sig.at.Before(inc.OpenedAt) || best != nil && !openedBefore(inc, best) {
			continue
		}
		if sigKnown && s.anyKnown(c) {
			continue
		}
		best = inc
	}
	if best == nil {
		return nil, ""
	}
	return best, fmt.Sprintf("started within %s of the incident's opening, and the learned call graph does not relate them", s.burst)
}

// known reports whether the call graph knows service.
func (s *state) known(service string) bool {
	if s.topo == nil {
		return false
	}
	up, down := s.topo.Neighbours(service)
	return len(up)+len(down) > 0
}

// burstCandidate is an incident opened within the burst, with what
// anyKnown learnt of it.
type burstCandidate struct {
	inc *osprey.Incident
	// checked members are on services the call graph did not know; known
	// is set once one was.
	checked int
	known   bool
}

// anyKnown reports whether the call graph knows a service of c's incident.
// It looks only at the members added since it last looked, so an alert
// storm costs one look per member, not one per member and alert.
func (s *state) anyKnown(c *burstCandidate) bool {
	ms := c.inc.Members
	if c.known {
		return true
	}
	if c.checked > len(ms) { // split off
		c.checked = 0
	}
	for ; c.checked < len(ms); c.checked++ {
		if svc := ms[c.checked].Labels.Get(osprey.LabelService); svc != "" && s.known(svc) {
			c.known = true
			return true
		}
	}
	return false
}

// neighbourIncident finds the unresolved incident that a new signal of the
// service in key may join through the learned topology, and says why. A
// candidate is the incident (byGroup) of a service one call away — a caller
// or a callee — or, when no such incident qualifies, two calls away (through
// a service with no incident of its own: an uninstrumented database, or a
// hop whose detector saw nothing). It must
//
//   - have been active within the window, like any group, and
//   - have opened within the window: a failure spreads along calls within
//     minutes of its onset (timeouts, retries, exhausted pools), so a
//     neighbour that starts failing long after an incident began is more
//     likely a new problem than a late symptom. Without this bound an
//     incident kept busy by its members' repeats would absorb every later
//     alert of every service next to any of its members, chaining
//     unrelated faults into one (docs/rca.md, "Noise reduction"), and
//   - still be spreading: one of its members must have first fired within
//     half the window before the signal (latestOnset). A failure spreads
//     hop by hop, each neighbour starting to fail a minute or two after
//     the last; an incident that has gained no new member for half the
//     window has stopped spreading (its alerts keep firing, no new service
//     joins them), and a neighbour that starts failing now is more likely
//     a new fault next to it than a late symptom: an operator expects to
//     see it as its own incident. Repeats of firing members are activity
//     but not onsets, so they do not keep an incident spreading (docs/rca.md,
//     "Faults minutes apart").
//
// Of the qualifying incidents it prefers the most recently active, then the
// one opened first (compareOpened). except, if not nil, is the incident
// the signal's own group settled in (groupIncident): the service
// recovered there, so its new alert is not that incident's symptom. A
// candidate must have opened after after (zero: any): for a standing
// group's alert, the settled incident's last onset, so that the alert
// joins a new problem next to it, not another part of the old one.
func (s *state) neighbourIncident(key string, at time.Time, except *osprey.Incident, after time.Time) (*osprey.Incident, string) {
	name, svc, ok := cut(key)
	if s.topo == nil || !ok || name != osprey.LabelService {
		return nil, ""
	}
	var best *osprey.Incident
	var why string
	consider := func(neighbour string, path func() string) {
		if neighbour == svc {
			return
		}
		id, ok := s.byGroup[osprey.LabelService+"="+neighbour]
		if !ok {
			return
		}
		inc := s.open[id]
		if inc == except || !s.spreading(inc, at) || !inc.OpenedAt.After(after) {
			return
		}
		last := lastActivity(inc)
		if best == nil || last.After(lastActivity(best)) || last.Equal(lastActivity(best)) && openedBefore(inc, best) {
			best = inc
			why = fmt.Sprintf("service %s in the learned call graph, an incident opened within %s", path(), s.window)
		}
	}
	callers, callees := s.topo.Neighbours(svc)
	hop := func(list []string, relation string) {
		for _, n := range list {
			consider(n, func() string { return svc + " " + relation + " " + n })
		}
	}
	hop(callers, "is called by")
	hop(callees, "calls")
	if best != nil {
		return best, why
	}
	hop2 := func(list []string, relation string) {
		for _, n := range list {
			up, down := s.topo.Neighbours(n)
			for _, m := range up {
				consider(m, func() string { return svc + " " + relation + " " + n + ", which is called by " + m })
			}
			for _, m := range down {
				consider(m, func() string { return svc + " " + relation + " " + n + ", which calls " + m })
			}
		}
	}
	hop2(callers, "is called by")
	hop2(callees, "calls")
	return best, why
}

// update applies a repeat or a resolution of a member of an unresolved
// incident.
func (s *state) update(inc *osprey.Incident, sig signal) *change {
	m := s.member(inc, memberIndex(inc, sig.fingerprint))
	if sig.seq != 0 && sig.seq <= m.LastSeq {
		return nil // already applied before a restart
	}
	sev := m.Severity
	ch := &change{inc: inc, entries: updateMember(m, sig)}
	ch.rerank = m.Severity > sev
	inc.UpdatedAt = laterOf(inc.UpdatedAt, sig.at)
	inc.Severity = max(inc.Severity, m.Severity)
	if sig.firing {
		delete(s.held, inc.ID)
		delete(s.clearing, inc.ID)
		return ch
	}
	if _, held := s.held[inc.ID]; held || !allResolved(inc) {
		return ch
	}
	if s.grace <= 0 {
		ch.entries = append(ch.entries, entry(sig.at, osprey.TimelineStatus, "",
			"resolved: every member has resolved"))
		ch.autoResolved = true
		s.resolve(inc, sig.at)
		return ch
	}
	s.startClearing(inc)
	return ch
}

// updateResolved applies a signal of a member of a recently resolved
// incident: a resolved member firing again reopens the incident; anything
// else is recorded on the member only.
func (s *state) updateResolved(inc *osprey.Incident, sig signal) *change {
	m := s.member(inc, memberIndex(inc, sig.fingerprint))
	if sig.seq != 0 && sig.seq <= m.LastSeq {
		return nil
	}
	if sig.firing && m.Status == osprey.StatusResolved {
		since := sig.at.Sub(inc.ResolvedAt).Round(time.Second)
		s.reopen(inc, false)
		reopened := entry(sig.at, osprey.TimelineStatus, sig.ref,
			fmt.Sprintf("reopened: %s fires again %s after the incident resolved (within %s)", describe(m), since, s.window))
		ch := s.update(inc, sig)
		ch.entries = append([]osprey.TimelineEntry{reopened}, ch.entries...)
		return ch
	}
	return &change{inc: inc, entries: updateMember(m, sig)}
}

// updateMember folds a signal into an existing member and returns the
// timeline entries for a change of its status.
func updateMember(m *osprey.Member, sig signal) []osprey.TimelineEntry {
	var entries []osprey.TimelineEntry
	wasFiring := m.Status == osprey.StatusFiring
	m.LastRef = sig.ref
	if sig.seq != 0 {
		m.LastSeq = sig.seq
	}
	if sig.firing || wasFiring {
		// A resolution repeated for a member already clear (Prometheus
		// sends a resolved alert again every resend delay for 15 minutes)
		// is not activity: it must neither keep the incident's group open
		// to new members nor push its resolution back.
		m.LastSeen = laterOf(m.LastSeen, sig.at)
	}
	m.Severity = max(m.Severity, sig.severity)
	m.Score = max(m.Score, sig.score)
	if sig.firing {
		m.Count++
		m.Status = osprey.StatusFiring
		if !wasFiring && !sig.escalation {
			// An escalation ends the member's anomaly and opens a
			// larger one at once: the failure grew, it did not clear.
			m.Refired = sig.at
		}
		if !wasFiring {
			entries = append(entries, entry(sig.at, osprey.TimelineMemberUpdate, sig.ref,
				fmt.Sprintf("%s fires again", describe(m))))
		}
	} else {
		m.Status = osprey.StatusResolved
		if wasFiring {
			entries = append(entries, entry(sig.at, osprey.TimelineMemberUpdate, sig.ref,
				fmt.Sprintf("%s resolved", describe(m))))
		}
	}
	return entries
}

// join adds a new member to an unresolved incident; why says what the
// member shares with the incident. A signal of a member inc already has
// (a new onset grouped back into its incident: newOnset) updates it.
func (s *state) join(inc *osprey.Incident, sig signal, why string) *change {
	if slices.ContainsFunc(inc.Members, func(m *osprey.Member) bool { return m.Fingerprint == sig.fingerprint }) {
		s.byFingerprint[sig.fingerprint] = inc.ID
		return s.update(inc, sig)
	}
	m := newMember(sig)
	inc.Members = append(inc.Members, m)
	s.noteText(inc, &sig)
	if sig.firing {
		delete(s.held, inc.ID)
	}
	inc.UpdatedAt = laterOf(inc.UpdatedAt, sig.at)
	inc.Severity = max(inc.Severity, sig.severity)
	s.byFingerprint[sig.fingerprint] = inc.ID
	return &change{inc: inc, joined: true, entries: []osprey.TimelineEntry{entry(sig.at, osprey.TimelineMemberJoined, sig.ref,
		fmt.Sprintf("%s joined: %s", describe(m), why))}}
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
		Members:   []*osprey.Member{newMember(sig)},
	}
	if name, value, ok := cut(key); ok {
		inc.Labels = osprey.Labels{name: value}
	}
	s.open[inc.ID] = inc
	s.byFingerprint[sig.fingerprint] = inc.ID
	s.noteText(inc, &sig)
	if key != "" {
		s.byGroup[key] = inc.ID
	}
	if s.burst > 0 {
		s.recent = append(s.recent, &burstCandidate{inc: inc})
	}
	return &change{inc: inc, opened: true, entries: []osprey.TimelineEntry{
		entry(sig.at, osprey.TimelineOpened, sig.ref, fmt.Sprintf("opened by %s", describe(inc.Members[0]))),
	}}
}

// forget drops an incident from the state and the indexes.
func (s *state) forget(inc *osprey.Incident) {
	delete(s.open, inc.ID)
	delete(s.texts, inc.ID)
	s.disown(inc)
	delete(s.resolved, inc.ID)
	delete(s.clearing, inc.ID)
	delete(s.held, inc.ID)
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

func newMember(sig signal) *osprey.Member {
	status := osprey.StatusFiring
	if !sig.firing {
		status = osprey.StatusResolved
	}
	return &osprey.Member{
		Kind:        sig.kind,
		Fingerprint: sig.fingerprint,
		Name:        sig.name,
		Labels:      sig.labels.Clone(),
		Severity:    sig.severity,
		Score:       sig.score,
		Status:      status,
		FirstRef:    sig.ref,
		LastRef:     sig.ref,
		FirstSeen:   sig.at,
		LastSeen:    sig.at,
		Count:       1,
		LastSeq:     sig.seq,
	}
}

// memberScore is an anomaly score as a member keeps it: clamped to [0, 1],
// 0 for a score that is not a number (a detector's bug must not make the
// member's JSON unencodable nor the ranking's sums NaN).
func memberScore(v float64) float64 {
	if !(v > 0) {
		return 0
	}
	return min(v, 1)
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

// allResolved reports whether every member of inc is clear; a flapping
// member counts as firing whatever its last status (flap.go).
func allResolved(inc *osprey.Incident) bool {
	for _, m := range inc.Members {
		if m.Status != osprey.StatusResolved || m.Flapping {
			return false
		}
	}
	return true
}

// compareOpened orders incidents by opening: OpenedAt, then the fingerprint
// of the member that opened them, then id. Ties between incidents are broken
// by it rather than by id alone, because ids carry random bits: the same
// signals must group the same way in every run and after every restart.
func compareOpened(a, b *osprey.Incident) int {
	if c := a.OpenedAt.Compare(b.OpenedAt); c != 0 {
		return c
	}
	if len(a.Members) > 0 && len(b.Members) > 0 {
		if c := cmp.Compare(a.Members[0].Fingerprint, b.Members[0].Fingerprint); c != 0 {
			return c
		}
	}
	return strings.Compare(a.ID, b.ID)
}

// openedBefore reports whether a opened before b (compareOpened).
func openedBefore(a, b *osprey.Incident) bool { return compareOpened(a, b) < 0 }

// groupActiveSince reports whether a member of inc in the group key,
// other than the member except (the signal's own, when it is a new onset
// of a member of inc: newOnset), was seen at or after since: a group stays
// open to new members while its own members are active, not while other
// members of the incident (joined through the call graph or a burst) are.
// It looks from the newest member back and stops at the first active one
// of the group.
func (s *state) groupActiveSince(inc *osprey.Incident, key string, since time.Time, except osprey.Fingerprint) bool {
	name, value, _ := cut(key)
	for i := len(inc.Members) - 1; i >= 0; i-- {
		if m := inc.Members[i]; !m.LastSeen.Before(since) && m.Fingerprint != except && s.inGroup(m.Labels, name, value) {
			return true
		}
	}
	return false
}

// groupFiring reports whether a member of inc in the group key, other than
// the member except, is failing on: flapping, or firing without a break
// since it joined or since the incident's first window (holdsGroup).
func (s *state) groupFiring(inc *osprey.Incident, key string, except osprey.Fingerprint, own bool) bool {
	name, value, _ := cut(key)
	for i := range inc.Members {
		m := inc.Members[i]
		if own && !osprey.IsTraceAnomaly(m.Kind, m.Labels) {
			continue
		}
		if m.Fingerprint != except && s.holdsGroup(inc, m) && s.inGroup(m.Labels, name, value) {
			return true
		}
	}
	return false
}

// holdsGroup reports whether member m of inc keeps its group open to new
// alerts after the incident's first window: it flaps, or it fires and has
// not refired after that window. A member that resolved and fired again
// later is a repeat, kept in its incident (and reopening it), but its
// service had recovered in between: a symptom of one fault after another
// (a caller whose anomaly clears and fires again at each fault downstream)
// would otherwise hold its incident open to every later fault's new
// alerts, chaining them into one incident (docs/rca.md, "Session 7:
// refired members"). A failure that goes on without a break, or that
// refired within the first window (alerts of one failure staggering),
// still holds it.
func (s *state) holdsGroup(inc *osprey.Incident, m *osprey.Member) bool {
	if m.Flapping {
		return true
	}
	return m.Status == osprey.StatusFiring && !m.Refired.After(inc.OpenedAt.Add(s.window))
}

// inGroup reports whether groupKey(l) is name=value, without building it.
func (s *state) inGroup(l osprey.Labels, name, value string) bool {
	for _, n := range s.groupBy {
		if v := l.Get(n); v != "" {
			return n == name && v == value
		}
	}
	return false
}

// latestOnset is the latest time a member of inc first fired: when the
// incident last gained a member.
func latestOnset(inc *osprey.Incident) time.Time {
	var t time.Time
	for _, m := range inc.Members {
		t = laterOf(t, m.FirstSeen)
	}
	return t
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
