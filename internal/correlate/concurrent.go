package correlate

import (
	"cmp"
	"slices"
	"time"

	"github.com/osprey-aiops/osprey"
)

// ConcurrentRanker is a CauseRanker that also reads the incidents
// concurrent with the one it ranks: the unresolved and recently resolved
// incidents that opened within the correlation window of its opening
// (rca.ConcurrentIncidentRanker adds their members' evidence as
// candidates).
// The correlator calls RankCausesAmong instead of RankCauses when its
// ranker implements it, and ranks the unresolved incidents concurrent
// with one that opened, gained a member or saw a member's severity rise
// again, storing those whose causes changed. RankCausesAmong must not
// modify inc or concurrent and must be deterministic for the same
// incidents and graph.
type ConcurrentRanker interface {
	CauseRanker
	RankCausesAmong(inc *osprey.Incident, concurrent []*osprey.Incident) []osprey.Cause
}

// BatchRanker is a ConcurrentRanker that ranks faster when it knows that
// several rankings read the same members: the correlator ranks every
// incident of a batch that gained a member, and the incidents concurrent
// with them, each among the same concurrent incidents. RankBatch returns
// a function that ranks as RankCausesAmong does, and that the correlator
// calls only while no member of any incident changes (it may keep what it
// read of them); the correlator asks for a new one for every batch. A
// type that embeds a BatchRanker and changes its RankCausesAmong must
// change RankBatch too: the correlator would call the embedded one's.
type BatchRanker interface {
	ConcurrentRanker
	RankBatch() func(inc *osprey.Incident, concurrent []*osprey.Incident) []osprey.Cause
}

// rankCausesAmongLocked ranks inc among its concurrent incidents with cr;
// idx, when not nil, indexes the incidents by opening and holds the
// batch's ranking (BatchRanker) while it lasts.
func (c *Correlator) rankCausesAmongLocked(cr ConcurrentRanker, inc *osprey.Incident, idx *openings) []osprey.Cause {
	concurrent := whileSpreading(inc, c.concurrentLocked(inc, idx), c.window/2)
	if idx == nil {
		return cr.RankCausesAmong(inc, concurrent)
	}
	if idx.rank == nil {
		idx.rank = cr.RankCausesAmong
		if br, ok := cr.(BatchRanker); ok {
			idx.rank = br.RankBatch()
		}
	}
	return idx.rank(inc, concurrent)
}

// whileSpreading returns the concurrent incidents as evidence for the ranking
// of inc, by the rule that ends a call-graph join (neighbourIncident: an
// incident that gained no member for half the window, settle, has stopped
// spreading):
//
//   - without their members that first fired more than settle after inc's
//     latest onset (latestOnset). Concurrent incidents are those opened
//     within the window of inc's opening, so an incident opened four
//     minutes after inc by the next, unrelated fault counted with all its
//     members, and its root cause's break ranked first in inc as well. An
//     anomaly that begins that long after inc stopped gaining members is
//     neither its cause nor its symptom but a new problem, ranked in its
//     own incident (docs/rca.md, "Session 9: a recovered service's new
//     wave");
//   - without the incidents that had stopped spreading settle before inc
//     opened: the mirror case, the previous fault's incident, whose cause
//     ranked first in the next fault's incident opened within the window
//     after it (docs/rca.md, "Session 9: an earlier incident that stopped
//     spreading"). A cause still failing is still a candidate when its
//     incident gained a member within settle before inc opened, and an
//     incident holding a change (a deploy event) stays one however long
//     ago it stopped spreading: a bad deploy's errors can take minutes to
//     show (caches warming, traffic shifting to the new version).
//
// One that begins while inc still spreads, or before it, is evidence as
// before. The incidents are copied only when a member is left out;
// concurrent itself is not modified.
func whileSpreading(inc *osprey.Incident, concurrent []*osprey.Incident, settle time.Duration) []*osprey.Incident {
	cut := latestOnset(inc).Add(settle)
	late := func(m *osprey.Member) bool { return m.FirstSeen.After(cut) }
	stopped := inc.OpenedAt.Add(-settle)
	isChange := func(m *osprey.Member) bool { return osprey.IsChange(m.Kind, m.Name) }
	var out []*osprey.Incident // nil until an incident is changed or left out
	for i, o := range concurrent {
		leftOut := latestOnset(o).Before(stopped) && !slices.ContainsFunc(o.Members, isChange)
		if !leftOut && !slices.ContainsFunc(o.Members, late) {
			if out != nil {
				out = append(out, o)
			}
			continue
		}
		if out == nil {
			out = append(make([]*osprey.Incident, 0, len(concurrent)), concurrent[:i]...)
		}
		if leftOut {
			continue
		}
		kept := make([]*osprey.Member, 0, len(o.Members))
		for _, m := range o.Members {
			if !late(m) {
				kept = append(kept, m)
			}
		}
		if len(kept) == 0 {
			continue
		}
		cp := *o
		cp.Members = kept
		out = append(out, &cp)
	}
	if out == nil {
		return concurrent
	}
	return out
}

// concurrentWith reports whether a and b opened within window of each
// other.
func concurrentWith(a, b *osprey.Incident, window time.Duration) bool {
	d := a.OpenedAt.Sub(b.OpenedAt)
	return d <= window && d >= -window
}

// maxConcurrent bounds the concurrent incidents one ranking reads, and
// the incidents that one incident's change ranks again: those that opened
// nearest in time to it. In an alert storm hundreds of incidents open
// within one window; without a bound every change would rank all of them
// again, each over the members of all the others
// (BenchmarkConsumeEventsManyIncidentsConcurrentRCA).
const maxConcurrent = 16

// nearest keeps at most k of incs, those that opened nearest to at (ties
// to the earlier opening, then the smaller id), and returns them by
// opening time and id.
func nearest(incs []*osprey.Incident, at time.Time, k int) []*osprey.Incident {
	if len(incs) > k {
		dist := func(i *osprey.Incident) time.Duration {
			d := i.OpenedAt.Sub(at)
			if d < 0 {
				return -d
			}
			return d
		}
		slices.SortFunc(incs, func(a, b *osprey.Incident) int {
			if d := cmp.Compare(dist(a), dist(b)); d != 0 {
				return d
			}
			return byOpening(a, b)
		})
		incs = incs[:k]
	}
	slices.SortFunc(incs, byOpening)
	return incs
}

// openings is the unresolved and recently resolved incidents sorted by
// opening time and id, so that the incidents opened nearest to a time are
// found by a binary search and a walk outwards instead of a sort of all of
// them. It is built under the correlator's lock and valid while the
// incidents' openings, their members and the sets of unresolved and
// recently resolved incidents stay as they were: for one batch's rankings
// (applyLocked), or for one ranking.
type openings struct {
	incs []*osprey.Incident
	// open[i] reports whether incs[i] is unresolved.
	open []bool
	// rank is the rankings' BatchRanker.RankBatch (or RankCausesAmong),
	// nil until the first ranking.
	rank func(inc *osprey.Incident, concurrent []*osprey.Incident) []osprey.Cause
}

// openingsLocked indexes the correlator's unresolved and recently
// resolved incidents by opening.
func (c *Correlator) openingsLocked() *openings {
	o := &openings{incs: make([]*osprey.Incident, 0, len(c.st.open)+len(c.st.resolved))}
	for _, inc := range c.st.open {
		o.incs = append(o.incs, inc)
	}
	for _, inc := range c.st.resolved {
		o.incs = append(o.incs, inc)
	}
	slices.SortFunc(o.incs, byOpening)
	o.open = make([]bool, len(o.incs))
	for i, inc := range o.incs {
		o.open[i] = c.st.open[inc.ID] == inc
	}
	return o
}

// byOpening orders incidents by opening time, then as compareOpened does:
// by the fingerprint of the member that opened them, then id. Ids carry
// random bits, so incidents opened at the same instant (common without a
// call graph, where every service's first signal opens its own incident)
// must not be ordered by id alone, or the concurrent incidents a ranking
// reads would differ from run to run.
func byOpening(a, b *osprey.Incident) int { return compareOpened(a, b) }

// near returns what nearest(cands, at, k) returns for cands the indexed
// incidents that opened within window of at and for which keep (given the
// incident and whether it is unresolved) is true. It walks outwards from
// at and takes the closest k, and those as close as the farthest of them
// (the ties nearest breaks), and lets nearest choose among those.
func (o *openings) near(at time.Time, window time.Duration, k int, keep func(inc *osprey.Incident, open bool) bool) []*osprey.Incident {
	if k <= 0 {
		return nil
	}
	j, _ := slices.BinarySearchFunc(o.incs, at, func(inc *osprey.Incident, t time.Time) int { return inc.OpenedAt.Compare(t) })
	i := j - 1
	// dist is how far incs[x] opened from at, or -1 when x is out of the
	// index or beyond the window (the incidents are sorted, so so is
	// every one further out on that side).
	dist := func(x int) time.Duration {
		if x < 0 || x >= len(o.incs) {
			return -1
		}
		d := o.incs[x].OpenedAt.Sub(at)
		if d < -window || d > window {
			return -1
		}
		if d < 0 {
			return -d
		}
		return d
	}
	var cands []*osprey.Incident
	var last time.Duration // the distance of the farthest taken
	for {
		di, dj := dist(i), dist(j)
		if di < 0 && dj < 0 {
			break
		}
		x, d := j, dj
		if di >= 0 && (dj < 0 || di <= dj) {
			x, d = i, di
		}
		if len(cands) >= k && d > last {
			break
		}
		if x == i {
			i--
		} else {
			j++
		}
		if keep(o.incs[x], o.open[x]) {
			cands = append(cands, o.incs[x])
			last = d
		}
	}
	return nearest(cands, at, k)
}

// concurrentLocked returns the unresolved and recently resolved
// incidents other than inc that opened within the window of its opening,
// by opening time and id: the maxConcurrent nearest to its opening. idx
// indexes the incidents; nil indexes them for this call.
func (c *Correlator) concurrentLocked(inc *osprey.Incident, idx *openings) []*osprey.Incident {
	if idx == nil {
		idx = c.openingsLocked()
	}
	return idx.near(inc.OpenedAt, c.window, maxConcurrent, func(o *osprey.Incident, _ bool) bool { return o.ID != inc.ID })
}

// rankConcurrentLocked ranks again, with a ConcurrentRanker, the
// unresolved incidents that cs does not hold and that are concurrent
// with an incident of cs that opened, gained a member or saw a member's
// severity rise (its evidence is their context), and adds to cs those
// whose causes changed. idx indexes the incidents by opening.
func (c *Correlator) rankConcurrentLocked(cs *changeSet, idx *openings) {
	if _, ok := c.causes.(ConcurrentRanker); !ok {
		return
	}
	var grown []*osprey.Incident
	var at time.Time
	for _, id := range cs.order {
		if ch := cs.byID[id]; ch.opened || ch.joined || ch.rerank {
			grown = append(grown, ch.inc)
			at = laterOf(at, ch.inc.UpdatedAt)
		}
	}
	if len(grown) == 0 {
		return
	}
	unchanged := func(inc *osprey.Incident, open bool) bool {
		_, changed := cs.byID[inc.ID]
		return open && !changed
	}
	var ids []string
	for _, g := range grown {
		for _, inc := range idx.near(g.OpenedAt, c.window, maxConcurrent, unchanged) {
			ids = append(ids, inc.ID)
		}
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	for _, id := range ids {
		inc := c.st.open[id]
		before := inc.Causes
		ch := &change{inc: inc}
		c.rankAmongLocked(ch, at, idx)
		if sameCauses(before, inc.Causes) {
			continue
		}
		inc.UpdatedAt = laterOf(inc.UpdatedAt, at)
		cs.add(ch)
	}
}
