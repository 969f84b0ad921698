package notify

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
)

// FuzzBodyTemplate parses arbitrary webhook body templates: parsing and
// rendering must not panic, and whatever renders is one JSON document.
func FuzzBodyTemplate(f *testing.F) {
	for _, s := range []string{
		`{"text": {{ .Subject }}}`,
		`{"labels": {{ .Incident.Labels }}, "cause": {{ with .TopCause }}{{ .Name }}{{ end }}}`,
		`{{ range $k, $v := .Incident.Labels }}{{ $k }}{{ end }}`,
		`{{ define "x" }}{{ .Key }}{{ end }}{"k": {{ template "x" . }}}`,
		`{"n": {{ len .Incident.Members }}, "up": {{ upper .Receiver }}}`,
		`{{ call .Subject }}`, `{{`, `}}`, `{"a": "{{ .Key }}"}`, `{{ $x := 1 }}{{ $x = 2 }}{"x": {{ $x }}}`,
	} {
		f.Add(s)
	}
	m := message(KindOpened)
	f.Fuzz(func(t *testing.T, src string) {
		tmpl, err := parseBodyTemplate(src)
		if err != nil {
			return
		}
		body, err := renderBody(tmpl, m)
		if err != nil {
			return
		}
		if !json.Valid(body) {
			t.Fatalf("rendered body is not JSON: %q", body)
		}
	})
}

// FuzzWebhookValues puts arbitrary label values and titles through a body
// template: the body is always JSON and every value arrives unchanged (up to
// the replacement of invalid UTF-8).
func FuzzWebhookValues(f *testing.F) {
	for _, s := range []string{`", "admin": true, "x": "`, "a\nb", `\`, "\xff", `{{ .Key }}`, "\u2028</script>"} {
		f.Add(s, s)
	}
	tmpl, err := parseBodyTemplate(`{"service": {{ .Incident.Labels.service }}, "title": {{ .Incident.Title }}, "fixed": true}`)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, service, title string) {
		m := message(KindOpened)
		m.Incident.Labels = osprey.Labels{"service": service}
		m.Incident.Title = title
		body, err := renderBody(tmpl, m)
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]any
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatalf("body is not JSON: %v: %q", err, body)
		}
		if len(got) != 3 || got["service"] != string([]rune(service)) || got["title"] != string([]rune(title)) || got["fixed"] != true {
			t.Fatalf("values changed the document: %q", body)
		}
	})
}

// FuzzConfig validates configurations built from arbitrary matchers, names
// and templates: Validate never panics, and what it accepts New builds.
func FuzzConfig(f *testing.F) {
	f.Add("service=checkout", "hook", `{"a": {{ .Key }}}`, "ops@example.com", "https://hooks.example.com/x")
	f.Add(`severity=~"critical|error"`, "Bad Name", `{{`, "not an address", "ftp://x")
	f.Add(`x!~"(a`, "", "", "", "")
	st := openSQLite(f)
	f.Fuzz(func(t *testing.T, matcher, name, body, addr, url string) {
		cfg := DefaultConfig()
		cfg.Receivers = []Receiver{
			{Name: name, Webhook: WebhookConfig{URL: url, Body: body}},
			{Name: "mail", Email: EmailConfig{To: []string{addr}, From: addr, Smarthost: "localhost:25"}},
		}
		cfg.Routes = []Route{{Matchers: []string{matcher}, Receivers: []string{name}}}
		cfg.DefaultReceiver = "mail"
		if err := cfg.Validate(); err != nil {
			if strings.TrimSpace(err.Error()) == "" {
				t.Fatal("empty error message")
			}
			return
		}
		n, err := New(Options{Config: cfg, Store: st, Tick: -1, Now: func() time.Time { return t0 }})
		if err != nil {
			t.Fatalf("Validate accepted what New refuses: %v", err)
		}
		_ = n.Shutdown(t.Context())
	})
}
