package notify

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
)

// message returns the fixture message of kind k.
func message(k Kind) *Message {
	inc := incident("01JDXINC0000000000000000AB", osprey.SeverityCritical, osprey.Labels{"service": "checkout", "namespace": "shop"})
	m := &Message{Receiver: "rx", Kind: k, Key: string(k), Incident: inc, URL: incidentURL("https://osprey.example.com/", "01JDXINC0000000000000000AB"),
		At: t0.Add(30 * time.Second), interval: time.Hour}
	switch k {
	case KindEscalated:
		m.Key, m.PreviousSeverity = "escalated-critical", osprey.SeverityWarning
	case KindRepeat:
		m.Key, m.Repeat = "repeat-2", 2
	case KindAcknowledged:
		m.Incident.Status, m.Incident.Assignee = osprey.IncidentAcknowledged, "alice"
	case KindResolved:
		m.Incident.Status, m.Incident.ResolvedAt = osprey.IncidentResolved, t0.Add(10*time.Minute)
		m.Incident.Members[0].Status = osprey.StatusResolved
	}
	return m
}

// sendTo builds receiver rc's sender and sends m, returning the request the
// capture server got.
func sendTo(t *testing.T, rc Receiver, m *Message, replies ...int) ([]request, error) {
	t.Helper()
	srv := newCapture(t, replies...)
	switch {
	case !rc.Slack.isZero():
		rc.Slack.URL.Value = srv.URL + "/services/T0/B0/X"
	case !rc.PagerDuty.isZero():
		rc.PagerDuty.URL = srv.URL + "/v2/enqueue"
	case !rc.Webhook.isZero():
		rc.Webhook.URL = srv.URL + "/hook"
	case !rc.Alertmanager.isZero():
		rc.Alertmanager.URL = srv.URL
	}
	s, err := newSender(rc, newHTTPClient(), nil)
	if err != nil {
		t.Fatal(err)
	}
	err = s.send(t.Context(), m)
	return srv.Requests(), err
}

func TestPayloads(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "pd-key")
	if err := os.WriteFile(keyFile, []byte("R0UT1NGKEY\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		rc   Receiver
		kind Kind
		path string
	}{
		{"slack_opened", Receiver{Name: "rx", Slack: SlackConfig{URL: Secret{Value: "x"}, Channel: "#ops"}}, KindOpened, "/services/T0/B0/X"},
		{"slack_resolved", Receiver{Name: "rx", Slack: SlackConfig{URL: Secret{Value: "x"}}}, KindResolved, "/services/T0/B0/X"},
		{"pagerduty_trigger", Receiver{Name: "rx", PagerDuty: PagerDutyConfig{RoutingKey: Secret{ValueFile: keyFile}}}, KindOpened, "/v2/enqueue"},
		{"pagerduty_escalated", Receiver{Name: "rx", PagerDuty: PagerDutyConfig{RoutingKey: Secret{Value: "K"}, Source: "osprey-prod"}}, KindEscalated, "/v2/enqueue"},
		{"pagerduty_acknowledge", Receiver{Name: "rx", PagerDuty: PagerDutyConfig{RoutingKey: Secret{Value: "K"}}}, KindAcknowledged, "/v2/enqueue"},
		{"pagerduty_resolve", Receiver{Name: "rx", PagerDuty: PagerDutyConfig{RoutingKey: Secret{Value: "K"}}}, KindResolved, "/v2/enqueue"},
		{"webhook_default", Receiver{Name: "rx", Webhook: WebhookConfig{URL: "x"}}, KindRepeat, "/hook"},
		{"webhook_template", Receiver{Name: "rx", Webhook: WebhookConfig{URL: "x",
			Body: `{"text": {{ .Subject }}, "service": {{ .Incident.Labels.service }}, "labels": {{ .Incident.Labels }},` +
				` "cause": {{ with .TopCause }}{{ .Name }}{{ else }}null{{ end }}, "n": {{ len .Incident.Members }}}`}}, KindOpened, "/hook"},
		{"alertmanager_firing", Receiver{Name: "rx", Alertmanager: AlertmanagerConfig{URL: "x"}}, KindOpened, "/api/v2/alerts"},
		{"alertmanager_escalated", Receiver{Name: "rx", Alertmanager: AlertmanagerConfig{URL: "x"}}, KindEscalated, "/api/v2/alerts"},
		{"alertmanager_resolved", Receiver{Name: "rx", Alertmanager: AlertmanagerConfig{URL: "x"}}, KindResolved, "/api/v2/alerts"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			reqs, err := sendTo(t, tc.rc, message(tc.kind))
			if err != nil {
				t.Fatal(err)
			}
			if len(reqs) != 1 {
				t.Fatalf("got %d requests, want 1", len(reqs))
			}
			r := reqs[0]
			if r.Method != http.MethodPost || r.Path != tc.path || r.Header.Get("Content-Type") != "application/json" || r.Header.Get("User-Agent") != userAgent {
				t.Errorf("request %s %s (Content-Type %q, User-Agent %q), want POST %s as JSON from %s",
					r.Method, r.Path, r.Header.Get("Content-Type"), r.Header.Get("User-Agent"), tc.path, userAgent)
			}
			if !json.Valid(r.Body) {
				t.Fatalf("body is not JSON: %s", r.Body)
			}
			golden(t, tc.name+".json", append(r.Body, '\n'))
		})
	}
}

// TestWebhookTemplateInjection feeds label values written to break out of
// their JSON string: every one must arrive as the same string.
func TestWebhookTemplateInjection(t *testing.T) {
	payloads := []string{
		`", "admin": true, "x": "`,
		`\", "admin": true}`,
		"line\nbreak\r\n\u2028",
		`}]}{{ .Incident.ID }}`,
		`</script><script>alert(1)</script>`,
		"\x00\x1f\x7f",
		`{{ template "x" }}`,
		"\xff\xfe invalid utf-8",
	}
	rc := Receiver{Name: "rx", Webhook: WebhookConfig{URL: "x", Body: `{"service": {{ .Incident.Labels.service }}, "title": {{ printf "%s on %s" .Incident.Title .Incident.Labels.service }}, "admin": false}`}}
	for _, p := range payloads {
		m := message(KindOpened)
		m.Incident.Labels = osprey.Labels{"service": p}
		m.Incident.Title = p
		reqs, err := sendTo(t, rc, m)
		if err != nil {
			t.Fatalf("%q: %v", p, err)
		}
		var got map[string]any
		if err := json.Unmarshal(reqs[0].Body, &got); err != nil {
			t.Fatalf("%q: body is not JSON: %v\n%s", p, err, reqs[0].Body)
		}
		want := string([]rune(p)) // JSON writes each invalid byte as U+FFFD
		if len(got) != 3 || got["service"] != want || got["title"] != want+" on "+want || got["admin"] != false {
			t.Errorf("%q broke out of its string: %s", p, reqs[0].Body)
		}
	}
}

func TestSlackEscapesMarkup(t *testing.T) {
	m := message(KindOpened)
	m.Incident.Title = "<!channel> <https://evil.example|click> & co"
	p := slackMessage(SlackConfig{}, m)
	b, _ := json.Marshal(p)
	if bytes.Contains(b, []byte("<!channel>")) || bytes.Contains(b, []byte("<https://evil")) {
		t.Errorf("Slack markup from the incident was not escaped: %s", b)
	}
	if !strings.Contains(p.Text, "&lt;!channel&gt;") {
		t.Errorf("text %q: want the mention escaped", p.Text)
	}
}

func TestHTTPStatusClassification(t *testing.T) {
	rc := Receiver{Name: "rx", Webhook: WebhookConfig{URL: "x"}}
	cases := []struct {
		code      int
		permanent bool
	}{{500, false}, {502, false}, {429, false}, {408, false}, {400, true}, {401, true}, {404, true}, {301, true}}
	for _, tc := range cases {
		_, err := sendTo(t, rc, message(KindOpened), tc.code)
		if err == nil || osprey.IsPermanent(err) != tc.permanent {
			t.Errorf("HTTP %d: error %v, permanent %v; want an error, permanent %v", tc.code, err, osprey.IsPermanent(err), tc.permanent)
		}
	}
}

func TestWebhookHeadersFromFile(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(secret, []byte("Bearer s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rc := Receiver{Name: "rx", Webhook: WebhookConfig{URL: "x", Headers: []Header{{Name: "Authorization", ValueFile: secret}, {Name: "X-Team", Value: "sre"}}}}
	reqs, err := sendTo(t, rc, message(KindOpened))
	if err != nil {
		t.Fatal(err)
	}
	if got := reqs[0].Header.Get("Authorization"); got != "Bearer s3cret" {
		t.Errorf("Authorization = %q", got)
	}
	if got := reqs[0].Header.Get("X-Team"); got != "sre" {
		t.Errorf("X-Team = %q", got)
	}
}

func TestEmail(t *testing.T) {
	srv := newSMTPServer(t, nil, "")
	cfg := EmailConfig{To: []string{"Ops <ops@example.com>", "oncall@example.com"}, From: "Osprey <osprey@example.com>",
		Smarthost: srv.Addr(), Hello: "osprey.test", StartTLS: StartTLSAuto}
	s := &emailSender{cfg: cfg}
	m := message(KindOpened)
	m.Incident.Title = "checkout: Fehlerquote über 5%\r\nBcc: victim@example.com"
	if err := s.send(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	if err := s.send(t.Context(), message(KindResolved)); err != nil {
		t.Fatal(err)
	}
	mails := srv.Mails()
	if len(mails) != 2 {
		t.Fatalf("got %d mails, want 2", len(mails))
	}
	got := mails[0]
	if got.Hello != "osprey.test" || strings.Fields(got.From)[0] != "<osprey@example.com>" || strings.Join(got.To, ",") != "<ops@example.com>,<oncall@example.com>" {
		t.Errorf("envelope: EHLO %q, MAIL FROM %q, RCPT TO %v", got.Hello, got.From, got.To)
	}
	golden(t, "email_opened.eml", []byte(got.Data))
	golden(t, "email_resolved.eml", []byte(mails[1].Data))
	header, _, _ := strings.Cut(got.Data, "\r\n\r\n")
	if strings.Contains(header, "\r\nBcc:") {
		t.Errorf("a line break in the title added a header:\n%s", header)
	}
}

func TestEmailStartTLSAndAuth(t *testing.T) {
	srv := httptest.NewTLSServer(http.NotFoundHandler()) // for its certificate
	defer srv.Close()
	cert := srv.TLS.Certificates[0]
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	smtpSrv := newSMTPServer(t, &tls.Config{Certificates: []tls.Certificate{cert}}, "")
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("hunter2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// httptest's certificate is for example.com and 127.0.0.1.
	cfg := EmailConfig{To: []string{"ops@example.com"}, From: "osprey@example.com", Smarthost: smtpSrv.Addr(),
		StartTLS: StartTLSRequired, AuthUsername: "osprey", AuthPassword: Secret{ValueFile: pw}}
	s := &emailSender{cfg: cfg, tls: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	if err := s.send(t.Context(), message(KindOpened)); err != nil {
		t.Fatal(err)
	}
	mails := smtpSrv.Mails()
	if len(mails) != 1 || !mails[0].TLS {
		t.Fatalf("mails %+v: want one, over TLS", mails)
	}
	if mails[0].Auth != "PLAIN AG9zcHJleQBodW50ZXIy" { // base64("\x00osprey\x00hunter2")
		t.Errorf("AUTH %q", mails[0].Auth)
	}

	// Without STARTTLS on offer, "required" refuses to send.
	plain := newSMTPServer(t, nil, "")
	cfg.Smarthost, cfg.AuthUsername, cfg.AuthPassword = plain.Addr(), "", Secret{}
	err := (&emailSender{cfg: cfg}).send(t.Context(), message(KindOpened))
	if err == nil || !osprey.IsPermanent(err) || len(plain.Mails()) != 0 {
		t.Errorf("starttls required without STARTTLS: err %v, mails %d; want a permanent error and no mail", err, len(plain.Mails()))
	}
}

func TestEmailRejectedRecipient(t *testing.T) {
	srv := newSMTPServer(t, nil, "550 5.1.1 no such user")
	err := (&emailSender{cfg: EmailConfig{To: []string{"x@example.com"}, From: "o@example.com", Smarthost: srv.Addr()}}).send(t.Context(), message(KindOpened))
	if err == nil || !osprey.IsPermanent(err) {
		t.Errorf("550 on RCPT: %v, want a permanent error", err)
	}
	srv = newSMTPServer(t, nil, "450 4.2.0 mailbox busy")
	err = (&emailSender{cfg: EmailConfig{To: []string{"x@example.com"}, From: "o@example.com", Smarthost: srv.Addr()}}).send(t.Context(), message(KindOpened))
	if err == nil || osprey.IsPermanent(err) {
		t.Errorf("450 on RCPT: %v, want a retryable error", err)
	}
}
