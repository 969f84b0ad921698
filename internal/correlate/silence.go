package correlate

import (
	"context"
	"fmt"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/match"
)

// silenceLookback is how long after its end a silence stays loaded, so that
// events replayed from the store (after a restart or a dropped bus batch)
// that were received while it was active are still suppressed: suppression
// is decided in the time a signal was received, not in replay time.
const silenceLookback = 24 * time.Hour

// silenceSet is an immutable list of compiled silences.
type silenceSet struct {
	list []compiledSilence
}

type compiledSilence struct {
	sil osprey.Silence
	set match.Set
}

// match returns the first silence active at at (StartsAt <= at < EndsAt)
// whose matchers all match l, or nil.
func (ss *silenceSet) match(l osprey.Labels, at time.Time) *osprey.Silence {
	for i := range ss.list {
		s := &ss.list[i]
		if at.Before(s.sil.StartsAt) || !at.Before(s.sil.EndsAt) {
			continue
		}
		if s.set.Matches(l) {
			return &s.sil
		}
	}
	return nil
}

// SilencesChanged reloads the silences from the store. The API calls it after
// creating or expiring a silence so that the change applies to the next
// signal; the stage also reloads on every catch-up tick, which is how a
// silence created through another replica (sharing PostgreSQL) reaches this
// one. Whether a silence is active is decided against each signal's receive
// time, so silences that start or end need no reload.
func (c *Correlator) SilencesChanged(ctx context.Context) error {
	return c.reloadSilences(ctx)
}

// Silenced returns the silence active at at that matches l, if any. It is
// safe to call concurrently with everything else (the notifier may use it).
func (c *Correlator) Silenced(l osprey.Labels, at time.Time) (osprey.Silence, bool) {
	if s := c.silences.Load().match(l, at); s != nil {
		return *s, true
	}
	return osprey.Silence{}, false
}

// reloadSilences reads the silences that ended at most silenceLookback ago
// and replaces the compiled set. A stored silence that is invalid (no
// matchers, a bad matcher, or matchers that would match every signal) is
// skipped, logged and counted; the API never stores one.
func (c *Correlator) reloadSilences(ctx context.Context) error {
	c.silMu.Lock()
	defer c.silMu.Unlock()
	list, err := c.store.ListSilences(ctx, c.now().Add(-silenceLookback))
	if err != nil {
		return fmt.Errorf("load silences: %w", err)
	}
	set := &silenceSet{list: make([]compiledSilence, 0, len(list))}
	for _, sil := range list {
		ms, err := match.Compile(sil.Matchers)
		switch {
		case err != nil:
		case ms.Len() == 0 || ms.MatchesEmpty():
			err = fmt.Errorf("matchers %s would match every signal", ms)
		}
		if err != nil {
			c.m.badSilences.Inc()
			c.log.Warn("skipping invalid silence", "silence", sil.ID, "err", err)
			continue
		}
		set.list = append(set.list, compiledSilence{sil: sil, set: ms})
	}
	c.silences.Store(set)
	c.m.silences.Set(float64(len(set.list)))
	return nil
}

// suppressLocked decides whether a firing signal is suppressed by a silence
// or an inhibition rule. When it is, the change (if any) records the
// suppression on the incident the signal belongs to.
func (c *Correlator) suppressLocked(sils *silenceSet, sig signal) (*change, bool) {
	if sil := sils.match(sig.labels, sig.at); sil != nil {
		c.m.suppressed.WithLabelValues("silence").Inc()
		why := fmt.Sprintf("silence %s by %s until %s", sil.ID, sil.CreatedBy, sil.EndsAt.UTC().Format(time.RFC3339))
		if sil.Comment != "" {
			why += fmt.Sprintf(" (%s)", clip(sil.Comment, 200))
		}
		return c.st.noteSuppressed(sig, "silence/"+sil.ID, why), true
	}
	if rule, why, ok := c.inhib.inhibited(sig); ok {
		c.m.suppressed.WithLabelValues("inhibit").Inc()
		return c.st.noteSuppressed(sig, fmt.Sprintf("inhibit/%d", rule), why), true
	}
	return nil, false
}

// noteSuppressed returns a change that records on the incident sig belongs
// to (the incident of its member, or the unresolved incident of its group
// within the window) that it was suppressed for why, once per fingerprint and
// cause (by); nil when there is no such incident or it was recorded already.
func (s *state) noteSuppressed(sig signal, by, why string) *change {
	inc := s.target(sig)
	if inc == nil || s.noted[sig.fingerprint] == by {
		return nil
	}
	if len(s.noted) >= maxNoted {
		clear(s.noted)
	}
	s.noted[sig.fingerprint] = by
	return &change{inc: inc, entries: []osprey.TimelineEntry{entry(sig.at, osprey.TimelineSuppressed, sig.ref,
		fmt.Sprintf("%s %s%s suppressed by %s", sig.kind, sig.name, sig.labels, why))}}
}

// target returns the incident sig belongs to or would join by its group key,
// or nil.
func (s *state) target(sig signal) *osprey.Incident {
	if id, ok := s.byFingerprint[sig.fingerprint]; ok {
		if inc := s.lookup(id); inc != nil {
			return inc
		}
	}
	inc, _, _ := s.groupIncident(&sig, s.groupKey(sig.labels))
	return inc
}

// clip shortens s to at most n bytes for a message.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
