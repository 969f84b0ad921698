package osprey

import "time"

// RunStatus is where a runbook run is in its life.
type RunStatus string

// Runbook run statuses.
const (
	RunPendingApproval RunStatus = "pending_approval"
	RunApproved        RunStatus = "approved"
	RunRejected        RunStatus = "rejected"
	RunRunning         RunStatus = "running"
	RunSucceeded       RunStatus = "succeeded"
	RunFailed          RunStatus = "failed"
	RunEscalated       RunStatus = "escalated"
)

// RunbookRun is one execution (or dry run) of a runbook against an incident.
type RunbookRun struct {
	ID         string    `json:"id"`
	Runbook    string    `json:"runbook"`
	IncidentID string    `json:"incidentId"`
	Status     RunStatus `json:"status"`
	DryRun     bool      `json:"dryRun"`
	// ApprovedBy names who approved or rejected the run, when one did.
	ApprovedBy  string    `json:"approvedBy,omitempty"`
	RequestedAt time.Time `json:"requestedAt"`
	StartedAt   time.Time `json:"startedAt,omitzero"`
	FinishedAt  time.Time `json:"finishedAt,omitzero"`
	Actions     []Action  `json:"actions,omitempty"`
}

// Action is one step of a runbook run: a command, a webhook call, a scale.
// Args are an argv, never a shell string.
type Action struct {
	Type       string    `json:"type"`
	Target     string    `json:"target,omitempty"`
	Args       []string  `json:"args,omitempty"`
	Status     RunStatus `json:"status"`
	Output     string    `json:"output,omitempty"`
	Error      string    `json:"error,omitempty"`
	StartedAt  time.Time `json:"startedAt,omitzero"`
	FinishedAt time.Time `json:"finishedAt,omitzero"`
}

// AuditEntry records who did what, for every write and every action.
type AuditEntry struct {
	Seq    int64     `json:"seq,omitempty"`
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"`
	// Object is the id of what was acted on ("incident/01H...").
	Object string `json:"object,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// MatchType is the operator of a label matcher.
type MatchType string

// Matcher operators, as in Alertmanager.
const (
	MatchEqual     MatchType = "="
	MatchNotEqual  MatchType = "!="
	MatchRegexp    MatchType = "=~"
	MatchNotRegexp MatchType = "!~"
)

// Matcher selects label sets by one label.
type Matcher struct {
	Name  string    `json:"name"`
	Type  MatchType `json:"type"`
	Value string    `json:"value"`
}

// Silence mutes notifications and actions for matching signals in a window.
type Silence struct {
	ID        string    `json:"id"`
	Matchers  []Matcher `json:"matchers"`
	StartsAt  time.Time `json:"startsAt"`
	EndsAt    time.Time `json:"endsAt"`
	CreatedBy string    `json:"createdBy"`
	Comment   string    `json:"comment,omitempty"`
}

// LogTemplate is a mined pattern of log lines with its statistics.
type LogTemplate struct {
	ID        string    `json:"id"`
	Source    string    `json:"source"`
	Template  string    `json:"template"`
	Count     int64     `json:"count"`
	FirstSeen time.Time `json:"firstSeen"`
	LastSeen  time.Time `json:"lastSeen"`
	Sample    string    `json:"sample,omitempty"`
	// AliasOf is set when this template was merged into another; the old id
	// keeps resolving to the new one.
	AliasOf string `json:"aliasOf,omitempty"`
}
