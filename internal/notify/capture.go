package notify

import (
	"context"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/osprey-aiops/osprey"
)

// Captured is one notification rendered but not sent (Options.Capture).
type Captured struct {
	// Receiver is the receiver's name; ReceiverKind its kind (slack,
	// pagerduty, email, webhook, alertmanager).
	Receiver     string
	ReceiverKind string
	// Message is the notification; Payload is what would have been sent:
	// the HTTP request body, or the e-mail message.
	Message *Message
	Payload []byte
}

// captureSender renders a receiver's notifications and hands them to a
// function instead of sending them: HTTP receivers post to a client that
// answers 202 without a network call; e-mail is rendered only.
type captureSender struct {
	name, kind string
	inner      sender // over doer; nil for e-mail
	doer       *captureDoer
	email      EmailConfig
	capture    func(context.Context, Captured) error
}

func newCaptureSender(r Receiver, fn func(context.Context, Captured) error) (sender, error) {
	s := &captureSender{name: r.Name, kind: r.kinds()[0], doer: &captureDoer{}, email: r.Email, capture: fn}
	if s.kind != kindEmail {
		inner, err := newSender(r, s.doer, nil)
		if err != nil {
			return nil, err
		}
		s.inner = inner
	}
	return s, nil
}

// send renders m. A receiver's jobs are delivered one at a time, so the
// doer holds the body of this send's request only.
func (s *captureSender) send(ctx context.Context, m *Message) error {
	var payload []byte
	if s.inner == nil {
		b, err := emailMessage(s.email, m)
		if err != nil {
			return err
		}
		payload = b
	} else {
		s.doer.body = nil
		if err := s.inner.send(ctx, m); err != nil {
			return err
		}
		payload = s.doer.body
	}
	return s.capture(ctx, Captured{Receiver: s.name, ReceiverKind: s.kind, Message: m, Payload: payload})
}

// captureDoer answers every request with 202 Accepted, keeping its body;
// it never opens a connection.
type captureDoer struct{ body []byte }

func (d *captureDoer) Do(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		d.body = b
	}
	return &http.Response{StatusCode: http.StatusAccepted, Status: "202 Accepted", Header: http.Header{},
		Body: io.NopCloser(strings.NewReader("")), Request: req}, nil
}

// NextDue returns the earliest time after now at which a notification of
// an incident held becomes due by the passage of time alone (a group_wait
// or repeat deadline, or the end of a hold), and false when none will.
// Notifications due because an incident changed are due at once. Callers
// that drive the notifier on their own clock (Tick < 0) set the clock to
// that time and Flush.
func (n *Notifier) NextDue() (time.Time, bool) {
	now := n.now()
	var next time.Time
	consider := func(t time.Time) {
		if t.After(now) && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, tr := range n.tracked {
		inc := &tr.inc
		for _, tg := range tr.targets {
			if tg.busy {
				continue
			}
			if tg.holdUntil.After(now) {
				consider(tg.holdUntil)
				continue
			}
			opened, ok := tg.done[tg.key(KindOpened)]
			if !ok {
				if inc.Status != osprey.IncidentResolved {
					consider(inc.OpenedAt.Add(tg.groupWait))
				}
				continue
			}
			if opened == "" || tg.repeat <= 0 || inc.Status == osprey.IncidentResolved {
				continue
			}
			if inc.Status != osprey.IncidentOpen && tg.recv.kind != kindAlertmanager {
				continue
			}
			k := tg.lastRepeat + 1
			due := inc.OpenedAt.Add(tg.groupWait).Add(time.Duration(k) * tg.repeat)
			if first := tg.openedAt.Add(tg.repeat); first.After(due) {
				due = first
			}
			consider(due)
		}
	}
	return next, !next.IsZero()
}

// Type returns the receiver's kind (slack, pagerduty, email, webhook or
// alertmanager), or "" when it has none or several.
func (r Receiver) Type() string {
	if ks := r.kinds(); len(ks) == 1 {
		return ks[0]
	}
	return ""
}
