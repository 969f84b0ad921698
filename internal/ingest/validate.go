package ingest

import (
	"errors"
	"fmt"
	"mime"
	"strings"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/config"
)

// ErrNUL rejects text with a NUL character: PostgreSQL cannot store it, and
// every receiver must accept and reject the same events whichever backend runs.
var ErrNUL = errors.New("contains a NUL character (\\u0000)")

// ErrLabelLimit is wrapped by the validation errors that report a limit
// (labels or annotations per event, bytes per name or value) rather than a
// malformed value, so that receivers can count the two apart.
var ErrLabelLimit = errors.New("label limit exceeded")

// limitError is a validation error caused by a limit: it prints as its
// message alone and matches ErrLabelLimit.
type limitError struct{ msg string }

func (e *limitError) Error() string        { return e.msg }
func (e *limitError) Is(target error) bool { return target == ErrLabelLimit }

func limitf(format string, args ...any) error {
	return &limitError{msg: fmt.Sprintf(format, args...)}
}

// The range of event times Osprey accepts. Every backend must store them (the
// SQL stores keep Unix nanoseconds, which end in 2262) and JSON must carry
// them; an alert from before 1970 is a sender's bug.
var (
	minEventTime = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	maxEventTime = time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC)
)

// WithDefaults fills the zero request limits of l from config.Default and
// rejects negative ones.
func WithDefaults(l config.ServerConfig) (config.ServerConfig, error) {
	d := config.Default().Server
	if l.MaxBodyBytes < 0 || l.MaxEventsPerRequest < 0 || l.MaxLabelsPerEvent < 0 || l.MaxLabelValueBytes < 0 {
		return l, fmt.Errorf("negative request limit in %+v", l)
	}
	if l.MaxBodyBytes == 0 {
		l.MaxBodyBytes = d.MaxBodyBytes
	}
	if l.MaxEventsPerRequest == 0 {
		l.MaxEventsPerRequest = d.MaxEventsPerRequest
	}
	if l.MaxLabelsPerEvent == 0 {
		l.MaxLabelsPerEvent = d.MaxLabelsPerEvent
	}
	if l.MaxLabelValueBytes == 0 {
		l.MaxLabelValueBytes = d.MaxLabelValueBytes
	}
	return l, nil
}

// CheckContentType accepts application/json with no charset or utf-8, and a
// missing header (simple senders such as shell scripts and webhooks often omit
// it). Any other type, including curl's default
// application/x-www-form-urlencoded, is an error, so that a form post is not
// misread as JSON.
func CheckContentType(ct string) error {
	if ct == "" {
		return nil
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err == nil && mt == "application/json" {
		if cs, ok := params["charset"]; !ok || strings.EqualFold(cs, "utf-8") {
			return nil
		}
	}
	return fmt.Errorf("Content-Type %q is not supported: send application/json", ct)
}

// PrepareEvent validates the sender-provided fields of ev against lim and
// fills in what Osprey assigns for an event received at now: ID, Fingerprint
// and ReceivedAt. It converts StartsAt and EndsAt to UTC, which every
// backend and JSON can carry whatever offset the sender wrote, and rejects
// times before 1970 or after 2261. It does not default anything else
// (Source, Status, StartsAt): that is each receiver's protocol to decide. The
// error names the field; it wraps ErrLabelLimit when a limit was exceeded and
// ErrNUL when text held a NUL character.
func PrepareEvent(ev *osprey.Event, lim *config.ServerConfig, now time.Time) error {
	maxBytes := lim.MaxLabelValueBytes
	if len(ev.Source) > maxBytes {
		return limitf("source: longer than %d bytes", maxBytes)
	}
	if len(ev.Name) > maxBytes {
		return limitf("name: longer than %d bytes", maxBytes)
	}
	if strings.Contains(ev.Source, "\x00") {
		return fmt.Errorf("source: %w", ErrNUL)
	}
	if strings.Contains(ev.Name, "\x00") {
		return fmt.Errorf("name: %w", ErrNUL)
	}
	if err := CheckLabels(ev.Labels, lim); err != nil {
		return err
	}
	if err := CheckAnnotations(ev.Annotations, lim); err != nil {
		return err
	}
	if err := checkTime("startsAt", &ev.StartsAt); err != nil {
		return err
	}
	if err := checkTime("endsAt", &ev.EndsAt); err != nil {
		return err
	}
	if err := ev.Validate(); err != nil {
		return err
	}
	ev.ReceivedAt = now
	ev.ID = osprey.NewID(now)
	ev.Fingerprint = osprey.EventFingerprint(ev.Name, ev.Labels)
	return nil
}

// checkTime converts a non-zero *t to UTC and checks that it is in range.
func checkTime(field string, t *time.Time) error {
	if t.IsZero() {
		return nil
	}
	*t = t.UTC()
	if t.Before(minEventTime) || !t.Before(maxEventTime) {
		return fmt.Errorf("%s: %s is outside the supported range %s to %s", field, t.Format(time.RFC3339),
			minEventTime.Format(time.DateOnly), maxEventTime.Format(time.DateOnly))
	}
	return nil
}

// CheckLabels enforces the label limits and Prometheus' label name syntax.
func CheckLabels(labels map[string]string, lim *config.ServerConfig) error {
	if len(labels) > lim.MaxLabelsPerEvent {
		return limitf("labels: %d labels, at most %d allowed", len(labels), lim.MaxLabelsPerEvent)
	}
	for k, v := range labels {
		if !ValidLabelName(k) {
			return fmt.Errorf("labels: invalid label name %q (want [a-zA-Z_][a-zA-Z0-9_]*)", Truncate(k, 64))
		}
		if len(k) > lim.MaxLabelValueBytes {
			return limitf("labels: name %q longer than %d bytes", Truncate(k, 64), lim.MaxLabelValueBytes)
		}
		if len(v) > lim.MaxLabelValueBytes {
			return limitf("labels.%s: value longer than %d bytes", k, lim.MaxLabelValueBytes)
		}
		if strings.Contains(v, "\x00") {
			return fmt.Errorf("labels.%s: %w", k, ErrNUL)
		}
	}
	return nil
}

// CheckAnnotations enforces the annotation limits. Annotation names are free
// text (Alertmanager's are), but not empty.
func CheckAnnotations(annotations map[string]string, lim *config.ServerConfig) error {
	if len(annotations) > lim.MaxLabelsPerEvent {
		return limitf("annotations: %d annotations, at most %d allowed", len(annotations), lim.MaxLabelsPerEvent)
	}
	for k, v := range annotations {
		if k == "" {
			return fmt.Errorf("annotations: empty annotation name")
		}
		if len(k) > lim.MaxLabelValueBytes {
			return limitf("annotations: name %q longer than %d bytes", Truncate(k, 64), lim.MaxLabelValueBytes)
		}
		if len(v) > lim.MaxLabelValueBytes {
			return limitf("annotations[%q]: value longer than %d bytes", Truncate(k, 64), lim.MaxLabelValueBytes)
		}
		if strings.Contains(k, "\x00") || strings.Contains(v, "\x00") {
			return fmt.Errorf("annotations[%q]: %w", Truncate(k, 64), ErrNUL)
		}
	}
	return nil
}

// ValidLabelName reports whether s matches [a-zA-Z_][a-zA-Z0-9_]*, the
// Prometheus label name syntax. It is written out rather than a regexp
// because it runs for every label of every event.
func ValidLabelName(s string) bool {
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

// Truncate shortens s to at most n bytes (plus "...") for an error message.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
