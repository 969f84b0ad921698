package app

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/osprey-aiops/osprey/internal/config"
)

// TestRecentEvidence pushes lines over the Loki API and spans over OTLP to
// a running Osprey and reads them back from GET /api/v1/logs and
// GET /api/v1/spans, with the window's evictions on /metrics.
func TestRecentEvidence(t *testing.T) {
	dir := t.TempDir()
	cfg, err := config.Parse([]byte(`data_dir: ` + filepath.Join(dir, "data") + `
server:
  listen: 127.0.0.1:0
logs:
  recent:
    lines_per_stream: 5
otlp:
  recent_spans:
    spans_per_service: 3
`))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	base, stop := startRun(t, cfg)
	defer stop()

	post := func(path, ctype string, body []byte) {
		t.Helper()
		resp, err := http.Post(base+path, ctype, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			b, _ := io.ReadAll(resp.Body)
			t.Fatalf("POST %s: %s %s", path, resp.Status, b)
		}
	}

	// Eight lines in one Loki stream; the window keeps the last five.
	now := time.Now()
	var values []string
	for i := range 8 {
		values = append(values, fmt.Sprintf(`["%d", "order %d: payment declined"]`, now.Add(time.Duration(i)*time.Millisecond).UnixNano(), i))
	}
	post("/loki/api/v1/push", "application/json",
		[]byte(`{"streams": [{"stream": {"app": "shop", "host": "web-1"}, "values": [`+strings.Join(values, ",")+`]}]}`))

	// Four spans of checkout, one of them failed.
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "checkout")
	for i := range 4 {
		sp := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
		sp.SetTraceID(pcommon.TraceID{byte(i + 1), 7})
		sp.SetSpanID(pcommon.SpanID{byte(i + 1), 1})
		sp.SetKind(ptrace.SpanKindServer)
		sp.SetName("POST /checkout")
		if i == 3 {
			sp.Status().SetCode(ptrace.StatusCodeError)
		}
		start := now.Add(time.Duration(i) * time.Second)
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(start.Add(120 * time.Millisecond)))
		sp.Attributes().PutStr("http.route", "/checkout")
	}
	pb, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		t.Fatal(err)
	}
	post("/v1/traces", "application/x-protobuf", pb)

	type logsReply struct {
		Lines []struct {
			Labels map[string]string `json:"labels"`
			Body   string            `json:"body"`
		} `json:"lines"`
		Matched int `json:"matched"`
	}
	var logs logsReply
	waitFor(t, "5 lines in the window", func() bool {
		logs = logsReply{}
		getJSON(t, base+"/api/v1/logs?direction=forward&match[]="+url.QueryEscape(`{app="shop"}`), &logs)
		return logs.Matched == 5
	}, func() string { return fmt.Sprintf("%+v", logs) })
	if l := logs.Lines[0]; l.Body != "order 3: payment declined" || l.Labels["source"] != "loki" || l.Labels["host"] != "web-1" {
		t.Errorf("oldest line kept = %+v", l)
	}

	type spansReply struct {
		Spans []struct {
			SpanID     string            `json:"spanId"`
			Service    string            `json:"service"`
			Error      bool              `json:"error"`
			Duration   float64           `json:"duration"`
			Attributes map[string]string `json:"attributes"`
		} `json:"spans"`
		Matched int `json:"matched"`
	}
	var spans spansReply
	waitFor(t, "3 spans in the window", func() bool {
		spans = spansReply{}
		getJSON(t, base+"/api/v1/spans?service=checkout", &spans)
		return spans.Matched == 3
	}, func() string { return fmt.Sprintf("%+v", spans) })
	if s := spans.Spans[0]; s.SpanID != "0401000000000000" || !s.Error || s.Duration != 0.12 || s.Attributes["http_route"] != "/checkout" {
		t.Errorf("latest span = %+v", s)
	}

	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, want := range []string{
		`osprey_log_window_lines 5`,
		`osprey_log_window_lines_evicted_total{reason="lines_per_stream"} 3`,
		`osprey_span_window_spans_evicted_total{reason="spans_per_service"} 1`,
	} {
		if !strings.Contains(string(body), want+"\n") {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// With both windows off the routes are not served.
func TestRecentEvidenceOff(t *testing.T) {
	cfg, err := config.Parse([]byte(`data_dir: ` + filepath.Join(t.TempDir(), "data") + `
server:
  listen: 127.0.0.1:0
logs:
  recent:
    enabled: false
otlp:
  recent_spans:
    enabled: false
`))
	if err != nil {
		t.Fatal(err)
	}
	base, stop := startRun(t, cfg)
	defer stop()
	for _, path := range []string{"/api/v1/logs", "/api/v1/spans"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s = %s, want 404", path, resp.Status)
		}
	}
}
