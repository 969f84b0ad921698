package correlate

import (
	"context"
	"errors"
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
// returns the snapshots to hand on. It first waits for the commits queued
// before it (Options.Pipeline); if one of those failed, the state was
// rebuilt from the store and cs is dropped with an error. On a failure the
// state is rebuilt from the store and the noise counts of the batch are
// dropped (a replay of its events counts them again).
func (c *Correlator) commitLocked(ctx context.Context, cs *changeSet, seq int64) ([]osprey.Incident, error) {
	if failed, err := c.drainLocked(ctx); failed != nil || err != nil {
		return nil, errors.Join(failed, err)
	}
	p := c.prepareLocked(ctx, cs, seq)
	if p == nil {
		return nil, nil
	}
	if err := c.write(p); err != nil {
		return nil, c.recoverLocked(ctx, err)
	}
	return p.out, nil
}

// prepareLocked builds the commit of cs (nil when there is nothing to
// store) and advances what the stage remembers as stored (the members,
// the causes, the checkpoint) as if it were committed: a commit that
// fails rebuilds the state from the store, all of it.
func (c *Correlator) prepareLocked(ctx context.Context, cs *changeSet, seq int64) *pendingCommit {
	noise := c.noise.take()
	if len(cs.order) == 0 && len(noise) == 0 && seq <= c.checkpoint {
		c.m.open.Set(float64(len(c.st.open)))
		return nil
	}
	p := &pendingCommit{
		ctx:   ctx,
		batch: store.IncidentBatch{Changes: make([]store.IncidentChange, 0, len(cs.order)), Noise: noise},
		out:   make([]osprey.Incident, 0, len(cs.order)),
		what:  "save incidents",
		done:  make(chan error, 1),
	}
	if len(cs.order) == 1 {
		p.what = "save incident " + cs.order[0]
	}
	for _, id := range cs.order {
		ch := cs.byID[id]
		// The snapshot shares the state's member array and members,
		// which the state copies before it changes them: the store
		// may read it while the next batch is applied.
		snap := c.st.snapshot(ch.inc)
		w := c.stored.diff(&snap)
		w.KeepCauses = c.lastCauses.same(&snap)
		w.Entries = ch.entries
		p.batch.Changes = append(p.batch.Changes, w)
		c.stored.update(&snap, &w)
		if !w.KeepCauses {
			c.lastCauses.remember(&snap)
		}
		p.out = append(p.out, snap)
	}
	if seq > c.checkpoint {
		p.batch.CheckpointName, p.batch.CheckpointPosition = CheckpointName, seq
		c.checkpoint = seq
	}
	c.stored.prune(c.st)
	c.lastCauses.prune(c.st)
	c.st.pruneOwn()
	c.m.open.Set(float64(len(c.st.open)))
	return p
}

// write stores p's batch and gives p's snapshots their new timeline
// entries. It reads nothing the lock guards, so the writer may run it.
func (c *Correlator) write(p *pendingCommit) error {
	if err := c.store.SaveIncidents(p.ctx, p.batch); err != nil {
		c.m.saveErrors.Inc()
		return fmt.Errorf("%s: %w", p.what, err)
	}
	c.noise.committed(p.batch.Noise)
	for i := range p.out {
		p.out[i].Timeline = p.batch.Changes[i].Entries
	}
	return nil
}
