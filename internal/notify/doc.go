// Package notify is the notification stage. It consumes the correlator's
// incident snapshots, decides what to tell whom — routes match an incident's
// labels, severity and status to receivers — and delivers it to Slack,
// PagerDuty (Events API v2), e-mail (SMTP), a generic webhook with a
// templated JSON body, or an existing Alertmanager (/api/v2/alerts).
//
// What is sent: an "opened" notification once group_wait has passed since the
// incident opened (so the flood of signals that builds an incident becomes one
// message about its settled state), an escalation when its severity rises
// above what was last notified, "acknowledged" and "resolved" when it changes
// status, and a repeat every repeat_interval while it stays open. Nothing is
// sent while an active silence matches the incident. Notifier.Notify sends a
// remediation runbook's message (kind "runbook") to one named receiver,
// synchronously, through the same delivery path and log.
//
// Exactly once: before a notification is sent it is claimed in the store's
// notification log under (incident, receiver, key), with a unique constraint,
// so a restarted process or a second replica on the same PostgreSQL does not
// send it again. Each attempt renews the claim; a claim that stays unrenewed
// for longer than a delivery can take (its process died mid-send) may be
// taken over, so a crash leads to at most one repeat, never a loss. The
// outcome, the attempts and the last error are recorded on the row, on the
// incident's timeline and in the audit log.
//
// Delivery retries failed attempts with exponential backoff and jitter, each
// attempt bounded by a timeout, and holds each receiver to a rate limit.
// Clock, sleeper and randomness are injected, so tests run in virtual time.
package notify
