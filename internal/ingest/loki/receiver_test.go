package loki

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/grafana/loki/pkg/push"
	"github.com/klauspost/compress/snappy"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/api"
	"github.com/osprey-aiops/osprey/internal/auth"
	"github.com/osprey-aiops/osprey/internal/config"
	"github.com/osprey-aiops/osprey/internal/ingest"
	"github.com/osprey-aiops/osprey/internal/store/sqlite"
)

func TestReceiverServe(t *testing.T) {
	ts := "1772366340123456789"
	okJSON := []byte(`{"streams": [{"stream": {"app": "api"}, "values": [["` + ts + `", "a"], ["` + ts + `", "b"]]}]}`)
	partialJSON := []byte(`{"streams": [{"stream": {"app": "api"}, "values": [["` + ts + `", "a"], ["-5", "b"]]}]}`)
	okProto := encodePush(t, &push.PushRequest{Streams: []push.Stream{{Labels: `{app="api"}`,
		Entries: []push.Entry{{Timestamp: t0, Line: "a"}, {Timestamp: t0, Line: "b"}, {Timestamp: t0, Line: "c"}}}}})
	rawProto, _ := (&push.PushRequest{Streams: []push.Stream{{Labels: `{app="api"}`, Entries: []push.Entry{{Timestamp: t0, Line: "a"}}}}}).Marshal()
	bomb := snappy.Encode(nil, make([]byte, 2<<20)) // 2 MiB of zeros, a few KiB compressed

	tests := []struct {
		name        string
		ct, enc     string
		body        []byte
		opts        Options
		wantCode    int
		wantBody    string // substring
		wantRecords int
		wantSnap    ingest.ReceiverSnapshot // Requests and Items compared
		wantReason  ingest.Reason
	}{
		{name: "protobuf", ct: "application/x-protobuf", body: okProto, wantCode: 204, wantRecords: 3,
			wantSnap: ingest.ReceiverSnapshot{Requests: ingest.RequestCounts{Accepted: 1}, Items: ingest.ItemCounts{Accepted: 3}}},
		{name: "protobuf without a Content-Type", body: okProto, wantCode: 204, wantRecords: 3,
			wantSnap: ingest.ReceiverSnapshot{Requests: ingest.RequestCounts{Accepted: 1}, Items: ingest.ItemCounts{Accepted: 3}}},
		{name: "json", ct: "application/json", body: okJSON, wantCode: 204, wantRecords: 2,
			wantSnap: ingest.ReceiverSnapshot{Requests: ingest.RequestCounts{Accepted: 1}, Items: ingest.ItemCounts{Accepted: 2}}},
		{name: "gzipped json", ct: "application/json; charset=utf-8", enc: "gzip", body: gzipped(t, okJSON), wantCode: 204, wantRecords: 2,
			wantSnap: ingest.ReceiverSnapshot{Requests: ingest.RequestCounts{Accepted: 1}, Items: ingest.ItemCounts{Accepted: 2}}},
		{name: "gzipped protobuf", ct: "application/x-protobuf", enc: "gzip", body: gzipped(t, okProto), wantCode: 204, wantRecords: 3,
			wantSnap: ingest.ReceiverSnapshot{Requests: ingest.RequestCounts{Accepted: 1}, Items: ingest.ItemCounts{Accepted: 3}}},
		{name: "deflated json", ct: "application/json", enc: "deflate", body: deflated(t, okJSON), wantCode: 204, wantRecords: 2,
			wantSnap: ingest.ReceiverSnapshot{Requests: ingest.RequestCounts{Accepted: 1}, Items: ingest.ItemCounts{Accepted: 2}}},
		{name: "protobuf labelled snappy", ct: "application/x-protobuf", enc: "snappy", body: okProto, wantCode: 204, wantRecords: 3,
			wantSnap: ingest.ReceiverSnapshot{Requests: ingest.RequestCounts{Accepted: 1}, Items: ingest.ItemCounts{Accepted: 3}}},
		{name: "partial", ct: "application/json", body: partialJSON, wantCode: 400, wantRecords: 1,
			wantBody:   "1 of 2 entries rejected, 1 accepted: streams[0].values[1]: timestamp: outside 1970 to 2262",
			wantSnap:   ingest.ReceiverSnapshot{Requests: ingest.RequestCounts{Partial: 1}, Items: ingest.ItemCounts{Accepted: 1, Rejected: 1}},
			wantReason: ingest.ReasonInvalid},
		{name: "protobuf not snappy-compressed", ct: "application/x-protobuf", body: rawProto, wantCode: 400, wantBody: "snappy",
			wantSnap: ingest.ReceiverSnapshot{Requests: ingest.RequestCounts{Rejected: 1}}, wantReason: ingest.ReasonMalformed},
		{name: "bad json", ct: "application/json", body: []byte(`{"streams": [}`), wantCode: 400, wantBody: "decode JSON push request",
			wantSnap: ingest.ReceiverSnapshot{Requests: ingest.RequestCounts{Rejected: 1}}, wantReason: ingest.ReasonMalformed},
		{name: "bad gzip", ct: "application/json", enc: "gzip", body: okJSON, wantCode: 400, wantBody: "gunzip",
			wantSnap: ingest.ReceiverSnapshot{Requests: ingest.RequestCounts{Rejected: 1}}, wantReason: ingest.ReasonMalformed},
		{name: "form post", ct: "application/x-www-form-urlencoded", body: okJSON, wantCode: 415, wantBody: "Content-Type",
			wantSnap: ingest.ReceiverSnapshot{Requests: ingest.RequestCounts{Rejected: 1}}, wantReason: ingest.ReasonMediaType},
		{name: "brotli", ct: "application/json", enc: "br", body: okJSON, wantCode: 415, wantBody: "Content-Encoding",
			wantSnap: ingest.ReceiverSnapshot{Requests: ingest.RequestCounts{Rejected: 1}}, wantReason: ingest.ReasonMediaType},
		{name: "body too large", ct: "application/json", body: okJSON, opts: Options{Limits: config.ServerConfig{MaxBodyBytes: 16}},
			wantCode: 413, wantBody: "request body larger than 16 bytes",
			wantSnap: ingest.ReceiverSnapshot{Requests: ingest.RequestCounts{Rejected: 1}}, wantReason: ingest.ReasonTooLarge},
		{name: "snappy bomb", ct: "application/x-protobuf", body: bomb, opts: Options{MaxDecodedBytes: 1 << 20},
			wantCode: 413, wantBody: "decompressed body larger than 1048576 bytes",
			wantSnap: ingest.ReceiverSnapshot{Requests: ingest.RequestCounts{Rejected: 1}}, wantReason: ingest.ReasonTooLarge},
		{name: "gzip bomb", ct: "application/json", enc: "gzip", body: gzipped(t, make([]byte, 2<<20)), opts: Options{MaxDecodedBytes: 1 << 20},
			wantCode: 413, wantBody: "decompressed body larger",
			wantSnap: ingest.ReceiverSnapshot{Requests: ingest.RequestCounts{Rejected: 1}}, wantReason: ingest.ReasonTooLarge},
		{name: "consumer down", ct: "application/json", body: okJSON, opts: Options{Logs: &sink{err: errors.New("queue full")}},
			wantCode: 503, wantBody: "retry",
			wantSnap: ingest.ReceiverSnapshot{Requests: ingest.RequestCounts{Rejected: 1}, Items: ingest.ItemCounts{Rejected: 2}}, wantReason: ingest.ReasonStore},
		{name: "consumer refuses for good", ct: "application/json", body: okJSON,
			opts: Options{Logs: &sink{err: osprey.Permanent(errors.New("bad"))}}, wantCode: 500,
			wantSnap: ingest.ReceiverSnapshot{Requests: ingest.RequestCounts{Rejected: 1}, Items: ingest.ItemCounts{Rejected: 2}}, wantReason: ingest.ReasonStore},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, s, stats := newTestReceiver(t, tt.opts)
			rec := post(r, tt.ct, tt.enc, tt.body)
			if rec.Code != tt.wantCode || !strings.Contains(rec.Body.String(), tt.wantBody) {
				t.Fatalf("reply %d %q, want %d containing %q", rec.Code, rec.Body, tt.wantCode, tt.wantBody)
			}
			if tt.wantCode == 204 && rec.Body.Len() != 0 {
				t.Errorf("204 with a body %q", rec.Body)
			}
			if tt.wantCode != 204 {
				var eb ingest.ErrorBody
				if err := json.Unmarshal(rec.Body.Bytes(), &eb); err != nil || eb.Error == "" {
					t.Errorf("error reply %q is not the API's error shape: %v", rec.Body, err)
				}
			}
			if got := len(s.records()); got != tt.wantRecords {
				t.Errorf("%d records handed off, want %d", got, tt.wantRecords)
			}
			snap := stats.Snapshot()[ReceiverName]
			if snap.Requests != tt.wantSnap.Requests || snap.Items != tt.wantSnap.Items {
				t.Errorf("counts %+v %+v, want %+v %+v", snap.Requests, snap.Items, tt.wantSnap.Requests, tt.wantSnap.Items)
			}
			if tt.wantReason != "" && snap.Rejected[tt.wantReason] == 0 {
				t.Errorf("rejected %v, want a count for %s", snap.Rejected, tt.wantReason)
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Error("New without a consumer succeeded")
	}
	if _, err := New(Options{Logs: &sink{}, MaxLineBytes: -1}); err == nil {
		t.Error("negative MaxLineBytes accepted")
	}
	if _, err := New(Options{Logs: &sink{}, Limits: config.ServerConfig{MaxBodyBytes: -1}}); err == nil {
		t.Error("negative MaxBodyBytes accepted")
	}
}

// TestMountedOnAPI serves the receiver as internal/app would wire it: on
// Osprey's HTTP API, behind its bearer tokens, over a real HTTP connection,
// posting what a Promtail client posts.
func TestMountedOnAPI(t *testing.T) {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "osprey.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	stats := ingest.NewStats()
	s := &sink{}
	r, err := New(Options{Logs: s, Stats: stats, Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	a, err := api.New(api.Options{
		Store:      st,
		Stats:      stats,
		Routes:     r.Routes(),
		Registerer: prometheus.NewPedanticRegistry(),
		Auth:       auth.New([]auth.Token{{Name: "promtail", Role: auth.RoleOperator, Hash: auth.HashToken("secret")}}),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a)
	defer srv.Close()

	body := encodePush(t, &push.PushRequest{Streams: []push.Stream{{Labels: `{job="varlogs", filename="/var/log/syslog"}`,
		Entries: []push.Entry{{Timestamp: t0, Line: "Mar  1 11:59:00 host sshd[1]: error: maximum authentication attempts"}}}}})
	send := func(token string) *http.Response {
		req, _ := http.NewRequest("POST", srv.URL+"/loki/api/v1/push", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/x-protobuf")
		req.Header.Set("User-Agent", "promtail/2.9.4")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp
	}
	if resp := send(""); resp.StatusCode != 401 {
		t.Errorf("without a token: %d, want 401", resp.StatusCode)
	}
	if resp := send("secret"); resp.StatusCode != 204 {
		t.Fatalf("push: %d, want 204", resp.StatusCode)
	}
	recs := s.records()
	if len(recs) != 1 || recs[0].Labels["job"] != "varlogs" || recs[0].Labels["source"] != "loki" || recs[0].Level != "error" {
		t.Fatalf("records %+v", recs)
	}
	snap := stats.Snapshot()[ReceiverName]
	if snap.Items.Accepted != 1 || snap.Rejected[ingest.ReasonUnauthorized] != 1 {
		t.Errorf("counts %+v", snap)
	}
}
