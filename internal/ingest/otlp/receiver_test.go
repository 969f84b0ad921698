package otlp

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/config"
	"github.com/osprey-aiops/osprey/internal/ingest"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// sink collects what the receiver hands on.
type sink struct {
	series []osprey.Series
	logs   []osprey.LogRecord
	spans  []osprey.Span
	fail   error
}

func newTestReceiver(t testing.TB, s *sink, lim config.ServerConfig) (*Receiver, *ingest.Stats) {
	t.Helper()
	stats := ingest.NewStats()
	r, err := New(Options{
		Series: osprey.SeriesConsumerFunc(func(_ context.Context, b []osprey.Series) error { s.series = append(s.series, b...); return nil }),
		Logs: osprey.LogConsumerFunc(func(_ context.Context, b []osprey.LogRecord) error {
			if s.fail != nil {
				return s.fail
			}
			s.logs = append(s.logs, b...)
			return nil
		}),
		Spans: osprey.SpanConsumerFunc(func(_ context.Context, b []osprey.Span) error { s.spans = append(s.spans, b...); return nil }),
		Stats: stats, Limits: lim, Now: func() time.Time { return t0 },
	})
	if err != nil {
		t.Fatal(err)
	}
	return r, stats
}

// testMetrics is a request with a gauge, a cumulative counter, a histogram,
// a summary and a delta sum (rejected).
func testMetrics() pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	ra := rm.Resource().Attributes()
	ra.PutStr("service.name", "checkout")
	ra.PutStr("host.name", "node-1")
	ra.PutStr("k8s.pod.name", "checkout-7d9f")
	ra.PutStr("k8s.namespace.name", "shop")
	ra.PutStr("process.pid", "123") // dropped
	ms := rm.ScopeMetrics().AppendEmpty().Metrics()
	ts := pcommon.NewTimestampFromTime(t0)

	g := ms.AppendEmpty()
	g.SetName("system.memory.usage")
	g.SetUnit("By")
	dp := g.SetEmptyGauge().DataPoints().AppendEmpty()
	dp.SetTimestamp(ts)
	dp.SetIntValue(42)
	dp.Attributes().PutStr("state", "used")

	c := ms.AppendEmpty()
	c.SetName("http.server.requests")
	sum := c.SetEmptySum()
	sum.SetIsMonotonic(true)
	sum.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	cdp := sum.DataPoints().AppendEmpty()
	cdp.SetTimestamp(ts)
	cdp.SetDoubleValue(7)
	cdp.Attributes().PutStr("http.route", "/cart")

	h := ms.AppendEmpty()
	h.SetName("http.server.duration")
	h.SetUnit("s")
	hist := h.SetEmptyHistogram()
	hist.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	hdp := hist.DataPoints().AppendEmpty()
	hdp.SetTimestamp(ts)
	hdp.SetCount(10)
	hdp.SetSum(1.5)
	hdp.ExplicitBounds().FromRaw([]float64{0.1, 0.5})
	hdp.BucketCounts().FromRaw([]uint64{6, 3, 1})

	sm := ms.AppendEmpty()
	sm.SetName("rpc.latency")
	sdp := sm.SetEmptySummary().DataPoints().AppendEmpty()
	sdp.SetTimestamp(ts)
	sdp.SetCount(4)
	sdp.SetSum(2)
	q := sdp.QuantileValues().AppendEmpty()
	q.SetQuantile(0.99)
	q.SetValue(0.9)

	d := ms.AppendEmpty()
	d.SetName("delta.things")
	ds := d.SetEmptySum()
	ds.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
	ds.DataPoints().AppendEmpty().SetIntValue(1)
	return md
}

func post(t testing.TB, r *Receiver, path, ct, ce string, body []byte) *httptest.ResponseRecorder {
	t.Helper()
	mux := http.NewServeMux()
	for _, rt := range r.Routes() {
		mux.Handle(rt.Pattern, rt.Handler)
	}
	req := httptest.NewRequest("POST", path, bytes.NewReader(body))
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if ce != "" {
		req.Header.Set("Content-Encoding", ce)
	}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	return rec
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	_, _ = w.Write(b)
	_ = w.Close()
	return buf.Bytes()
}

func TestMetricsHTTP(t *testing.T) {
	req := pmetricotlp.NewExportRequestFromMetrics(testMetrics())
	pb, _ := req.MarshalProto()
	js, _ := req.MarshalJSON()
	for _, tc := range []struct {
		name, ct, ce string
		body         []byte
	}{
		{"protobuf", "application/x-protobuf", "", pb},
		{"json", "application/json", "", js},
		{"protobuf gzip", "application/x-protobuf", "gzip", gz(pb)},
		{"json gzip", "application/json", "gzip", gz(js)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s sink
			r, stats := newTestReceiver(t, &s, config.ServerConfig{})
			rec := post(t, r, "/v1/metrics", tc.ct, tc.ce, tc.body)
			if rec.Code != 200 || rec.Header().Get("Content-Type") != tc.ct {
				t.Fatalf("%d %s %s", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
			}
			resp := pmetricotlp.NewExportResponse()
			if err := unmarshal(resp, rec.Body.Bytes(), map[string]encoding{"application/json": encJSON}[tc.ct]); err != nil {
				t.Fatal(err)
			}
			if n := resp.PartialSuccess().RejectedDataPoints(); n != 1 || !strings.Contains(resp.PartialSuccess().ErrorMessage(), "delta") {
				t.Errorf("partial success = %d %q", n, resp.PartialSuccess().ErrorMessage())
			}
			got := map[string]osprey.Series{}
			for _, se := range s.series {
				key := se.Labels[osprey.LabelMetric] + se.Labels["le"] + se.Labels["quantile"]
				got[key] = se
			}
			want := map[string]float64{
				"system_memory_usage_bytes": 42, "http_server_requests_total": 7,
				"http_server_duration_seconds_count": 10, "http_server_duration_seconds_sum": 1.5,
				"http_server_duration_seconds_bucket0.1": 6, "http_server_duration_seconds_bucket0.5": 9,
				"http_server_duration_seconds_bucket+Inf": 10,
				"rpc_latency_count":                       4, "rpc_latency_sum": 2, "rpc_latency0.99": 0.9,
			}
			if len(got) != len(want) {
				t.Errorf("got %d series, want %d: %v", len(got), len(want), got)
			}
			for k, v := range want {
				if se, ok := got[k]; !ok || se.Samples[0].Value != v || se.Samples[0].TimestampMs != t0.UnixMilli() {
					t.Errorf("%s = %+v, want %v", k, se, v)
				}
			}
			l := got["system_memory_usage_bytes"].Labels
			if l["service"] != "checkout" || l["host"] != "node-1" || l["namespace"] != "shop" || l["k8s_pod_name"] != "checkout-7d9f" ||
				l["state"] != "used" || l["process_pid"] != "" {
				t.Errorf("labels %v", l)
			}
			snap := stats.Snapshot()[ReceiverMetrics]
			if snap.Items.Accepted != uint64(len(want)) || snap.Rejected[ingest.ReasonInvalid] != 1 || snap.Requests.Partial != 1 {
				t.Errorf("stats %+v", snap)
			}
		})
	}
}

func TestRefusedRequests(t *testing.T) {
	var s sink
	r, stats := newTestReceiver(t, &s, config.ServerConfig{MaxBodyBytes: 1024})
	for _, tc := range []struct {
		name, ct, ce string
		body         []byte
		code         int
		reason       ingest.Reason
	}{
		{"bad protobuf", "application/x-protobuf", "", []byte{0xff, 0xff, 0xff}, 400, ingest.ReasonMalformed},
		{"bad json", "application/json", "", []byte("{"), 400, ingest.ReasonMalformed},
		{"form", "application/x-www-form-urlencoded", "", []byte("a=b"), 415, ingest.ReasonMediaType},
		{"no content type", "", "", []byte("{}"), 415, ingest.ReasonMediaType},
		{"zstd", "application/json", "zstd", []byte("{}"), 415, ingest.ReasonMediaType},
		{"too large", "application/json", "", bytes.Repeat([]byte(" "), 2000), 413, ingest.ReasonTooLarge},
		{"bad gzip", "application/json", "gzip", []byte("nope"), 400, ingest.ReasonMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := stats.Snapshot()[ReceiverTraces].Rejected[tc.reason]
			rec := post(t, r, "/v1/traces", tc.ct, tc.ce, tc.body)
			if rec.Code != tc.code {
				t.Fatalf("%d %s, want %d", rec.Code, rec.Body, tc.code)
			}
			if after := stats.Snapshot()[ReceiverTraces].Rejected[tc.reason]; after != before+1 {
				t.Errorf("%s count %d → %d", tc.reason, before, after)
			}
		})
	}
	// A JSON error is a google.rpc.Status with Osprey's "error" field.
	rec := post(t, r, "/v1/logs", "application/json", "", []byte("{"))
	if !strings.Contains(rec.Body.String(), `"error":`) || !strings.Contains(rec.Body.String(), `"code":3`) {
		t.Errorf("JSON error body %s", rec.Body)
	}
}

func TestLogsHTTP(t *testing.T) {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "cart")
	lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
	a := lrs.AppendEmpty()
	a.SetTimestamp(pcommon.NewTimestampFromTime(t0))
	a.Body().SetStr("payment failed for order 42")
	a.SetSeverityText("ERROR")
	a.Attributes().PutStr("order.id", "42")
	a.SetTraceID(pcommon.TraceID{1, 2, 3})
	b := lrs.AppendEmpty()
	b.Body().SetStr("cache warm")
	b.SetSeverityNumber(plog.SeverityNumberWarn)
	c := lrs.AppendEmpty()
	c.Body().SetStr("bad\x00line")
	js, _ := plogotlp.NewExportRequestFromLogs(ld).MarshalJSON()

	var s sink
	r, _ := newTestReceiver(t, &s, config.ServerConfig{})
	rec := post(t, r, "/v1/logs", "application/json", "", js)
	if rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if len(s.logs) != 2 {
		t.Fatalf("logs %+v", s.logs)
	}
	if l := s.logs[0]; l.Level != "error" || l.Labels["service"] != "cart" || l.Labels[LabelSource] != SourceOTLP ||
		!l.Time.Equal(t0) || l.Attributes["order.id"] != "42" || l.Attributes["trace_id"] == "" {
		t.Errorf("record %+v", l)
	}
	if l := s.logs[1]; l.Level != "warning" || !l.Time.Equal(t0) {
		t.Errorf("record %+v", l)
	}
	if !strings.Contains(rec.Body.String(), `"rejectedLogRecords":"1"`) {
		t.Errorf("reply %s", rec.Body)
	}
	// A failed hand-off is a 503, which exporters retry.
	s.fail = errors.New("queue full")
	if rec := post(t, r, "/v1/logs", "application/json", "", js); rec.Code != 503 {
		t.Errorf("hand-off failure: %d %s", rec.Code, rec.Body)
	}
}

func testTraces() ptrace.Traces {
	td := ptrace.NewTraces()
	for i, svc := range []string{"frontend", "checkout"} {
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", svc)
		sp := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
		sp.SetTraceID(pcommon.TraceID{9})
		sp.SetSpanID(pcommon.SpanID{byte(i + 1)})
		if i == 1 {
			sp.SetParentSpanID(pcommon.SpanID{1})
			sp.SetKind(ptrace.SpanKindServer)
			sp.Status().SetCode(ptrace.StatusCodeError)
		} else {
			sp.SetKind(ptrace.SpanKindClient)
			sp.Attributes().PutStr("peer.service", "checkout")
		}
		sp.SetName("call")
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(t0))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(t0.Add(15 * time.Millisecond)))
	}
	return td
}

func TestTracesHTTP(t *testing.T) {
	pb, _ := ptraceotlp.NewExportRequestFromTraces(testTraces()).MarshalProto()
	var s sink
	r, _ := newTestReceiver(t, &s, config.ServerConfig{})
	rec := post(t, r, "/v1/traces", "application/x-protobuf", "", pb)
	if rec.Code != 200 || len(s.spans) != 2 {
		t.Fatalf("%d %s %+v", rec.Code, rec.Body, s.spans)
	}
	f, c := s.spans[0], s.spans[1]
	if f.Service != "frontend" || f.Kind != osprey.SpanKindClient || f.ParentSpanID != "" || f.Attributes["peer_service"] != "checkout" {
		t.Errorf("frontend span %+v", f)
	}
	if c.Service != "checkout" || c.ParentSpanID != f.SpanID || !c.Error || c.Duration != 15*time.Millisecond || c.TraceID != f.TraceID || len(c.TraceID) != 32 {
		t.Errorf("checkout span %+v", c)
	}
}
