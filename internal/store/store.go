// Package store defines Osprey's storage interface: events, incidents with their
// timeline, anomalies, log templates, silences, runbook runs, the audit log and
// stage checkpoints. Implementations live in subpackages (sqlite, postgres) and
// must all pass the conformance suite in storetest.
//
// Durability: a method that returns nil has committed its change; a crash right
// after the return loses nothing. Batch methods are atomic: all of the batch is
// stored, or none of it.
//
// Concurrency: every method is safe for concurrent use. Values passed in are not
// retained; values returned belong to the caller.
package store

import (
	"context"
	"time"

	"github.com/osprey-aiops/osprey"
)

// Store is the storage interface shared by every backend.
type Store interface {
	Events
	Incidents
	Anomalies
	Templates
	Silences
	Runs
	Audit
	Checkpoints

	// Ping reports whether the backend is reachable and usable (for /readyz).
	Ping(ctx context.Context) error
	// Close releases the backend's resources. It is idempotent.
	Close() error
}

// Events stores accepted events, append-only.
type Events interface {
	// AppendEvents stores the batch atomically and sets each event's Seq to
	// its commit sequence number, which increases with every append. Seq
	// order is commit order: once an event is visible, no event with a lower
	// Seq becomes visible later (backends serialise appends to keep this), so
	// a reader that remembers the highest Seq it processed misses nothing.
	// Events must carry an ID; a duplicate ID fails the whole batch with
	// osprey.ErrConflict.
	AppendEvents(ctx context.Context, batch []osprey.Event) error
	// GetEvent returns the event with id, or osprey.ErrNotFound.
	GetEvent(ctx context.Context, id string) (osprey.Event, error)
	// ListEvents returns events matching q, newest first unless q.AfterSeq
	// or q.OldestFirst is set, in which case oldest first (for replay).
	ListEvents(ctx context.Context, q EventQuery) ([]osprey.Event, error)
}

// EventQuery selects events. Zero fields do not filter.
type EventQuery struct {
	// Since keeps events received at or after this time.
	Since time.Time
	// AfterSeq keeps events with Seq > AfterSeq and orders oldest first.
	AfterSeq int64
	// OldestFirst orders oldest first even when AfterSeq is 0, so a reader
	// replaying from the very start (checkpoint 0) pages forward instead of
	// getting the newest page first.
	OldestFirst bool
	// Fingerprint keeps events of one alert.
	Fingerprint osprey.Fingerprint
	// Limit caps the number returned; 0 means DefaultLimit.
	Limit int
}

// DefaultLimit is the page size used when a query sets no Limit.
const DefaultLimit = 100

// MaxLimit caps every query's Limit.
const MaxLimit = 10000

// Incidents stores incidents and their append-only timelines.
type Incidents interface {
	// SaveIncident creates inc or replaces the stored incident with its ID
	// (every field but Timeline), and appends entries to its timeline, in one
	// transaction. Entries get their Seq assigned. inc.Timeline is ignored.
	SaveIncident(ctx context.Context, inc osprey.Incident, entries ...osprey.TimelineEntry) error
	// AppendTimeline appends entries to the timeline of an existing
	// incident, or returns osprey.ErrNotFound.
	AppendTimeline(ctx context.Context, incidentID string, entries ...osprey.TimelineEntry) error
	// GetIncident returns the incident with its full timeline (oldest
	// first), or osprey.ErrNotFound.
	GetIncident(ctx context.Context, id string) (osprey.Incident, error)
	// ListIncidents returns incidents matching q, most recently updated
	// first, without timelines.
	ListIncidents(ctx context.Context, q IncidentQuery) ([]osprey.Incident, error)
}

// IncidentQuery selects incidents. Zero fields do not filter.
type IncidentQuery struct {
	// Statuses keeps incidents in any of these statuses.
	Statuses []osprey.IncidentStatus
	// UpdatedSince keeps incidents updated at or after this time.
	UpdatedSince time.Time
	Limit        int
}

// Anomalies stores anomalies and operator feedback on them.
type Anomalies interface {
	// SaveAnomalies creates or replaces (by ID) each anomaly, atomically.
	SaveAnomalies(ctx context.Context, batch []osprey.Anomaly) error
	// GetAnomaly returns the anomaly with id, or osprey.ErrNotFound.
	GetAnomaly(ctx context.Context, id string) (osprey.Anomaly, error)
	// ListAnomalies returns anomalies matching q, newest start first.
	ListAnomalies(ctx context.Context, q AnomalyQuery) ([]osprey.Anomaly, error)
	// SetFeedback records an operator's verdict on an anomaly, replacing an
	// earlier one, or returns osprey.ErrNotFound.
	SetFeedback(ctx context.Context, anomalyID string, f osprey.Feedback, actor string, at time.Time) error
	// GetFeedback returns the verdict on an anomaly, or osprey.ErrNotFound
	// when there is none.
	GetFeedback(ctx context.Context, anomalyID string) (osprey.Feedback, error)
}

// AnomalyQuery selects anomalies. Zero fields do not filter.
type AnomalyQuery struct {
	// Since keeps anomalies that started at or after this time.
	Since       time.Time
	Fingerprint osprey.Fingerprint
	// ActiveOnly keeps anomalies with no end.
	ActiveOnly bool
	Limit      int
}

// Templates stores mined log templates.
type Templates interface {
	// SaveTemplates creates or replaces (by ID) each template, atomically.
	SaveTemplates(ctx context.Context, batch []osprey.LogTemplate) error
	// ListTemplates returns the templates of a source ("" for all) whose
	// text contains q ("" for all), most frequent first.
	ListTemplates(ctx context.Context, source, q string, limit int) ([]osprey.LogTemplate, error)
}

// Silences stores silences and maintenance windows.
type Silences interface {
	// SaveSilence creates or replaces (by ID) a silence.
	SaveSilence(ctx context.Context, s osprey.Silence) error
	// ListSilences returns silences that have not ended at time at (all
	// silences when at is zero), soonest end first.
	ListSilences(ctx context.Context, at time.Time) ([]osprey.Silence, error)
	// DeleteSilence removes a silence, or returns osprey.ErrNotFound.
	DeleteSilence(ctx context.Context, id string) error
}

// Runs stores runbook runs.
type Runs interface {
	// SaveRun creates or replaces (by ID) a runbook run with its actions.
	SaveRun(ctx context.Context, r osprey.RunbookRun) error
	// GetRun returns the run with id, or osprey.ErrNotFound.
	GetRun(ctx context.Context, id string) (osprey.RunbookRun, error)
	// ListRuns returns the runs of an incident ("" for all), newest first.
	ListRuns(ctx context.Context, incidentID string, limit int) ([]osprey.RunbookRun, error)
}

// Audit stores the append-only audit log.
type Audit interface {
	// AppendAudit stores entries atomically and assigns their Seq.
	AppendAudit(ctx context.Context, entries ...osprey.AuditEntry) error
	// ListAudit returns entries at or after since, newest first.
	ListAudit(ctx context.Context, since time.Time, limit int) ([]osprey.AuditEntry, error)
}

// Checkpoints stores how far each stage has processed a sequence (such as event
// Seq), so a restart resumes where it left off.
type Checkpoints interface {
	// SetCheckpoint records position for name.
	SetCheckpoint(ctx context.Context, name string, position int64) error
	// Checkpoint returns the position for name, or 0 when none was set.
	Checkpoint(ctx context.Context, name string) (int64, error)
}

// ClampLimit returns limit bounded to [1, MaxLimit], with 0 (or less) meaning
// DefaultLimit. Backends call it on every query's Limit.
func ClampLimit(limit int) int {
	switch {
	case limit <= 0:
		return DefaultLimit
	case limit > MaxLimit:
		return MaxLimit
	}
	return limit
}
