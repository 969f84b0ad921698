package notify

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/match"
	"github.com/osprey-aiops/osprey/internal/store"
)

// deliver sends one job: it refreshes the incident from the store, holds it
// while a silence matches, waits for the receiver's rate limit, claims the
// log row, tries up to max_attempts times with backoff, and records the
// outcome in the log, the timeline, the audit log and the metrics.
func (n *Notifier) deliver(ctx context.Context, j *job) {
	r := j.t.recv
	inc, ok := n.current(ctx, j)
	if !ok {
		return
	}
	if until, sil, silenced := n.silenced(ctx, &inc); silenced {
		n.m.suppressed.WithLabelValues(r.name, reasonSilenced).Inc()
		n.noteSilence(ctx, &inc, sil)
		n.release(j, until)
		return
	}
	if err := r.limiter.wait(n.sleepCtx, n.now, n.sleep, func() { n.m.rateLimited.WithLabelValues(r.name).Inc() }); err != nil {
		n.release(j, time.Time{}) // shutting down
		return
	}
	now := n.now()
	row, claimed, err := n.claim(ctx, j, now)
	if err != nil {
		n.m.failed.WithLabelValues(r.name, reasonStore).Inc()
		n.log.Warn("claim notification", "incident", j.incID, "receiver", r.name, "key", j.key, "err", err)
		n.release(j, now.Add(storeRetry))
		return
	}
	if !claimed {
		n.m.suppressed.WithLabelValues(r.name, reasonDuplicate).Inc()
		if row.Status == store.NotificationSending {
			// Another notifier is delivering it. Look again once its claim
			// would have gone stale: by then it is finished, or its
			// claimant died and this one takes it over.
			n.release(j, row.ClaimedAt.Add(n.lease()+time.Second))
			return
		}
		n.finish(j, row.Status, inc.Severity)
		return
	}
	// A claim taken over or resumed keeps the attempts made before; the
	// attempts left are what max_attempts leaves, but at least one.
	m := &Message{Receiver: r.name, Kind: j.kind, Key: j.key, Incident: inc, PreviousSeverity: j.prev,
		Repeat: j.repeat, Reopens: j.gen, URL: incidentURL(n.cfg.ExternalURL, inc.ID), At: now, interval: j.t.repeat}

	row, sendErr, stop := n.attempts(ctx, n.sleepCtx, r, m, row)
	switch {
	case errors.Is(stop, errRenew):
		n.lost(j, r, stop)
		return
	case stop != nil:
		// Shutting down between attempts: the claim stays, and this
		// instance resumes it after a restart.
		_ = n.update(ctx, row)
		n.release(j, time.Time{})
		return
	}
	// A sent row keeps the error of the attempt before the one that
	// succeeded, if any: the log shows the receiver had trouble.
	row, reason := n.outcome(row, sendErr)
	if err := n.update(ctx, row); err != nil {
		if errors.Is(err, osprey.ErrConflict) || sendErr != nil {
			n.lost(j, r, err)
			return
		}
		// Delivered, but the store did not take the outcome: this process
		// will not send it again; the row stays "sending" in the log.
		n.m.failed.WithLabelValues(r.name, reasonStore).Inc()
		n.log.Warn("record delivered notification", "incident", j.incID, "receiver", r.name, "key", j.key, "err", err)
	}
	n.finish(j, row.Status, inc.Severity)
	n.record(ctx, j, row, sendErr)
	if sendErr != nil {
		n.m.failed.WithLabelValues(r.name, reason).Inc()
		n.log.Warn("notification failed", "incident", j.incID, "receiver", r.name, "key", j.key, "attempts", row.Attempts, "err", sendErr)
		return
	}
	n.m.sent.WithLabelValues(r.name, string(j.kind)).Inc()
}

// current returns the incident as it is now: the store's copy when it is at
// least as new as the snapshot held (an acknowledgement through the API
// reaches the store first). When the change makes the job moot (a repeat
// for an incident resolved meanwhile), the job is released and ok is false.
func (n *Notifier) current(ctx context.Context, j *job) (osprey.Incident, bool) {
	inc, ok := n.snapshot(j.incID)
	if !ok {
		n.release(j, time.Time{})
		return inc, false
	}
	sctx, cancel := context.WithTimeout(ctx, storeTimeout)
	stored, err := n.store.GetIncident(sctx, j.incID)
	cancel()
	if err != nil || stored.UpdatedAt.Before(inc.UpdatedAt) || stored.Status == inc.Status && stored.Severity == inc.Severity {
		return inc, true
	}
	stored.Timeline = nil
	n.mu.Lock()
	tr := n.tracked[j.incID]
	var again *job
	if tr != nil {
		tr.inc = stored
		j.t.busy = false
		again = n.dueLocked(tr, j.t, n.now())
		j.t.busy = true
	}
	n.mu.Unlock()
	if again == nil || again.key != j.key {
		n.release(j, time.Time{})
		return stored, false
	}
	return stored, true
}

// silenced reports whether an active silence matches the incident: its
// labels with severity and status, or every one of its members (a member's
// labels with alertname). It returns when to look again and the silence.
func (n *Notifier) silenced(ctx context.Context, inc *osprey.Incident) (time.Time, osprey.Silence, bool) {
	now := n.now()
	sctx, cancel := context.WithTimeout(ctx, storeTimeout)
	list, err := n.store.ListSilences(sctx, now)
	cancel()
	if err != nil {
		// Failing open would page through a maintenance window; failing
		// closed would hide an outage. Notify, and say so in the log.
		n.log.Warn("read silences; notifying as if none matched", "incident", inc.ID, "err", err)
		return time.Time{}, osprey.Silence{}, false
	}
	labels := labelsWith(inc)
	for _, s := range list {
		if s.StartsAt.After(now) || !s.EndsAt.After(now) {
			continue
		}
		set, err := match.Compile(s.Matchers)
		if err != nil || set.Len() == 0 {
			continue
		}
		if set.Matches(labels) || allMembersMatch(set, inc) {
			until := now.Add(silenceRecheck)
			if s.EndsAt.Before(until) {
				until = s.EndsAt
			}
			return until, s, true
		}
	}
	return time.Time{}, osprey.Silence{}, false
}

func allMembersMatch(set match.Set, inc *osprey.Incident) bool {
	if len(inc.Members) == 0 {
		return false
	}
	for _, m := range inc.Members {
		l := make(osprey.Labels, len(m.Labels)+3)
		for k, v := range m.Labels {
			l[k] = v
		}
		l[osprey.LabelAlertName] = m.Name
		l["severity"] = m.Severity.String()
		l["status"] = string(inc.Status)
		if !set.Matches(l) {
			return false
		}
	}
	return true
}

// noteSilence says once on the timeline that a silence holds the incident's
// notifications.
func (n *Notifier) noteSilence(ctx context.Context, inc *osprey.Incident, s osprey.Silence) {
	n.mu.Lock()
	tr := n.tracked[inc.ID]
	first := tr != nil && !tr.silenceNoted
	if first {
		tr.silenceNoted = true
	}
	n.mu.Unlock()
	if !first {
		return
	}
	e := osprey.TimelineEntry{At: n.now(), Kind: osprey.TimelineNotification, Actor: "osprey", Ref: s.ID,
		Message: fmt.Sprintf("notifications held: silence %s matches (until %s)", s.ID, s.EndsAt.UTC().Format(time.RFC3339))}
	n.appendTimeline(ctx, inc.ID, e)
}

// claim takes the log row of j.
func (n *Notifier) claim(ctx context.Context, j *job, now time.Time) (store.Notification, bool, error) {
	sctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	row := store.Notification{ID: osprey.NewID(now), IncidentID: j.incID, Receiver: j.t.recv.name, Key: j.key,
		ClaimedBy: n.instance, ClaimedAt: now}
	got, ok, err := n.store.ClaimNotification(sctx, row, now.Add(-n.lease()))
	if err != nil {
		return row, false, err
	}
	if !ok && got.ClaimedBy == n.instance && got.Status == store.NotificationSending {
		// This instance's own claim from before a restart: resume it.
		return got, true, nil
	}
	return got, ok, nil
}

// lease is how long a claim stays live without renewal: longer than one
// attempt and the longest pause between two, so only a dead claimant's
// claim is ever taken over.
func (n *Notifier) lease() time.Duration {
	return 2*(n.cfg.Timeout+n.cfg.BackoffMax) + time.Minute
}

func (n *Notifier) update(ctx context.Context, row store.Notification) error {
	sctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	return n.store.UpdateNotification(sctx, row)
}

// lost handles an update that failed: the claim passed to another notifier
// (which delivers it) or the store is unreachable (the claim goes stale and
// is taken over).
func (n *Notifier) lost(j *job, r *receiver, err error) {
	n.m.failed.WithLabelValues(r.name, reasonClaimLost).Inc()
	n.log.Warn("record notification", "incident", j.incID, "receiver", r.name, "key", j.key, "err", err)
	if errors.Is(err, osprey.ErrConflict) {
		n.finish(j, store.NotificationSending, osprey.SeverityUnknown)
		return
	}
	n.release(j, n.now().Add(storeRetry))
}

// record appends the outcome to the incident's timeline and the audit log.
func (n *Notifier) record(ctx context.Context, j *job, row store.Notification, sendErr error) {
	r := j.t.recv
	msg := fmt.Sprintf("notified %s (%s): %s", r.name, r.kind, j.key)
	action := "notification.sent"
	if row.Attempts > 1 {
		msg += fmt.Sprintf(" after %d attempts", row.Attempts)
	}
	if sendErr != nil {
		action = "notification.failed"
		msg = fmt.Sprintf("notification to %s (%s) failed: %s after %d attempt(s): %s", r.name, r.kind, j.key, row.Attempts, clipError(sendErr))
	}
	at := row.FinishedAt
	n.appendTimeline(ctx, j.incID, osprey.TimelineEntry{At: at, Kind: osprey.TimelineNotification, Actor: "osprey", Message: msg, Ref: row.ID})
	sctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	err := n.store.AppendAudit(sctx, osprey.AuditEntry{At: at, Actor: "osprey", Action: action, Object: "incident/" + j.incID,
		Detail: fmt.Sprintf("receiver=%s kind=%s key=%s attempts=%d notification=%s", r.name, r.kind, j.key, row.Attempts, row.ID)})
	if err != nil {
		n.log.Warn("append audit entry", "incident", j.incID, "err", err)
	}
}

func (n *Notifier) appendTimeline(ctx context.Context, id string, e osprey.TimelineEntry) {
	sctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	if err := n.store.AppendTimeline(sctx, id, e); err != nil && !errors.Is(err, osprey.ErrNotFound) {
		n.log.Warn("append timeline entry", "incident", id, "err", err)
	}
}

// backoff returns the pause after failed attempt k (from 1): the initial
// backoff doubled k-1 times, capped, with equal jitter (half fixed, half
// random), or what the server's Retry-After asked for, capped.
func (n *Notifier) backoff(k int, err error) time.Duration {
	var ra *retryAfterError
	if errors.As(err, &ra) {
		return min(ra.after, n.cfg.BackoffMax)
	}
	d := n.cfg.BackoffInitial
	for i := 1; i < k && d < n.cfg.BackoffMax; i++ {
		d *= 2
	}
	d = min(d, n.cfg.BackoffMax)
	return d/2 + time.Duration(n.rand()*float64(d/2))
}

func clipError(err error) string {
	if err == nil {
		return ""
	}
	s := oneLine(err.Error())
	if len(s) > maxErrorBytes {
		s = s[:maxErrorBytes] + "..."
	}
	return s
}

// limiter is a token bucket of perMinute tokens, refilled continuously.
type limiter struct {
	mu     sync.Mutex
	rate   float64 // tokens per second
	burst  float64
	tokens float64
	last   time.Time
}

func newLimiter(perMinute int) *limiter {
	return &limiter{rate: float64(perMinute) / 60, burst: float64(perMinute), tokens: float64(perMinute)}
}

// wait takes a token, sleeping until one is available; it calls waited
// once when it has to.
func (l *limiter) wait(ctx context.Context, now func() time.Time, sleep func(context.Context, time.Duration) error, waited func()) error {
	counted := false
	for {
		l.mu.Lock()
		t := now()
		if !l.last.IsZero() && t.After(l.last) {
			l.tokens = min(l.burst, l.tokens+t.Sub(l.last).Seconds()*l.rate)
		}
		if l.last.IsZero() || t.After(l.last) {
			l.last = t
		}
		if l.tokens >= 1 {
			l.tokens--
			l.mu.Unlock()
			return nil
		}
		need := time.Duration((1 - l.tokens) / l.rate * float64(time.Second))
		l.mu.Unlock()
		if !counted {
			waited()
			counted = true
		}
		if err := sleep(ctx, max(need, time.Millisecond)); err != nil {
			return err
		}
	}
}

// errRenew marks the stop error of attempts when the claim could not be
// renewed before a retry.
var errRenew = errors.New("renew the claim")

// attempts sends m to r until it is accepted, fails permanently, or the
// attempt budget (max_attempts less the attempts row already records) is
// spent, renewing row's claim before each retry and sleeping on sleepCtx
// between attempts. It returns row with its attempts counted and the last
// send error. A non-nil stop means it stopped early: wrapping errRenew when
// the claim could not be renewed, or the sleep's error when the wait
// between attempts was cut short (row.LastError is then set).
func (n *Notifier) attempts(ctx, sleepCtx context.Context, r *receiver, m *Message, row store.Notification) (_ store.Notification, sendErr, stop error) {
	base := row.Attempts
	budget := max(1, n.cfg.MaxAttempts-base)
	for attempt := 1; ; attempt++ {
		if attempt > 1 {
			// Renew the claim, so nobody takes it over while we retry.
			row.Attempts, row.ClaimedAt, row.LastError = base+attempt-1, n.now(), clipError(sendErr)
			if err := n.update(ctx, row); err != nil {
				return row, sendErr, fmt.Errorf("%w: %w", errRenew, err)
			}
			n.m.retries.WithLabelValues(r.name).Inc()
		}
		actx, cancel := context.WithTimeout(ctx, n.cfg.Timeout)
		start := time.Now()
		sendErr = r.send.send(actx, m)
		cancel()
		outcome := "success"
		if sendErr != nil {
			outcome = "error"
		}
		n.m.latency.WithLabelValues(r.name, outcome).Observe(time.Since(start).Seconds())
		row.Attempts = base + attempt
		if sendErr == nil || osprey.IsPermanent(sendErr) || attempt >= budget {
			return row, sendErr, nil
		}
		if err := n.sleep(sleepCtx, n.backoff(attempt, sendErr)); err != nil {
			row.LastError = clipError(sendErr)
			return row, sendErr, err
		}
	}
}

// outcome finishes row after its last attempt: sent, or failed with the
// last error and the reason for the failed metric.
func (n *Notifier) outcome(row store.Notification, sendErr error) (_ store.Notification, reason string) {
	row.FinishedAt = n.now()
	row.Status = store.NotificationSent
	if sendErr != nil {
		row.LastError = clipError(sendErr)
		row.Status = store.NotificationFailed
		reason = reasonExhausted
		if osprey.IsPermanent(sendErr) {
			reason = reasonPermanent
		}
	}
	return row, reason
}
