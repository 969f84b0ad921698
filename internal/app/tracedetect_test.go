package app

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/config"
)

// TestTraceAnomalyRanksBrokenService posts OTLP traces to a running Osprey:
// five minutes of requests in which frontend's "GET /cart" calls cart's
// "GetCart", which queries its database, then requests in which GetCart
// stops querying (an exception before the query) and frontend, retrying,
// spends ten times its usual time. The trace detector reports both
// services; their anomalies join one incident, whose top cause is cart.
func TestTraceAnomalyRanksBrokenService(t *testing.T) {
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

	spans := 0
	post := func(td ptrace.Traces) {
		t.Helper()
		body, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.Post(base+"/v1/traces", "application/x-protobuf", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			b, _ := io.ReadAll(resp.Body)
			t.Fatalf("POST /v1/traces: %s %s", resp.Status, b)
		}
		spans += td.SpanCount()
	}
	judged := regexp.MustCompile(`(?m)^osprey_tracedetect_judged_spans_total (\d+)$`)
	waitJudged := func() {
		t.Helper()
		var got string
		waitFor(t, fmt.Sprintf("%d spans judged", spans), func() bool {
			resp, err := http.Get(base + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			if m := judged.FindSubmatch(raw); m != nil {
				got = string(m[1])
			}
			return got == strconv.Itoa(spans)
		}, func() string { return "judged " + got })
	}

	now := time.Now()
	normal := newTraceBatch()
	for i := range 300 {
		at := now.Add(-10*time.Minute + time.Duration(i)*time.Second)
		jit := time.Duration(i%7) * time.Millisecond
		normal.request(uint64(i+1), at, 20*time.Millisecond+jit, true, 20*time.Millisecond+jit)
	}
	post(normal.td)
	waitJudged()

	broken := newTraceBatch()
	for i := range 30 {
		at := now.Add(time.Duration(i) * 100 * time.Millisecond)
		broken.request(uint64(1000+i), at, 0, false, 250*time.Millisecond)
	}
	post(broken.td)
	waitJudged()

	var inc osprey.Incident
	waitFor(t, "an incident with both trace anomalies", func() bool {
		var list struct {
			Incidents []osprey.Incident `json:"incidents"`
		}
		getJSON(t, base+"/api/v1/incidents", &list)
		for _, in := range list.Incidents {
			signals := map[string]string{}
			for _, m := range in.Members {
				signals[m.Labels[osprey.LabelService]] = m.Labels[osprey.LabelTraceSignal]
			}
			if signals["cart"] == "flow" && signals["frontend"] == "latency" && len(in.Causes) > 0 {
				inc = in
				return true
			}
		}
		return false
	}, func() string { return fmt.Sprintf("%+v", inc) })
	t.Logf("causes: %+v", inc.Causes)
	if inc.Causes[0].Name != "cart" {
		t.Errorf("top cause = %+v, want cart", inc.Causes)
	}

	var reply struct {
		Anomalies []osprey.Anomaly `json:"anomalies"`
	}
	getJSON(t, base+"/api/v1/anomalies?since=24h&limit=100", &reply)
	var flow *osprey.Anomaly
	for i, a := range reply.Anomalies {
		if a.Kind == osprey.AnomalyTrace && a.Labels[osprey.LabelService] == "cart" {
			flow = &reply.Anomalies[i]
		}
	}
	if flow == nil || len(flow.Evidence) == 0 ||
		!regexp.MustCompile(`^span pattern broken: op GetCart without call cart SELECT cart in 30 of 30 spans`).MatchString(flow.Evidence[0].Reason) {
		t.Errorf("cart's trace anomaly = %+v", flow)
	}
}

// traceBatch builds OTLP traces of frontend and cart, one resource per
// service as their exporters would send them.
type traceBatch struct {
	td             ptrace.Traces
	frontend, cart ptrace.SpanSlice
}

func newTraceBatch() *traceBatch {
	b := &traceBatch{td: ptrace.NewTraces()}
	for _, svc := range []string{"frontend", "cart"} {
		rs := b.td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", svc)
		ss := rs.ScopeSpans().AppendEmpty().Spans()
		if svc == "frontend" {
			b.frontend = ss
		} else {
			b.cart = ss
		}
	}
	return b
}

// request adds one request: frontend's GET /cart (self time front) calls
// cart's GetCart, which runs its database query (duration db) if withDB.
func (b *traceBatch) request(n uint64, at time.Time, db time.Duration, withDB bool, front time.Duration) {
	var tid pcommon.TraceID
	binary.BigEndian.PutUint64(tid[8:], n)
	sid := func(k byte) pcommon.SpanID {
		var s pcommon.SpanID
		binary.BigEndian.PutUint64(s[:], n<<8|uint64(k))
		return s
	}
	add := func(ss ptrace.SpanSlice, id, parent byte, kind ptrace.SpanKind, name string, start time.Time, d time.Duration) {
		sp := ss.AppendEmpty()
		sp.SetTraceID(tid)
		sp.SetSpanID(sid(id))
		if parent != 0 {
			sp.SetParentSpanID(sid(parent))
		}
		sp.SetKind(kind)
		sp.SetName(name)
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(start.Add(d)))
	}
	cart := 10 * time.Millisecond
	if withDB {
		cart += db
		add(b.cart, 3, 2, ptrace.SpanKindClient, "SELECT cart", at.Add(2*time.Millisecond), db)
	}
	add(b.cart, 2, 1, ptrace.SpanKindServer, "GetCart", at.Add(time.Millisecond), cart)
	add(b.frontend, 1, 0, ptrace.SpanKindServer, "GET /cart", at, cart+front)
}
