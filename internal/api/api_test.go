package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/auth"
	"github.com/osprey-aiops/osprey/internal/config"
	"github.com/osprey-aiops/osprey/internal/store"
	"github.com/osprey-aiops/osprey/internal/store/sqlite"
)

// Tokens of the tests that enable authentication.
const (
	viewerToken   = "viewer-secret"
	operatorToken = "operator-secret"
)

var testTokens = []auth.Token{
	{Name: "grafana", Role: auth.RoleViewer, Hash: auth.HashToken(viewerToken)},
	{Name: "alertmanager", Role: auth.RoleOperator, Hash: auth.HashToken(operatorToken)},
}

// env is an API over a real SQLite store in a temporary directory.
type env struct {
	api   *API
	store *sqlite.Store
	path  string
	reg   *prometheus.Registry
	clock *clock
	// handedOff collects the batches given to Options.Events.
	mu        sync.Mutex
	handedOff [][]osprey.Event
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// envOption changes the Options of a test API.
type envOption func(*Options)

func withTokens(o *Options) { o.Auth = auth.New(testTokens) }

func withHandoff(fn func(ctx context.Context, batch []osprey.Event) error) envOption {
	return func(o *Options) { o.Events = osprey.EventConsumerFunc(fn) }
}

func newEnv(tb testing.TB, opts ...envOption) *env {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "osprey.db")
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		tb.Fatalf("open sqlite store: %v", err)
	}
	tb.Cleanup(func() { _ = st.Close() })
	e := &env{store: st, path: path, reg: prometheus.NewPedanticRegistry(), clock: &clock{t: testNow}}
	o := Options{
		Store: st,
		Events: osprey.EventConsumerFunc(func(_ context.Context, batch []osprey.Event) error {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.handedOff = append(e.handedOff, batch)
			return nil
		}),
		Auth:       auth.New(nil),
		Limits:     testLimits,
		Now:        e.clock.Now,
		Registerer: e.reg,
		Gatherer:   e.reg,
	}
	for _, opt := range opts {
		opt(&o)
	}
	if e.api, err = New(o); err != nil {
		tb.Fatalf("New() = %v", err)
	}
	return e
}

// do serves one request and returns the recorded reply.
func (e *env) do(method, target, body string, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	e.api.ServeHTTP(rec, req)
	return rec
}

// stored returns every stored event, newest first.
func (e *env) stored(tb testing.TB) []osprey.Event {
	tb.Helper()
	events, err := e.store.ListEvents(context.Background(), store.EventQuery{Limit: store.MaxLimit})
	if err != nil {
		tb.Fatalf("list stored events: %v", err)
	}
	return events
}

// errorReply decodes a JSON error body, failing the test if it is not one.
func errorReply(tb testing.TB, rec *httptest.ResponseRecorder) errorBody {
	tb.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		tb.Errorf("error Content-Type = %q, want application/json", ct)
	}
	var body errorBody
	dec := json.NewDecoder(rec.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil || body.Error == "" {
		tb.Fatalf("reply %d is not a JSON error: %v", rec.Code, err)
	}
	return body
}

// bearer returns the header pair that presents token.
func bearer(token string) []string { return []string{"Authorization", "Bearer " + token} }

func TestHealthAndRouting(t *testing.T) {
	notReady := func(o *Options) { o.Ready = func(context.Context) error { return errors.New("database is locked") } }
	tests := []struct {
		name      string
		opts      []envOption
		method    string
		target    string
		wantCode  int
		wantBody  string // substring
		wantAllow string
	}{
		{name: "healthz", method: "GET", target: "/healthz", wantCode: 200, wantBody: "ok"},
		{name: "healthz with tokens", opts: []envOption{withTokens}, method: "GET", target: "/healthz", wantCode: 200, wantBody: "ok"},
		{name: "readyz", method: "GET", target: "/readyz", wantCode: 200, wantBody: "ok"},
		{name: "not ready", opts: []envOption{notReady}, method: "GET", target: "/readyz", wantCode: 503,
			wantBody: `"error":"not ready: database is locked"`},
		{name: "metrics", opts: []envOption{withTokens}, method: "GET", target: "/metrics", wantCode: 200,
			wantBody: "osprey_auth_failures_total"},
		{name: "no gatherer", opts: []envOption{func(o *Options) { o.Gatherer = nil }}, method: "GET", target: "/metrics",
			wantCode: 404, wantBody: `"error":"no route for GET /metrics"`},
		{name: "unknown route", method: "GET", target: "/api/v2/events", wantCode: 404, wantBody: `"error":"no route`},
		{name: "wrong method", method: "DELETE", target: "/api/v1/events", wantCode: 405,
			wantBody: `"error":"method DELETE not allowed`, wantAllow: "GET, HEAD, POST"},
		{name: "post to incidents", method: "POST", target: "/api/v1/incidents", wantCode: 405,
			wantBody: `"error":"method POST not allowed`, wantAllow: "GET, HEAD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.opts...)
			rec := e.do(tt.method, tt.target, "")
			if rec.Code != tt.wantCode {
				t.Fatalf("code = %d, want %d; body %s", rec.Code, tt.wantCode, rec.Body)
			}
			if !strings.Contains(rec.Body.String(), tt.wantBody) {
				t.Errorf("body %q does not contain %q", rec.Body, tt.wantBody)
			}
			if rec.Code >= 400 {
				errorReply(t, rec)
			}
			if got := rec.Header().Get("Allow"); got != tt.wantAllow {
				t.Errorf("Allow = %q, want %q", got, tt.wantAllow)
			}
		})
	}
}

func TestNew(t *testing.T) {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "osprey.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	authn := auth.New(nil)
	shared := prometheus.NewRegistry()
	if _, err := New(Options{Store: st, Auth: authn, Registerer: shared}); err != nil {
		t.Fatalf("first API: %v", err)
	}
	tests := []struct {
		name    string
		opts    Options
		wantErr string
	}{
		{name: "no store", opts: Options{Auth: authn}, wantErr: "no store"},
		{name: "no auth", opts: Options{Store: st}, wantErr: "no authenticator"},
		{name: "negative limit", opts: Options{Store: st, Auth: authn, Limits: config.ServerConfig{MaxBodyBytes: -1}},
			wantErr: "negative"},
		{name: "registered twice", opts: Options{Store: st, Auth: authn, Registerer: shared}, wantErr: "register"},
		{name: "minimal", opts: Options{Store: st, Auth: authn}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := New(tt.opts)
			if tt.wantErr == "" {
				if err != nil || a == nil {
					t.Fatalf("New() = %v, %v", a, err)
				}
				d := config.Default().Server
				if a.limits.MaxBodyBytes != d.MaxBodyBytes || a.limits.MaxEventsPerRequest != d.MaxEventsPerRequest ||
					a.limits.MaxLabelsPerEvent != d.MaxLabelsPerEvent || a.limits.MaxLabelValueBytes != d.MaxLabelValueBytes {
					t.Errorf("zero limits not defaulted: %+v", a.limits)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("New() error = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestReadsStoreDown(t *testing.T) {
	e := newEnv(t)
	if err := e.store.Close(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		target  string
		wantErr string
	}{
		{"/readyz", "not ready"},
		{"/api/v1/events", "list events: storage is unavailable"},
		{"/api/v1/incidents", "list incidents: storage is unavailable"},
		{"/api/v1/incidents/01JOPEN0000000000000000000", "get incident: storage is unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			rec := e.do("GET", tt.target, "")
			if rec.Code != 503 {
				t.Fatalf("code = %d, want 503; body %s", rec.Code, rec.Body)
			}
			if body := errorReply(t, rec); !strings.Contains(body.Error, tt.wantErr) {
				t.Errorf("error %q does not contain %q", body.Error, tt.wantErr)
			}
		})
	}
}
