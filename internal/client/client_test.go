package client

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/osprey-aiops/osprey"
)

// The commands are tested against a real Osprey in internal/cli; these
// tests cover what a real Osprey does not send: a proxy's error page, an
// oversized reply, a closed port.

func newTestClient(t *testing.T, h http.HandlerFunc) *Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c, err := New(srv.URL+"/prefix/", "s3cret", srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRequestShape(t *testing.T) {
	var got *http.Request
	var body string
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		got = r
		b, _ := io.ReadAll(r.Body)
		body = string(b)
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, `{"id": "a/b?c", "status": "acknowledged"}`)
	})
	inc, err := c.AckIncident(context.Background(), "a/b?c", "on it")
	if err != nil {
		t.Fatal(err)
	}
	if inc.ID != "a/b?c" || inc.Status != osprey.IncidentAcknowledged {
		t.Errorf("incident = %+v", inc)
	}
	if got.Method != http.MethodPost || got.URL.EscapedPath() != "/prefix/api/v1/incidents/a%2Fb%3Fc/ack" {
		t.Errorf("request = %s %s, want the id escaped as one segment under the prefix", got.Method, got.URL.EscapedPath())
	}
	if h := got.Header.Get("Authorization"); h != "Bearer s3cret" {
		t.Errorf("Authorization = %q", h)
	}
	if ct := got.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	if body != `{"comment":"on it"}` {
		t.Errorf("body = %s", body)
	}
}

func TestQueryParameters(t *testing.T) {
	var query string
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		query = r.URL.RawQuery
		io.WriteString(w, `{"incidents": []}`)
	})
	_, err := c.ListIncidents(context.Background(), IncidentQuery{
		Statuses: []osprey.IncidentStatus{osprey.IncidentOpen, osprey.IncidentAcknowledged}, Since: "1h", Limit: 5})
	if err != nil {
		t.Fatal(err)
	}
	if want := "limit=5&since=1h&status=open%2Cacknowledged"; query != want {
		t.Errorf("query = %q, want %q", query, want)
	}
}

func TestAPIError(t *testing.T) {
	for _, tc := range []struct {
		name    string
		code    int
		body    string
		want    string
		missing bool
	}{
		{"json", 404, `{"error": "incident \"01H\" not found"}` + "\n", `server: 404 incident "01H" not found`, true},
		{"proxy page", 502, "<html>\r\n<h1>Bad Gateway</h1></html>", "server: 502 <html>", false},
		{"empty", 503, "", "server: 503 Service Unavailable", false},
		{"long line", 500, strings.Repeat("é", 300), "server: 500 " + strings.Repeat("é", 100) + "...", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestClient(t, func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(tc.code)
				io.WriteString(w, tc.body)
			})
			_, err := c.GetIncident(context.Background(), "01H")
			var ae *APIError
			if !errors.As(err, &ae) || ae.StatusCode != tc.code {
				t.Fatalf("err = %v (%T), want an *APIError %d", err, err, tc.code)
			}
			if err.Error() != tc.want {
				t.Errorf("err = %q, want %q", err, tc.want)
			}
			if IsNotFound(err) != tc.missing {
				t.Errorf("IsNotFound = %v", !tc.missing)
			}
		})
	}
}

func TestUnexpectedSuccessStatus(t *testing.T) {
	c := newTestClient(t, func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK) // the contract says 201
		io.WriteString(w, `{}`)
	})
	if _, err := c.CommentIncident(context.Background(), "x", "hi"); err == nil || !strings.Contains(err.Error(), "server: 200") {
		t.Errorf("err = %v, want the unexpected 200 named", err)
	}
}

func TestReplyBounded(t *testing.T) {
	c := newTestClient(t, func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, `{"incidents": [`+strings.Repeat(`{"id": "x"},`, 1000)+`{"id": "y"}]}`)
	})
	c.MaxResponseBytes = 1000
	_, err := c.ListIncidents(context.Background(), IncidentQuery{})
	if err == nil || !strings.Contains(err.Error(), "larger than 1000 bytes") {
		t.Errorf("err = %v, want the bound named", err)
	}
	c.MaxResponseBytes = 0
	if incs, err := c.ListIncidents(context.Background(), IncidentQuery{}); err != nil || len(incs) != 1001 {
		t.Errorf("with the default bound: %d incidents, %v", len(incs), err)
	}
}

func TestConnError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	c, err := New("http://"+addr, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ListRuns(context.Background(), "", 0)
	var ce *ConnError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v (%T), want a *ConnError", err, err)
	}
	want := "cannot reach Osprey at http://" + addr + ": "
	if !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "refused") {
		t.Errorf("err = %q, want %q and the reason", err, want)
	}
}

func TestTimeout(t *testing.T) {
	release := make(chan struct{})
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	c.HTTP = &http.Client{Timeout: 50 * time.Millisecond}
	_, err := c.ListAnomalies(context.Background(), AnomalyQuery{})
	var ce *ConnError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "timed out") {
		t.Errorf("err = %v, want a timeout *ConnError", err)
	}
}

func TestParseBaseURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:9464":         "http://127.0.0.1:9464",
		"https://osprey.example.com/x/": "https://osprey.example.com/x",
		" http://h:1/ ":                 "http://h:1",
	} {
		u, err := ParseBaseURL(in)
		if err != nil || u.String() != want {
			t.Errorf("ParseBaseURL(%q) = %v, %v; want %s", in, u, err, want)
		}
	}
	for _, in := range []string{"127.0.0.1:9464", "ftp://h", "http://", "http://h/?a=b", "http://h/#x", "://"} {
		if _, err := ParseBaseURL(in); err == nil {
			t.Errorf("ParseBaseURL(%q) succeeded", in)
		}
	}
}

// FuzzReadError checks that any error body becomes a one-line message of
// bounded length in valid UTF-8, with no control characters.
func FuzzReadError(f *testing.F) {
	for _, s := range []string{`{"error": "x"}`, "<html>\n</html>", "", `{"error": ""}`, "\xff\xfe", `{"error": "a\nb"}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		resp := &http.Response{StatusCode: 500, Body: io.NopCloser(strings.NewReader(body))}
		err := readError(resp, "GET", "/x")
		var ae *APIError
		if !errors.As(err, &ae) {
			t.Fatalf("readError = %T", err)
		}
		msg := err.Error()
		if !utf8.ValidString(msg) {
			t.Fatalf("message %q is not valid UTF-8", msg)
		}
		if strings.ContainsFunc(msg, unicode.IsControl) || len(ae.Message) > 1003 {
			t.Fatalf("message %q is not one bounded line", msg)
		}
	})
}
