package notify

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/store"
)

// runbookText is the fixture text of a runbook message: two lines, markup
// that Slack must not interpret.
const runbookText = "runbook restart-checkout restarted deployment shop/checkout <!channel>\nnext: watch the error rate"

// runbookMessage returns the fixture runbook message.
func runbookMessage() *Message {
	m := message(KindRunbook)
	m.Note, m.Key = runbookText, runbookKey(runbookText)
	return m
}

func TestRunbookPayloads(t *testing.T) {
	cases := []struct {
		name string
		rc   Receiver
		path string
	}{
		{"slack_runbook", Receiver{Name: "rx", Slack: SlackConfig{URL: Secret{Value: "x"}, Channel: "#ops"}}, "/services/T0/B0/X"},
		{"pagerduty_runbook", Receiver{Name: "rx", PagerDuty: PagerDutyConfig{RoutingKey: Secret{Value: "K"}}}, "/v2/enqueue"},
		{"webhook_runbook", Receiver{Name: "rx", Webhook: WebhookConfig{URL: "x"}}, "/hook"},
		{"webhook_runbook_template", Receiver{Name: "rx", Webhook: WebhookConfig{URL: "x",
			Body: `{"kind": {{ .Kind }}, "text": {{ .Note }}, "incident": {{ .Incident.ID }}, "link": {{ .URL }}}`}}, "/hook"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			reqs, err := sendTo(t, tc.rc, runbookMessage())
			if err != nil {
				t.Fatal(err)
			}
			if len(reqs) != 1 || reqs[0].Path != tc.path || !json.Valid(reqs[0].Body) {
				t.Fatalf("requests: %+v", reqs)
			}
			golden(t, tc.name+".json", append(reqs[0].Body, '\n'))
		})
	}
}

// TestRunbookRefused: Alertmanager has no place for a message, and a
// PagerDuty trigger about a resolved incident would reopen it: both are
// refused as permanent, before any request.
func TestRunbookRefused(t *testing.T) {
	resolved := runbookMessage()
	resolved.Incident.Status, resolved.Incident.ResolvedAt = osprey.IncidentResolved, t0.Add(time.Hour)
	for name, tc := range map[string]struct {
		rc Receiver
		m  *Message
	}{
		"alertmanager":       {Receiver{Name: "rx", Alertmanager: AlertmanagerConfig{URL: "x"}}, runbookMessage()},
		"pagerduty resolved": {Receiver{Name: "rx", PagerDuty: PagerDutyConfig{RoutingKey: Secret{Value: "K"}}}, resolved},
	} {
		reqs, err := sendTo(t, tc.rc, tc.m)
		if err == nil || !osprey.IsPermanent(err) || len(reqs) != 0 {
			t.Errorf("%s: err %v (permanent %v), %d requests; want a permanent error and no request", name, err, osprey.IsPermanent(err), len(reqs))
		}
	}
}

func TestRunbookEmail(t *testing.T) {
	srv := newSMTPServer(t, nil, "")
	s := &emailSender{cfg: EmailConfig{To: []string{"oncall@example.com"}, From: "Osprey <osprey@example.com>",
		Smarthost: srv.Addr(), Hello: "osprey.test"}}
	if err := s.send(t.Context(), runbookMessage()); err != nil {
		t.Fatal(err)
	}
	mails := srv.Mails()
	if len(mails) != 1 {
		t.Fatalf("got %d mails, want 1", len(mails))
	}
	golden(t, "email_runbook.eml", []byte(mails[0].Data))
	if !strings.Contains(mails[0].Data, "Subject: [Osprey] runbook: checkout: HighErrorRate\r\n") {
		t.Errorf("subject is not [Osprey] runbook: <title>:\n%s", mails[0].Data)
	}
}

// TestNotify drives Notifier.Notify as a runbook's notify step does: the
// message goes to the named receiver only (not routed), once per text, with
// a log row, a timeline entry and an audit entry; a restarted notifier does
// not send it again, and does not route the incident to that receiver.
func TestNotify(t *testing.T) {
	routed, named := newCapture(t), newCapture(t, http.StatusServiceUnavailable, http.StatusOK)
	st := openSQLite(t)
	cfg := webhookConfig(map[string]string{"a-routed": routed.URL, "b-oncall": named.URL})
	c := newClock()
	r := newRig(t, st, cfg, c, "host-1")
	inc := incident("I1", osprey.SeverityError, nil)
	r.feed(inc)
	r.at(time.Minute)
	wantKeys(t, "routed receiver", kinds(t, routed.Requests()), "opened")

	if err := r.n.Notify(t.Context(), "b-oncall", inc, "restarted checkout"); err != nil {
		t.Fatal(err)
	}
	reqs := named.Requests()
	if len(reqs) != 2 { // a 503, then the retry that succeeded
		t.Fatalf("%d requests to the named receiver, want 2", len(reqs))
	}
	var doc struct {
		Kind, Key, Note, Subject string
	}
	if err := json.Unmarshal(reqs[1].Body, &doc); err != nil {
		t.Fatal(err)
	}
	key := runbookKey("restarted checkout")
	if doc.Kind != "runbook" || doc.Key != key || doc.Note != "restarted checkout" || doc.Subject != "[Osprey] runbook: checkout: HighErrorRate" {
		t.Errorf("webhook document: %+v", doc)
	}
	// Handed over again (a retried step): already sent, nothing more.
	if err := r.n.Notify(t.Context(), "b-oncall", inc, "restarted checkout"); err != nil {
		t.Errorf("second Notify: %v", err)
	}
	if n := len(named.Requests()); n != 2 {
		t.Errorf("%d requests after a second Notify of the same text, want 2", n)
	}
	if v := testutil.ToFloat64(r.n.m.sent.WithLabelValues("b-oncall", "runbook")); v != 1 {
		t.Errorf("sent metric = %v, want 1", v)
	}
	err := r.n.Notify(t.Context(), "nobody", inc, "x")
	if !errors.Is(err, ErrUnknownReceiver) || !osprey.IsPermanent(err) {
		t.Errorf("unknown receiver: %v", err)
	}

	got, err := st.GetIncident(t.Context(), "I1")
	if err != nil {
		t.Fatal(err)
	}
	var notes []string
	for _, e := range got.Timeline {
		if e.Kind == osprey.TimelineNotification {
			notes = append(notes, e.Message)
		}
	}
	want := "notified b-oncall (webhook): " + key + " after 2 attempts"
	if len(notes) != 2 || notes[1] != want {
		t.Errorf("timeline notifications %q, want the last to be %q", notes, want)
	}
	audit, err := st.ListAudit(t.Context(), time.Time{}, 100)
	if err != nil || len(audit) != 2 || audit[0].Action != "notification.sent" || !strings.Contains(audit[0].Detail, "key="+key) {
		t.Errorf("audit: %+v, %v", audit, err)
	}
	logged, err := st.ListNotifications(t.Context(), store.NotificationQuery{IncidentID: "I1"})
	if err != nil || len(logged) != 2 || logged[0].Receiver != "b-oncall" || logged[0].Status != store.NotificationSent || logged[0].Attempts != 2 {
		t.Fatalf("log: %+v, %v", logged, err)
	}

	// A restart: the message is not sent again, and the runbook row does
	// not route the incident to b-oncall (it hears nothing of the
	// resolution).
	if err := r.n.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	second := newRig(t, st, cfg, c, "host-2")
	if err := second.n.Notify(t.Context(), "b-oncall", inc, "restarted checkout"); err != nil {
		t.Errorf("Notify after the restart: %v", err)
	}
	inc.Status, inc.ResolvedAt, inc.UpdatedAt = osprey.IncidentResolved, t0.Add(time.Hour), t0.Add(time.Hour)
	second.at(time.Hour)
	second.feed(inc)
	second.at(2 * time.Hour)
	if n := len(named.Requests()); n != 2 {
		t.Errorf("%d requests to the named receiver after the restart, want 2", n)
	}
	wantKeys(t, "routed receiver after the restart", kinds(t, routed.Requests()), "opened", "resolved")
}
