package correlate

import (
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

// concurrentLocked returns the unresolved and recently resolved
// incidents other than inc that opened within the window of its opening,
// by opening time and id.
func (c *Correlator) concurrentLocked(inc *osprey.Incident) []*osprey.Incident {
	var out []*osprey.Incident
	for _, m := range []map[string]*osprey.Incident{c.st.open, c.st.resolved} {
		for id, o := range m {
			if id != inc.ID && concurrentWith(o, inc, c.window) {
				out = append(out, o)
			}
		}
	}
	slices.SortFunc(out, func(a, b *osprey.Incident) int {
		if d := a.OpenedAt.Compare(b.OpenedAt); d != 0 {
			return d
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
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
	ids := make([]string, 0, len(c.st.open))
	for id, inc := range c.st.open {
		if _, ok := cs.byID[id]; ok {
			continue
		}
		if slices.ContainsFunc(grown, func(g *osprey.Incident) bool { return concurrentWith(g, inc, c.window) }) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
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
