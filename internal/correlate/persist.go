package correlate

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/store"
)

// Persistence: every batch of signals (or one person's action) is written in
// one store transaction (store.SaveIncidents) holding the changed incidents,
// only the members that changed, the new timeline entries, the batch's noise
// counts and the checkpoint. A crash before the commit loses the whole
// batch, which start-up replays from the stored events after the checkpoint;
// a crash after it loses nothing. So what was committed is exactly the state
// after the events up to the checkpoint, and the noise counts count each of
// them once.
//
// Which members changed is found by comparing each member of a changed
// incident with what was last stored (stored), not by trusting every code
// path that touches a member to say so: a member is a handful of scalar
// fields, so the comparison costs far less than encoding and writing it.
// Only a member that is not the one last stored is compared: the stage
// changes a member only through state.member, which copies it before its
// first change after a snapshot (members.go), and every stored incident is
// snapshotted right after the commit, so a member whose pointer is the one
// stored has not changed since. That keeps a batch that changes ten of an
// incident's 500 members from comparing the other 490.

// storedMembers remembers, per incident, its members as last stored.
type storedMembers map[string][]storedMember

// storedMember is one member as last stored: the member the state held
// then and what its fields were.
type storedMember struct {
	m    *osprey.Member
	mark memberMark
}

// memberMark is a member without its labels, which never change once a
// member exists. A field added to osprey.Member that can change must be
// added here too.
type memberMark struct {
	kind              osprey.MemberKind
	fingerprint       osprey.Fingerprint
	name              string
	severity          osprey.Severity
	status            osprey.EventStatus
	firstRef, lastRef string
	firstSeen         time.Time
	lastSeen          time.Time
	count             int
	lastSeq           int64
	groupKey          string
	flapping          bool
}

// mark returns what stored remembers of m.
func mark(m *osprey.Member) memberMark {
	return memberMark{
		kind: m.Kind, fingerprint: m.Fingerprint, name: m.Name, severity: m.Severity, status: m.Status,
		firstRef: m.FirstRef, lastRef: m.LastRef, firstSeen: m.FirstSeen, lastSeen: m.LastSeen,
		count: m.Count, lastSeq: m.LastSeq, groupKey: m.GroupKey, flapping: m.Flapping,
	}
}

// remember records every member of inc as stored.
func (sm storedMembers) remember(inc *osprey.Incident) {
	marks := make([]storedMember, len(inc.Members))
	for i, m := range inc.Members {
		marks[i] = storedMember{m, mark(m)}
	}
	sm[inc.ID] = marks
}

// diff returns the store change for inc: the positions of the members
// that differ from those stored, or every member when the stored ones are
// unknown or no longer a prefix of inc's (a merge moved them away).
func (sm storedMembers) diff(inc *osprey.Incident) store.IncidentChange {
	ch := store.IncidentChange{Incident: *inc}
	marks, ok := sm[inc.ID]
	if !ok || len(marks) > len(inc.Members) {
		ch.AllMembers = true
		return ch
	}
	for i, m := range inc.Members {
		if i >= len(marks) || marks[i].m != m && marks[i].mark != mark(m) {
			ch.Members = append(ch.Members, i)
		}
	}
	return ch
}

// update records the members a committed change wrote.
func (sm storedMembers) update(inc *osprey.Incident, ch *store.IncidentChange) {
	if ch.AllMembers {
		sm.remember(inc)
		return
	}
	marks := sm[inc.ID]
	for _, i := range ch.Members {
		m := storedMember{inc.Members[i], mark(inc.Members[i])}
		if i < len(marks) {
			marks[i] = m
		} else {
			marks = append(marks, m)
		}
	}
	sm[inc.ID] = marks
}

// prune forgets the incidents the state no longer holds, once they are
// the majority (so the cost is amortised over many commits).
func (sm storedMembers) prune(st *state) {
	if len(sm) < 64 || len(sm) < 2*(len(st.open)+len(st.resolved)) {
		return
	}
	for id := range sm {
		if st.lookup(id) == nil {
			delete(sm, id)
		}
	}
}

// storedCauses remembers, per incident, its causes as last stored, so that
// a change that did not re-rank them (a repeat, a resolution, an
// acknowledgement: most changes) is saved with store.IncidentChange's
// KeepCauses instead of encoding and writing them again; the ranker's
// causes name the evidence of every member, so they grow with the
// incident. As for members, the causes are compared rather than trusting
// every code path to report a change.
type storedCauses map[string][]osprey.Cause

// remember records inc's causes as stored.
func (sc storedCauses) remember(inc *osprey.Incident) { sc[inc.ID] = slices.Clone(inc.Causes) }

// same reports whether inc's causes are those last stored.
func (sc storedCauses) same(inc *osprey.Incident) bool {
	prev, ok := sc[inc.ID]
	return ok && slices.EqualFunc(prev, inc.Causes, func(a, b osprey.Cause) bool {
		return a.Kind == b.Kind && a.Name == b.Name && a.Score == b.Score &&
			a.Explanation == b.Explanation && slices.Equal(a.EvidenceIDs, b.EvidenceIDs)
	})
}

// prune forgets the incidents the state no longer holds (as
// storedMembers.prune).
func (sc storedCauses) prune(st *state) {
	if len(sc) < 64 || len(sc) < 2*(len(st.open)+len(st.resolved)) {
		return
	}
	for id := range sc {
		if st.lookup(id) == nil {
			delete(sc, id)
		}
	}
}

// commitLocked stores every incident of cs with its changed members and new
// timeline entries (which get their Seq), the pending noise counts and, when
// seq is above the checkpoint, the checkpoint, in one transaction; it
// returns the snapshots to hand on. On a failure the state is rebuilt from
// the store and the noise counts of the batch are dropped (a replay of its
// events counts them again).
func (c *Correlator) commitLocked(ctx context.Context, cs *changeSet, seq int64) ([]osprey.Incident, error) {
	noise := c.noise.take()
	if len(cs.order) == 0 && len(noise) == 0 && seq <= c.checkpoint {
		c.m.open.Set(float64(len(c.st.open)))
		return nil, nil
	}
	b := store.IncidentBatch{Changes: make([]store.IncidentChange, 0, len(cs.order)), Noise: noise}
	for _, id := range cs.order {
		ch := cs.byID[id]
		w := c.stored.diff(ch.inc)
		w.KeepCauses = c.lastCauses.same(ch.inc)
		w.Entries = ch.entries
		b.Changes = append(b.Changes, w)
	}
	if seq > c.checkpoint {
		b.CheckpointName, b.CheckpointPosition = CheckpointName, seq
	}
	if err := c.store.SaveIncidents(ctx, b); err != nil {
		c.m.saveErrors.Inc()
		what := "save incidents"
		if len(cs.order) == 1 {
			what = "save incident " + cs.order[0]
		}
		return nil, c.recoverLocked(ctx, fmt.Errorf("%s: %w", what, err))
	}
	if seq > c.checkpoint {
		c.checkpoint = seq
	}
	c.noise.committed(noise)
	out := make([]osprey.Incident, 0, len(cs.order))
	for i, id := range cs.order {
		ch := cs.byID[id]
		c.stored.update(ch.inc, &b.Changes[i])
		if !b.Changes[i].KeepCauses {
			c.lastCauses.remember(ch.inc)
		}
		snap := c.st.snapshot(ch.inc)
		snap.Timeline = b.Changes[i].Entries
		out = append(out, snap)
	}
	c.stored.prune(c.st)
	c.lastCauses.prune(c.st)
	c.st.pruneOwn()
	c.m.open.Set(float64(len(c.st.open)))
	return out, nil
}
