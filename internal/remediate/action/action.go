// Package action holds the things a runbook step can do, one file per kind:
// exec (run a program from an allow-list with an argv, never a shell), http
// (call a fixed URL with a JSON body), systemd, kubernetes, notify and wait.
// Each kind has a Spec, the YAML a runbook author writes, whose Compile
// checks it and returns an Action.
//
// An Action works in two phases so that what runs is exactly what was shown
// and approved. Plan fills every template with values from the incident,
// validates each value and returns the arguments: for exec the argv, for http
// the method, URL and body. The engine stores that plan (it is the dry-run
// output and what an approver sees) and later hands the same arguments to
// Execute, which checks them against the Spec again before acting.
//
// The other kinds: systemd (systemctl with a validated unit name, through
// exec), kubernetes (rollout restart or scale of a Deployment, through a
// KubeConnector that package kube implements with client-go) and notify
// (a message to a notification receiver, through a NotifyFunc).
//
// Adding a kind means a Spec with Validate and Compile, an Action
// implementation, and one field on remediate.Step; nothing else switches on
// kinds.
package action

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/osprey-aiops/osprey"
)

// Action is one compiled runbook action. Implementations are safe for
// concurrent use: they hold only their compiled Spec.
type Action interface {
	// Type names the kind: "exec", "http", "systemd", "kubernetes",
	// "notify", "wait".
	Type() string
	// Plan renders the action for d, validating every value that came from
	// the incident. The returned arguments are the complete, exact
	// description of what Execute will do. Plan has no side effects; an
	// error means nothing may run.
	Plan(d *Data) ([]string, error)
	// Execute performs a planned action, bounded by ctx (the step's
	// timeout). It refuses arguments that Plan could not have produced
	// from the Spec.
	Execute(ctx context.Context, args []string) Result
}

// Result is the outcome of one Execute.
type Result struct {
	// ExitCode is the exit status of an exec action; -1 when the process
	// did not exit normally (killed, not started).
	ExitCode int `json:"exitCode"`
	// HTTPStatus is the response status of an http action, 0 if none.
	HTTPStatus int `json:"httpStatus,omitempty"`
	// Stdout and Stderr (for http, the response body in Stdout) are cut to
	// the output limit; Truncated says whether anything was cut.
	Stdout    string        `json:"stdout,omitempty"`
	Stderr    string        `json:"stderr,omitempty"`
	Truncated bool          `json:"truncated,omitempty"`
	Duration  time.Duration `json:"duration"`
	// Err is nil when the action succeeded (exit code 0, HTTP 2xx).
	Err error `json:"-"`
}

// Output renders the result for osprey.Action.Output.
func (r Result) Output() string {
	var b strings.Builder
	fmt.Fprintf(&b, "exit_code=%d", r.ExitCode)
	if r.HTTPStatus != 0 {
		fmt.Fprintf(&b, " http_status=%d", r.HTTPStatus)
	}
	fmt.Fprintf(&b, " duration=%s", r.Duration)
	if r.Truncated {
		b.WriteString(" (output truncated)")
	}
	if r.Stdout != "" {
		b.WriteString("\n--- stdout ---\n")
		b.WriteString(r.Stdout)
	}
	if r.Stderr != "" {
		b.WriteString("\n--- stderr ---\n")
		b.WriteString(r.Stderr)
	}
	return b.String()
}

// DefaultMaxOutput is how much of stdout, of stderr and of an HTTP response
// body is kept when Options.MaxOutput is zero.
const DefaultMaxOutput = 64 << 10

// Options are what every kind's Compile needs beyond its Spec.
type Options struct {
	// ExecAllow lists the absolute paths of the programs exec may run.
	ExecAllow []string
	// MaxOutput caps each captured output; 0 means DefaultMaxOutput.
	MaxOutput int
	// HTTPClient makes http actions' requests; nil means a client that
	// does not follow redirects.
	HTTPClient HTTPDoer
	// Systemctl is the program systemd actions run; empty means
	// DefaultSystemctl. It must be on ExecAllow.
	Systemctl string
	// Kube connects kubernetes actions to their clusters; nil makes them
	// fail at execution ("kubernetes is not configured").
	Kube KubeConnector
	// Notify hands notify actions' messages to the notification stage; nil
	// makes them fail at execution ("notifications not configured").
	Notify NotifyFunc
}

func (o Options) maxOutput() int {
	if o.MaxOutput <= 0 {
		return DefaultMaxOutput
	}
	return o.MaxOutput
}

// capBuffer keeps the first max bytes written to it and counts the rest. It
// is an io.Writer for exec's stdout and stderr.
type capBuffer struct {
	max     int
	buf     []byte
	dropped int64
}

func (c *capBuffer) Write(p []byte) (int, error) {
	if room := c.max - len(c.buf); room > 0 {
		n := min(room, len(p))
		c.buf = append(c.buf, p[:n]...)
		c.dropped += int64(len(p) - n)
	} else {
		c.dropped += int64(len(p))
	}
	return len(p), nil
}

// String returns what was kept, with invalid UTF-8 replaced so the result
// stores and renders as JSON text unchanged.
func (c *capBuffer) String() string {
	return strings.ToValidUTF8(string(c.buf), "\uFFFD")
}

// Data is what templates see. Field names follow Go's style:
// {{ .Incident.Labels.service }}, {{ .Incident.Title }}, {{ .RunID }}.
// Everything is a plain value (strings, maps, slices), so templates cannot
// call methods with side effects.
type Data struct {
	Incident Incident
	// Runbook is the runbook's name.
	Runbook string
	// RunID is the id of the run being planned.
	RunID string
	// Target is the rendered target of the run (the key of the per-target
	// guardrails).
	Target string
}

// Incident is the template view of an osprey.Incident.
type Incident struct {
	ID       string
	Title    string
	Status   string
	Severity string
	Labels   map[string]string
	Assignee string
	// OpenedAt is RFC 3339 in UTC.
	OpenedAt string
	Members  []Member
	Causes   []Cause
}

// Member is the template view of an osprey.Member.
type Member struct {
	Kind        string
	Name        string
	Fingerprint string
	Labels      map[string]string
	Severity    string
	Status      string
	Count       int
}

// Cause is the template view of an osprey.Cause.
type Cause struct {
	Kind        string
	Name        string
	Score       float64
	Explanation string
}

// NewData builds the template data of inc. It copies what it keeps.
func NewData(inc *osprey.Incident, runbook, runID, target string) *Data {
	d := &Data{
		Incident: Incident{
			ID:       inc.ID,
			Title:    inc.Title,
			Status:   string(inc.Status),
			Severity: inc.Severity.String(),
			Labels:   cloneMap(inc.Labels),
			Assignee: inc.Assignee,
			OpenedAt: inc.OpenedAt.UTC().Format(time.RFC3339),
		},
		Runbook: runbook,
		RunID:   runID,
		Target:  target,
	}
	for _, m := range inc.Members {
		d.Incident.Members = append(d.Incident.Members, Member{
			Kind: string(m.Kind), Name: m.Name, Fingerprint: m.Fingerprint.String(),
			Labels: cloneMap(m.Labels), Severity: m.Severity.String(), Status: string(m.Status), Count: m.Count,
		})
	}
	for _, c := range inc.Causes {
		d.Incident.Causes = append(d.Incident.Causes, Cause{Kind: string(c.Kind), Name: c.Name, Score: c.Score, Explanation: c.Explanation})
	}
	return d
}

// cloneMap returns a copy of l that is never nil, so a missing label is a
// "no entry for key" error rather than a nil-map special case.
func cloneMap(l osprey.Labels) map[string]string {
	m := make(map[string]string, len(l))
	for k, v := range l {
		m[k] = v
	}
	return m
}
