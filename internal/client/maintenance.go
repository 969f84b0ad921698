package client

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/osprey-aiops/osprey"
)

// Maintenance window states, as GET /api/v1/maintenance reports them.
const (
	MaintenanceActive    = "active"
	MaintenancePending   = "pending"
	MaintenanceExpired   = "expired"
	MaintenanceScheduled = "scheduled"
)

// Maintenance is a maintenance window as the API returns it: the window,
// where it comes from and its state at the time of the reply.
type Maintenance struct {
	osprey.MaintenanceWindow
	// Source is "config" (the configuration file) or "api".
	Source string `json:"source"`
	// State is active, pending or expired (one-off), active or scheduled
	// (weekly).
	State string `json:"state"`
	// ActiveUntil is the end of the current occurrence while active.
	ActiveUntil time.Time `json:"activeUntil,omitzero"`
}

// NewMaintenance is the body of POST /api/v1/maintenance: either a one-off
// window (StartsAt, zero for now, and EndsAt or Duration) or a weekly
// Schedule.
type NewMaintenance struct {
	Name     string                 `json:"name,omitempty"`
	Matchers []osprey.Matcher       `json:"matchers"`
	StartsAt time.Time              `json:"startsAt,omitzero"`
	EndsAt   time.Time              `json:"endsAt,omitzero"`
	Duration string                 `json:"duration,omitempty"`
	Schedule *osprey.WeeklySchedule `json:"schedule,omitempty"`
	Comment  string                 `json:"comment,omitempty"`
}

// ListMaintenance returns the configured maintenance windows, then the
// stored ones (GET /api/v1/maintenance).
func (c *Client) ListMaintenance(ctx context.Context) ([]Maintenance, error) {
	var out []Maintenance
	err := c.do(ctx, http.MethodGet, "/api/v1/maintenance", nil, nil, http.StatusOK, &out)
	return out, err
}

// CreateMaintenance creates a maintenance window and returns it (POST
// /api/v1/maintenance).
func (c *Client) CreateMaintenance(ctx context.Context, m NewMaintenance) (Maintenance, error) {
	var out Maintenance
	err := c.do(ctx, http.MethodPost, "/api/v1/maintenance", nil, m, http.StatusCreated, &out)
	return out, err
}

// DeleteMaintenance deletes a stored maintenance window and returns it
// (DELETE /api/v1/maintenance/{id}); a configured one cannot be deleted
// (409).
func (c *Client) DeleteMaintenance(ctx context.Context, id string) (Maintenance, error) {
	var out Maintenance
	err := c.do(ctx, http.MethodDelete, "/api/v1/maintenance/"+seg(id), nil, nil, http.StatusOK, &out)
	return out, err
}

// NoiseFigures are the signal counts of a source, a rule or all of them:
// every signal has one outcome, so they add up to Received.
type NoiseFigures struct {
	Received     int64 `json:"received"`
	Deduplicated int64 `json:"deduplicated"`
	Grouped      int64 `json:"grouped"`
	Opened       int64 `json:"opened"`
	// Suppressed is Silenced + Inhibited + Maintenance.
	Suppressed  int64 `json:"suppressed"`
	Silenced    int64 `json:"silenced"`
	Inhibited   int64 `json:"inhibited"`
	Maintenance int64 `json:"maintenance"`
	Ignored     int64 `json:"ignored"`
	// CompressionRatio is Received / Opened (0 when nothing opened).
	CompressionRatio float64 `json:"compressionRatio"`
	// Reduction is 1 − Opened / Received.
	Reduction float64 `json:"reduction"`
}

// NoiseRow is the figures of one source, or one rule of a source.
type NoiseRow struct {
	Source string `json:"source"`
	Rule   string `json:"rule,omitempty"`
	NoiseFigures
}

// NoiseStats is the reply to GET /api/v1/stats/noise.
type NoiseStats struct {
	Since     time.Time    `json:"since"`
	Until     time.Time    `json:"until"`
	Totals    NoiseFigures `json:"totals"`
	Sources   []NoiseRow   `json:"sources"`
	Rules     []NoiseRow   `json:"rules"`
	Incidents struct {
		Opened       int `json:"opened"`
		Acknowledged int `json:"acknowledged"`
		Resolved     int `json:"resolved"`
		// MTTASeconds and MTTRSeconds are 0 when no incident was
		// acknowledged or resolved.
		MTTASeconds float64 `json:"mttaSeconds,omitempty"`
		MTTRSeconds float64 `json:"mttrSeconds,omitempty"`
		Truncated   bool    `json:"truncated,omitempty"`
	} `json:"incidents"`
	Notifications struct {
		Sent       int            `json:"sent"`
		Failed     int            `json:"failed"`
		Sending    int            `json:"sending"`
		ByReceiver map[string]int `json:"byReceiver"`
		Truncated  bool           `json:"truncated,omitempty"`
	} `json:"notifications"`
}

// NoiseStats returns the noise accounting since since (an RFC 3339 time or
// a duration ago such as "24h"; "" for the server's default, 24h) (GET
// /api/v1/stats/noise).
func (c *Client) NoiseStats(ctx context.Context, since string) (NoiseStats, error) {
	v := url.Values{}
	if since != "" {
		v.Set("since", since)
	}
	var out NoiseStats
	err := c.do(ctx, http.MethodGet, "/api/v1/stats/noise", v, nil, http.StatusOK, &out)
	return out, err
}
