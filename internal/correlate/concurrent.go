package correlate

import (
	"cmp"
	"slices"
	"strings"
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
	byOpening := func(a, b *osprey.Incident) int {
		if d := a.OpenedAt.Compare(b.OpenedAt); d != 0 {
			return d
		}
		return strings.Compare(a.ID, b.ID)
	}
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

// concurrentLocked returns the unresolved and recently resolved
// incidents other than inc that opened within the window of its opening,
// by opening time and id: the maxConcurrent nearest to its opening.
func (c *Correlator) concurrentLocked(inc *osprey.Incident) []*osprey.Incident {
	var out []*osprey.Incident
	for _, m := range []map[string]*osprey.Incident{c.st.open, c.st.resolved} {
		for id, o := range m {
			if id != inc.ID && concurrentWith(o, inc, c.window) {
				out = append(out, o)
			}
		}
	}
	return nearest(out, inc.OpenedAt, maxConcurrent)
}

// rankConcurrentLocked ranks again, with a ConcurrentRanker, the
// unresolved incidents that cs does not hold and that are concurrent
// with an incident of cs that opened, gained a member or saw a member's
// severity rise (its evidence is their context), and adds to cs those
// whose causes changed.
func (c *Correlator) rankConcurrentLocked(cs *changeSet) {
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
	var ids []string
	for _, g := range grown {
		var near []*osprey.Incident
		for id, inc := range c.st.open {
			if _, ok := cs.byID[id]; !ok && concurrentWith(g, inc, c.window) {
				near = append(near, inc)
			}
		}
		for _, inc := range nearest(near, g.OpenedAt, maxConcurrent) {
			ids = append(ids, inc.ID)
		}
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	for _, id := range ids {
		inc := c.st.open[id]
		before := inc.Causes
		ch := &change{inc: inc}
		c.rankLocked(ch, at)
		if sameCauses(before, inc.Causes) {
			continue
		}
		inc.UpdatedAt = laterOf(inc.UpdatedAt, at)
		cs.add(ch)
	}
}
