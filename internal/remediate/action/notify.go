package action

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"text/template"
	"time"
	"unicode/utf8"
)

// NotifySpec hands a message about the incident to a receiver of the
// notification stage (notifications.receivers), for example to tell the
// on-call person that a runbook acted or could not.
type NotifySpec struct {
	// Receiver names a receiver of the notifications section; literal.
	Receiver string `yaml:"receiver"`
	// Text is the message, a template over the run's data (any template
	// syntax); at most 4096 bytes once rendered.
	Text string `yaml:"text"`
}

// NotifyFunc sends text about the incident incidentID to the named
// receiver. The remediate engine builds it from its Notifier.
type NotifyFunc func(ctx context.Context, receiver, incidentID, text string) error

// ErrNotifyNotConfigured is the error of a notify action in an Osprey whose
// notification stage is not wired to remediation.
var ErrNotifyNotConfigured = errors.New("notifications not configured: the notify action has no notification stage to hand its message to")

// maxNotifyText caps a rendered notify text.
const maxNotifyText = 4096

var receiverNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$`)

// IsZero reports whether the spec is unset (the step is of another kind).
func (s NotifySpec) IsZero() bool { return s.Receiver == "" && s.Text == "" }

// Validate checks the spec.
func (s NotifySpec) Validate() error {
	_, err := s.Compile(Options{})
	return err
}

// Compile checks the spec and returns the Action.
func (s NotifySpec) Compile(o Options) (*Notify, error) {
	var p Problems
	n := &Notify{receiver: s.Receiver, send: o.Notify}
	if !receiverNameRE.MatchString(s.Receiver) {
		p.Addf("receiver", "%q is not a receiver name (a literal name from notifications.receivers)", clip(s.Receiver))
	}
	if strings.TrimSpace(s.Text) == "" {
		p.Addf("text", "must not be empty")
	} else if t, err := ParseTemplate("text", s.Text); err != nil {
		p.Addf("text", "%v", err)
	} else {
		n.text = t
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	return n, nil
}

// Receiver returns the receiver the action sends to.
func (n *Notify) Receiver() string { return n.receiver }

// Notify is a compiled NotifySpec.
type Notify struct {
	receiver string
	text     *template.Template
	send     NotifyFunc
}

var _ Action = (*Notify)(nil)

// Type returns "notify".
func (n *Notify) Type() string { return "notify" }

// Plan returns [receiver, incident id, text].
func (n *Notify) Plan(d *Data) ([]string, error) {
	text, err := Render(n.text, d)
	if err != nil {
		return nil, fmt.Errorf("text: %w", err)
	}
	text = strings.ToValidUTF8(strings.ReplaceAll(text, "\x00", ""), "\uFFFD")
	if len(text) > maxNotifyText {
		cut := maxNotifyText
		for cut > 0 && !utf8.RuneStart(text[cut]) {
			cut--
		}
		text = text[:cut]
	}
	return []string{n.receiver, d.Incident.ID, text}, nil
}

// Execute sends the planned text to the receiver.
func (n *Notify) Execute(ctx context.Context, args []string) Result {
	res := Result{ExitCode: -1}
	if len(args) != 3 || args[0] != n.receiver || args[1] == "" || len(args[2]) > maxNotifyText {
		res.Err = fmt.Errorf("refused: want [%s, incident, text], got %d arguments", n.receiver, len(args))
		return res
	}
	if n.send == nil {
		res.Err = ErrNotifyNotConfigured
		return res
	}
	start := time.Now()
	err := n.send(ctx, args[0], args[1], args[2])
	res.Duration = time.Since(start)
	if err != nil {
		res.Err = fmt.Errorf("notify %s: %w", n.receiver, err)
		return res
	}
	res.ExitCode = 0
	res.Stdout = "handed to receiver " + n.receiver
	return res
}
