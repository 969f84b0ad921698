package correlate

import (
	"slices"

	"github.com/osprey-aiops/osprey"
)

// Copy-on-write members. A snapshot handed to the next stages (Out, or a
// person's action's caller) must never see the state change after it was
// taken, and the consumers keep snapshots (notify and remediate hold the
// latest one per incident). Copying an incident's members into every
// snapshot made the hand-off grow with the incident: two thirds of the
// bytes allocated per batch of BenchmarkConsumeEventsLargeIncidents.
//
// So a snapshot shares the state's member array instead, clipped to its
// length (an append by a consumer reallocates; it cannot write into the
// array), and the state copies the array before it changes a member in
// place (state.member). Appending a member needs no copy: it writes past
// the length of every snapshot taken so far, where none of them can look.
// Replacing Members with a new slice (merge, split) needs none either.
// What each member's Labels map holds never changes once the member
// exists (memberMark), so the maps were already shared.
//
// The rule for code of this package: change an existing member only
// through state.member; never write to inc.Members[i], sort, filter or
// truncate inc.Members in place.

// snapshot returns a copy of inc for the next stages: its own causes,
// labels and (empty) timeline, and the state's member array, which the
// state copies before it next changes a member in place.
func (s *state) snapshot(inc *osprey.Incident) osprey.Incident {
	snap := *inc
	snap.Members = slices.Clip(inc.Members)
	if len(inc.Members) > 0 {
		s.shared[inc] = struct{}{}
	}
	snap.Causes = slices.Clone(inc.Causes)
	snap.Labels = inc.Labels.Clone()
	snap.Timeline = nil
	return snap
}

// member returns the i-th member of inc for a change in place, first
// copying inc's members if a snapshot shares them.
func (s *state) member(inc *osprey.Incident, i int) *osprey.Member {
	if _, ok := s.shared[inc]; ok {
		inc.Members = slices.Clone(inc.Members)
		delete(s.shared, inc)
	}
	return &inc.Members[i]
}

// pruneShared forgets the shared marks of incidents the state no longer
// holds (merged away, or found in the store for a person's action), once
// they are the majority, as storedMembers.prune does.
func (s *state) pruneShared() {
	if len(s.shared) < 64 || len(s.shared) < 2*(len(s.open)+len(s.resolved)) {
		return
	}
	for inc := range s.shared {
		if s.lookup(inc.ID) != inc {
			delete(s.shared, inc)
		}
	}
}
