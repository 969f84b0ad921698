package correlate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/osprey-aiops/osprey"
)

// AuditSplit is the audit action of a manual split.
const AuditSplit = "incident.split"

// Split moves the members of incident id whose fingerprints are listed into
// a new incident, on behalf of actor: the reverse of Merge, for when the
// grouping put two problems into one incident. The incident must be
// unresolved (else osprey.ErrConflict), every fingerprint must be one of its
// members, and at least one member must stay. The new incident is open,
// opened when its earliest member was first seen, with the most severe of
// its members' severities; later reports of the moved members go to it, and
// so do new alerts of their group when no member of that group stays. Both
// get a split entry on their timeline and their causes ranked again. It
// returns the new incident, then the one split.
func (c *Correlator) Split(ctx context.Context, id string, fingerprints []osprey.Fingerprint, actor string) (osprey.Incident, osprey.Incident, error) {
	if actor == "" {
		return osprey.Incident{}, osprey.Incident{}, errors.New("no actor")
	}
	if len(fingerprints) == 0 {
		return osprey.Incident{}, osprey.Incident{}, fmt.Errorf("%w: split incident %s: no member given", osprey.ErrConflict, id)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := c.drainLocked(ctx); err != nil {
		return osprey.Incident{}, osprey.Incident{}, err
	}
	from, err := c.findLocked(ctx, id)
	if err != nil {
		return osprey.Incident{}, osprey.Incident{}, err
	}
	if c.st.open[from.ID] != from {
		return osprey.Incident{}, osprey.Incident{}, fmt.Errorf("%w: incident %s is resolved; only unresolved incidents split", osprey.ErrConflict, id)
	}
	move := make(map[osprey.Fingerprint]bool, len(fingerprints))
	for _, fp := range fingerprints {
		move[fp] = true
	}
	var moved, kept []*osprey.Member
	for _, m := range from.Members {
		if move[m.Fingerprint] {
			moved = append(moved, m)
			delete(move, m.Fingerprint)
		} else {
			kept = append(kept, m)
		}
	}
	if len(move) > 0 {
		missing := make([]string, 0, len(move))
		for fp := range move {
			missing = append(missing, fp.String())
		}
		slices.Sort(missing)
		return osprey.Incident{}, osprey.Incident{}, fmt.Errorf("%w: incident %s has no member %s", osprey.ErrConflict, id, strings.Join(missing, ", "))
	}
	if len(kept) == 0 {
		return osprey.Incident{}, osprey.Incident{}, fmt.Errorf("%w: a split must leave at least one member in incident %s (resolve or merge it instead)", osprey.ErrConflict, id)
	}
	now := c.now()
	into := c.st.split(from, moved, kept, now)
	intoCh := c.humanChange(into, now, osprey.TimelineSplit, actor,
		fmt.Sprintf("split from incident %s with %d members (%s), by %s", from.ID, len(moved), memberNames(moved), actor))
	intoCh.entries[0].Ref = from.ID
	intoCh.joined = true
	fromCh := c.humanChange(from, now, osprey.TimelineSplit, actor,
		fmt.Sprintf("%d members (%s) split into incident %s by %s", len(moved), memberNames(moved), into.ID, actor))
	fromCh.entries[0].Ref = into.ID
	fromCh.joined = true // its causes change too
	if c.causes != nil {
		c.rankLocked(intoCh, now)
		c.rankLocked(fromCh, now)
	}
	cs := changeSet{}
	cs.add(intoCh)
	cs.add(fromCh)
	out, err := c.saveLocked(ctx, &cs)
	if err != nil {
		return osprey.Incident{}, osprey.Incident{}, fmt.Errorf("split incident %s: %w", id, err)
	}
	c.m.actions.WithLabelValues(AuditSplit).Inc()
	fps := make([]string, len(moved))
	for i, m := range moved {
		fps[i] = m.Fingerprint.String()
	}
	c.auditLocked(ctx, actor, AuditSplit, id, map[string]any{"into": into.ID, "members": fps})
	c.publish(ctx, out)
	return out[0], out[1], nil
}

// memberNames lists up to three members' names for a timeline entry.
func memberNames(ms []*osprey.Member) string {
	names := make([]string, 0, 3)
	for _, m := range ms[:min(3, len(ms))] {
		names = append(names, m.Name)
	}
	s := strings.Join(names, ", ")
	if len(ms) > 3 {
		s += fmt.Sprintf(" and %d more", len(ms)-3)
	}
	return s
}

// split moves the moved members of from (which keeps kept, in order) into
// a new open incident and returns it.
func (s *state) split(from *osprey.Incident, moved, kept []*osprey.Member, now time.Time) *osprey.Incident {
	first := moved[0]
	for _, m := range moved {
		if m.FirstSeen.Before(first.FirstSeen) {
			first = m
		}
	}
	key := s.memberKey(first)
	into := &osprey.Incident{
		ID:        s.newID(now),
		Title:     splitTitle(first, key),
		Status:    osprey.IncidentOpen,
		OpenedAt:  first.FirstSeen,
		UpdatedAt: now,
		Members:   moved,
	}
	if name, value, ok := cut(key); ok && !strings.HasPrefix(key, "rule/") {
		into.Labels = osprey.Labels{name: value}
	}
	for _, m := range moved {
		into.Severity = max(into.Severity, m.Severity)
		s.byFingerprint[m.Fingerprint] = into.ID
	}
	from.Members = kept
	s.disown(from)
	from.Severity = osprey.SeverityUnknown
	keptKeys := make(map[string]bool, len(kept))
	for i := range kept {
		from.Severity = max(from.Severity, kept[i].Severity)
		keptKeys[s.memberKey(kept[i])] = true
	}
	for i := range moved {
		if k := s.memberKey(moved[i]); k != "" && !keptKeys[k] && s.byGroup[k] == from.ID {
			s.byGroup[k] = into.ID
		}
	}
	s.open[into.ID] = into
	delete(s.clearing, from.ID)
	if allResolved(from) {
		s.startClearing(from)
	}
	if allResolved(into) {
		s.startClearing(into)
	}
	return into
}

// splitTitle is the title of an incident split off around member m.
func splitTitle(m *osprey.Member, key string) string {
	t := m.Name
	if _, value, ok := cut(key); ok && !strings.HasPrefix(key, "rule/") {
		t += " (" + value + ")"
	}
	return t
}
