package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/evidence"
)

// withEvidence gives the API windows on the test clock of *e, which the
// caller sets once newEnv returns; *lw and *sw are set to them.
func withEvidence(t *testing.T, e **env, lw **evidence.LogWindow, sw **evidence.SpanWindow) envOption {
	return func(o *Options) {
		lim := evidence.Limits{PerKey: 100, MaxKeys: 100, MaxBytes: 1 << 20, MaxAge: time.Hour}
		now := func() time.Time { return (*e).clock.Now() }
		var err error
		if *lw, err = evidence.NewLogWindow(lim, now); err != nil {
			t.Fatal(err)
		}
		if *sw, err = evidence.NewSpanWindow(lim, now); err != nil {
			t.Fatal(err)
		}
		o.Logs, o.Spans = *lw, *sw
	}
}

func TestRecentLogs(t *testing.T) {
	var (
		e  *env
		lw *evidence.LogWindow
		sw *evidence.SpanWindow
	)
	checkout := osprey.Labels{"source": "loki", "service": "checkout", "host": "h1"}
	cart := osprey.Labels{"source": "loki", "service": "cart", "host": "h2"}
	e = newEnv(t, withTokens, withEvidence(t, &e, &lw, &sw))
	{
		var batch []osprey.LogRecord
		// Lines from 10 minutes before testNow to 10 minutes after, one a
		// minute per stream.
		for i := -10; i <= 10; i++ {
			at := testNow.Add(time.Duration(i) * time.Minute)
			batch = append(batch,
				osprey.LogRecord{Time: at, Labels: checkout, Level: "error", Body: fmt.Sprintf("checkout %d payment declined", i)},
				osprey.LogRecord{Time: at.Add(time.Second), Labels: cart, Level: "info", Body: fmt.Sprintf("cart %d ok", i)})
		}
		_ = lw.ConsumeLogs(context.Background(), batch)
	}
	e.clock.Advance(10 * time.Minute)
	_, _, resolved := seedIncidents(t, e.store) // service checkout, opened testNow, resolved zero

	type reply struct {
		Lines []struct {
			Time   time.Time         `json:"time"`
			Labels map[string]string `json:"labels"`
			Level  string            `json:"level"`
			Body   string            `json:"body"`
		} `json:"lines"`
		Matched   int       `json:"matched"`
		Truncated bool      `json:"truncated"`
		Start     time.Time `json:"start"`
	}
	get := func(t *testing.T, query string, wantCode int) (reply, string) {
		t.Helper()
		rec := e.do(http.MethodGet, "/api/v1/logs?"+query, "", bearer(viewerToken)...)
		if rec.Code != wantCode {
			t.Fatalf("GET %s = %d, want %d: %s", query, rec.Code, wantCode, rec.Body)
		}
		var r reply
		if wantCode == http.StatusOK {
			if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
				t.Fatal(err)
			}
		}
		return r, rec.Body.String()
	}
	bodies := func(r reply) string {
		var b []string
		for _, l := range r.Lines {
			b = append(b, l.Body)
		}
		return strings.Join(b, "|")
	}
	q := url.QueryEscape
	for _, tc := range []struct {
		name, query, want string
		matched           int
	}{
		{"newest first", "limit=2", "cart 10 ok|checkout 10 payment declined", 42},
		{"forward", "limit=1&direction=forward", "checkout -10 payment declined", 42},
		{"stream", "limit=1&stream=" + q(`{source="loki",service="cart",host="h2"}`), "cart 10 ok", 21},
		{"stream must be exact", "stream=" + q(`{service="cart"}`), "", 0},
		{"match", "limit=1&match[]=" + q(`{host=~"h1|h3"}`), "checkout 10 payment declined", 21},
		{"two matches", "limit=2&match[]=" + q(`{host="h1"}`) + "&match[]=" + q(`{host="h2"}`), "cart 10 ok|checkout 10 payment declined", 42},
		{"text", "q=declined&limit=1&start=" + q(testNow.Format(time.RFC3339)) + "&end=" + q(testNow.Add(time.Minute).Format(time.RFC3339)),
			"checkout 1 payment declined", 2},
		{"since duration", "start=90s&limit=2", "cart 10 ok|checkout 10 payment declined", 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := get(t, tc.query, http.StatusOK)
			if bodies(r) != tc.want || r.Matched != tc.matched || r.Truncated != (tc.matched > len(r.Lines)) {
				t.Errorf("lines %q (matched %d, truncated %v), want %q (matched %d)", bodies(r), r.Matched, r.Truncated, tc.want, tc.matched)
			}
		})
	}
	r, _ := get(t, "limit=1&stream="+q(`{source="loki",service="cart",host="h2"}`), http.StatusOK)
	if l := r.Lines[0]; l.Level != "info" || l.Labels["host"] != "h2" || !l.Time.Equal(testNow.Add(10*time.Minute+time.Second)) {
		t.Errorf("line = %+v", l)
	}

	// An incident's lines: its services', from 5 minutes before it opened.
	r, _ = get(t, "incident="+resolved.ID+"&direction=forward&limit=2", http.StatusOK)
	if bodies(r) != "checkout -5 payment declined|checkout -4 payment declined" || r.Matched != 16 || !r.Start.Equal(testNow.Add(-5*time.Minute)) {
		t.Errorf("incident lines %q (matched %d, start %s)", bodies(r), r.Matched, r.Start)
	}
	get(t, "incident=01JNOSUCH00000000000000000", http.StatusNotFound)

	// A log anomaly's lines: its source's and service's, around it.
	logA := osprey.Anomaly{ID: "01JLOGANOMALY0000000000000", Kind: osprey.AnomalyLog, TemplateID: "t1",
		Labels:   osprey.Labels{"source": "loki", "service": "cart", "template_id": "t1"},
		StartsAt: testNow.Add(2 * time.Minute), EndsAt: testNow.Add(3 * time.Minute), Severity: osprey.SeverityWarning}
	if err := e.store.SaveAnomalies(context.Background(), []osprey.Anomaly{logA}); err != nil {
		t.Fatal(err)
	}
	r, _ = get(t, "anomaly="+logA.ID+"&limit=1", http.StatusOK)
	if bodies(r) != "cart 7 ok" || r.Matched != 11 {
		t.Errorf("anomaly lines %q (matched %d), want cart 7 ok of 11", bodies(r), r.Matched)
	}
	get(t, "anomaly=01JNOSUCH00000000000000000", http.StatusNotFound)

	for _, tc := range []struct{ name, query, wantErr string }{
		{"bad selector", "match[]=" + q(`{host=`), "match[]"},
		{"stream with regex", "stream=" + q(`{host=~"h.*"}`), "= matchers only"},
		{"bad direction", "direction=up", "direction"},
		{"bad start", "start=yesterday", "start"},
		{"end before start", "start=1h&end=2h", "before start"},
		{"bad limit", "limit=-1", "limit"},
		{"unknown parameter", "level=error", `unknown query parameter \"level\"`},
		{"repeated", "q=a&q=b", "want once"},
		{"too many selectors", strings.Repeat("match[]="+q(`{a="b"}`)+"&", 17), "at most 16"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, body := get(t, tc.query, http.StatusBadRequest)
			if !strings.Contains(body, tc.wantErr) {
				t.Errorf("error %s, want it to mention %q", body, tc.wantErr)
			}
		})
	}
	if rec := e.do(http.MethodGet, "/api/v1/logs", ""); rec.Code != http.StatusUnauthorized {
		t.Errorf("without a token: %d", rec.Code)
	}
}

func TestRecentSpans(t *testing.T) {
	var (
		e  *env
		lw *evidence.LogWindow
		sw *evidence.SpanWindow
	)
	e = newEnv(t, withTokens, withEvidence(t, &e, &lw, &sw))
	_ = sw.ConsumeSpans(context.Background(), []osprey.Span{
		{TraceID: "t1", SpanID: "a", Service: "frontend", Name: "GET /", Kind: osprey.SpanKindServer, Start: testNow, Duration: time.Second},
		{TraceID: "t1", SpanID: "b", ParentSpanID: "a", Service: "payment", Name: "charge", Kind: osprey.SpanKindServer,
			Start: testNow.Add(time.Millisecond), Duration: 800 * time.Millisecond, Error: true,
			Attributes: osprey.Labels{"http.status_code": "500"}},
		{TraceID: "t2", SpanID: "c", Service: "frontend", Name: "GET /", Kind: osprey.SpanKindServer, Start: testNow.Add(time.Second), Duration: 10 * time.Millisecond},
	})
	ids := func(query string, wantCode int) string {
		t.Helper()
		rec := e.do(http.MethodGet, "/api/v1/spans?"+query, "", bearer(viewerToken)...)
		if rec.Code != wantCode {
			t.Fatalf("GET %s = %d, want %d: %s", query, rec.Code, wantCode, rec.Body)
		}
		if wantCode != http.StatusOK {
			return rec.Body.String()
		}
		var r struct {
			Spans []map[string]any `json:"spans"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, s := range r.Spans {
			out = append(out, s["spanId"].(string))
		}
		return strings.Join(out, ",")
	}
	for query, want := range map[string]string{
		"":                   "c,b,a",
		"service=frontend":   "c,a",
		"trace_id=t1":        "b,a",
		"error=true":         "b",
		"min_duration=500ms": "b,a",
		"limit=1":            "c",
		"start=" + url.QueryEscape(testNow.Add(time.Millisecond).Format(time.RFC3339Nano)): "c,b",
	} {
		if got := ids(query, http.StatusOK); got != want {
			t.Errorf("spans?%s = %s, want %s", query, got, want)
		}
	}
	for query, wantErr := range map[string]string{
		"error=maybe":         "error",
		"min_duration=1x":     "min_duration",
		"service=a&service=b": "want once",
	} {
		if body := ids(query, http.StatusBadRequest); !strings.Contains(body, wantErr) {
			t.Errorf("spans?%s: %s, want %q", query, body, wantErr)
		}
	}
	rec := e.do(http.MethodGet, "/api/v1/spans?error=true", "", bearer(viewerToken)...)
	want := `{"spans":[{"traceId":"t1","spanId":"b","parentSpanId":"a","service":"payment","name":"charge","kind":"server",` +
		`"start":"2025-06-01T12:00:00.001Z","duration":0.8,"error":true,"attributes":{"http.status_code":"500"}}],"matched":1,"truncated":false}`
	if got := strings.TrimSpace(rec.Body.String()); got != want {
		t.Errorf("reply\n%s\nwant\n%s", got, want)
	}
}

// Without windows the routes are not served.
func TestRecentEvidenceRoutesNeedWindows(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/api/v1/logs", "/api/v1/spans"} {
		if rec := e.do(http.MethodGet, path, ""); rec.Code != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", path, rec.Code)
		}
	}
}
