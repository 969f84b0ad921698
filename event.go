package osprey

import (
	"fmt"
	"strings"
	"time"
)

// Severity ranks how bad a signal is. The zero value is SeverityUnknown.
// Severities order as their numbers do, so max() picks the worst.
type Severity uint8

// Severities, from least to most severe.
const (
	SeverityUnknown Severity = iota
	SeverityInfo
	SeverityWarning
	SeverityError
	SeverityCritical
)

var severityNames = [...]string{"unknown", "info", "warning", "error", "critical"}

// String returns the lowercase name of s.
func (s Severity) String() string {
	if int(s) < len(severityNames) {
		return severityNames[s]
	}
	return fmt.Sprintf("severity(%d)", uint8(s))
}

// ParseSeverity maps the severity words used by Prometheus rules, Grafana,
// PagerDuty and syslog to a Severity. Matching ignores case. The empty string is
// SeverityUnknown; an unrecognised word is an error.
func ParseSeverity(s string) (Severity, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "unknown", "none":
		return SeverityUnknown, nil
	case "info", "informational", "notice", "debug", "low", "ok":
		return SeverityInfo, nil
	case "warning", "warn", "minor", "medium", "moderate":
		return SeverityWarning, nil
	case "error", "err", "major", "high", "page":
		return SeverityError, nil
	case "critical", "crit", "fatal", "emergency", "emerg", "alert", "disaster", "p1":
		return SeverityCritical, nil
	}
	return SeverityUnknown, fmt.Errorf("unknown severity %q", s)
}

// MarshalText encodes s as its name.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText accepts every word ParseSeverity accepts.
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// EventStatus says whether the condition an event reports still holds.
type EventStatus string

// Event statuses, as Alertmanager names them.
const (
	StatusFiring   EventStatus = "firing"
	StatusResolved EventStatus = "resolved"
)

// Valid reports whether s is one of the known statuses.
func (s EventStatus) Valid() bool { return s == StatusFiring || s == StatusResolved }

// Event is a discrete signal: an alert from Alertmanager or Grafana, a deploy,
// a configuration change, an early warning from a forecast.
//
// Two events with the same Name and Labels are the same alert (the same
// Fingerprint), whichever Source sent them, so an alert that arrives from both
// members of an HA pair is counted once.
type Event struct {
	// ID is assigned by Osprey when the event is accepted; it is unique and
	// sorts by time of acceptance.
	ID string `json:"id,omitempty"`
	// Seq is the store's commit sequence number, assigned when the event is
	// stored. Stages use it to process each event once across restarts.
	Seq int64 `json:"seq,omitempty"`
	// Source names the sender: "api", "alertmanager", "grafana", ...
	Source string `json:"source"`
	// Name is what happened: the alert name, or "deploy", ...
	Name        string            `json:"name"`
	Labels      Labels            `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Severity    Severity          `json:"severity"`
	Status      EventStatus       `json:"status"`
	StartsAt    time.Time         `json:"startsAt"`
	// EndsAt is zero while the event fires with no known end.
	EndsAt time.Time `json:"endsAt,omitzero"`
	// Fingerprint identifies the alert: a hash of Name and Labels.
	Fingerprint Fingerprint `json:"fingerprint"`
	// ReceivedAt is when Osprey accepted the event.
	ReceivedAt time.Time `json:"receivedAt"`
}

// EventFingerprint returns the fingerprint of an event with the given name and
// labels: the label set with the name added as "alertname" (overriding any
// alertname label, which Alertmanager-sourced events carry with the same value).
func EventFingerprint(name string, labels Labels) Fingerprint {
	return labels.fingerprintWith(LabelAlertName, name)
}

// Validate reports the first problem that makes e unusable, naming the field.
// It expects the fields a sender provides; ID, Seq, Fingerprint and ReceivedAt
// are filled in by Osprey.
func (e *Event) Validate() error {
	if strings.TrimSpace(e.Name) == "" {
		return fmt.Errorf("name: must not be empty")
	}
	if !e.Status.Valid() {
		return fmt.Errorf("status: %q is not firing or resolved", e.Status)
	}
	for k := range e.Labels {
		if k == "" {
			return fmt.Errorf("labels: empty label name")
		}
	}
	if !e.EndsAt.IsZero() && !e.StartsAt.IsZero() && e.EndsAt.Before(e.StartsAt) {
		return fmt.Errorf("endsAt: %s is before startsAt %s", e.EndsAt.Format(time.RFC3339), e.StartsAt.Format(time.RFC3339))
	}
	return nil
}
