package correlate

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/osprey-aiops/osprey"
)

// FlapConfig configures flapping detection (correlate.flapping). A member
// that changes between firing and resolved more than Transitions times
// within Window is marked flapping (Member.Flapping, with a timeline entry):
// from then on it counts as firing for the incident's lifecycle whatever
// its last status, and its flips are recorded on the member (status, count,
// last seen, last event) but neither reopen, resolve nor re-notify the
// incident and add no timeline entries. Once it has not changed for Stable,
// the mark is lifted (with a timeline entry): if its last status is
// resolved and every other member is clear, the incident resolves (at once
// if the grace has passed since the last activity, else after it).
//
// The flip history is kept in memory (a restart starts counting afresh);
// the mark and the member's last status are stored with the member, so a
// restart keeps both and lifts the mark when it is due.
type FlapConfig struct {
	// Transitions is how many status changes within Window are tolerated;
	// one more marks the member flapping. Zero disables detection.
	Transitions int
	Window      time.Duration
	// Stable is how long a flapping member must not change to be unmarked.
	Stable time.Duration
}

// Validate checks that the numbers are usable when detection is enabled.
func (fc FlapConfig) Validate() error {
	var errs []error
	if fc.Transitions < 0 {
		errs = append(errs, fmt.Errorf("transitions: must not be negative, got %d", fc.Transitions))
	}
	if fc.Transitions > 0 {
		if fc.Window <= 0 {
			errs = append(errs, fmt.Errorf("window: must be positive, got %s", fc.Window))
		}
		if fc.Stable <= 0 {
			errs = append(errs, fmt.Errorf("stable: must be positive, got %s", fc.Stable))
		}
	}
	return errors.Join(errs...)
}

// maxFlapTracked bounds the members whose flips are tracked; beyond it the
// oldest-changed entries that are not flapping are dropped (counted).
const maxFlapTracked = 100_000

// flapTracker keeps the recent transitions of members. The Correlator's lock
// guards it; it outlives state rebuilds.
type flapTracker struct {
	cfg  FlapConfig
	byFP map[osprey.Fingerprint]*flapState
	// nextSettle is the earliest time a flapping member may be unmarked.
	nextSettle time.Time
	// rescan is set when the state was rebuilt: the flapping members read
	// from the store must be found before the next settle.
	rescan bool
	// counters, set by the Correlator.
	marked, absorbed, dropped func()
}

type flapState struct {
	flips    []time.Time
	last     time.Time // last transition
	firing   bool      // the member's latest reported status
	flapping bool
	ref      string
	// lastSeq is the highest event Seq seen for the member.
	lastSeq int64
}

func newFlapTracker(cfg FlapConfig) *flapTracker {
	if cfg.Transitions <= 0 {
		return nil
	}
	nop := func() {}
	return &flapTracker{cfg: cfg, byFP: make(map[osprey.Fingerprint]*flapState), marked: nop, absorbed: nop, dropped: nop}
}

// flap applies sig to the flip history of the member it belongs to. It
// returns the change and true when the member is (or becomes) flapping and
// the signal was absorbed; false lets the normal lifecycle apply it. The
// common case (a member that is not flapping and did not change) costs two
// map lookups.
func (s *state) flap(sig signal) (*change, bool) {
	ft := s.flaps
	// The two anomalies of an escalation are not two flips: the series
	// never stopped being anomalous.
	if ft == nil || sig.escalation {
		return nil, false
	}
	id, ok := s.byFingerprint[sig.fingerprint]
	if !ok {
		return nil, false
	}
	fs := ft.byFP[sig.fingerprint]
	var inc *osprey.Incident
	var m *osprey.Member
	member := func() bool {
		if m == nil {
			if inc = s.lookup(id); inc == nil {
				return false
			}
			m = s.member(inc, memberIndex(inc, sig.fingerprint))
		}
		return true
	}
	if fs == nil {
		if !member() {
			return nil, false
		}
		if len(ft.byFP) >= maxFlapTracked {
			ft.evict()
		}
		fs = newFlapState(m)
		ft.byFP[sig.fingerprint] = fs
	}
	if sig.seq != 0 && sig.seq <= fs.lastSeq {
		return nil, false // a replay; the lifecycle ignores it
	}
	fs.lastSeq = max(fs.lastSeq, sig.seq)
	transition := fs.firing != sig.firing
	stable := fs.flapping && sig.at.Sub(fs.last) >= ft.cfg.Stable
	if !fs.flapping && (!transition || len(fs.flips) < ft.cfg.Transitions) {
		// Not flapping and not about to be: note a change and go on.
		fs.firing, fs.ref = sig.firing, sig.ref
		if transition {
			fs.note(sig.at, ft.cfg.Window)
		}
		return nil, false
	}
	if !member() {
		return nil, false
	}
	var pre []osprey.TimelineEntry
	if stable {
		// Stable since before this signal: lift the mark first.
		pre = s.unflap(inc, m, fs, fs.last.Add(ft.cfg.Stable)).entries
	}
	fs.firing, fs.ref = sig.firing, sig.ref
	if transition {
		fs.note(sig.at, ft.cfg.Window)
	}
	if fs.flapping {
		ft.absorbed()
		absorb(m, sig)
		ft.due(fs.last.Add(ft.cfg.Stable))
		return &change{inc: inc, entries: pre}, true
	}
	if !transition || len(fs.flips) <= ft.cfg.Transitions {
		if len(pre) == 0 {
			return nil, false
		}
		ch := s.applyMember(inc, sig)
		ch.entries = append(pre, ch.entries...)
		return ch, true
	}
	// This flip crosses the limit: a firing one is applied as usual (it
	// may reopen the incident once), a resolution is absorbed; either way
	// the member then counts as firing.
	var ch *change
	m.Flapping = true
	if sig.firing {
		ch = s.applyMember(inc, sig)
	} else {
		absorb(m, sig)
		ch = &change{inc: inc}
	}
	fs.flapping = true
	delete(s.clearing, inc.ID)
	ft.marked()
	ft.due(fs.last.Add(ft.cfg.Stable))
	ch.entries = append(slices.Concat(pre, ch.entries), entry(sig.at, osprey.TimelineMemberUpdate, sig.ref,
		fmt.Sprintf("%s is flapping: %d status changes within %s; it counts as firing and its changes no longer reopen, resolve or notify until it has not changed for %s",
			describe(m), len(fs.flips), ft.cfg.Window, ft.cfg.Stable)))
	return ch, true
}

// note records a transition at at, forgetting those older than window.
func (fs *flapState) note(at time.Time, window time.Duration) {
	fs.last = at
	cut := 0
	for cut < len(fs.flips) && at.Sub(fs.flips[cut]) > window {
		cut++
	}
	fs.flips = append(fs.flips[cut:], at)
}

// applyMember applies sig through the normal lifecycle of the incident the
// member belongs to.
func (s *state) applyMember(inc *osprey.Incident, sig signal) *change {
	if s.open[inc.ID] == inc {
		if ch := s.update(inc, sig); ch != nil {
			return ch
		}
		return &change{inc: inc}
	}
	if ch := s.updateResolved(inc, sig); ch != nil {
		return ch
	}
	return &change{inc: inc}
}

// newFlapState starts the flip history of member m.
func newFlapState(m *osprey.Member) *flapState {
	fs := &flapState{firing: m.Status == osprey.StatusFiring, flapping: m.Flapping, lastSeq: m.LastSeq, ref: m.LastRef}
	if m.Flapping {
		fs.last = m.LastSeen
	}
	return fs
}

// absorb records a flapping member's signal on the member only.
func absorb(m *osprey.Member, sig signal) {
	if sig.firing && m.Status == osprey.StatusResolved && !sig.escalation {
		m.Refired = sig.at
	}
	m.Status = osprey.StatusResolved
	if sig.firing {
		m.Status = osprey.StatusFiring
	}
	m.LastRef = sig.ref
	if sig.seq != 0 {
		m.LastSeq = sig.seq
	}
	m.LastSeen = laterOf(m.LastSeen, sig.at)
	m.Severity = max(m.Severity, sig.severity)
	if sig.firing {
		m.Count++
	}
}

// unflap lifts the flapping mark of member m of inc at at. If the member's
// last status is resolved and every member of the open incident is clear,
// the incident resolves at at when the grace since its last activity has
// passed, else it starts waiting out the grace.
func (s *state) unflap(inc *osprey.Incident, m *osprey.Member, fs *flapState, at time.Time) *change {
	fs.flapping = false
	fs.flips = fs.flips[:0]
	m.Flapping = false
	ch := &change{inc: inc, entries: []osprey.TimelineEntry{entry(at, osprey.TimelineMemberUpdate, fs.ref,
		fmt.Sprintf("%s is no longer flapping: no status change for %s; it is %s", describe(m), s.flaps.cfg.Stable, m.Status))}}
	_, held := s.held[inc.ID]
	if s.open[inc.ID] != inc || held || !allResolved(inc) {
		return ch
	}
	if due := lastActivity(inc).Add(s.grace); at.Before(due) {
		s.startClearing(inc)
		return ch
	}
	ch.entries = append(ch.entries, entry(at, osprey.TimelineStatus, "",
		fmt.Sprintf("resolved: every member has been clear for %s", s.grace)))
	ch.autoResolved = true
	s.resolve(inc, at)
	return ch
}

// settleFlaps unmarks the flapping members that have not changed for
// Stable by at.
func (s *state) settleFlaps(at time.Time) []*change {
	ft := s.flaps
	if ft == nil {
		return nil
	}
	if ft.rescan {
		ft.rescan = false
		for _, inc := range s.open {
			for i := range inc.Members {
				if m := inc.Members[i]; m.Flapping && ft.byFP[m.Fingerprint] == nil {
					fs := newFlapState(m)
					ft.byFP[m.Fingerprint] = fs
					ft.due(fs.last.Add(ft.cfg.Stable))
				}
			}
		}
	}
	if ft.nextSettle.IsZero() || at.Before(ft.nextSettle) {
		return nil
	}
	ft.nextSettle = time.Time{}
	fps := make([]osprey.Fingerprint, 0)
	for fp, fs := range ft.byFP {
		if fs.flapping {
			fps = append(fps, fp)
		}
	}
	slices.Sort(fps)
	var out []*change
	for _, fp := range fps {
		fs := ft.byFP[fp]
		due := fs.last.Add(ft.cfg.Stable)
		if at.Before(due) {
			ft.due(due)
			continue
		}
		id, ok := s.byFingerprint[fp]
		inc := s.lookup(id)
		if !ok || inc == nil {
			delete(ft.byFP, fp)
			continue
		}
		m := s.member(inc, memberIndex(inc, fp))
		out = append(out, s.unflap(inc, m, fs, due))
	}
	return out
}

func (ft *flapTracker) due(t time.Time) {
	if ft.nextSettle.IsZero() || t.Before(ft.nextSettle) {
		ft.nextSettle = t
	}
}

// evict drops the tracked members that are not flapping and changed least
// recently, down to three quarters of the bound.
func (ft *flapTracker) evict() {
	type aged struct {
		fp osprey.Fingerprint
		at time.Time
	}
	var list []aged
	for fp, fs := range ft.byFP {
		if !fs.flapping {
			list = append(list, aged{fp, fs.last})
		}
	}
	slices.SortFunc(list, func(a, b aged) int { return a.at.Compare(b.at) })
	for _, a := range list[:min(len(list), len(ft.byFP)-maxFlapTracked*3/4)] {
		delete(ft.byFP, a.fp)
		ft.dropped()
	}
}
