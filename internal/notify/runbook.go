package notify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/store"
)

// runbookKeyPrefix starts the log key of a runbook message:
// "runbook-<first 16 hex digits of the text's SHA-256>".
const runbookKeyPrefix = string(KindRunbook) + "-"

// maxNoteBytes caps the text of a runbook message (the notify action caps
// it at 4096 bytes already).
const maxNoteBytes = 4096

// runbookKey returns the log key of a runbook message with text: the same
// text about the same incident to the same receiver is one notification,
// sent once, however often a step (or a retry of it) hands it over.
func runbookKey(text string) string {
	sum := sha256.Sum256([]byte(text))
	return runbookKeyPrefix + hex.EncodeToString(sum[:8])
}

// isRunbookKey reports whether key is a runbook message's: such rows say
// nothing about the incident's own notifications (routing, generation).
func isRunbookKey(key string) bool { return strings.HasPrefix(key, runbookKeyPrefix) }

// ErrUnknownReceiver is returned by Notify for a receiver that is not in
// notifications.receivers.
var ErrUnknownReceiver = errors.New("no such receiver in notifications.receivers")

// Notify sends text about inc to the named receiver as a message of kind
// runbook, synchronously: it is what a remediation runbook's notify step
// calls. The delivery takes the receiver's path: its rate limit, a claim in
// the notification log (key "runbook-<hash of text>", so the same text is
// delivered once per incident and receiver even when the step is retried or
// another Osprey sharing the store sends it), up to max_attempts attempts
// with backoff, and a timeline and an audit entry. Silences and routes do
// not apply: the runbook names the receiver.
//
// It returns nil when the receiver accepted the message, now or before
// (the log says it was sent); an error otherwise. Errors marked
// osprey.Permanent will fail again if retried.
func (n *Notifier) Notify(ctx context.Context, receiver string, inc osprey.Incident, text string) error {
	r := n.receivers[receiver]
	if r == nil {
		n.m.failed.WithLabelValues(receiver, reasonUnknownReceiver).Inc()
		return osprey.Permanent(fmt.Errorf("notify %q: %w", receiver, ErrUnknownReceiver))
	}
	if inc.ID == "" {
		return osprey.Permanent(errors.New("notify: the incident has no id"))
	}
	text = strings.NewReplacer("\x00", "", "\r\n", "\n", "\r", "\n").Replace(strings.ToValidUTF8(text, "\uFFFD"))
	if strings.TrimSpace(text) == "" {
		return osprey.Permanent(errors.New("notify: empty text"))
	}
	if len(text) > maxNoteBytes {
		return osprey.Permanent(fmt.Errorf("notify: text is %d bytes, more than %d", len(text), maxNoteBytes))
	}
	inc.Timeline = nil
	j := &job{incID: inc.ID, t: &target{recv: r}, kind: KindRunbook, key: runbookKey(text)}

	if err := r.limiter.wait(ctx, n.now, n.sleep, func() { n.m.rateLimited.WithLabelValues(r.name).Inc() }); err != nil {
		return fmt.Errorf("notify %s: waiting for the rate limit: %w", r.name, err)
	}
	now := n.now()
	row, claimed, err := n.claim(ctx, j, now)
	if err != nil {
		n.m.failed.WithLabelValues(r.name, reasonStore).Inc()
		return fmt.Errorf("notify %s: claim in the notification log: %w", r.name, err)
	}
	if !claimed {
		n.m.suppressed.WithLabelValues(r.name, reasonDuplicate).Inc()
		switch row.Status {
		case store.NotificationSent:
			n.log.Info("runbook message already sent", "incident", inc.ID, "receiver", r.name, "key", j.key, "notification", row.ID)
			return nil
		case store.NotificationFailed:
			return osprey.Permanent(fmt.Errorf("notify %s: this message (%s) was tried before and failed after %d attempt(s): %s",
				r.name, j.key, row.Attempts, row.LastError))
		default:
			return fmt.Errorf("notify %s: this message (%s) is being delivered by %s (claimed %s)",
				r.name, j.key, row.ClaimedBy, row.ClaimedAt.UTC().Format(time.RFC3339))
		}
	}

	m := &Message{Receiver: r.name, Kind: KindRunbook, Key: j.key, Incident: inc, Note: text,
		URL: incidentURL(n.cfg.ExternalURL, inc.ID), At: now}
	row, sendErr, stop := n.attempts(ctx, ctx, r, m, row)
	switch {
	case errors.Is(stop, errRenew):
		n.m.failed.WithLabelValues(r.name, reasonClaimLost).Inc()
		return fmt.Errorf("notify %s: %w (last error: %v)", r.name, stop, sendErr)
	case stop != nil:
		// The caller gave up: the claim stays "sending" and goes stale,
		// so a later call (of this or another instance) takes it over.
		_ = n.update(context.WithoutCancel(ctx), row)
		return fmt.Errorf("notify %s: %w (last error: %v)", r.name, stop, sendErr)
	}
	row, reason := n.outcome(row, sendErr)
	rctx := context.WithoutCancel(ctx)
	if err := n.update(rctx, row); err != nil {
		n.m.failed.WithLabelValues(r.name, reasonStore).Inc()
		n.log.Warn("record runbook message", "incident", inc.ID, "receiver", r.name, "key", j.key, "err", err)
	}
	n.record(rctx, j, row, sendErr)
	if sendErr != nil {
		n.m.failed.WithLabelValues(r.name, reason).Inc()
		// A permanent sendErr stays marked through the wrapping.
		return fmt.Errorf("notify %s (%s): %d attempt(s): %w", r.name, r.kind, row.Attempts, sendErr)
	}
	n.m.sent.WithLabelValues(r.name, string(KindRunbook)).Inc()
	return nil
}
