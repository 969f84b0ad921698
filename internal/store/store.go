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
	Maintenance
	Runs
	Audit
	Checkpoints
	Notifications
	Noise
	Retention

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
	// SaveIncidents stores a batch of incident changes, adds its noise
	// counts and records its checkpoint, all in one transaction, so that a
	// stage that replays its input after the checkpoint never loses or
	// double-counts a change. Entries get their Seq assigned.
	SaveIncidents(ctx context.Context, b IncidentBatch) error
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

// IncidentBatch is what SaveIncidents writes in one transaction.
type IncidentBatch struct {
	Changes []IncidentChange
	// Noise counts are added to the stored counters (see Noise).
	Noise []NoiseCount
	// CheckpointName, when not empty, is set to CheckpointPosition.
	CheckpointName     string
	CheckpointPosition int64
}

// IncidentChange is one incident's part of an IncidentBatch: every field of
// Incident but Members and Timeline is stored (created or replaced), then
// the members named by Members (indexes into Incident.Members, created or
// replaced at that position) or, with AllMembers, all of Incident.Members
// replacing the stored ones; then Entries are appended to the timeline.
// Members of an incident only ever grow at the end unless AllMembers is
// set, so a member's index is its identity: writing one is O(1), whatever
// the size of the incident.
type IncidentChange struct {
	Incident   osprey.Incident
	Members    []int
	AllMembers bool
	Entries    []osprey.TimelineEntry
	// KeepCauses leaves the stored Causes as they are instead of writing
	// Incident.Causes: a writer that knows they have not changed since it
	// stored them sets it, and saves encoding and writing them again
	// (the ranker's causes list every member's evidence, so they grow
	// with the incident). An incident not stored yet is created with no
	// causes.
	KeepCauses bool
}

// Noise stores the correlate stage's noise counters: how many signals of
// each source and rule it received and what became of them, per minute.
// They are added in the same transaction as the incident changes they
// describe (SaveIncidents), so they survive restarts and a replay after a
// crash counts each signal once.
type Noise interface {
	// NoiseCounts returns the counters summed over the minutes starting
	// at or after since (rounded down to the minute), by source, rule and
	// outcome, in that order.
	NoiseCounts(ctx context.Context, since time.Time) ([]NoiseCount, error)
}

// NoiseCount is one counter: N signals of Source and Rule had Outcome in
// the minute starting at Minute (for a query result, Minute is zero).
type NoiseCount struct {
	Minute  time.Time
	Source  string
	Rule    string
	Outcome string
	N       int64
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
	// GetSilence returns the silence with id, or osprey.ErrNotFound.
	GetSilence(ctx context.Context, id string) (osprey.Silence, error)
	// DeleteSilence removes a silence, or returns osprey.ErrNotFound.
	DeleteSilence(ctx context.Context, id string) error
}

// Maintenance stores the maintenance windows created through the API.
type Maintenance interface {
	// SaveMaintenance creates or replaces (by ID) a maintenance window.
	SaveMaintenance(ctx context.Context, w osprey.MaintenanceWindow) error
	// ListMaintenance returns every stored window, by ID.
	ListMaintenance(ctx context.Context) ([]osprey.MaintenanceWindow, error)
	// GetMaintenance returns the window with id, or osprey.ErrNotFound.
	GetMaintenance(ctx context.Context, id string) (osprey.MaintenanceWindow, error)
	// DeleteMaintenance removes a window, or returns osprey.ErrNotFound.
	DeleteMaintenance(ctx context.Context, id string) error
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

// Notifications stores the notification log: one row per notification that
// was, is being, or failed to be delivered, keyed by (incident, receiver,
// key) so that every notifier sharing the store sends each one once.
type Notifications interface {
	// ClaimNotification takes the right to deliver n (by its IncidentID,
	// Receiver and Key) for n.ClaimedBy at n.ClaimedAt. It inserts n with
	// status sending, or, when a row with that key is still sending but was
	// last claimed before staleBefore (its claimant is presumed dead), takes
	// that row over. It returns the stored row and whether the caller now
	// holds the claim; when it does not, the row is the other claimant's.
	ClaimNotification(ctx context.Context, n Notification, staleBefore time.Time) (Notification, bool, error)
	// UpdateNotification replaces the status, attempts, last error, claim
	// time and finish time of the row with n.ID, provided n.ClaimedBy still
	// holds its claim; otherwise it returns osprey.ErrConflict (or
	// osprey.ErrNotFound when there is no such row).
	UpdateNotification(ctx context.Context, n Notification) error
	// ListNotifications returns log rows matching q, most recently claimed
	// first.
	ListNotifications(ctx context.Context, q NotificationQuery) ([]Notification, error)
}

// NotificationStatus is where a notification is in its delivery.
type NotificationStatus string

// Notification statuses.
const (
	// NotificationSending: claimed, being delivered (or its claimant died).
	NotificationSending NotificationStatus = "sending"
	// NotificationSent: the receiver accepted it.
	NotificationSent NotificationStatus = "sent"
	// NotificationFailed: every attempt failed, or it could not be built.
	NotificationFailed NotificationStatus = "failed"
)

// Notification is one row of the notification log.
type Notification struct {
	ID         string `json:"id"`
	IncidentID string `json:"incidentId"`
	// Receiver names the configured receiver.
	Receiver string `json:"receiver"`
	// Key says which notification of the incident this is: "opened",
	// "escalated-critical", "acknowledged", "resolved", "repeat-3".
	Key    string             `json:"key"`
	Status NotificationStatus `json:"status"`
	// Attempts counts the delivery attempts made so far.
	Attempts  int    `json:"attempts"`
	LastError string `json:"lastError,omitempty"`
	// ClaimedBy identifies the notifier process that holds (or held) the
	// claim; ClaimedAt is when it last claimed or renewed it.
	ClaimedBy  string    `json:"claimedBy"`
	ClaimedAt  time.Time `json:"claimedAt"`
	FinishedAt time.Time `json:"finishedAt,omitzero"`
}

// NotificationQuery selects log rows. Zero fields do not filter.
type NotificationQuery struct {
	IncidentID string
	Limit      int
}

// Retention deletes what has aged out, so that the database stays bounded
// while Osprey runs for months. Osprey is not an archive: the store keeps
// what the stages and the operators need (open incidents and what feeds
// them), and history for as long as configured.
type Retention interface {
	// Prune deletes, in batches of r.BatchSize rows per transaction, every
	// kind of row whose cutoff in r is set and has passed, and reports how
	// many rows of each table it deleted. A zero cutoff keeps that kind.
	// It can be cancelled between batches; what was deleted stays deleted.
	Prune(ctx context.Context, r PruneRequest) (PruneResult, error)
}

// PruneRequest says what Prune deletes. A zero time keeps that kind.
type PruneRequest struct {
	// EventsBefore deletes events received before it whose Seq is at
	// most EventsMaxSeq, so that events a stage has not consumed yet (its
	// checkpoint is lower) are never deleted. Incidents keep copies of their
	// members, so an incident does not need its events.
	EventsBefore time.Time
	EventsMaxSeq int64
	// AnomaliesBefore deletes anomalies that ended before it, with their
	// feedback. Anomalies still open are kept.
	AnomaliesBefore time.Time
	// IncidentsBefore deletes resolved incidents resolved before it, with
	// their members and timeline, and then the notification log entries and
	// runbook runs of incidents that no longer exist, claimed or requested
	// before it.
	IncidentsBefore time.Time
	// NoiseBefore deletes noise counters of minutes before it.
	NoiseBefore time.Time
	// AuditBefore deletes audit entries before it.
	AuditBefore time.Time
	// SilencesBefore deletes silences that ended before it, and maintenance
	// windows without a recurring schedule that ended before it.
	SilencesBefore time.Time
	// BatchSize caps the rows one transaction deletes; 0 means
	// DefaultPruneBatch.
	BatchSize int
}

// DefaultPruneBatch is the PruneRequest.BatchSize used when none is set:
// small enough that a prune never holds the writer for long.
const DefaultPruneBatch = 1000

// PruneResult counts the rows Prune deleted, by table (tables with none
// deleted are absent). Rows deleted by cascade (timeline, members,
// feedback) are not counted.
type PruneResult map[string]int64
