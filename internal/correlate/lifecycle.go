package correlate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/osprey-aiops/osprey"
)

// Audit actions of people's incident actions.
const (
	AuditAck     = "incident.ack"
	AuditResolve = "incident.resolve"
	AuditReopen  = "incident.reopen"
	AuditAssign  = "incident.assign"
	AuditComment = "incident.comment"
	AuditMerge   = "incident.merge"
)

// reopenPrefix starts the message of a person's reopen; reload looks for it
// to keep such an incident held open (see state).
const reopenPrefix = "reopened by "

// Bounds of what people write into an incident.
const (
	// MaxCommentBytes bounds a comment (and the comment of an ack, resolve
	// or reopen).
	MaxCommentBytes = 4096
	// MaxAssigneeBytes bounds an assignee name.
	MaxAssigneeBytes = 256
)

// Ack acknowledges an open incident on behalf of actor, with an optional
// comment. It returns the incident as stored, with the new timeline entry as
// its Timeline. An unknown id gives osprey.ErrNotFound; an incident that is
// already acknowledged or resolved gives osprey.ErrConflict.
func (c *Correlator) Ack(ctx context.Context, id, actor, comment string) (osprey.Incident, error) {
	return c.act(ctx, id, actor, AuditAck, map[string]string{"comment": comment}, func(inc *osprey.Incident, now time.Time) (*change, error) {
		switch inc.Status {
		case osprey.IncidentAcknowledged:
			return nil, fmt.Errorf("%w: incident %s is already acknowledged", osprey.ErrConflict, inc.ID)
		case osprey.IncidentResolved:
			return nil, fmt.Errorf("%w: incident %s is resolved; reopen it first", osprey.ErrConflict, inc.ID)
		}
		inc.Status = osprey.IncidentAcknowledged
		return c.humanChange(inc, now, osprey.TimelineStatus, actor, withComment("acknowledged by "+actor, comment)), nil
	})
}

// Resolve resolves an open or acknowledged incident on behalf of actor. Its
// members keep their status: a member still firing that repeats is recorded
// without reopening the incident; one that clears and fires again within the
// window reopens it (see state). An incident already resolved gives
// osprey.ErrConflict.
func (c *Correlator) Resolve(ctx context.Context, id, actor, comment string) (osprey.Incident, error) {
	return c.act(ctx, id, actor, AuditResolve, map[string]string{"comment": comment}, func(inc *osprey.Incident, now time.Time) (*change, error) {
		if inc.Status == osprey.IncidentResolved {
			return nil, fmt.Errorf("%w: incident %s is already resolved", osprey.ErrConflict, inc.ID)
		}
		ch := c.humanChange(inc, now, osprey.TimelineStatus, actor, withComment("resolved by "+actor, comment))
		if c.st.open[inc.ID] == inc {
			c.st.resolve(inc, now)
		} else {
			inc.Status, inc.ResolvedAt = osprey.IncidentResolved, now
		}
		return ch, nil
	})
}

// Reopen reopens a resolved incident on behalf of actor. New signals of its
// members and of its group join it again. If all its members are clear it is
// held open until a member fires again, rather than auto-resolved after the
// grace. An incident that is not resolved gives osprey.ErrConflict.
func (c *Correlator) Reopen(ctx context.Context, id, actor, comment string) (osprey.Incident, error) {
	return c.act(ctx, id, actor, AuditReopen, map[string]string{"comment": comment}, func(inc *osprey.Incident, now time.Time) (*change, error) {
		if inc.Status != osprey.IncidentResolved {
			return nil, fmt.Errorf("%w: incident %s is %s, not resolved", osprey.ErrConflict, inc.ID, inc.Status)
		}
		ch := c.humanChange(inc, now, osprey.TimelineStatus, actor, withComment(reopenPrefix+actor, comment))
		c.st.reopen(inc, true) // works for an incident read from the store too
		return ch, nil
	})
}

// Assign sets the incident's assignee ("" unassigns) on behalf of actor, in
// any status. Assigning the current assignee changes nothing and records
// nothing.
func (c *Correlator) Assign(ctx context.Context, id, actor, assignee string) (osprey.Incident, error) {
	if len(assignee) > MaxAssigneeBytes {
		return osprey.Incident{}, fmt.Errorf("assignee longer than %d bytes", MaxAssigneeBytes)
	}
	return c.act(ctx, id, actor, AuditAssign, map[string]string{"assignee": assignee}, func(inc *osprey.Incident, now time.Time) (*change, error) {
		if inc.Assignee == assignee {
			return nil, nil
		}
		msg := fmt.Sprintf("assigned to %s by %s", assignee, actor)
		if assignee == "" {
			msg = fmt.Sprintf("unassigned (was %s) by %s", inc.Assignee, actor)
		}
		inc.Assignee = assignee
		return c.humanChange(inc, now, osprey.TimelineAssigned, actor, msg), nil
	})
}

// Comment adds a comment by actor to the incident's timeline, in any status,
// and returns the stored entry (with its Seq).
func (c *Correlator) Comment(ctx context.Context, id, actor, text string) (osprey.TimelineEntry, error) {
	if strings.TrimSpace(text) == "" {
		return osprey.TimelineEntry{}, errors.New("empty comment")
	}
	if len(text) > MaxCommentBytes {
		return osprey.TimelineEntry{}, fmt.Errorf("comment longer than %d bytes", MaxCommentBytes)
	}
	inc, err := c.act(ctx, id, actor, AuditComment, map[string]string{"text": text}, func(inc *osprey.Incident, now time.Time) (*change, error) {
		return c.humanChange(inc, now, osprey.TimelineComment, actor, text), nil
	})
	if err != nil {
		return osprey.TimelineEntry{}, err
	}
	return inc.Timeline[0], nil
}

// Merge moves every member of incident fromID into incident intoID on behalf
// of actor and resolves fromID, with a merged entry on both timelines. Both
// must be unresolved and different (else osprey.ErrConflict). The causes of
// the merged incident are ranked again. It returns intoID's incident.
func (c *Correlator) Merge(ctx context.Context, intoID, fromID, actor string) (osprey.Incident, error) {
	if intoID == fromID {
		return osprey.Incident{}, fmt.Errorf("%w: cannot merge incident %s into itself", osprey.ErrConflict, intoID)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if actor == "" {
		return osprey.Incident{}, errors.New("no actor")
	}
	if _, err := c.drainLocked(ctx); err != nil {
		return osprey.Incident{}, err
	}
	into, err := c.findLocked(ctx, intoID)
	if err != nil {
		return osprey.Incident{}, err
	}
	from, err := c.findLocked(ctx, fromID)
	if err != nil {
		return osprey.Incident{}, err
	}
	for _, inc := range []*osprey.Incident{into, from} {
		if c.st.open[inc.ID] != inc {
			return osprey.Incident{}, fmt.Errorf("%w: incident %s is resolved; only unresolved incidents merge", osprey.ErrConflict, inc.ID)
		}
	}
	now := c.now()
	moved := len(from.Members)
	c.st.merge(into, from, now)
	intoCh := c.humanChange(into, now, osprey.TimelineMerged, actor,
		fmt.Sprintf("merged incident %s (%d members) into this one, by %s", from.ID, moved, actor))
	intoCh.entries[0].Ref = from.ID
	intoCh.joined = true
	fromCh := c.humanChange(from, now, osprey.TimelineMerged, actor,
		fmt.Sprintf("merged into incident %s by %s; resolved", into.ID, actor))
	fromCh.entries[0].Ref = into.ID
	if c.causes != nil {
		c.rankLocked(intoCh, now)
	}
	cs := changeSet{}
	cs.add(fromCh)
	cs.add(intoCh)
	out, err := c.saveLocked(ctx, &cs)
	if err != nil {
		return osprey.Incident{}, fmt.Errorf("merge incident %s into %s: %w", fromID, intoID, err)
	}
	c.m.actions.WithLabelValues(AuditMerge).Inc()
	c.auditLocked(ctx, actor, AuditMerge, intoID, map[string]string{"from": fromID})
	c.publish(ctx, out)
	return out[1], nil
}

// act runs one person's action on incident id under the lock: do checks the
// transition and changes the incident, returning the change to store (nil
// for none, in which case the incident is returned as it is). The change is
// stored, audited and handed on.
func (c *Correlator) act(ctx context.Context, id, actor, action string, detail any, do func(inc *osprey.Incident, now time.Time) (*change, error)) (osprey.Incident, error) {
	if actor == "" {
		return osprey.Incident{}, errors.New("no actor")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := c.drainLocked(ctx); err != nil {
		return osprey.Incident{}, err
	}
	inc, err := c.findLocked(ctx, id)
	if err != nil {
		return osprey.Incident{}, err
	}
	ch, err := do(inc, c.now())
	if err != nil {
		return osprey.Incident{}, err
	}
	if ch == nil {
		return c.st.snapshot(inc), nil
	}
	cs := changeSet{}
	cs.add(ch)
	out, err := c.saveLocked(ctx, &cs)
	if err != nil {
		return osprey.Incident{}, fmt.Errorf("%s %s: %w", action, id, err)
	}
	c.m.actions.WithLabelValues(action).Inc()
	c.auditLocked(ctx, actor, action, id, detail)
	c.publish(ctx, out)
	return out[0], nil
}

// findLocked returns the live incident with id, or, for one the state no
// longer holds (resolved longer than the window ago, or beyond the load
// limit), a copy read from the store that the caller may adopt. An unknown
// id gives osprey.ErrNotFound.
func (c *Correlator) findLocked(ctx context.Context, id string) (*osprey.Incident, error) {
	if inc := c.st.lookup(id); inc != nil {
		return inc, nil
	}
	inc, err := c.store.GetIncident(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("incident %s: %w", id, err)
	}
	inc.Timeline = nil
	return &inc, nil
}

// humanChange records a person's action on inc at now.
func (c *Correlator) humanChange(inc *osprey.Incident, now time.Time, kind osprey.TimelineKind, actor, msg string) *change {
	inc.UpdatedAt = laterOf(inc.UpdatedAt, now)
	return &change{inc: inc, entries: []osprey.TimelineEntry{{At: now, Kind: kind, Actor: actor, Message: msg}}}
}

// auditLocked appends an audit entry whose detail is v as JSON. The
// incident's timeline is the primary record, so a failure is logged and
// counted, not returned.
func (c *Correlator) auditLocked(ctx context.Context, actor, action, id string, v any) {
	detail, err := json.Marshal(v)
	if err != nil {
		detail = []byte(fmt.Sprintf("%q", fmt.Sprint(v)))
	}
	e := osprey.AuditEntry{At: c.now(), Actor: actor, Action: action, Object: "incident/" + id, Detail: string(detail)}
	if err := c.store.AppendAudit(ctx, e); err != nil {
		c.m.saveErrors.Inc()
		c.log.Error("cannot append audit entry", "action", action, "incident", id, "err", err)
	}
}

// reopenedByPerson reports whether the last status change of incident id was
// a person's reopen with no member activity since, so that a restart keeps
// holding it open.
func (c *Correlator) reopenedByPerson(ctx context.Context, id string) (bool, error) {
	inc, err := c.store.GetIncident(ctx, id)
	if err != nil {
		return false, fmt.Errorf("load timeline of incident %s: %w", id, err)
	}
	for _, e := range slices.Backward(inc.Timeline) {
		switch e.Kind {
		case osprey.TimelineMemberJoined, osprey.TimelineMemberUpdate:
			return false, nil
		case osprey.TimelineStatus:
			return e.Actor != "osprey" && strings.HasPrefix(e.Message, reopenPrefix), nil
		}
	}
	return false, nil
}

func withComment(msg, comment string) string {
	if comment = strings.TrimSpace(comment); comment != "" {
		return msg + ": " + comment
	}
	return msg
}

// merge moves the members of from into into and resolves from at now.
func (s *state) merge(into, from *osprey.Incident, now time.Time) {
	into.Members = append(into.Members, from.Members...)
	from.Members = []*osprey.Member{}
	s.disown(into)
	s.disown(from)
	into.Severity = max(into.Severity, from.Severity)
	if from.OpenedAt.Before(into.OpenedAt) {
		into.OpenedAt = from.OpenedAt
	}
	for _, m := range into.Members {
		s.byFingerprint[m.Fingerprint] = into.ID
	}
	for k, id := range s.byGroup {
		if id == from.ID {
			s.byGroup[k] = into.ID
		}
	}
	s.resolve(from, now)
	delete(s.resolved, from.ID) // it has no members left to reopen it
	delete(s.clearing, into.ID)
	if allResolved(into) {
		s.startClearing(into)
	}
}
