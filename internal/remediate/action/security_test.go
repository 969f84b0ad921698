package action

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/osprey-aiops/osprey"
)

// TestSecurityCorpusExec feeds every hostile value of the corpus into an exec
// argv, once under the default pattern and once under a pattern that accepts
// anything (with leading dashes allowed), and runs what Plan accepts with a
// real program. Every value is either refused before anything runs or
// arrives as exactly one argument, byte for byte; no payload ever executes.
func TestSecurityCorpusExec(t *testing.T) {
	marker := t.TempDir()
	corpus := hostile(marker)
	names := make([]string, 0, len(corpus))
	for name := range corpus {
		names = append(names, name)
	}
	sort.Strings(names)

	for _, mode := range []struct {
		name   string
		fields []FieldPattern
	}{
		{"default pattern", nil},
		{"permissive pattern", []FieldPattern{{Field: ".Incident.Labels.service", Pattern: `(?s).*`, AllowLeadingDash: true}}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			rec := newRecorder(t)
			x, err := ExecSpec{
				Argv:   []string{rec.path, "restart", "{{ .Incident.Labels.service }}"},
				Fields: mode.fields,
			}.Compile(Options{ExecAllow: []string{rec.path}})
			if err != nil {
				t.Fatal(err)
			}
			var executed [][]string
			var accepted, refused []string
			for _, name := range names {
				v := corpus[name]
				argv, err := x.Plan(NewData(incident(osprey.Labels{"service": v}), "rb", "run", "t"))
				if err != nil {
					refused = append(refused, name)
					continue
				}
				if len(argv) != 3 || argv[0] != rec.path || argv[1] != "restart" || argv[2] != v {
					t.Errorf("%s: Plan = %q, want the value as one whole argument", name, argv)
					continue
				}
				if res := x.Execute(t.Context(), argv); res.Err != nil {
					t.Errorf("%s: Execute: %v", name, res.Err)
					continue
				}
				accepted = append(accepted, name)
				executed = append(executed, argv[1:])
			}
			t.Logf("accepted as one inert argument: %v", accepted)
			t.Logf("refused before running: %v", refused)
			if got := rec.calls(t); !slices.EqualFunc(got, executed, slices.Equal[[]string]) {
				t.Errorf("the program saw %d calls %q, want exactly the %d planned argvs", len(got), got, len(executed))
			}
			for _, name := range []string{"nul", "invalid-utf8", "long"} {
				if !slices.Contains(refused, name) {
					t.Errorf("%s was not refused", name)
				}
			}
			if mode.fields == nil {
				for _, name := range []string{"semicolon", "subshell", "backticks", "newline", "flag", "short-flag", "space", "empty", "only-dash", "double-dash"} {
					if !slices.Contains(refused, name) {
						t.Errorf("%s was not refused by the default pattern", name)
					}
				}
			}
		})
	}
	entries, err := os.ReadDir(marker)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Fatalf("payloads executed: marker files %v", entries)
	}
}

// TestSecurityCorpusHTTP renders every hostile value into a JSON body and
// sends it: the body is always valid JSON holding exactly the value (invalid
// UTF-8 replaced by U+FFFD, as JSON requires), the URL never changes, and the
// secret header comes from its file.
func TestSecurityCorpusHTTP(t *testing.T) {
	var (
		mu       sync.Mutex
		received []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		received = append(received, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization")+" "+r.Header.Get("Content-Type")+"\n"+string(b))
		mu.Unlock()
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"id":"T-1"}`))
	}))
	defer srv.Close()
	secret := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(secret, []byte("Bearer s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h, err := HTTPSpec{
		URL:     srv.URL + "/tickets",
		Headers: []HeaderSpec{{Name: "Authorization", ValueFile: secret}},
		Body:    `{"summary": "{{ .Incident.Labels.service }} is down", "service": "{{ .Incident.Labels.service }}", "priority": 2, "tags": ["osprey", "{{ .Incident.Title }}"]}`,
	}.Compile(Options{HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	corpus := hostile(t.TempDir())
	sent := 0
	for name, v := range corpus {
		inc := incident(osprey.Labels{"service": v})
		inc.Title = v
		args, err := h.Plan(NewData(inc, "rb", "run", "t"))
		if err != nil {
			if name != "long" {
				t.Errorf("%s: Plan: %v", name, err)
			}
			continue
		}
		if args[0] != "POST" || args[1] != srv.URL+"/tickets" {
			t.Fatalf("%s: request %q %q", name, args[0], args[1])
		}
		var body struct {
			Summary  string   `json:"summary"`
			Service  string   `json:"service"`
			Priority int      `json:"priority"`
			Tags     []string `json:"tags"`
		}
		if err := json.Unmarshal([]byte(args[2]), &body); err != nil {
			t.Fatalf("%s: body is not JSON: %v\n%s", name, err, args[2])
		}
		want := jsonString(v)
		if body.Service != want || body.Summary != want+" is down" || body.Priority != 2 || !slices.Equal(body.Tags, []string{"osprey", want}) {
			t.Errorf("%s: body %+v, want the exact value %q", name, body, want)
		}
		res := h.Execute(t.Context(), args)
		if res.Err != nil || res.HTTPStatus != http.StatusCreated || res.Stdout != `{"id":"T-1"}` {
			t.Fatalf("%s: Execute = %+v", name, res)
		}
		sent++
	}
	if len(received) != sent {
		t.Fatalf("server got %d requests, want %d", len(received), sent)
	}
	for _, r := range received {
		head, body, _ := strings.Cut(r, "\n")
		if head != "POST /tickets Bearer s3cret application/json" {
			t.Errorf("request head %q", head)
		}
		if !json.Valid([]byte(body)) {
			t.Errorf("server got invalid JSON %q", body)
		}
	}
}

// jsonString is what a JSON round trip of s gives: each invalid UTF-8 byte
// becomes U+FFFD.
func jsonString(s string) string {
	var b strings.Builder
	for len(s) > 0 {
		r, n := utf8.DecodeRuneInString(s)
		b.WriteRune(r)
		s = s[n:]
	}
	return b.String()
}

func TestHTTPCompileErrors(t *testing.T) {
	tests := []struct {
		name string
		spec HTTPSpec
		want []string
	}{
		{"templated url", HTTPSpec{URL: "https://x/{{.Incident.ID}}"}, []string{"url: must be literal"}},
		{"relative url", HTTPSpec{URL: "/x"}, []string{"url:"}},
		{"scheme", HTTPSpec{URL: "file:///etc/passwd"}, []string{"url:"}},
		{"method", HTTPSpec{URL: "https://x", Method: "TRACE"}, []string{"method:"}},
		{"header both", HTTPSpec{URL: "https://x", Headers: []HeaderSpec{{Name: "X-A", Value: "a", ValueFile: "/f"}}}, []string{"headers[0]: exactly one"}},
		{"header name", HTTPSpec{URL: "https://x", Headers: []HeaderSpec{{Name: "X A", Value: "a"}}}, []string{"headers[0].name:"}},
		{"header crlf", HTTPSpec{URL: "https://x", Headers: []HeaderSpec{{Name: "X-A", Value: "a\r\nX-B: b"}}}, []string{"headers[0].value:"}},
		{"host header", HTTPSpec{URL: "https://x", Headers: []HeaderSpec{{Name: "host", Value: "a"}}}, []string{"headers[0].name: Host"}},
		{"body not json", HTTPSpec{URL: "https://x", Body: `{"a": {{.Incident.ID}}}`}, []string{"body: is not a JSON document"}},
		{"body template error", HTTPSpec{URL: "https://x", Body: `{"a": {"b": ["{{.Incident.ID"]}}`}, []string{"body.a.b[0]:"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.spec.Validate()
			if err == nil {
				t.Fatal("Validate succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestHTTPNon2xxFailsAndNoRedirect(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/moved" {
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
			return
		}
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer srv.Close()
	for path, status := range map[string]int{"/moved": http.StatusFound, "/fail": http.StatusInternalServerError} {
		h, err := HTTPSpec{Method: "GET", URL: srv.URL + path}.Compile(Options{})
		if err != nil {
			t.Fatal(err)
		}
		args, err := h.Plan(NewData(incident(nil), "rb", "r", "t"))
		if err != nil {
			t.Fatal(err)
		}
		if res := h.Execute(t.Context(), args); res.Err == nil || res.HTTPStatus != status {
			t.Errorf("%s: Execute = %+v, want failure with %d", path, res, status)
		}
	}
	srv.Client().CloseIdleConnections()
}
