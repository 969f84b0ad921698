package alerts

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/api"
	"github.com/osprey-aiops/osprey/internal/auth"
	"github.com/osprey-aiops/osprey/internal/ingest"
	"github.com/osprey-aiops/osprey/internal/store"
	"github.com/osprey-aiops/osprey/internal/store/sqlite"
)

const (
	operatorToken = "operator-secret"
	viewerToken   = "viewer-secret"
)

// env is Osprey's HTTP API with the alert receivers mounted, over a real
// SQLite store in a temporary directory, as internal/app wires them.
type env struct {
	handler http.Handler
	store   *sqlite.Store
	stats   *ingest.Stats
	now     time.Time

	mu        sync.Mutex
	handedOff [][]osprey.Event
}

func newEnv(tb testing.TB, now string) *env {
	tb.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "osprey.db"))
	if err != nil {
		tb.Fatalf("open sqlite store: %v", err)
	}
	tb.Cleanup(func() { _ = st.Close() })
	e := &env{store: st, stats: ingest.NewStats(), now: mustTime(tb, now)}
	commit, err := ingest.NewCommitter(ingest.CommitterOptions{
		Store: st,
		Next: osprey.EventConsumerFunc(func(_ context.Context, batch []osprey.Event) error {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.handedOff = append(e.handedOff, batch)
			return nil
		}),
	})
	if err != nil {
		tb.Fatal(err)
	}
	recv, err := New(Options{Events: commit, Stats: e.stats, Limits: testLimits, Now: func() time.Time { return e.now }})
	if err != nil {
		tb.Fatal(err)
	}
	a, err := api.New(api.Options{
		Store:      st,
		Ingest:     commit,
		Stats:      e.stats,
		Routes:     recv.Routes(),
		Limits:     testLimits,
		Now:        func() time.Time { return e.now },
		Registerer: prometheus.NewPedanticRegistry(),
		Auth: auth.New([]auth.Token{
			{Name: "prometheus", Role: auth.RoleOperator, Hash: auth.HashToken(operatorToken)},
			{Name: "grafana", Role: auth.RoleViewer, Hash: auth.HashToken(viewerToken)},
		}),
	})
	if err != nil {
		tb.Fatal(err)
	}
	e.handler = a
	return e
}

// request is one HTTP request of a test.
type request struct {
	method, path, body string
	header             map[string]string // on top of the operator token and JSON
	chunked            bool              // send without Content-Length
}

func (e *env) do(r request) *httptest.ResponseRecorder {
	var body io.Reader = strings.NewReader(r.body)
	if r.chunked {
		body = io.MultiReader(body) // hides the length from httptest
	}
	req := httptest.NewRequest(r.method, r.path, body)
	req.Header.Set("Authorization", "Bearer "+operatorToken)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range r.header {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	rec := httptest.NewRecorder()
	e.handler.ServeHTTP(rec, req)
	return rec
}

func (e *env) stored(tb testing.TB) []osprey.Event {
	tb.Helper()
	evs, err := e.store.ListEvents(context.Background(), store.EventQuery{Limit: store.MaxLimit, OldestFirst: true})
	if err != nil {
		tb.Fatal(err)
	}
	return evs
}

func TestReceiversServe(t *testing.T) {
	tests := []struct {
		name       string
		req        request
		wantCode   int
		wantBody   string // exact, for the empty v2 reply; else a substring
		wantStored []string
		wantSource string
		receiver   string
		wantCounts ingest.ReceiverSnapshot // only the fields set are compared
	}{
		{
			name: "prometheus v2",
			req: request{method: "POST", path: "/api/v2/alerts", body: string(fixture(t, "prometheus-2.42-v2-firing-and-resolved.json")),
				header: map[string]string{"User-Agent": "Prometheus/2.42.0+ds"}},
			wantCode: 200, wantBody: "", wantStored: []string{"CheckoutDown", "Flapping"}, wantSource: "prometheus",
			receiver:   ReceiverAlertmanagerV2,
			wantCounts: ingest.ReceiverSnapshot{Requests: ingest.RequestCounts{Accepted: 1}, Items: ingest.ItemCounts{Accepted: 2}},
		},
		{
			name:     "alertmanager webhook",
			req:      request{method: "POST", path: "/api/v1/alerts/alertmanager", body: string(fixture(t, "alertmanager-0.25-webhook-firing-and-resolved.json"))},
			wantCode: 202, wantBody: `{"ids":[`, wantStored: []string{"CheckoutDown", "Flapping"}, wantSource: "alertmanager",
			receiver:   ReceiverAlertmanagerWebhook,
			wantCounts: ingest.ReceiverSnapshot{Requests: ingest.RequestCounts{Accepted: 1}, Items: ingest.ItemCounts{Accepted: 2}},
		},
		{
			name:     "grafana webhook, PUT",
			req:      request{method: "PUT", path: "/api/v1/alerts/grafana", body: string(fixture(t, "grafana-11-webhook-resolved.json"))},
			wantCode: 202, wantBody: `{"ids":[`, wantStored: []string{"DatasourceNoData"}, wantSource: "grafana",
			receiver:   ReceiverGrafanaWebhook,
			wantCounts: ingest.ReceiverSnapshot{Requests: ingest.RequestCounts{Accepted: 1}, Items: ingest.ItemCounts{Accepted: 1}},
		},
		{
			name:     "empty v2 batch",
			req:      request{method: "POST", path: "/api/v2/alerts", body: `[]`},
			wantCode: 200, wantBody: "", receiver: ReceiverAlertmanagerV2,
			wantCounts: ingest.ReceiverSnapshot{Requests: ingest.RequestCounts{Accepted: 1}},
		},
		{
			name: "partial batch: the valid alerts are stored, 400 lists the others",
			req: request{method: "POST", path: "/api/v2/alerts",
				body: `[{"labels": {"alertname": "A", "severity": "sev9"}}, {"labels": {"no": "name"}}, {"labels": 1}]`},
			wantCode: 400, wantBody: `"rejected":[{"index":1,"reason":"invalid"`, wantStored: []string{"A"}, wantSource: defaultV2Source,
			receiver: ReceiverAlertmanagerV2,
			wantCounts: ingest.ReceiverSnapshot{Requests: ingest.RequestCounts{Partial: 1}, Items: ingest.ItemCounts{Accepted: 1, Rejected: 2},
				Rejected: map[ingest.Reason]uint64{ingest.ReasonInvalid: 1, ingest.ReasonMalformed: 1},
				Warnings: map[ingest.Warning]uint64{ingest.WarnUnknownSeverity: 1}},
		},
		{
			name: "alerts the sender truncated are counted",
			req: request{method: "POST", path: "/api/v1/alerts/alertmanager",
				body: `{"version": "4", "truncatedAlerts": 5, "alerts": [{"status": "firing", "labels": {"alertname": "A"}}]}`},
			wantCode: 202, wantBody: `{"ids":[`, wantStored: []string{"A"}, wantSource: "alertmanager",
			receiver:   ReceiverAlertmanagerWebhook,
			wantCounts: ingest.ReceiverSnapshot{Warnings: map[ingest.Warning]uint64{ingest.WarnTruncated: 5}},
		},
		{
			name:     "nothing valid",
			req:      request{method: "POST", path: "/api/v1/alerts/alertmanager", body: `{"alerts": [{"labels": {}}]}`},
			wantCode: 400, wantBody: `"ids":[]`, receiver: ReceiverAlertmanagerWebhook,
			wantCounts: ingest.ReceiverSnapshot{Requests: ingest.RequestCounts{Rejected: 1}, Items: ingest.ItemCounts{Rejected: 1}},
		},
		{
			name:     "malformed",
			req:      request{method: "POST", path: "/api/v1/alerts/grafana", body: `{"alerts": [`},
			wantCode: 400, wantBody: `{"error":"`, receiver: ReceiverGrafanaWebhook,
			wantCounts: ingest.ReceiverSnapshot{Requests: ingest.RequestCounts{Rejected: 1},
				Rejected: map[ingest.Reason]uint64{ingest.ReasonMalformed: 1}},
		},
		{
			name:     "form post",
			req:      request{method: "POST", path: "/api/v2/alerts", body: `[]`, header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}},
			wantCode: 415, wantBody: "send application/json", receiver: ReceiverAlertmanagerV2,
			wantCounts: ingest.ReceiverSnapshot{Rejected: map[ingest.Reason]uint64{ingest.ReasonMediaType: 1}},
		},
		{
			name:     "no Content-Type is JSON",
			req:      request{method: "POST", path: "/api/v2/alerts", body: `[]`, header: map[string]string{"Content-Type": ""}},
			wantCode: 200, receiver: ReceiverAlertmanagerV2,
		},
		{
			name:     "gzip",
			req:      request{method: "POST", path: "/api/v2/alerts", body: `[]`, header: map[string]string{"Content-Encoding": "gzip"}},
			wantCode: 415, wantBody: "uncompressed", receiver: ReceiverAlertmanagerV2,
		},
		{
			name:     "too large by Content-Length",
			req:      request{method: "POST", path: "/api/v2/alerts", body: `[` + strings.Repeat(" ", int(testLimits.MaxBodyBytes)) + `]`},
			wantCode: 413, wantBody: "larger than 65536 bytes", receiver: ReceiverAlertmanagerV2,
			wantCounts: ingest.ReceiverSnapshot{Rejected: map[ingest.Reason]uint64{ingest.ReasonTooLarge: 1}},
		},
		{
			name:     "too large, chunked",
			req:      request{method: "POST", path: "/api/v2/alerts", body: `[` + strings.Repeat(" ", int(testLimits.MaxBodyBytes)) + `]`, chunked: true},
			wantCode: 413, wantBody: "larger than 65536 bytes", receiver: ReceiverAlertmanagerV2,
		},
		{
			name:     "no token",
			req:      request{method: "POST", path: "/api/v2/alerts", body: `[]`, header: map[string]string{"Authorization": ""}},
			wantCode: 401, receiver: ReceiverAlertmanagerV2,
			wantCounts: ingest.ReceiverSnapshot{Rejected: map[ingest.Reason]uint64{ingest.ReasonUnauthorized: 1}},
		},
		{
			name:     "viewer token",
			req:      request{method: "POST", path: "/api/v1/alerts/grafana", body: `{}`, header: map[string]string{"Authorization": "Bearer " + viewerToken}},
			wantCode: 403, receiver: ReceiverGrafanaWebhook,
			wantCounts: ingest.ReceiverSnapshot{Rejected: map[ingest.Reason]uint64{ingest.ReasonForbidden: 1}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, "2026-11-26T04:35:56Z")
			rec := e.do(tt.req)
			if rec.Code != tt.wantCode {
				t.Fatalf("code = %d, want %d; body %s", rec.Code, tt.wantCode, rec.Body)
			}
			if tt.wantBody == "" && tt.wantCode == 200 {
				if rec.Body.Len() != 0 {
					t.Errorf("body %q, want none", rec.Body)
				}
			} else if !strings.Contains(rec.Body.String(), tt.wantBody) {
				t.Errorf("body %s does not contain %s", rec.Body, tt.wantBody)
			}
			stored := e.stored(t)
			if len(stored) != len(tt.wantStored) {
				t.Fatalf("stored %d events, want %v", len(stored), tt.wantStored)
			}
			for i, ev := range stored {
				if ev.Name != tt.wantStored[i] || ev.Source != tt.wantSource || ev.Seq == 0 {
					t.Errorf("stored[%d] = %s from %q seq %d, want %s from %q", i, ev.Name, ev.Source, ev.Seq, tt.wantStored[i], tt.wantSource)
				}
			}
			if len(stored) > 0 {
				if len(e.handedOff) != 1 || len(e.handedOff[0]) != len(stored) {
					t.Errorf("handed off %d batches, want one of %d events", len(e.handedOff), len(stored))
				}
				checkIDs(t, rec, stored)
			} else if len(e.handedOff) != 0 {
				t.Errorf("handed off %d batches of nothing", len(e.handedOff))
			}
			if rec.Code >= 400 {
				var body ingest.ErrorBody
				if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error == "" {
					t.Errorf("error reply %s is not the API's error shape: %v", rec.Body, err)
				}
			}
			checkCounts(t, e.stats.Snapshot()[tt.receiver], tt.wantCounts)
		})
	}
}

// checkIDs checks that a reply's ids, where it has them, are the stored
// events'.
func checkIDs(t *testing.T, rec *httptest.ResponseRecorder, stored []osprey.Event) {
	t.Helper()
	if rec.Body.Len() == 0 {
		return
	}
	var reply struct {
		IDs []string `json:"ids"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &reply); err != nil {
		t.Fatalf("decode reply %s: %v", rec.Body, err)
	}
	if len(reply.IDs) != len(stored) {
		t.Fatalf("reply ids %v, stored %d", reply.IDs, len(stored))
	}
	for i := range stored {
		if reply.IDs[i] != stored[i].ID {
			t.Errorf("ids[%d] = %s, stored %s", i, reply.IDs[i], stored[i].ID)
		}
	}
}

// checkCount compares the counters that want sets.
func checkCounts(t *testing.T, got, want ingest.ReceiverSnapshot) {
	t.Helper()
	if want.Requests != (ingest.RequestCounts{}) && got.Requests != want.Requests {
		t.Errorf("requests = %+v, want %+v", got.Requests, want.Requests)
	}
	if want.Items != (ingest.ItemCounts{}) && got.Items != want.Items {
		t.Errorf("items = %+v, want %+v", got.Items, want.Items)
	}
	for r, n := range want.Rejected {
		if got.Rejected[r] != n {
			t.Errorf("rejected[%s] = %d, want %d", r, got.Rejected[r], n)
		}
	}
	for w, n := range want.Warnings {
		if got.Warnings[w] != n {
			t.Errorf("warnings[%s] = %d, want %d", w, got.Warnings[w], n)
		}
	}
}

// TestReceiversStoreDown checks that a store failure stores nothing, replies
// 503 so that Alertmanager and Grafana retry, and is counted.
func TestReceiversStoreDown(t *testing.T) {
	e := newEnv(t, "2026-11-26T04:35:56Z")
	if err := e.store.Close(); err != nil {
		t.Fatal(err)
	}
	rec := e.do(request{method: "POST", path: "/api/v1/alerts/alertmanager", body: string(fixture(t, "alertmanager-0.25-webhook-firing.json"))})
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "nothing was accepted") {
		t.Fatalf("reply %d %s, want 503", rec.Code, rec.Body)
	}
	if len(e.handedOff) != 0 {
		t.Errorf("handed off %d batches after a store failure", len(e.handedOff))
	}
	checkCounts(t, e.stats.Snapshot()[ReceiverAlertmanagerWebhook], ingest.ReceiverSnapshot{
		Requests: ingest.RequestCounts{Rejected: 1}, Items: ingest.ItemCounts{Rejected: 2},
		Rejected: map[ingest.Reason]uint64{ingest.ReasonStore: 2}})
}

// TestReceiversRedelivery checks that an alert delivered again (Prometheus
// re-sends firing alerts; Alertmanager repeats notifications) is stored as a
// new event with the same fingerprint, which the correlator counts into the
// same member.
func TestReceiversRedelivery(t *testing.T) {
	e := newEnv(t, "2026-11-26T04:35:56Z")
	body := string(fixture(t, "prometheus-2.42-v2-firing-and-resolved.json"))
	for range 2 {
		if rec := e.do(request{method: "POST", path: "/api/v2/alerts", body: body}); rec.Code != 200 {
			t.Fatalf("code %d: %s", rec.Code, rec.Body)
		}
	}
	stored := e.stored(t)
	if len(stored) != 4 || stored[0].Fingerprint != stored[2].Fingerprint || stored[0].ID == stored[2].ID {
		t.Errorf("stored %+v", stored)
	}
}

func TestStatusEndpoint(t *testing.T) {
	e := newEnv(t, "2026-11-26T04:35:56Z")
	e.do(request{method: "POST", path: "/api/v2/alerts", body: string(fixture(t, "prometheus-2.42-v2-resolved.json"))})
	rec := e.do(request{method: "GET", path: "/api/v1/status/ingest", header: map[string]string{"Authorization": "Bearer " + viewerToken}})
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	var body ingest.StatusResponse
	dec := json.NewDecoder(bytes.NewReader(rec.Body.Bytes()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{ReceiverAlertmanagerV2, ReceiverAlertmanagerWebhook, ReceiverGrafanaWebhook, "events_api"} {
		if _, ok := body.Receivers[name]; !ok {
			t.Errorf("status has no receiver %s: %s", name, rec.Body)
		}
	}
	if got := body.Receivers[ReceiverAlertmanagerV2].Items.Accepted; got != 1 {
		t.Errorf("alertmanager_v2 accepted %d, want 1", got)
	}
}

func TestNewOptions(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Error("New without an event consumer succeeded")
	}
	consumer := osprey.EventConsumerFunc(func(context.Context, []osprey.Event) error { return errors.New("unused") })
	if _, err := New(Options{Events: consumer, Limits: testLimits, Stats: nil}); err != nil {
		t.Errorf("New = %v", err)
	}
	bad := testLimits
	bad.MaxBodyBytes = -1
	if _, err := New(Options{Events: consumer, Limits: bad}); err == nil {
		t.Error("New with a negative limit succeeded")
	}
}
