package app

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/config"
)

// TestTraceDetectJoinsSpanLogs posts OTLP logs and OTLP traces with
// matching trace and span ids to a running Osprey: five minutes of
// requests in which cart's GetCart span writes "cart loaded for user N"
// (and queries its database), then requests in which it still queries but
// no longer writes the line. The log miner hands each line's template to
// the trace detector, which joins it to its span: the spans without the
// line break GetCart's flow, and cart's trace anomaly names the line's
// template.
func TestTraceDetectJoinsSpanLogs(t *testing.T) {
	cfg, err := config.Parse([]byte(`data_dir: ` + filepath.Join(t.TempDir(), "data") + `
server:
  listen: 127.0.0.1:0
detect:
  traces:
    settle: 200ms
`))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	base, stop := startRun(t, cfg)
	defer stop()

	post := func(path string, body []byte, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.Post(base+path, "application/x-protobuf", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			b, _ := io.ReadAll(resp.Body)
			t.Fatalf("POST %s: %s %s", path, resp.Status, b)
		}
	}
	metric := func(name string) string {
		t.Helper()
		resp, err := http.Get(base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		if m := regexp.MustCompile(`(?m)^` + name + ` (\d+)$`).FindSubmatch(raw); m != nil {
			return string(m[1])
		}
		return ""
	}
	waitMetric := func(name string, want int) {
		t.Helper()
		waitFor(t, fmt.Sprintf("%s = %d", name, want), func() bool { return metric(name) == fmt.Sprint(want) },
			func() string { return name + " " + metric(name) })
	}

	now := time.Now()
	normal, lines := newTraceBatch(), plog.NewLogs()
	rl := lines.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "cart")
	lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
	const n = 300
	for i := range n {
		at := now.Add(-10*time.Minute + time.Duration(i)*time.Second)
		normal.request(uint64(i+1), at, 20*time.Millisecond, true, 20*time.Millisecond)
		// The line GetCart (span 2 of the request) writes.
		var tid pcommon.TraceID
		binary.BigEndian.PutUint64(tid[8:], uint64(i+1))
		var sid pcommon.SpanID
		binary.BigEndian.PutUint64(sid[:], uint64(i+1)<<8|2)
		lr := lrs.AppendEmpty()
		lr.SetTimestamp(pcommon.NewTimestampFromTime(at.Add(5 * time.Millisecond)))
		lr.SetSeverityText("INFO")
		lr.Body().SetStr(fmt.Sprintf("cart loaded for user %d", 1000+i))
		lr.SetTraceID(tid)
		lr.SetSpanID(sid)
	}
	// The lines first: both reach the detector before the trace settles
	// whatever order the bus delivers them in, but waiting for them keeps
	// the test independent of the settle time.
	body, err := plogotlp.NewExportRequestFromLogs(lines).MarshalProto()
	post("/v1/logs", body, err)
	waitMetric("osprey_tracedetect_log_lines_total", n)
	body, err = ptraceotlp.NewExportRequestFromTraces(normal.td).MarshalProto()
	post("/v1/traces", body, err)
	waitMetric("osprey_tracedetect_judged_spans_total", 3*n)
	if got := metric("osprey_tracedetect_log_lines_joined_total"); got != fmt.Sprint(n) {
		t.Fatalf("joined lines = %s, want %d", got, n)
	}

	quiet := newTraceBatch()
	for i := range 30 {
		at := now.Add(time.Duration(i) * 100 * time.Millisecond)
		quiet.request(uint64(1000+i), at, 20*time.Millisecond, true, 20*time.Millisecond)
	}
	body, err = ptraceotlp.NewExportRequestFromTraces(quiet.td).MarshalProto()
	post("/v1/traces", body, err)
	waitMetric("osprey_tracedetect_judged_spans_total", 3*(n+30))

	var flow *osprey.Anomaly
	reason := regexp.MustCompile(`^span pattern broken: op GetCart without log template \S+ in \d+ of \d+ spans`)
	waitFor(t, "cart's flow anomaly naming the line", func() bool {
		var reply struct {
			Anomalies []osprey.Anomaly `json:"anomalies"`
		}
		getJSON(t, base+"/api/v1/anomalies?since=24h&limit=100", &reply)
		for i, a := range reply.Anomalies {
			if a.Kind == osprey.AnomalyTrace && a.Labels[osprey.LabelService] == "cart" && len(a.Evidence) > 0 {
				flow = &reply.Anomalies[i]
			}
		}
		return flow != nil
	}, func() string { return fmt.Sprintf("%+v", flow) })
	if flow.Labels[osprey.LabelTraceSignal] != "flow" || !reason.MatchString(flow.Evidence[0].Reason) {
		t.Errorf("cart's trace anomaly = %+v", flow)
	}
}
