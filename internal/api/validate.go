package api

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/config"
)

// errNUL rejects text with a NUL character: PostgreSQL cannot store it, and
// the API must accept and reject the same events whichever backend runs.
var errNUL = errors.New("contains a NUL character (\\u0000)")

// defaultSource is the Source of events that name none.
const defaultSource = "api"

// event validates r against lim and returns the osprey.Event it describes,
// with everything Osprey assigns filled in for a batch received at now.
func (r *eventRequest) event(lim *config.ServerConfig, now time.Time) (osprey.Event, error) {
	ev := osprey.Event{
		Source:     r.Source,
		Name:       r.Name,
		Status:     osprey.EventStatus(r.Status),
		ReceivedAt: now,
	}
	if ev.Source == "" {
		ev.Source = defaultSource
	}
	if ev.Status == "" {
		ev.Status = osprey.StatusFiring
	}
	maxBytes := lim.MaxLabelValueBytes
	if len(ev.Source) > maxBytes {
		return ev, fmt.Errorf("source: longer than %d bytes", maxBytes)
	}
	if len(ev.Name) > maxBytes {
		return ev, fmt.Errorf("name: longer than %d bytes", maxBytes)
	}
	if strings.Contains(ev.Source, "\x00") {
		return ev, fmt.Errorf("source: %w", errNUL)
	}
	if strings.Contains(ev.Name, "\x00") {
		return ev, fmt.Errorf("name: %w", errNUL)
	}
	var err error
	if ev.Severity, err = osprey.ParseSeverity(r.Severity); err != nil {
		return ev, fmt.Errorf("severity: %w", err)
	}
	if ev.StartsAt, err = parseTime(r.StartsAt); err != nil {
		return ev, fmt.Errorf("startsAt: %w", err)
	}
	if ev.StartsAt.IsZero() {
		ev.StartsAt = now
	}
	if ev.EndsAt, err = parseTime(r.EndsAt); err != nil {
		return ev, fmt.Errorf("endsAt: %w", err)
	}
	if err := checkLabels(r.Labels, lim); err != nil {
		return ev, err
	}
	if err := checkAnnotations(r.Annotations, lim); err != nil {
		return ev, err
	}
	ev.Labels = osprey.Labels(r.Labels)
	ev.Annotations = r.Annotations
	if err := ev.Validate(); err != nil {
		return ev, err
	}
	ev.ID = osprey.NewID(now)
	ev.Fingerprint = osprey.EventFingerprint(ev.Name, ev.Labels)
	return ev, nil
}

// parseTime parses an RFC 3339 time; "" is the zero time.
func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time", s)
	}
	return t, nil
}

// checkLabels enforces the label limits and Prometheus' label name syntax.
func checkLabels(labels map[string]string, lim *config.ServerConfig) error {
	if len(labels) > lim.MaxLabelsPerEvent {
		return fmt.Errorf("labels: %d labels, at most %d allowed", len(labels), lim.MaxLabelsPerEvent)
	}
	for k, v := range labels {
		if !validLabelName(k) {
			return fmt.Errorf("labels: invalid label name %q (want [a-zA-Z_][a-zA-Z0-9_]*)", truncate(k, 64))
		}
		if len(k) > lim.MaxLabelValueBytes {
			return fmt.Errorf("labels: name %q longer than %d bytes", truncate(k, 64), lim.MaxLabelValueBytes)
		}
		if len(v) > lim.MaxLabelValueBytes {
			return fmt.Errorf("labels.%s: value longer than %d bytes", k, lim.MaxLabelValueBytes)
		}
		if strings.Contains(v, "\x00") {
			return fmt.Errorf("labels.%s: %w", k, errNUL)
		}
	}
	return nil
}

// checkAnnotations enforces the annotation limits. Annotation names are free
// text (Alertmanager's are), but not empty.
func checkAnnotations(annotations map[string]string, lim *config.ServerConfig) error {
	if len(annotations) > lim.MaxLabelsPerEvent {
		return fmt.Errorf("annotations: %d annotations, at most %d allowed", len(annotations), lim.MaxLabelsPerEvent)
	}
	for k, v := range annotations {
		if k == "" {
			return fmt.Errorf("annotations: empty annotation name")
		}
		if len(k) > lim.MaxLabelValueBytes {
			return fmt.Errorf("annotations: name %q longer than %d bytes", truncate(k, 64), lim.MaxLabelValueBytes)
		}
		if len(v) > lim.MaxLabelValueBytes {
			return fmt.Errorf("annotations[%q]: value longer than %d bytes", truncate(k, 64), lim.MaxLabelValueBytes)
		}
		if strings.Contains(k, "\x00") || strings.Contains(v, "\x00") {
			return fmt.Errorf("annotations[%q]: %w", truncate(k, 64), errNUL)
		}
	}
	return nil
}

// validLabelName reports whether s matches [a-zA-Z_][a-zA-Z0-9_]*, the
// Prometheus label name syntax. It is written out rather than a regexp
// because it runs for every label of every event.
func validLabelName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9' {
			continue
		}
		return false
	}
	return true
}

// truncate shortens s for an error message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
