package api

import (
	"fmt"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/config"
	"github.com/osprey-aiops/osprey/internal/ingest"
)

// defaultSource is the Source of events that name none.
const defaultSource = "api"

// event validates r against lim and returns the osprey.Event it describes,
// with everything Osprey assigns filled in for a batch received at now. The
// checks every receiver shares (limits, label syntax, NUL characters) are
// ingest.PrepareEvent's.
func (r *eventRequest) event(lim *config.ServerConfig, now time.Time) (osprey.Event, error) {
	ev := osprey.Event{
		Source:      r.Source,
		Name:        r.Name,
		Status:      osprey.EventStatus(r.Status),
		Labels:      osprey.Labels(r.Labels),
		Annotations: r.Annotations,
	}
	if ev.Source == "" {
		ev.Source = defaultSource
	}
	if ev.Status == "" {
		ev.Status = osprey.StatusFiring
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
	if err := ingest.PrepareEvent(&ev, lim, now); err != nil {
		return ev, err
	}
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

// truncate shortens s for an error message.
func truncate(s string, n int) string { return ingest.Truncate(s, n) }
