package ui

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/api"
	"github.com/osprey-aiops/osprey/internal/auth"
	"github.com/osprey-aiops/osprey/internal/store"
	"github.com/osprey-aiops/osprey/internal/store/sqlite"
	"github.com/osprey-aiops/osprey/internal/topology"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// testServer serves the UI in front of the real API, on a SQLite store
// holding one incident whose labels carry markup, behind tokens when
// tokens are given.
func testServer(t *testing.T, tokens []auth.Token) (*httptest.Server, osprey.Incident) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "osprey.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	inc := osprey.Incident{
		ID: osprey.NewID(t0), Title: `Checkout <b>slow</b>`, Status: osprey.IncidentOpen, Severity: osprey.SeverityCritical,
		Labels: osprey.Labels{"service": "checkout", "note": `<script>alert(1)</script>`}, OpenedAt: t0, UpdatedAt: t0,
		Members: []*osprey.Member{{Kind: osprey.MemberEvent, Name: `Alert"><img src=x onerror=alert(1)>`, Severity: osprey.SeverityCritical,
			Status: osprey.StatusFiring, FirstRef: "e1", LastRef: "e1", FirstSeen: t0, LastSeen: t0, Count: 3,
			Labels: osprey.Labels{"service": "checkout"}}},
		Causes: []osprey.Cause{{Kind: osprey.CauseService, Name: "checkout", Score: 0.9, Explanation: "checkout <i>alone</i> fired", EvidenceIDs: []string{"e1"}}},
	}
	// A log anomaly member, with its template and sample lines.
	logA := osprey.Anomaly{ID: osprey.NewID(t0), Kind: osprey.AnomalyLog, TemplateID: "tpl1", Score: 0.8, Observed: 1,
		Labels: osprey.Labels{"source": "loki", "service": "checkout"}, Severity: osprey.SeverityError, StartsAt: t0,
		Evidence: []osprey.Evidence{{Detector: "log_new_template", Score: 0.8, Reason: "template tpl1 was never seen"},
			{Detector: "log_sample", Reason: `payment <declined> order=7`}}}
	forecastA := osprey.Anomaly{ID: osprey.NewID(t0.Add(time.Second)), Kind: osprey.AnomalyForecast, Score: 0.7, Observed: 80 << 30,
		Expected: 101 << 30, Lower: 98 << 30, Upper: 104 << 30, Severity: osprey.SeverityWarning, StartsAt: t0,
		Labels:   osprey.Labels{"__name__": "node_filesystem_used_bytes", "host": "db1"},
		Evidence: []osprey.Evidence{{Detector: "forecast", Score: 0.7, Reason: "full in 3h10m"}}}
	if err := st.SaveAnomalies(context.Background(), []osprey.Anomaly{logA, forecastA}); err != nil {
		t.Fatal(err)
	}
	if err := st.SaveTemplates(context.Background(), []osprey.LogTemplate{{ID: "tpl1", Source: "loki", Template: "payment <*> order=<*>",
		Count: 4, FirstSeen: t0, LastSeen: t0}}); err != nil {
		t.Fatal(err)
	}
	inc.Members = append(inc.Members, &osprey.Member{Kind: osprey.MemberAnomaly, Name: "log template tpl1", Severity: osprey.SeverityError,
		Status: osprey.StatusFiring, FirstRef: logA.ID, LastRef: logA.ID, FirstSeen: t0, LastSeen: t0, Count: 1, Labels: logA.Labels})
	if err := st.SaveIncident(context.Background(), inc, osprey.TimelineEntry{At: t0, Kind: osprey.TimelineOpened, Actor: "osprey", Message: "opened <u>x</u>"}); err != nil {
		t.Fatal(err)
	}
	seedBackend(t, st, inc)
	authn := auth.New(tokens)
	now := func() time.Time { return t0.Add(10 * time.Minute) }
	apiH, err := api.New(api.Options{Store: st, Auth: authn, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	u, err := New(Options{Store: st, Auth: authn, Now: now, Location: time.UTC,
		Topology: topology.New(topology.Options{Now: now})})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(u.Mount(apiH))
	t.Cleanup(srv.Close)
	return srv, inc
}

// seedBackend stores what the newer parts of the pages show, each with
// markup in its text: noise counters, a maintenance window, a failed
// notification of inc and a finished runbook run of inc.
func seedBackend(t *testing.T, st store.Store, inc osprey.Incident) {
	t.Helper()
	ctx := context.Background()
	rule := `High<script>alert(1)</script>`
	if err := st.SaveIncidents(ctx, store.IncidentBatch{Noise: []store.NoiseCount{
		{Minute: t0, Source: "alertmanager", Rule: rule, Outcome: "opened", N: 1},
		{Minute: t0, Source: "alertmanager", Rule: rule, Outcome: "deduplicated", N: 9},
		{Minute: t0, Source: "alertmanager", Rule: rule, Outcome: "maintenance", N: 2},
	}}); err != nil {
		t.Fatal(err)
	}
	if err := st.SaveMaintenance(ctx, osprey.MaintenanceWindow{ID: osprey.NewID(t0), Name: `db <b>upgrade</b>`,
		Matchers: []osprey.Matcher{{Name: "service", Type: osprey.MatchEqual, Value: `db"><img src=x onerror=alert(1)>`}},
		StartsAt: t0, EndsAt: t0.Add(2 * time.Hour), CreatedBy: "alice", CreatedAt: t0, Comment: "ticket <u>x</u>"}); err != nil {
		t.Fatal(err)
	}
	n, ok, err := st.ClaimNotification(ctx, store.Notification{ID: osprey.NewID(t0), IncidentID: inc.ID, Receiver: "oncall",
		Key: "opened", Status: store.NotificationSending, ClaimedBy: "osprey-1", ClaimedAt: t0}, t0)
	if err != nil || !ok {
		t.Fatalf("claim notification: %v %v", ok, err)
	}
	n.Status, n.Attempts, n.LastError, n.FinishedAt = store.NotificationFailed, 3, `HTTP 503: <script>alert(1)</script>`, t0.Add(time.Second)
	if err := st.UpdateNotification(ctx, n); err != nil {
		t.Fatal(err)
	}
	if err := st.SaveRun(ctx, osprey.RunbookRun{ID: osprey.NewID(t0), Runbook: "restart-checkout", IncidentID: inc.ID,
		Status: osprey.RunSucceeded, RequestedAt: t0, StartedAt: t0, FinishedAt: t0.Add(time.Second),
		Actions: []osprey.Action{{Type: "exec", Target: "restart", Args: []string{"true"}, Status: osprey.RunSucceeded}}}); err != nil {
		t.Fatal(err)
	}
}

func get(t *testing.T, c *http.Client, url string) (int, string, http.Header) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func TestPagesEscapeAndRender(t *testing.T) {
	srv, inc := testServer(t, nil)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if code, _, h := get(t, noRedirect, srv.URL+"/"); code != http.StatusFound || h.Get("Location") != "/ui/incidents" {
		t.Errorf("/: %d to %q", code, h.Get("Location"))
	}
	for _, path := range []string{"/ui/incidents", "/ui/incidents?fragment=1", "/ui/incidents/" + inc.ID, "/ui/anomalies",
		"/ui/topology", "/ui/log-templates", "/ui/silences?matchers=" + url.QueryEscape(`x="<script>"`), "/ui/runbooks", "/ui/ingest", "/ui/login"} {
		code, body, h := get(t, http.DefaultClient, srv.URL+path)
		if code != http.StatusOK {
			t.Errorf("%s: %d %s", path, code, body)
			continue
		}
		for _, bad := range []string{"<script>alert", "<img src=x", "<b>slow", "<i>alone", "<u>x"} {
			if strings.Contains(body, bad) {
				t.Errorf("%s: unescaped %q in the page", path, bad)
			}
		}
		if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
			t.Errorf("%s: Content-Security-Policy %q", path, csp)
		}
	}
	_, body, _ := get(t, http.DefaultClient, srv.URL+"/ui/incidents/"+inc.ID)
	for _, want := range []string{"Checkout &lt;b&gt;slow&lt;/b&gt;", "checkout &lt;i&gt;alone&lt;/i&gt; fired", `data-api="/api/v1/incidents/` + inc.ID + `/ack"`,
		"payment &lt;*&gt; order=&lt;*&gt;", "payment &lt;declined&gt; order=7", "template tpl1 was never seen", "lines of log template tpl1",
		"/ui/log-templates?source=loki&q=payment"} {
		if !strings.Contains(body, want) {
			t.Errorf("incident page lacks %q", want)
		}
	}
	for _, want := range []string{
		// The notification log.
		`<td>oncall</td>`, `<span class="status note-failed">failed</span>`, "<td class=\"num\">3</td>", "HTTP 503: &lt;script&gt;alert(1)&lt;/script&gt;",
		// The run's outcome.
		`<span class="outcome outcome-unverified" data-run-outcome`} {
		if !strings.Contains(body, want) {
			t.Errorf("incident page lacks %q", want)
		}
	}
	_, body, _ = get(t, http.DefaultClient, srv.URL+"/ui/runbooks")
	if !strings.Contains(body, `outcome-unverified`) {
		t.Error("runbooks page lacks the run's outcome")
	}
	_, body, _ = get(t, http.DefaultClient, srv.URL+"/ui/incidents?fragment=1")
	for _, want := range []string{`<dd data-noise="received">12</dd>`, `<dd data-noise="compression">12:1</dd>`, "92%",
		`silenced 0, inhibited 0, maintenance 2`, "High&lt;script&gt;alert(1)&lt;/script&gt;", "<b>alertmanager</b>"} {
		if !strings.Contains(body, want) {
			t.Errorf("incidents noise panel lacks %q", want)
		}
	}
	_, body, _ = get(t, http.DefaultClient, srv.URL+"/ui/silences")
	for _, want := range []string{"db &lt;b&gt;upgrade&lt;/b&gt;", `<span class="status sil-active">active</span>`, "ticket &lt;u&gt;x&lt;/u&gt;",
		`data-api="/api/v1/maintenance/`, `data-method="DELETE" data-done="Maintenance window deleted"`, `data-kind="maintenance"`} {
		if !strings.Contains(body, want) {
			t.Errorf("silences page lacks %q", want)
		}
	}
	_, body, _ = get(t, http.DefaultClient, srv.URL+"/ui/anomalies?kind=forecast")
	for _, want := range []string{"kind-forecast", "value 80 GiB, forecast at the horizon 101 GiB (98 GiB to 104 GiB)", "full in 3h10m"} {
		if !strings.Contains(body, want) {
			t.Errorf("forecast anomaly lacks %q", want)
		}
	}
	if strings.Contains(body, "tpl1") {
		t.Error("the kind filter let a log anomaly through")
	}
	if code, _, _ := get(t, http.DefaultClient, srv.URL+"/ui/incidents/nope"); code != http.StatusNotFound {
		t.Errorf("unknown incident: %d", code)
	}
	if code, _, _ := get(t, http.DefaultClient, srv.URL+"/ui/incidents?status=bogus"); code != http.StatusBadRequest {
		t.Errorf("bad filter: %d", code)
	}
	// The API is still served behind the UI.
	if code, body, _ := get(t, http.DefaultClient, srv.URL+"/api/v1/incidents"); code != 200 || !strings.Contains(body, inc.ID) {
		t.Errorf("API behind the UI: %d %s", code, body)
	}
}

func TestSignInAndCSRF(t *testing.T) {
	tokens := []auth.Token{
		{Name: "alice", Role: auth.RoleOperator, Hash: auth.HashToken("o-secret")},
		{Name: "grafana", Role: auth.RoleViewer, Hash: auth.HashToken("v-secret")},
	}
	srv, inc := testServer(t, tokens)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	// Not signed in: pages send to the sign-in page, fragments say 401.
	code, _, h := get(t, noRedirect, srv.URL+"/ui/incidents/"+inc.ID)
	if code != http.StatusFound || !strings.HasPrefix(h.Get("Location"), "/ui/login?next=%2Fui%2Fincidents%2F") {
		t.Fatalf("signed out: %d to %q", code, h.Get("Location"))
	}
	if code, _, _ := get(t, noRedirect, srv.URL+"/ui/incidents?fragment=1"); code != http.StatusUnauthorized {
		t.Errorf("signed-out fragment: %d", code)
	}

	// A wrong token is refused; the right one sets the cookie and goes on.
	form := func(token, next string) url.Values { return url.Values{"token": {token}, "next": {next}} }
	resp, err := noRedirect.PostForm(srv.URL+"/ui/login", form("nope", "/ui/runbooks"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || len(resp.Cookies()) != 0 {
		t.Errorf("wrong token: %d, cookies %v", resp.StatusCode, resp.Cookies())
	}
	resp, err = noRedirect.PostForm(srv.URL+"/ui/login", form("o-secret", "//evil.example/"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/ui/incidents" {
		t.Errorf("sign-in: %d to %q (an off-site next must not be followed)", resp.StatusCode, resp.Header.Get("Location"))
	}
	cookies := resp.Cookies()
	if len(cookies) != 1 || cookies[0].Name != auth.CookieName || !cookies[0].HttpOnly || cookies[0].SameSite != http.SameSiteStrictMode {
		t.Fatalf("sign-in cookie %+v", cookies)
	}

	jar, _ := cookiejar.New(nil)
	u, _ := url.Parse(srv.URL)
	jar.SetCookies(u, cookies)
	browser := &http.Client{Jar: jar}
	if code, body, _ := get(t, browser, srv.URL+"/ui/incidents/"+inc.ID); code != 200 || !strings.Contains(body, "alice · operator") {
		t.Errorf("signed in: %d", code)
	}
	// The parts read through the API in process carry the cookie's identity.
	if _, body, _ := get(t, browser, srv.URL+"/ui/incidents"); !strings.Contains(body, `<dd data-noise="received">12</dd>`) {
		t.Error("signed in: the incidents page lacks the noise accounting")
	}
	if _, body, _ := get(t, browser, srv.URL+"/ui/silences"); !strings.Contains(body, "db &lt;b&gt;upgrade&lt;/b&gt;") || strings.Contains(body, "could not be read") {
		t.Error("signed in: the silences page lacks the maintenance window")
	}

	post := func(path string, headers map[string]string, body string) int {
		t.Helper()
		req, _ := http.NewRequest("POST", srv.URL+path, strings.NewReader(body))
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		resp, err := browser.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	feedback := "/api/v1/anomalies/none/feedback"
	jsonBody := `{"verdict":"true_positive"}`
	// A cross-site form post carries the cookie only if the browser's
	// SameSite rule failed; it is refused all the same.
	if code := post(feedback, map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Origin": "https://evil.example"}, "verdict=x"); code != http.StatusForbidden {
		t.Errorf("cross-site form post: %d, want 403", code)
	}
	// A cookie alone, without the UI's header, is not enough to change anything.
	if code := post(feedback, map[string]string{"Content-Type": "application/json"}, jsonBody); code != http.StatusForbidden {
		t.Errorf("cookie without the UI header: %d, want 403", code)
	}
	// With it, the request reaches the API (404: there is no such anomaly).
	if code := post(feedback, map[string]string{"Content-Type": "application/json", auth.UIHeader: "1"}, jsonBody); code != http.StatusNotFound {
		t.Errorf("cookie with the UI header: %d, want 404 from the API", code)
	}

	// Signing out clears the cookie.
	req, _ := http.NewRequest("POST", srv.URL+"/ui/logout", nil)
	resp, err = noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if c := resp.Cookies(); len(c) != 1 || c[0].MaxAge >= 0 {
		t.Errorf("sign-out cookies %+v", c)
	}

	// A viewer sees the pages with the buttons disabled.
	resp, err = noRedirect.PostForm(srv.URL+"/ui/login", form("v-secret", "/ui/incidents"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	jar2, _ := cookiejar.New(nil)
	jar2.SetCookies(u, resp.Cookies())
	_, body, _ := get(t, &http.Client{Jar: jar2}, srv.URL+"/ui/incidents/"+inc.ID)
	if !strings.Contains(body, `disabled title="needs the operator role">Acknowledge`) {
		t.Error("a viewer's Acknowledge button is not disabled")
	}
}

func TestDrawTopology(t *testing.T) {
	snap := topology.Snapshot{
		Nodes: []topology.Node{{Service: "a"}, {Service: "b"}, {Service: "c"}, {Service: "lonely"}},
		Edges: []topology.Edge{
			{EdgeKey: topology.EdgeKey{Caller: "a", Callee: "b"}, Requests: 10},
			{EdgeKey: topology.EdgeKey{Caller: "b", Callee: "c"}, Requests: 10, Errors: 5},
			{EdgeKey: topology.EdgeKey{Caller: "c", Callee: "a"}, Requests: 1}, // a cycle
		},
	}
	svg := string(drawTopology(snap, map[string]string{"b": "<script>x</script>"}, map[string]string{"b": "inc"}))
	for _, want := range []string{`data-service="a"`, `data-service="lonely"`, `class="node node-hot node-cause" data-service="b"`,
		`class="edge edge-errors"`, "&lt;script&gt;"} {
		if !strings.Contains(svg, want) {
			t.Errorf("topology SVG lacks %q", want)
		}
	}
	if strings.Contains(svg, "<script>") {
		t.Error("unescaped incident title in the topology")
	}
	if drawTopology(topology.Snapshot{}, nil, nil) != "" {
		t.Error("an empty graph should draw nothing")
	}
}

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"/ui/runbooks":         "/ui/runbooks",
		"/ui/incidents?x=1":    "/ui/incidents?x=1",
		"//evil.example/":      "/ui/incidents",
		"https://evil.example": "/ui/incidents",
		"/ui/login?next=x":     "/ui/incidents",
		"/ui/\\evil":           "/ui/incidents",
		"":                     "/ui/incidents",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}
