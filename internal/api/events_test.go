package api

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/config"
	"github.com/osprey-aiops/osprey/internal/store"
	"github.com/osprey-aiops/osprey/internal/store/sqlite"
)

func TestPostEvents(t *testing.T) {
	const ctJSON = "application/json"
	tests := []struct {
		name        string
		opts        []envOption
		contentType string // "" sends none
		token       string // "" sends none
		body        string
		wantCode    int
		wantIDs     int    // on 202
		wantErr     string // substring, on errors
		wantIndex   int    // -1: no index in the reply
		wantReason  string // osprey_events_rejected_total reason counted
		wantHandoff bool
	}{
		{name: "one event", contentType: ctJSON, body: `[{"name": "HighLatency", "labels": {"service": "checkout"}}]`,
			wantCode: 202, wantIDs: 1, wantHandoff: true},
		{name: "batch", contentType: ctJSON, body: `[{"name": "a"}, {"name": "b", "source": "grafana"}, {"name": "c", "status": "resolved"}]`,
			wantCode: 202, wantIDs: 3, wantHandoff: true},
		{name: "no content type", body: `[{"name": "a"}]`, wantCode: 202, wantIDs: 1, wantHandoff: true},
		{name: "utf-8 charset", contentType: "application/json; charset=utf-8", body: `[{"name": "a"}]`,
			wantCode: 202, wantIDs: 1, wantHandoff: true},
		{name: "no event consumer", opts: []envOption{func(o *Options) { o.Events = nil }}, contentType: ctJSON,
			body: `[{"name": "a"}]`, wantCode: 202, wantIDs: 1},
		{name: "form post", contentType: "application/x-www-form-urlencoded", body: `[{"name": "a"}]`,
			wantCode: 415, wantErr: "application/json", wantIndex: -1, wantReason: reasonMediaType},
		{name: "not JSON", contentType: ctJSON, body: `name=a`,
			wantCode: 400, wantErr: "invalid JSON", wantIndex: -1, wantReason: reasonMalformed},
		{name: "not an array", contentType: ctJSON, body: `{"name": "a"}`,
			wantCode: 400, wantErr: "JSON array", wantIndex: -1, wantReason: reasonMalformed},
		{name: "empty array", contentType: ctJSON, body: `[]`,
			wantCode: 400, wantErr: "no events", wantIndex: -1, wantReason: reasonEmpty},
		{name: "unknown field", contentType: ctJSON, body: `[{"name": "a"}, {"name": "b", "id": "x"}]`,
			wantCode: 400, wantErr: `events[1]: unknown field "id"`, wantIndex: 1, wantReason: reasonMalformed},
		{name: "last element invalid", contentType: ctJSON, body: `[{"name": "a"}, {"name": "b"}, {"name": "c", "severity": "meh"}]`,
			wantCode: 400, wantErr: "events[2]: severity", wantIndex: 2, wantReason: reasonInvalid},
		{name: "NUL in label value", contentType: ctJSON, body: `[{"name": "a", "labels": {"service": "x\u0000y"}}]`,
			wantCode: 400, wantErr: "NUL", wantIndex: 0, wantReason: reasonInvalid},
		{name: "NUL in annotation", contentType: ctJSON, body: `[{"name": "a"}, {"name": "b", "annotations": {"summary": "\u0000"}}]`,
			wantCode: 400, wantErr: "NUL", wantIndex: 1, wantReason: reasonInvalid},
		{name: "NUL in name", contentType: ctJSON, body: `[{"name": "a\u0000"}]`,
			wantCode: 400, wantErr: "name: contains a NUL", wantIndex: 0, wantReason: reasonInvalid},
		{name: "bad label name", contentType: ctJSON, body: `[{"name": "a", "labels": {"kube-pod": "x"}}]`,
			wantCode: 400, wantErr: "invalid label name", wantIndex: 0, wantReason: reasonInvalid},
		{name: "too many events", contentType: ctJSON, body: `[{"name": "a"}, {"name": "b"}, {"name": "c"}, {"name": "d"}]`,
			wantCode: 413, wantErr: "more than 3 events", wantIndex: 3, wantReason: reasonTooMany},
		{name: "body too large", contentType: ctJSON, body: `[{"name": "a", "annotations": {"a": "` + strings.Repeat("x", 5000) + `"}}]`,
			wantCode: 413, wantErr: "larger than 4096 bytes", wantIndex: -1, wantReason: reasonTooLarge},
		{name: "hand-off fails", contentType: ctJSON, body: `[{"name": "a"}, {"name": "b"}]`,
			opts: []envOption{withHandoff(func(context.Context, []osprey.Event) error {
				return errors.New("bus queue full")
			})},
			wantCode: 202, wantIDs: 2},
		{name: "no token", opts: []envOption{withTokens}, contentType: ctJSON, body: `[{"name": "a"}]`,
			wantCode: 401, wantErr: "missing bearer token", wantIndex: -1, wantReason: reasonUnauthorized},
		{name: "unknown token", opts: []envOption{withTokens}, token: "guess", contentType: ctJSON, body: `[{"name": "a"}]`,
			wantCode: 401, wantErr: "unknown token", wantIndex: -1, wantReason: reasonUnauthorized},
		{name: "viewer token", opts: []envOption{withTokens}, token: viewerToken, contentType: ctJSON, body: `[{"name": "a"}]`,
			wantCode: 403, wantErr: "role operator required", wantIndex: -1, wantReason: reasonForbidden},
		{name: "operator token", opts: []envOption{withTokens}, token: operatorToken, contentType: ctJSON, body: `[{"name": "a"}]`,
			wantCode: 202, wantIDs: 1, wantHandoff: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.opts...)
			var header []string
			if tt.contentType != "" {
				header = append(header, "Content-Type", tt.contentType)
			}
			if tt.token != "" {
				header = append(header, bearer(tt.token)...)
			}
			rec := e.do(http.MethodPost, "/api/v1/events", tt.body, header...)
			if rec.Code != tt.wantCode {
				t.Fatalf("code = %d, want %d; body %s", rec.Code, tt.wantCode, rec.Body)
			}
			stored := e.stored(t)

			if tt.wantCode != http.StatusAccepted {
				body := errorReply(t, rec)
				if !strings.Contains(body.Error, tt.wantErr) {
					t.Errorf("error %q does not contain %q", body.Error, tt.wantErr)
				}
				switch {
				case tt.wantIndex < 0 && body.Index != nil:
					t.Errorf("reply has index %d, want none", *body.Index)
				case tt.wantIndex >= 0 && (body.Index == nil || *body.Index != tt.wantIndex):
					t.Errorf("reply index = %v, want %d", body.Index, tt.wantIndex)
				}
				if tt.wantCode == http.StatusUnauthorized && !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("401 without a Bearer challenge: %q", rec.Header().Get("WWW-Authenticate"))
				}
				if len(stored) != 0 {
					t.Errorf("a rejected request stored %d events", len(stored))
				}
				if len(e.handedOff) != 0 {
					t.Errorf("a rejected request handed off %d batches", len(e.handedOff))
				}
				if n := testutil.ToFloat64(e.api.metrics.rejected.WithLabelValues(tt.wantReason)); n != 1 {
					t.Errorf("events_rejected_total{reason=%q} = %v, want 1", tt.wantReason, n)
				}
				return
			}

			var reply idsResponse
			if err := json.Unmarshal(rec.Body.Bytes(), &reply); err != nil {
				t.Fatalf("reply %s: %v", rec.Body, err)
			}
			if len(reply.IDs) != tt.wantIDs || len(stored) != tt.wantIDs {
				t.Fatalf("%d IDs, %d stored; want %d", len(reply.IDs), len(stored), tt.wantIDs)
			}
			// The reply is in request order, which is commit order.
			slices.SortFunc(stored, func(a, b osprey.Event) int { return cmp.Compare(a.Seq, b.Seq) })
			for i, ev := range stored {
				if ev.ID != reply.IDs[i] {
					t.Errorf("stored event %d has ID %s, reply says %s", i, ev.ID, reply.IDs[i])
				}
				if ev.Seq == 0 || !ev.ReceivedAt.Equal(testNow) || ev.Fingerprint != osprey.EventFingerprint(ev.Name, ev.Labels) {
					t.Errorf("stored event %d not filled in: %+v", i, ev)
				}
			}
			if tt.wantHandoff {
				if len(e.handedOff) != 1 || len(e.handedOff[0]) != tt.wantIDs {
					t.Fatalf("handed off %v, want one batch of %d", e.handedOff, tt.wantIDs)
				}
				for i, ev := range e.handedOff[0] {
					if ev.ID != reply.IDs[i] || ev.Seq != stored[i].Seq {
						t.Errorf("handed-off event %d = %s seq %d, want %s seq %d", i, ev.ID, ev.Seq, reply.IDs[i], stored[i].Seq)
					}
				}
			}
			wantFailures := 0.0
			if tt.name == "hand-off fails" {
				wantFailures = 1
			}
			if n := gatheredValue(t, e.reg, "osprey_events_handoff_failures_total"); n != wantFailures {
				t.Errorf("handoff failures = %v, want %v", n, wantFailures)
			}
		})
	}
}

func TestPostEventsStoreDown(t *testing.T) {
	e := newEnv(t)
	if err := e.store.Close(); err != nil {
		t.Fatal(err)
	}
	rec := e.do(http.MethodPost, "/api/v1/events", `[{"name": "a"}]`)
	if rec.Code != http.StatusServiceUnavailable && rec.Code != http.StatusInternalServerError {
		t.Fatalf("code = %d, want 503 or 500; body %s", rec.Code, rec.Body)
	}
	if body := errorReply(t, rec); !strings.Contains(body.Error, "nothing was accepted") {
		t.Errorf("error = %q", body.Error)
	}
	if len(e.handedOff) != 0 {
		t.Errorf("events not stored were handed off")
	}
	if n := testutil.ToFloat64(e.api.metrics.rejected.WithLabelValues(reasonStore)); n != 1 {
		t.Errorf("events_rejected_total{reason=store_error} = %v, want 1", n)
	}
	st, err := sqlite.Open(context.Background(), e.path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if events, err := st.ListEvents(context.Background(), store.EventQuery{}); err != nil || len(events) != 0 {
		t.Errorf("after a failed request the store holds %d events (%v)", len(events), err)
	}
}

func TestPostEventsConsumerPanics(t *testing.T) {
	e := newEnv(t, withHandoff(func(context.Context, []osprey.Event) error { panic("boom") }))
	rec := e.do(http.MethodPost, "/api/v1/events", `[{"name": "a"}]`)
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("code = %d, want 500", rec.Code)
	}
	errorReply(t, rec)
	if n := testutil.ToFloat64(e.api.metrics.requests.WithLabelValues(routePostEvents, "500")); n != 1 {
		t.Errorf("requests{code=500} = %v, want 1", n)
	}
}

// ingest posts events one request each, a minute apart on the test clock, and
// returns their IDs in order.
func (e *env) ingest(tb testing.TB, names ...string) []string {
	tb.Helper()
	var ids []string
	for _, n := range names {
		rec := e.do(http.MethodPost, "/api/v1/events", fmt.Sprintf(`[{"name": %q}]`, n), bearer(operatorToken)...)
		if rec.Code != http.StatusAccepted {
			tb.Fatalf("ingest %s: %d %s", n, rec.Code, rec.Body)
		}
		var reply idsResponse
		if err := json.Unmarshal(rec.Body.Bytes(), &reply); err != nil {
			tb.Fatal(err)
		}
		ids = append(ids, reply.IDs...)
		e.clock.Advance(time.Minute)
	}
	return ids
}

func TestListEvents(t *testing.T) {
	e := newEnv(t, withTokens)
	ids := e.ingest(t, "a", "b", "c", "d") // received at testNow + 0, 1, 2, 3 minutes
	e.clock.Advance(-time.Minute)          // now = testNow + 3m
	slices.Reverse(ids)                    // newest first

	tests := []struct {
		name     string
		query    string
		token    string
		wantCode int
		wantIDs  []string
		wantErr  string
	}{
		{name: "all", token: viewerToken, wantCode: 200, wantIDs: ids},
		{name: "operator reads", token: operatorToken, wantCode: 200, wantIDs: ids},
		{name: "limit", query: "?limit=2", token: viewerToken, wantCode: 200, wantIDs: ids[:2]},
		{name: "since duration", query: "?since=90s", token: viewerToken, wantCode: 200, wantIDs: ids[:2]},
		{name: "since time", query: "?since=" + testNow.Add(time.Minute).Format(time.RFC3339), token: viewerToken,
			wantCode: 200, wantIDs: ids[:3]},
		{name: "since in the future", query: "?since=2030-01-01T00:00:00Z", token: viewerToken, wantCode: 200, wantIDs: []string{}},
		{name: "bad limit", query: "?limit=-1", token: viewerToken, wantCode: 400, wantErr: "limit"},
		{name: "bad since", query: "?since=last+week", token: viewerToken, wantCode: 400, wantErr: "since"},
		{name: "unknown parameter", query: "?limt=3", token: viewerToken, wantCode: 400, wantErr: `"limt"`},
		{name: "repeated parameter", query: "?limit=3&limit=4", token: viewerToken, wantCode: 400, wantErr: "limit"},
		{name: "no token", wantCode: 401, wantErr: "missing bearer token"},
		{name: "unknown token", token: "guess", wantCode: 401, wantErr: "unknown token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var header []string
			if tt.token != "" {
				header = bearer(tt.token)
			}
			rec := e.do(http.MethodGet, "/api/v1/events"+tt.query, "", header...)
			if rec.Code != tt.wantCode {
				t.Fatalf("code = %d, want %d; body %s", rec.Code, tt.wantCode, rec.Body)
			}
			if tt.wantCode != http.StatusOK {
				if body := errorReply(t, rec); !strings.Contains(body.Error, tt.wantErr) {
					t.Errorf("error %q does not contain %q", body.Error, tt.wantErr)
				}
				return
			}
			var reply struct{ Events []osprey.Event }
			if err := json.Unmarshal(rec.Body.Bytes(), &reply); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(rec.Body.String(), `"events":[`) {
				t.Errorf("reply %s has no events array", rec.Body)
			}
			got := make([]string, len(reply.Events))
			for i, ev := range reply.Events {
				got[i] = ev.ID
			}
			if !slices.Equal(got, tt.wantIDs) {
				t.Errorf("IDs = %v, want %v", got, tt.wantIDs)
			}
		})
	}
}

// BenchmarkIngestEvents measures POST /api/v1/events through the whole handler
// (routing, auth, decoding, validation, SQLite commit, hand-off, reply) with no
// network.
func BenchmarkIngestEvents(b *testing.B) {
	for _, n := range []int{1, 100} {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			e := newEnv(b, withTokens, func(o *Options) {
				o.Limits = config.Default().Server
				o.Now = time.Now
				o.Events = osprey.EventConsumerFunc(func(context.Context, []osprey.Event) error { return nil })
			})
			body := benchBody(n)
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPost, "/api/v1/events", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+operatorToken)
				rec := httptest.NewRecorder()
				e.api.ServeHTTP(rec, req)
				if rec.Code != http.StatusAccepted {
					b.Fatalf("code %d: %s", rec.Code, rec.Body)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
