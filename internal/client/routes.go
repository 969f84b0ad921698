package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/osprey-aiops/osprey"
)

// Event is one element of a POST /api/v1/events body: the fields a sender
// may set (Osprey assigns the id, fingerprint and receive time). Empty
// fields take the server's defaults: source "api", status "firing",
// startsAt now.
type Event struct {
	Source      string            `json:"source,omitempty"`
	Name        string            `json:"name"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	// Severity is a word such as "critical" or "warning".
	Severity string    `json:"severity,omitempty"`
	Status   string    `json:"status,omitempty"`
	StartsAt time.Time `json:"startsAt,omitzero"`
	EndsAt   time.Time `json:"endsAt,omitzero"`
}

// PostEvents sends events (POST /api/v1/events) and returns the ids Osprey
// assigned, in order, once they are committed.
func (c *Client) PostEvents(ctx context.Context, events []Event) ([]string, error) {
	var out struct {
		IDs []string `json:"ids"`
	}
	err := c.do(ctx, http.MethodPost, "/api/v1/events", nil, events, http.StatusAccepted, &out)
	return out.IDs, err
}

// IncidentQuery selects incidents for ListIncidents. Zero fields select
// everything the server returns by default.
type IncidentQuery struct {
	// Statuses keeps incidents in any of these statuses.
	Statuses []osprey.IncidentStatus
	// Since is an RFC 3339 time or a duration ago ("1h"): incidents
	// updated since then.
	Since string
	// Limit caps the number returned (server default 100).
	Limit int
}

// ListIncidents returns incidents, most recently updated first, without
// their timelines (GET /api/v1/incidents).
func (c *Client) ListIncidents(ctx context.Context, q IncidentQuery) ([]osprey.Incident, error) {
	v := url.Values{}
	if len(q.Statuses) > 0 {
		s := make([]string, len(q.Statuses))
		for i, st := range q.Statuses {
			s[i] = string(st)
		}
		v.Set("status", strings.Join(s, ","))
	}
	if q.Since != "" {
		v.Set("since", q.Since)
	}
	setLimit(v, q.Limit)
	var out struct {
		Incidents []osprey.Incident `json:"incidents"`
	}
	err := c.do(ctx, http.MethodGet, "/api/v1/incidents", v, nil, http.StatusOK, &out)
	return out.Incidents, err
}

// GetIncident returns one incident with its members, causes and timeline
// (GET /api/v1/incidents/{id}).
func (c *Client) GetIncident(ctx context.Context, id string) (osprey.Incident, error) {
	var out osprey.Incident
	err := c.do(ctx, http.MethodGet, "/api/v1/incidents/"+seg(id), nil, nil, http.StatusOK, &out)
	return out, err
}

// commentBody is the optional body of ack, resolve and reopen.
type commentBody struct {
	Comment string `json:"comment,omitempty"`
}

// incidentAction posts to /api/v1/incidents/{id}/{action}.
func (c *Client) incidentAction(ctx context.Context, id, action, comment string) (osprey.Incident, error) {
	var in any
	if comment != "" {
		in = commentBody{Comment: comment}
	}
	var out osprey.Incident
	err := c.do(ctx, http.MethodPost, "/api/v1/incidents/"+seg(id)+"/"+action, nil, in, http.StatusOK, &out)
	return out, err
}

// AckIncident acknowledges an incident, with an optional comment for its
// timeline, and returns it (POST /api/v1/incidents/{id}/ack).
func (c *Client) AckIncident(ctx context.Context, id, comment string) (osprey.Incident, error) {
	return c.incidentAction(ctx, id, "ack", comment)
}

// ResolveIncident resolves an incident by hand, with an optional comment,
// and returns it (POST /api/v1/incidents/{id}/resolve).
func (c *Client) ResolveIncident(ctx context.Context, id, comment string) (osprey.Incident, error) {
	return c.incidentAction(ctx, id, "resolve", comment)
}

// ReopenIncident reopens an acknowledged or resolved incident, with an
// optional comment, and returns it (POST /api/v1/incidents/{id}/reopen).
func (c *Client) ReopenIncident(ctx context.Context, id, comment string) (osprey.Incident, error) {
	return c.incidentAction(ctx, id, "reopen", comment)
}

// CommentIncident adds a comment to an incident's timeline and returns the
// entry (POST /api/v1/incidents/{id}/comments).
func (c *Client) CommentIncident(ctx context.Context, id, text string) (osprey.TimelineEntry, error) {
	in := struct {
		Text string `json:"text"`
	}{text}
	var out osprey.TimelineEntry
	err := c.do(ctx, http.MethodPost, "/api/v1/incidents/"+seg(id)+"/comments", nil, in, http.StatusCreated, &out)
	return out, err
}

// AssignIncident sets an incident's assignee ("" unassigns) and returns it
// (POST /api/v1/incidents/{id}/assign).
func (c *Client) AssignIncident(ctx context.Context, id, assignee string) (osprey.Incident, error) {
	in := struct {
		Assignee string `json:"assignee"`
	}{assignee}
	var out osprey.Incident
	err := c.do(ctx, http.MethodPost, "/api/v1/incidents/"+seg(id)+"/assign", nil, in, http.StatusOK, &out)
	return out, err
}

// MergeIncident merges incident from into incident into and returns into
// (POST /api/v1/incidents/{into}/merge).
func (c *Client) MergeIncident(ctx context.Context, into, from string) (osprey.Incident, error) {
	in := struct {
		From string `json:"from"`
	}{from}
	var out osprey.Incident
	err := c.do(ctx, http.MethodPost, "/api/v1/incidents/"+seg(into)+"/merge", nil, in, http.StatusOK, &out)
	return out, err
}

// SplitIncident moves the members of incident id with the given
// fingerprints to a new incident and returns the new incident
// (POST /api/v1/incidents/{id}/split).
func (c *Client) SplitIncident(ctx context.Context, id string, fingerprints []string) (osprey.Incident, error) {
	in := struct {
		Members []string `json:"members"`
	}{fingerprints}
	var out osprey.Incident
	err := c.do(ctx, http.MethodPost, "/api/v1/incidents/"+seg(id)+"/split", nil, in, http.StatusCreated, &out)
	return out, err
}

// Silence states, as GET /api/v1/silences reports them and takes them in
// ?state=.
const (
	SilenceActive  = "active"
	SilencePending = "pending"
	SilenceExpired = "expired"
	SilenceAll     = "all"
)

// Silence is a silence as the API returns it: the stored silence and its
// state at the time of the reply.
type Silence struct {
	osprey.Silence
	// State is active, pending or expired.
	State string `json:"state"`
}

// NewSilence is the body of POST /api/v1/silences. Exactly one of EndsAt
// and Duration is set; StartsAt zero means now.
type NewSilence struct {
	Matchers []osprey.Matcher `json:"matchers"`
	StartsAt time.Time        `json:"startsAt,omitzero"`
	EndsAt   time.Time        `json:"endsAt,omitzero"`
	// Duration is a Go duration ("2h") from StartsAt, computed by the
	// server.
	Duration string `json:"duration,omitempty"`
	Comment  string `json:"comment"`
}

// ListSilences returns the silences in state (active, pending, expired or
// all; "" for the server's default, active and pending) (GET
// /api/v1/silences).
func (c *Client) ListSilences(ctx context.Context, state string) ([]Silence, error) {
	v := url.Values{}
	if state != "" {
		v.Set("state", state)
	}
	var out []Silence
	err := c.do(ctx, http.MethodGet, "/api/v1/silences", v, nil, http.StatusOK, &out)
	return out, err
}

// CreateSilence creates a silence and returns it (POST /api/v1/silences).
func (c *Client) CreateSilence(ctx context.Context, s NewSilence) (Silence, error) {
	var out Silence
	err := c.do(ctx, http.MethodPost, "/api/v1/silences", nil, s, http.StatusCreated, &out)
	return out, err
}

// ExpireSilence ends a silence now and returns it (DELETE
// /api/v1/silences/{id}).
func (c *Client) ExpireSilence(ctx context.Context, id string) (Silence, error) {
	var out Silence
	err := c.do(ctx, http.MethodDelete, "/api/v1/silences/"+seg(id), nil, nil, http.StatusOK, &out)
	return out, err
}

// Run is a runbook run as the API returns it: the stored run and its
// outcome.
type Run struct {
	osprey.RunbookRun
	// Outcome is cleared, not_cleared, error or unverified once the run
	// has finished and acted; empty before.
	Outcome string `json:"outcome,omitempty"`
}

// ListRuns returns runbook runs with their actions and outcomes, newest
// first; incident "" means every incident's (GET /api/v1/runbook-runs).
func (c *Client) ListRuns(ctx context.Context, incident string, limit int) ([]Run, error) {
	v := url.Values{}
	if incident != "" {
		v.Set("incident", incident)
	}
	setLimit(v, limit)
	var out struct {
		Runs []Run `json:"runs"`
	}
	err := c.do(ctx, http.MethodGet, "/api/v1/runbook-runs", v, nil, http.StatusOK, &out)
	return out.Runs, err
}

// GetRun returns one runbook run with its actions and outcome (GET
// /api/v1/runbook-runs/{id}).
func (c *Client) GetRun(ctx context.Context, id string) (Run, error) {
	var out Run
	err := c.do(ctx, http.MethodGet, "/api/v1/runbook-runs/"+seg(id), nil, nil, http.StatusOK, &out)
	return out, err
}

// decideRun posts to /api/v1/runbook-runs/{id}/{decision}.
func (c *Client) decideRun(ctx context.Context, id, decision, reason string) (osprey.RunbookRun, error) {
	var in any
	if reason != "" {
		in = struct {
			Reason string `json:"reason"`
		}{reason}
	}
	var out osprey.RunbookRun
	err := c.do(ctx, http.MethodPost, "/api/v1/runbook-runs/"+seg(id)+"/"+decision, nil, in, http.StatusOK, &out)
	return out, err
}

// ApproveRun approves a run waiting for approval, with an optional reason,
// and returns it: its steps start (POST /api/v1/runbook-runs/{id}/approve).
func (c *Client) ApproveRun(ctx context.Context, id, reason string) (osprey.RunbookRun, error) {
	return c.decideRun(ctx, id, "approve", reason)
}

// RejectRun rejects a run waiting for approval, with an optional reason,
// and returns it: nothing of it runs (POST
// /api/v1/runbook-runs/{id}/reject).
func (c *Client) RejectRun(ctx context.Context, id, reason string) (osprey.RunbookRun, error) {
	return c.decideRun(ctx, id, "reject", reason)
}

// AnomalyQuery selects anomalies for ListAnomalies.
type AnomalyQuery struct {
	// Since is an RFC 3339 time or a duration ago ("1h"): anomalies that
	// started since then.
	Since string
	// Active keeps the ongoing anomalies only.
	Active bool
	// Limit caps the number returned (server default 100).
	Limit int
}

// ListAnomalies returns anomalies, newest start first (GET
// /api/v1/anomalies).
func (c *Client) ListAnomalies(ctx context.Context, q AnomalyQuery) ([]osprey.Anomaly, error) {
	v := url.Values{}
	if q.Since != "" {
		v.Set("since", q.Since)
	}
	if q.Active {
		v.Set("active", "true")
	}
	setLimit(v, q.Limit)
	var out struct {
		Anomalies []osprey.Anomaly `json:"anomalies"`
	}
	err := c.do(ctx, http.MethodGet, "/api/v1/anomalies", v, nil, http.StatusOK, &out)
	return out.Anomalies, err
}

// setLimit sets ?limit= when n is positive.
func setLimit(v url.Values, n int) {
	if n > 0 {
		v.Set("limit", strconv.Itoa(n))
	}
}
