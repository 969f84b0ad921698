package correlate

import (
	"slices"

	"github.com/osprey-aiops/osprey"
)

// Copy-on-write members. A snapshot handed to the next stages (Out, or a
// person's action's caller) must never see the state change after it was
// taken, and the consumers keep snapshots (notify and remediate hold the
// latest one per incident). Copying an incident's members into every
// snapshot made the hand-off grow with the incident.
//
// So a snapshot shares the state's member array (of pointers), clipped to
// its length (an append by a consumer reallocates; it cannot write into
// the array), and every member it points to. Before the state changes a
// member in place (state.member) it makes its own copy of the array, once
// per snapshot, and of that one member, once per snapshot: a batch that
// changes ten of an incident's 500 members copies 500 pointers and ten
// members, not 500 members (about two thirds of the bytes allocated per
// batch of BenchmarkConsumeEventsLargeIncidentsConcurrentRCA). Appending a
// member needs no copy: it writes past the length of every snapshot taken
// so far, where none of them can look. Replacing Members with a new slice
// (merge, split) needs none either, but the members it moves may be shared
// with an earlier snapshot of the other incident, so merge and split
// forget what the two incidents had copied (state.disown).
// What each member's Labels map holds never changes once the member
// exists (memberMark), so the maps are shared too.
//
// The rule for code of this package: change an existing member only
// through state.member; never write to inc.Members[i] or through it, sort,
// filter or truncate inc.Members in place.

// ownMembers is what the state copied of an incident's members since a
// snapshot last shared them: the array, and the members in it.
type ownMembers map[*osprey.Member]struct{}

// snapshot returns a copy of inc for the next stages: its own causes,
// labels and (empty) timeline, and the state's member array and members,
// which the state copies before it next changes them.
func (s *state) snapshot(inc *osprey.Incident) osprey.Incident {
	snap := *inc
	snap.Members = slices.Clip(inc.Members)
	s.disown(inc)
	snap.Causes = slices.Clone(inc.Causes)
	snap.Labels = inc.Labels.Clone()
	snap.Timeline = nil
	return snap
}

// member returns the i-th member of inc for a change in place, first
// copying inc's member array and that member unless the state copied them
// since inc's last snapshot. Until the next snapshot of inc, it returns
// the same pointer for the same member, so a caller may keep it while
// another changes the member.
func (s *state) member(inc *osprey.Incident, i int) *osprey.Member {
	own := s.own[inc]
	if own == nil {
		inc.Members = slices.Clone(inc.Members)
		own = ownMembers{}
		s.own[inc] = own
	}
	m := inc.Members[i]
	if _, ok := own[m]; !ok {
		cp := *m
		m = &cp
		inc.Members[i] = m
		own[m] = struct{}{}
	}
	return m
}

// disown forgets what the state copied of inc's members: the next change
// of a member copies the array and the member again. Called when a
// snapshot shares them and when members move between incidents.
func (s *state) disown(inc *osprey.Incident) { delete(s.own, inc) }

// pruneOwn forgets the copies of incidents the state no longer holds
// (merged away, or found in the store for a person's action), once they
// are the majority, as storedMembers.prune does.
func (s *state) pruneOwn() {
	if len(s.own) < 64 || len(s.own) < 2*(len(s.open)+len(s.resolved)) {
		return
	}
	for inc := range s.own {
		if s.lookup(inc.ID) != inc {
			delete(s.own, inc)
		}
	}
}
