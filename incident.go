package osprey

import "time"

// IncidentStatus is where an incident is in its life.
type IncidentStatus string

// Incident statuses.
const (
	IncidentOpen         IncidentStatus = "open"
	IncidentAcknowledged IncidentStatus = "acknowledged"
	IncidentResolved     IncidentStatus = "resolved"
)

// Valid reports whether s is a known status.
func (s IncidentStatus) Valid() bool {
	return s == IncidentOpen || s == IncidentAcknowledged || s == IncidentResolved
}

// Incident is one problem as a person would name it: a group of events and
// anomalies that share a cause, with what is known about that cause and
// everything that happened to it.
type Incident struct {
	ID       string         `json:"id"`
	Title    string         `json:"title"`
	Status   IncidentStatus `json:"status"`
	Severity Severity       `json:"severity"`
	// Labels are the identity labels the members share (service, host, ...).
	Labels   Labels    `json:"labels,omitempty"`
	Assignee string    `json:"assignee,omitempty"`
	OpenedAt time.Time `json:"openedAt"`
	// UpdatedAt is the time of the last change to the incident or a member.
	UpdatedAt time.Time `json:"updatedAt"`
	// ResolvedAt is zero unless Status is resolved.
	ResolvedAt time.Time `json:"resolvedAt,omitzero"`
	// Members are pointers so that a snapshot of an incident can share
	// the members that did not change with the previous one
	// (IncidentConsumer); nil entries are not allowed.
	Members []*Member `json:"members"`
	// Causes are the root-cause candidates, best first.
	Causes []Cause `json:"causes,omitempty"`
	// Timeline is filled when an incident is read with its timeline; it is
	// appended to, never rewritten.
	Timeline []TimelineEntry `json:"timeline,omitempty"`
}

// MemberKind says what an incident member refers to.
type MemberKind string

// Member kinds.
const (
	MemberEvent   MemberKind = "event"
	MemberAnomaly MemberKind = "anomaly"
)

// IsChange reports whether a member (or a signal) of kind named name is a
// change: an event named "deploy" (POST /api/v1/events with name deploy),
// a service's own evidence whose effects can take minutes to show.
func IsChange(kind MemberKind, name string) bool { return kind == MemberEvent && name == "deploy" }

// IsTraceAnomaly reports whether a member (or a signal) of kind with labels
// is a trace detect stage anomaly: a break or slowness of the service's own
// spans (its LabelTraceSignal label), not something an alert carrying the
// label says.
func IsTraceAnomaly(kind MemberKind, labels Labels) bool {
	return kind == MemberAnomaly && labels.Get(LabelTraceSignal) != ""
}

// Member is one distinct alert or anomaly in an incident. Repeats of the same
// fingerprint update the member rather than add one.
type Member struct {
	Kind        MemberKind  `json:"kind"`
	Fingerprint Fingerprint `json:"fingerprint"`
	Name        string      `json:"name"`
	Labels      Labels      `json:"labels,omitempty"`
	Severity    Severity    `json:"severity"`
	// Score is the highest osprey.Anomaly.Score, in [0, 1], an anomaly
	// member was reported with (a detector reports an anomaly again when
	// it ends, the metric detector with its peak score). Zero for events,
	// which carry a severity only, and for members stored before the
	// field existed.
	Score  float64     `json:"score,omitempty"`
	Status EventStatus `json:"status"`
	// FirstRef and LastRef are the ids of the first and latest event or
	// anomaly seen for this member.
	FirstRef  string    `json:"firstRef"`
	LastRef   string    `json:"lastRef"`
	FirstSeen time.Time `json:"firstSeen"`
	LastSeen  time.Time `json:"lastSeen"`
	// Count is how many times the member was reported (deduplicated repeats).
	Count int `json:"count"`
	// LastSeq is the event sequence number last applied to this member; the
	// correlator skips events at or below it, so replay after a crash is
	// idempotent. Zero for anomalies.
	LastSeq int64 `json:"lastSeq,omitempty"`
	// GroupKey is the grouping key a user rule (correlate.rules) gave the
	// member: "rule/<name>" and the rule's group-by label values. Empty
	// for members grouped by the built-in identity labels.
	GroupKey string `json:"groupKey,omitempty"`
	// Flapping is set while the member flips between firing and resolved
	// more often than correlate.flapping allows; its flips then neither
	// reopen, resolve nor re-notify the incident until it is stable again.
	Flapping bool `json:"flapping,omitempty"`
	// Refired is when the member last fired again after it had resolved
	// (an anomaly's escalation, which ends it and opens a larger one at
	// once, does not count); zero while it has fired without a break since
	// it joined. A member
	// that refired after its incident's first window is a repeat of a
	// failure that had cleared, not an ongoing one: the correlator keeps
	// it in its incident but does not let it hold its group open to new
	// alerts (docs/rca.md, "Session 7: refired members").
	Refired time.Time `json:"refired,omitzero"`
}

// CauseKind says what kind of thing a root-cause candidate is.
type CauseKind string

// Cause kinds.
const (
	CauseService   CauseKind = "service"
	CauseHost      CauseKind = "host"
	CauseComponent CauseKind = "component"
)

// Cause is a root-cause candidate with the reasoning behind its rank.
type Cause struct {
	Kind  CauseKind `json:"kind"`
	Name  string    `json:"name"`
	Score float64   `json:"score"`
	// Explanation says in a sentence or two why this candidate ranks where it
	// does, in terms a person can check against the evidence.
	Explanation string `json:"explanation"`
	// EvidenceIDs are the ids of the events and anomalies behind the rank,
	// strongest first (the ranker lists at most rca.MaxEvidenceIDs).
	EvidenceIDs []string `json:"evidenceIds,omitempty"`
}

// TimelineKind classifies a timeline entry.
type TimelineKind string

// Timeline entry kinds.
const (
	TimelineOpened       TimelineKind = "opened"
	TimelineMemberJoined TimelineKind = "member_joined"
	TimelineMemberUpdate TimelineKind = "member_updated"
	TimelineStatus       TimelineKind = "status_changed"
	TimelineRCA          TimelineKind = "rca"
	TimelineNotification TimelineKind = "notification"
	TimelineAction       TimelineKind = "action"
	TimelineComment      TimelineKind = "comment"
	// TimelineAssigned records a change of assignee.
	TimelineAssigned TimelineKind = "assigned"
	// TimelineMerged records a manual merge, on both incidents.
	TimelineMerged TimelineKind = "merged"
	// TimelineSplit records a manual split, on both incidents.
	TimelineSplit TimelineKind = "split"
	// TimelineSuppressed records a signal of the incident that a silence or
	// an inhibition rule kept from joining or escalating it.
	TimelineSuppressed TimelineKind = "suppressed"
)

// TimelineEntry is one thing that happened to an incident.
type TimelineEntry struct {
	// Seq orders entries of one incident; assigned by the store.
	Seq  int64        `json:"seq,omitempty"`
	At   time.Time    `json:"at"`
	Kind TimelineKind `json:"kind"`
	// Actor is "osprey" for the engine's own steps, else the token name of
	// the person or system that acted.
	Actor   string `json:"actor"`
	Message string `json:"message"`
	// Ref is the id of the event, anomaly, run or notification concerned.
	Ref string `json:"ref,omitempty"`
}

// MaintenanceWindow mutes the signals its matchers select while it is
// active: they are recorded, but open no incident until it ends. It is
// either one-off (StartsAt to EndsAt) or recurring (Schedule).
type MaintenanceWindow struct {
	ID       string    `json:"id"`
	Name     string    `json:"name,omitempty"`
	Matchers []Matcher `json:"matchers"`
	// StartsAt and EndsAt bound a one-off window; both are zero for a
	// recurring one.
	StartsAt time.Time `json:"startsAt,omitzero"`
	EndsAt   time.Time `json:"endsAt,omitzero"`
	// Schedule, if set, makes the window recur weekly.
	Schedule  *WeeklySchedule `json:"schedule,omitempty"`
	CreatedBy string          `json:"createdBy,omitempty"`
	CreatedAt time.Time       `json:"createdAt,omitzero"`
	Comment   string          `json:"comment,omitempty"`
}

// WeeklySchedule is a weekly recurring time range: on each of Days, from
// Start (wall-clock time in Timezone) for Duration (elapsed time, so a
// window that spans a daylight-saving change lasts exactly Duration).
type WeeklySchedule struct {
	// Days are lowercase three-letter weekday names: mon, tue, ..., sun.
	Days []string `json:"days"`
	// Start is the wall-clock start, "HH:MM".
	Start string `json:"start"`
	// Duration is a Go duration string such as "2h" or "90m".
	Duration string `json:"duration"`
	// Timezone is an IANA zone name such as "Europe/Berlin"; empty means UTC.
	Timezone string `json:"timezone,omitempty"`
}
