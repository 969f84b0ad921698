package ui_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/osprey-aiops/osprey/internal/app"
	"github.com/osprey-aiops/osprey/internal/config"
	"github.com/osprey-aiops/osprey/internal/notify"
	"github.com/osprey-aiops/osprey/internal/remediate"
	"github.com/osprey-aiops/osprey/internal/remediate/action"
	"github.com/osprey-aiops/osprey/internal/testenv"
)

// xssValue is a label value that would run script if any page put it into
// the document unescaped.
const xssValue = `<script>window.__xss=1</script><img src=x onerror="window.__xss=2">`

// TestBrowser runs a real Osprey fed through its real receivers and drives
// the UI in headless Chromium: every page loads without a JavaScript error
// or console error, a pending runbook run is approved from the incident
// page, a silence is created through the form and expired, a maintenance
// window is created through its form and deleted, and an incident
// is acknowledged. Screenshots (desktop and phone width) go to
// $OSPREY_UI_SCREENSHOTS or a temporary directory.
func TestBrowser(t *testing.T) {
	chrome := findChromium(t)
	shots := os.Getenv("OSPREY_UI_SCREENSHOTS")
	// Phone-width screenshots only when asked for (they take seconds);
	// the phone-width layout is checked either way.
	phoneShots := shots != ""
	if shots == "" {
		shots = t.TempDir()
	} else if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	base := startOsprey(t)
	incidentID := feed(t, base)
	t.Logf("osprey fed in %s", time.Since(start).Round(time.Millisecond))

	actx, cancelAlloc := chromedp.NewExecAllocator(t.Context(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome), chromedp.NoSandbox, chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-gpu", true), chromedp.Flag("lang", "en-US"))...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	defer cancelTimeout()

	var mu sync.Mutex
	var problems []string
	report := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		problems = append(problems, fmt.Sprintf(format, args...))
	}
	// Start the tab, then follow its console: calls of the console API,
	// uncaught exceptions and the browser's own log (CSP violations, failed
	// loads).
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.IsException() || m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleWarning {
				report("console %s: %s (%s:%d)", m.Type, m.Text, m.URL, m.Line)
			}
		}
	}()
	checkProblems := func(where string) {
		t.Helper()
		// Console events arrive asynchronously; let those of the page
		// just loaded come in.
		time.Sleep(50 * time.Millisecond)
		mu.Lock()
		defer mu.Unlock()
		for _, p := range problems {
			t.Errorf("%s: %s", where, p)
		}
		problems = nil
	}
	screenshot := func(name string) {
		t.Helper()
		buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(shots, name+".png"), buf, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}

	pages := []struct{ name, path, want string }{
		{"incidents", "/ui/incidents", "signals received"},
		{"incident", "/ui/incidents/" + incidentID, "Notifications"},
		{"anomalies", "/ui/anomalies", "http_request_duration_seconds"},
		{"topology", "/ui/topology", "payments"},
		{"log-templates", "/ui/log-templates", "payment declined"},
		{"silences", "/ui/silences", "Maintenance windows"},
		{"runbooks", "/ui/runbooks", "restart-checkout"},
		{"ingest", "/ui/ingest", "remote_write"},
	}
	for _, width := range []struct {
		name string
		w, h int64
		mob  bool
	}{{"desktop", 1280, 900, false}, {"phone", 390, 844, true}} {
		opts := []chromedp.EmulateViewportOption{}
		if width.mob {
			opts = append(opts, chromedp.EmulateMobile, chromedp.EmulateScale(2))
		}
		do("viewport", chromedp.EmulateViewport(width.w, width.h, opts...))
		for _, p := range pages {
			do(p.path, chromedp.Navigate(base+p.path), chromedp.WaitVisible(chromedp.CSS("main")))
			body := text("main")
			xss, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__xss !== undefined`))
			if err != nil {
				t.Fatalf("%s: %v", p.path, err)
			}
			if !strings.Contains(body, p.want) {
				t.Errorf("%s (%s): page lacks %q; it says:\n%s", p.path, width.name, p.want, clip(body, 1500))
			}
			if xss {
				t.Errorf("%s: a label value ran as script", p.path)
			}
			if width.mob {
				// Nothing may make a phone scroll sideways.
				wide, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`))
				if err != nil {
					t.Fatal(err)
				}
				if wide {
					t.Errorf("%s: the page is wider than a phone's screen", p.path)
				}
			}
			if !width.mob || phoneShots {
				screenshot(p.name + "-" + width.name)
			}
			if p.name == "incident" && (!width.mob || phoneShots) {
				buf, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.CSS(".chart-box")))
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(shots, "chart-"+width.name+".png"), buf, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			checkProblems(p.path + " (" + width.name + ")")
		}
	}
	do("viewport", chromedp.EmulateViewport(1280, 900))
	t.Logf("pages loaded at %s", time.Since(start).Round(time.Millisecond))

	// The noise accounting's table by source and rule, unfolded.
	do("noise detail", chromedp.Navigate(base+"/ui/incidents"), chromedp.Click(chromedp.CSS(`#noise-detail summary`)),
		chromedp.WaitVisible(chromedp.CSS(`table.noise-table`)))
	if rules := text(`table.noise-table`); !strings.Contains(rules, "CheckoutLatencyHigh") {
		t.Errorf("the noise table lacks the alert's rule: %q", clip(rules, 800))
	}
	if phoneShots {
		screenshot("incidents-noise-desktop")
	}

	// The incident page shows the label with markup as text.
	do("incident", chromedp.Navigate(base+"/ui/incidents/"+incidentID))
	if labelsText := text("table.members"); !strings.Contains(labelsText, "<script>") {
		t.Errorf("the label value should show as text, the members table says %q", labelsText)
	}

	// Approve the pending run on the incident page.
	t.Run("approve", func(t *testing.T) {
		do("open incident", chromedp.Navigate(base+"/ui/incidents/"+incidentID), chromedp.WaitVisible(chromedp.CSS(`.run [data-run-status]`)))
		if status := text(`.run [data-run-status]`); status != "pending_approval" {
			t.Fatalf("run status %q before approving, want pending_approval", status)
		}
		do("approve",
			chromedp.Click(chromedp.CSS(`.run button[data-api$="/approve"]`)),
			chromedp.WaitNotPresent(chromedp.CSS(`.run button[data-api$="/approve"]`)),
			chromedp.WaitVisible(chromedp.CSS(`.run [data-run-status]`)),
		)
		switch status := text(`.run [data-run-status]`); status {
		case "approved", "running", "succeeded":
		default:
			t.Errorf("run status %q after approving", status)
		}
		screenshot("incident-approved-desktop")
		checkProblems("approve")
	})

	// Create a silence through the form, see it listed, expire it.
	t.Run("silence", func(t *testing.T) {
		if !apiRoute(t, base, "POST", "/api/v1/silences") {
			t.Skip("POST /api/v1/silences is not built yet")
		}
		do("create silence",
			chromedp.Navigate(base+"/ui/silences"),
			chromedp.SetValue(chromedp.CSS(`.silence-form input[name=matchers]`), `service="checkout", env=~"prod.*"`),
			chromedp.SetValue(chromedp.CSS(`.silence-form input[name=duration]`), "2h"),
			chromedp.SetValue(chromedp.CSS(`.silence-form input[name=comment]`), "deploying the fix"),
			chromedp.Click(chromedp.CSS(`.silence-form button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS(`table.silences tr[data-silence] button[data-method=DELETE]`)),
		)
		if listed := text(`table.silences`); !strings.Contains(listed, `service="checkout"`) || !strings.Contains(listed, "deploying the fix") || !strings.Contains(listed, "active") {
			t.Errorf("silence list says %q", listed)
		}
		screenshot("silence-created-desktop")
		do("expire silence",
			chromedp.Click(chromedp.CSS(`table.silences tr[data-silence] button[data-method=DELETE]`)),
			chromedp.WaitReady(chromedp.CSS(`details.panel summary`)),
		)
		if expired := text(`details.panel summary`); !strings.Contains(expired, "Expired (1)") {
			t.Errorf("after expiring: %q", expired)
		}
		checkProblems("silence")
	})

	// Create a weekly maintenance window through the form, see it listed,
	// delete it.
	t.Run("maintenance", func(t *testing.T) {
		row := `table.maintenance tr[data-maintenance] button[data-method=DELETE]`
		do("create maintenance window",
			chromedp.Navigate(base+"/ui/silences"),
			chromedp.SetValue(chromedp.CSS(`.maintenance-form input[name=matchers]`), `service="db"`),
			chromedp.SetValue(chromedp.CSS(`.maintenance-form input[name=name]`), "db upgrade"),
			chromedp.SetValue(chromedp.CSS(`.maintenance-form select[name=repeat]`), "weekly"),
			chromedp.Click(chromedp.CSS(`.maintenance-form input[name=days][value=sat]`)),
			chromedp.Click(chromedp.CSS(`.maintenance-form input[name=days][value=sun]`)),
			chromedp.SetValue(chromedp.CSS(`.maintenance-form input[name=at]`), "02:00"),
			chromedp.SetValue(chromedp.CSS(`.maintenance-form input[name=timezone]`), "Europe/Berlin"),
			chromedp.SetValue(chromedp.CSS(`.maintenance-form input[name=duration]`), "2h"),
			chromedp.SetValue(chromedp.CSS(`.maintenance-form input[name=comment]`), "ticket 42"),
			chromedp.Click(chromedp.CSS(`.maintenance-form button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS(row)),
		)
		listed := text(`table.maintenance`)
		for _, want := range []string{"db upgrade", `service="db"`, "every sat, sun at 02:00 for 2h (Europe/Berlin)", "ticket 42"} {
			if !strings.Contains(listed, want) {
				t.Errorf("maintenance list lacks %q: %q", want, listed)
			}
		}
		screenshot("maintenance-created-desktop")
		do("delete maintenance window", chromedp.Click(chromedp.CSS(row)), chromedp.WaitNotPresent(chromedp.CSS(row)))
		var list []map[string]any
		getJSON(t, base+"/api/v1/maintenance", &list)
		if len(list) != 0 {
			t.Errorf("after deleting, the API lists %v", list)
		}
		checkProblems("maintenance")
	})

	// Acknowledge the incident and comment on it.
	t.Run("ack", func(t *testing.T) {
		if !apiRoute(t, base, "POST", "/api/v1/incidents/x/ack") {
			t.Skip("POST /api/v1/incidents/{id}/ack is not built yet")
		}
		do("ack",
			chromedp.Navigate(base+"/ui/incidents/"+incidentID),
			chromedp.Click(chromedp.CSS(`button[data-api$="/ack"]`)),
			chromedp.WaitNotPresent(chromedp.CSS(`button[data-api$="/ack"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#incident-status`)),
		)
		if status := text(`#incident-status`); status != "acknowledged" {
			t.Errorf("status %q after ack", status)
		}
		if apiRoute(t, base, "POST", "/api/v1/incidents/x/comments") {
			do("comment",
				chromedp.SetValue(chromedp.CSS(`#comment-text`), "looking into the checkout latency"),
				chromedp.Click(chromedp.CSS(`form.comment button[type=submit]`)),
				chromedp.WaitVisible(chromedp.CSS(`.timeline li.tl-comment`)),
			)
			if timeline := text(`.timeline`); !strings.Contains(timeline, "looking into the checkout latency") {
				t.Errorf("timeline lacks the comment: %q", clip(timeline, 800))
			}
		}
		if notes := text(`#notifications`); !strings.Contains(notes, "oncall") || !strings.Contains(notes, "opened") || !strings.Contains(notes, "sent") {
			t.Errorf("the notifications panel says %q", clip(notes, 800))
		}
		screenshot("incident-acked-desktop")
		checkProblems("ack")
	})

	// The incidents list follows changes without a reload.
	t.Run("live", func(t *testing.T) {
		if !apiRoute(t, base, "POST", "/api/v1/incidents/x/resolve") {
			t.Skip("POST /api/v1/incidents/{id}/resolve is not built yet")
		}
		do("incidents", chromedp.Navigate(base+"/ui/incidents?status=all"),
			chromedp.WaitVisible(chromedp.CSS(`#live a[href="/ui/incidents/`+incidentID+`"]`)))
		if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`document.getElementById('live').dataset.marker = 'same page'`)); err != nil {
			t.Fatal(err)
		}
		post(t, base+"/api/v1/incidents/"+incidentID+"/resolve", "application/json", []byte(`{"comment":"fixed"}`), nil)
		wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		if err := chromedp.Do(wctx, chromedp.WaitVisible(chromedp.CSS(`#live .st-resolved`))); err != nil {
			t.Fatalf("the list did not show the incident resolved: %v", err)
		}
		if m, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('live').dataset.marker`)); err != nil || m != "same page" {
			t.Errorf("the page was reloaded rather than updated (%q, %v)", m, err)
		}
		checkProblems("live")
	})

	// Judge an anomaly.
	t.Run("feedback", func(t *testing.T) {
		do("false positive",
			chromedp.Navigate(base+"/ui/anomalies"),
			chromedp.Click(chromedp.CSS(`.anomaly-card button[data-body*="false_positive"]`)),
			chromedp.WaitVisible(chromedp.CSS(`.anomaly-card .feedback[data-feedback="false_positive"]`)),
		)
		if v := text(`.anomaly-card .feedback[data-feedback="false_positive"] [data-verdict]`); v != "false_positive" {
			t.Errorf("verdict shown %q", v)
		}
		checkProblems("feedback")
	})

	// A page of another site cannot make the browser change anything.
	t.Run("cross-site form post", func(t *testing.T) {
		req, _ := http.NewRequest("POST", base+"/api/v1/runbook-runs/x/approve", strings.NewReader("reason=x"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", "https://evil.example")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("cross-site post: %d, want 403", resp.StatusCode)
		}
	})
	t.Logf("screenshots in %s", shots)
}

// apiRoute reports whether the API serves method path (rather than answering
// "no route").
func apiRoute(t *testing.T, base, method, path string) bool {
	t.Helper()
	req, _ := http.NewRequest(method, base+path, strings.NewReader("{}"))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return !strings.Contains(string(b), "no route for")
}

func findChromium(t *testing.T) string {
	t.Helper()
	var firstErr error
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		p, err := exec.LookPath(name)
		if err == nil {
			return p
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	testenv.Unavailable(t, "chromium", firstErr)
	return ""
}

// startOsprey runs app.Run on a free loopback port with a runbook that asks
// for approval on checkout's incidents, and returns its base URL.
func startOsprey(t *testing.T) string {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Server.Listen = "127.0.0.1:0"
	cfg.Server.ShutdownTimeout = 10 * time.Second
	cfg.Log.Level = "error"
	cfg.Remediation.Runbooks = []remediate.Runbook{{
		Name:        "restart-checkout",
		Description: "Restart checkout when it is slow (a wait stands in for the restart).",
		Trigger:     `"service" in incident.labels && incident.labels.service == "checkout"`,
		Mode:        remediate.ModeApproval,
		Steps:       []remediate.Step{{Name: "settle", Wait: action.WaitSpec{Duration: 500 * time.Millisecond}}},
	}}
	// A webhook receiver that refuses the first delivery and takes the
	// next, so the incident page has a notification with a retry.
	var hookCalls atomic.Int32
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if hookCalls.Add(1) == 1 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(hook.Close)
	cfg.Notifications.GroupWait = 100 * time.Millisecond
	cfg.Notifications.BackoffInitial = 50 * time.Millisecond
	cfg.Notifications.DefaultReceiver = "oncall"
	cfg.Notifications.Receivers = []notify.Receiver{{Name: "oncall", Webhook: notify.WebhookConfig{URL: hook.URL}}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- app.Run(ctx, cfg, app.Options{Started: func(a string) { addr <- a }})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("osprey stopped with %v", err)
		}
	})
	select {
	case a := <-addr:
		return "http://" + a
	case err := <-done:
		t.Fatalf("osprey did not start: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("osprey did not start within 20s")
	}
	return ""
}

// feed sends real data through the real receivers: metrics over
// remote_write (a latency series that jumps at the end), traces over OTLP
// (frontend → checkout → payments, db), log lines over Loki push, and alerts
// over the events API. It waits for the incident, its anomaly and its pending
// run, and returns the incident's id.
func feed(t *testing.T, base string) string {
	t.Helper()
	now := time.Now()

	// remote_write: 200 samples 15 s apart, the last few far above the rest.
	var wr prompb.WriteRequest
	series := []struct {
		name       string
		base, jump float64
	}{
		{"http_request_duration_seconds", 0.12, 0.95},
		{"process_resident_memory_bytes", 180 << 20, 900 << 20},
	}
	const n = 200
	for _, s := range series {
		ts := prompb.TimeSeries{Labels: []prompb.Label{{Name: "__name__", Value: s.name}, {Name: "service", Value: "checkout"}}}
		for i := range n {
			v := s.base * (1 + 0.04*math.Sin(float64(i)*0.7) + 0.02*math.Cos(float64(i)*2.3))
			if i >= n-6 {
				v = s.jump
			}
			at := now.Add(-time.Duration(n-1-i) * 15 * time.Second)
			ts.Samples = append(ts.Samples, prompb.Sample{Timestamp: at.UnixMilli(), Value: v})
		}
		wr.Timeseries = append(wr.Timeseries, ts)
	}
	raw, err := wr.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	post(t, base+"/api/v1/write", "application/x-protobuf", snappy.Encode(nil, raw), map[string]string{
		"Content-Encoding": "snappy", "X-Prometheus-Remote-Write-Version": "0.1.0"})

	// OTLP traces.
	td := ptrace.NewTraces()
	type span struct {
		svc    string
		id     byte
		parent byte
		ms     int
		err    bool
	}
	for tr := range 20 {
		for _, s := range []span{{"frontend", 1, 0, 80, false}, {"checkout", 2, 1, 60, tr%4 == 0}, {"payments", 3, 2, 30, false}, {"db", 4, 2, 5, false}} {
			rs := td.ResourceSpans().AppendEmpty()
			rs.Resource().Attributes().PutStr("service.name", s.svc)
			sp := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
			sp.SetTraceID(pcommon.TraceID{byte(tr + 1), 7})
			sp.SetSpanID(pcommon.SpanID{byte(tr + 1), s.id})
			if s.parent != 0 {
				sp.SetParentSpanID(pcommon.SpanID{byte(tr + 1), s.parent})
			}
			sp.SetKind(ptrace.SpanKindServer)
			if s.err {
				sp.Status().SetCode(ptrace.StatusCodeError)
			}
			sp.SetName("handle")
			start := now.Add(-time.Duration(20-tr) * time.Second)
			sp.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
			sp.SetEndTimestamp(pcommon.NewTimestampFromTime(start.Add(time.Duration(s.ms) * time.Millisecond)))
		}
	}
	pb, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		t.Fatal(err)
	}
	post(t, base+"/v1/traces", "application/x-protobuf", pb, nil)

	// Loki push (JSON).
	var values [][2]string
	for i := range 30 {
		line := fmt.Sprintf("level=info msg=\"order %d placed\" user=u%d", 1000+i, i%7)
		if i%5 == 0 {
			line = fmt.Sprintf("level=error msg=\"payment declined\" order=%d code=%d", 1000+i, 51+i%3)
		}
		values = append(values, [2]string{fmt.Sprint(now.Add(time.Duration(i-30) * time.Second).UnixNano()), line})
	}
	lokiBody, _ := json.Marshal(map[string]any{"streams": []any{map[string]any{
		"stream": map[string]string{"service": "checkout", "job": "shop"}, "values": values}}})
	post(t, base+"/loki/api/v1/push", "application/json", lokiBody, nil)

	// Alerts.
	events := `[
	  {"name": "CheckoutLatencyHigh", "labels": {"service": "checkout", "env": "prod"}, "severity": "critical",
	   "annotations": {"summary": "Checkout is slow"}},
	  {"name": "CheckoutErrors", "labels": {"service": "checkout", "note": ` + jsonString(xssValue) + `}, "severity": "warning"}
	]`
	for range 3 { // repeats: deduplicated into the same members
		post(t, base+"/api/v1/events", "application/json", []byte(events), nil)
	}

	// Wait for the pipeline: the incident with the anomaly joined, and its
	// pending run.
	var id string
	waitFor(t, "an incident with an anomaly and a pending run", func() bool {
		var incs struct {
			Incidents []struct {
				ID      string `json:"id"`
				Members []struct {
					Kind string `json:"kind"`
				} `json:"members"`
			} `json:"incidents"`
		}
		getJSON(t, base+"/api/v1/incidents", &incs)
		for _, inc := range incs.Incidents {
			hasAnomaly := false
			for _, m := range inc.Members {
				hasAnomaly = hasAnomaly || m.Kind == "anomaly"
			}
			if !hasAnomaly {
				continue
			}
			var runs struct {
				Runs []struct {
					Status string `json:"status"`
				} `json:"runs"`
			}
			getJSON(t, base+"/api/v1/runbook-runs?incident="+inc.ID, &runs)
			if len(runs.Runs) > 0 && runs.Runs[0].Status == "pending_approval" {
				id = inc.ID
				return true
			}
		}
		return false
	})
	// Let the topology see the spans.
	waitFor(t, "the call graph", func() bool {
		var snap struct {
			Edges []any `json:"edges"`
		}
		getJSON(t, base+"/api/v1/topology", &snap)
		return len(snap.Edges) >= 3
	})
	return id
}

func post(t *testing.T, url, ct string, body []byte, headers map[string]string) {
	t.Helper()
	req, err := http.NewRequest("POST", url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", ct)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("POST %s: %d %s", url, resp.StatusCode, b)
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
