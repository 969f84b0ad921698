package notify

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/store"
)

// rig is a notifier in virtual time with webhook receivers backed by capture
// servers.
type rig struct {
	t     *testing.T
	n     *Notifier
	st    store.Store
	clock *clock
	reg   *prometheus.Registry
}

// newRig starts a notifier on st. cfg's receivers are used as given.
func newRig(t *testing.T, st store.Store, cfg Config, c *clock, instance string) *rig {
	t.Helper()
	reg := prometheus.NewRegistry()
	n, err := New(Options{Config: cfg, Store: st, Now: c.Now, Sleep: c.Sleep, Rand: func() float64 { return 0.5 },
		Tick: -1, Instance: instance, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Shutdown(context.Background()); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return &rig{t: t, n: n, st: st, clock: c, reg: reg}
}

// feed stores the snapshot (as the correlator does) and hands it over.
func (r *rig) feed(inc osprey.Incident) {
	r.t.Helper()
	if err := r.st.SaveIncident(r.t.Context(), inc); err != nil {
		r.t.Fatal(err)
	}
	if err := r.n.ConsumeIncidents(r.t.Context(), []osprey.Incident{inc}); err != nil {
		r.t.Fatal(err)
	}
	r.n.Flush()
}

// at advances the clock to t0+d and delivers what is due.
func (r *rig) at(d time.Duration) {
	r.clock.Advance(t0.Add(d).Sub(r.clock.Now()))
	r.n.Flush()
}

// kinds decodes the kind and key of each webhook request.
func kinds(t *testing.T, reqs []request) []string {
	t.Helper()
	var out []string
	for _, r := range reqs {
		var doc struct {
			Key      string `json:"key"`
			Incident struct {
				ID      string `json:"id"`
				Members int    `json:"members"`
			} `json:"incident"`
		}
		if err := json.Unmarshal(r.Body, &doc); err != nil {
			t.Fatalf("webhook body: %v", err)
		}
		out = append(out, doc.Key)
	}
	return out
}

func webhookConfig(urls map[string]string, routes ...Route) Config {
	cfg := DefaultConfig()
	cfg.ExternalURL = "https://osprey.example.com"
	names := make([]string, 0, len(urls))
	for name := range urls {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		cfg.Receivers = append(cfg.Receivers, Receiver{Name: name, Webhook: WebhookConfig{URL: urls[name]}})
	}
	cfg.DefaultReceiver = names[0]
	cfg.Routes = routes
	return cfg
}

func wantKeys(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s: sent %q, want %q", what, got, want)
	}
}

func TestLifecycle(t *testing.T) {
	hook := newCapture(t)
	cfg := webhookConfig(map[string]string{"hook": hook.URL})
	cfg.RepeatInterval = time.Hour
	r := newRig(t, openSQLite(t), cfg, newClock(), "a")
	labels := osprey.Labels{"service": "checkout"}

	// The flood: the incident opens and grows during group_wait.
	inc := incident("I1", osprey.SeverityWarning, labels)
	r.feed(inc)
	for i := 1; i <= 5; i++ {
		r.at(time.Duration(i) * 5 * time.Second)
		inc.Members = append(inc.Members, inc.Members[0])
		inc.UpdatedAt = r.clock.Now()
		r.feed(inc)
	}
	wantKeys(t, "during group_wait", kinds(t, hook.Requests()))
	r.at(30 * time.Second)
	reqs := hook.Requests()
	wantKeys(t, "after group_wait", kinds(t, reqs), "opened")
	if !strings.Contains(string(reqs[0].Body), `"members":6`) {
		t.Errorf("the opened message does not describe the settled incident (6 members): %s", reqs[0].Body)
	}

	// Escalation, once per severity.
	inc.Severity, inc.UpdatedAt = osprey.SeverityCritical, t0.Add(time.Minute)
	r.at(time.Minute)
	r.feed(inc)
	r.feed(inc)
	wantKeys(t, "escalated", kinds(t, hook.Requests()), "opened", "escalated-critical")

	// Repeats while open, by the hour from the end of group_wait.
	r.at(time.Hour)
	wantKeys(t, "before the first repeat", kinds(t, hook.Requests()), "opened", "escalated-critical")
	r.at(time.Hour + 30*time.Second)
	r.at(2*time.Hour + 40*time.Second)
	wantKeys(t, "repeats", kinds(t, hook.Requests()), "opened", "escalated-critical", "repeat-1", "repeat-2")

	// Acknowledged: said once, and no more repeats.
	inc.Status, inc.Assignee, inc.UpdatedAt = osprey.IncidentAcknowledged, "alice", t0.Add(3*time.Hour)
	r.at(3 * time.Hour)
	r.feed(inc)
	r.at(5 * time.Hour)
	wantKeys(t, "acknowledged", kinds(t, hook.Requests()), "opened", "escalated-critical", "repeat-1", "repeat-2", "acknowledged")

	// Resolved: said once, and the incident is forgotten.
	inc.Status, inc.ResolvedAt, inc.UpdatedAt = osprey.IncidentResolved, t0.Add(6*time.Hour), t0.Add(6*time.Hour)
	r.at(6 * time.Hour)
	r.feed(inc)
	r.at(8 * time.Hour)
	wantKeys(t, "resolved", kinds(t, hook.Requests()), "opened", "escalated-critical", "repeat-1", "repeat-2", "acknowledged", "resolved")
	r.n.mu.Lock()
	left := len(r.n.tracked)
	r.n.mu.Unlock()
	if left != 0 {
		t.Errorf("%d incidents still tracked after resolution", left)
	}

	// Every delivery is on the timeline, in the audit log and in the log.
	got, err := r.st.GetIncident(t.Context(), "I1")
	if err != nil {
		t.Fatal(err)
	}
	var notes []string
	for _, e := range got.Timeline {
		if e.Kind == osprey.TimelineNotification {
			notes = append(notes, e.Message)
		}
	}
	if len(notes) != 6 || notes[0] != "notified hook (webhook): opened" {
		t.Errorf("timeline notifications: %q", notes)
	}
	logged, err := r.st.ListNotifications(t.Context(), store.NotificationQuery{IncidentID: "I1"})
	if err != nil || len(logged) != 6 {
		t.Fatalf("log: %d rows, %v", len(logged), err)
	}
	for _, row := range logged {
		if row.Status != store.NotificationSent || row.Attempts != 1 || row.ClaimedBy != "a" {
			t.Errorf("log row %+v: want sent in 1 attempt by a", row)
		}
	}
	audit, err := r.st.ListAudit(t.Context(), time.Time{}, 100)
	if err != nil || len(audit) != 6 || audit[0].Action != "notification.sent" || audit[0].Object != "incident/I1" {
		t.Errorf("audit: %+v, %v", audit, err)
	}
	if v := testutil.ToFloat64(r.n.m.sent.WithLabelValues("hook", "repeat")); v != 2 {
		t.Errorf("sent repeats metric = %v, want 2", v)
	}
}

func TestResolvedDuringGroupWaitSendsNothing(t *testing.T) {
	hook := newCapture(t)
	r := newRig(t, openSQLite(t), webhookConfig(map[string]string{"hook": hook.URL}), newClock(), "a")
	inc := incident("I1", osprey.SeverityError, nil)
	r.feed(inc)
	r.at(10 * time.Second)
	inc.Status, inc.ResolvedAt, inc.UpdatedAt = osprey.IncidentResolved, r.clock.Now(), r.clock.Now()
	r.feed(inc)
	r.at(time.Hour)
	wantKeys(t, "flapped incident", kinds(t, hook.Requests()))
	if v := testutil.ToFloat64(r.n.m.suppressed.WithLabelValues("hook", reasonResolvedEarly)); v != 1 {
		t.Errorf("suppressed resolved_before_sent = %v, want 1", v)
	}
}

func TestSilence(t *testing.T) {
	hook := newCapture(t)
	st := openSQLite(t)
	err := st.SaveSilence(t.Context(), osprey.Silence{ID: "S1", CreatedBy: "bob", StartsAt: t0.Add(-time.Minute), EndsAt: t0.Add(10 * time.Minute),
		Matchers: []osprey.Matcher{{Name: "service", Type: osprey.MatchEqual, Value: "checkout"}}})
	if err != nil {
		t.Fatal(err)
	}
	// A silence on a member's alertname holds an incident whose members all
	// match it.
	err = st.SaveSilence(t.Context(), osprey.Silence{ID: "S2", CreatedBy: "bob", StartsAt: t0, EndsAt: t0.Add(time.Hour),
		Matchers: []osprey.Matcher{{Name: "alertname", Type: osprey.MatchEqual, Value: "Watchdog"}}})
	if err != nil {
		t.Fatal(err)
	}
	r := newRig(t, st, webhookConfig(map[string]string{"hook": hook.URL}), newClock(), "a")
	r.feed(incident("I1", osprey.SeverityCritical, osprey.Labels{"service": "checkout"}))
	wd := incident("I2", osprey.SeverityCritical, osprey.Labels{"service": "infra"})
	wd.Members[0].Name = "Watchdog"
	r.feed(wd)
	r.feed(incident("I3", osprey.SeverityCritical, osprey.Labels{"service": "search"}))
	r.at(time.Minute)
	wantKeys(t, "while silenced", kinds(t, hook.Requests()), "opened")
	if got := string(hook.Requests()[0].Body); !strings.Contains(got, `"id":"I3"`) {
		t.Errorf("the unsilenced incident was not the one notified: %s", got)
	}
	if v := testutil.ToFloat64(r.n.m.suppressed.WithLabelValues("hook", reasonSilenced)); v != 2 {
		t.Errorf("suppressed silenced = %v, want 2", v)
	}
	got, err := st.GetIncident(t.Context(), "I1")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(got.Timeline); n != 1 || !strings.Contains(got.Timeline[0].Message, "silence S1") {
		t.Errorf("timeline of the silenced incident: %+v", got.Timeline)
	}
	// The silence ends: the held notification goes out.
	r.at(10*time.Minute + time.Second)
	wantKeys(t, "after the silence", kinds(t, hook.Requests()), "opened", "opened")
}

func TestRetry(t *testing.T) {
	cases := []struct {
		name      string
		replies   []int
		status    store.NotificationStatus
		attempts  int
		sleeps    []time.Duration
		lastError string
		reason    string
	}{
		{"success after two failures", []int{500, 503, 200}, store.NotificationSent, 3,
			[]time.Duration{750 * time.Millisecond, 1500 * time.Millisecond}, "HTTP 503: Service Unavailable", ""},
		{"exhausted", []int{500}, store.NotificationFailed, 4,
			[]time.Duration{750 * time.Millisecond, 1500 * time.Millisecond, 3 * time.Second}, "HTTP 500: Internal Server Error", reasonExhausted},
		{"permanent", []int{400}, store.NotificationFailed, 1, nil, "HTTP 400: Bad Request", reasonPermanent},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hook := newCapture(t, tc.replies...)
			cfg := webhookConfig(map[string]string{"hook": hook.URL})
			cfg.MaxAttempts = 4
			c := newClock()
			r := newRig(t, openSQLite(t), cfg, c, "a")
			r.feed(incident("I1", osprey.SeverityError, nil))
			r.at(time.Minute)
			if n := len(hook.Requests()); n != tc.attempts {
				t.Errorf("%d requests, want %d", n, tc.attempts)
			}
			if got := c.Sleeps(); !slices.Equal(got, tc.sleeps) {
				t.Errorf("backoff pauses %v, want %v", got, tc.sleeps)
			}
			logged, err := r.st.ListNotifications(t.Context(), store.NotificationQuery{})
			if err != nil || len(logged) != 1 {
				t.Fatalf("log: %+v, %v", logged, err)
			}
			row := logged[0]
			if row.Status != tc.status || row.Attempts != tc.attempts || row.LastError != tc.lastError || row.FinishedAt.IsZero() {
				t.Errorf("log row %+v: want %s after %d attempts, last error %q", row, tc.status, tc.attempts, tc.lastError)
			}
			if tc.reason != "" {
				if v := testutil.ToFloat64(r.n.m.failed.WithLabelValues("hook", tc.reason)); v != 1 {
					t.Errorf("failed{%s} = %v, want 1", tc.reason, v)
				}
			}
			// A failed notification is final: it is not tried again.
			r.at(2 * time.Minute)
			if n := len(hook.Requests()); n != tc.attempts {
				t.Errorf("%d requests after another tick, want %d", n, tc.attempts)
			}
		})
	}
}

func TestRouting(t *testing.T) {
	a, b, c := newCapture(t), newCapture(t), newCapture(t)
	cfg := webhookConfig(map[string]string{"a-checkout": a.URL, "b-pager": b.URL, "c-default": c.URL},
		Route{Matchers: []string{"severity=~critical|error"}, Receivers: []string{"b-pager"}, Continue: true},
		Route{Matchers: []string{"service=checkout"}, Receivers: []string{"a-checkout"}, GroupWait: 2 * time.Minute},
		Route{Matchers: []string{"service=~search|cart"}, Receivers: []string{"b-pager"}},
	)
	cfg.DefaultReceiver = "c-default"
	r := newRig(t, openSQLite(t), cfg, newClock(), "a")
	r.feed(incident("crit-checkout", osprey.SeverityCritical, osprey.Labels{"service": "checkout"}))
	r.feed(incident("warn-checkout", osprey.SeverityWarning, osprey.Labels{"service": "checkout"}))
	r.feed(incident("warn-search", osprey.SeverityWarning, osprey.Labels{"service": "search"}))
	r.feed(incident("warn-other", osprey.SeverityWarning, osprey.Labels{"service": "other"}))
	r.at(time.Minute)
	ids := func(c *capture) []string {
		var out []string
		for _, q := range c.Requests() {
			var doc struct {
				Incident struct{ ID string } `json:"incident"`
			}
			_ = json.Unmarshal(q.Body, &doc)
			out = append(out, doc.Incident.ID)
		}
		slices.Sort(out)
		return out
	}
	wantKeys(t, "pager at 1m", ids(b), "crit-checkout", "warn-search")
	wantKeys(t, "checkout at 1m (group_wait 2m)", ids(a))
	wantKeys(t, "default at 1m", ids(c), "warn-other")
	r.at(2 * time.Minute)
	wantKeys(t, "checkout at 2m", ids(a), "crit-checkout", "warn-checkout")

	// An escalation that makes a route match adds its receiver.
	esc := incident("warn-other", osprey.SeverityError, osprey.Labels{"service": "other"})
	esc.UpdatedAt = t0.Add(2 * time.Minute)
	r.feed(esc)
	wantKeys(t, "pager after escalation", ids(b), "crit-checkout", "warn-other", "warn-search")
}

func TestRateLimit(t *testing.T) {
	hook := newCapture(t)
	cfg := webhookConfig(map[string]string{"hook": hook.URL})
	cfg.RateLimitPerMinute = 2
	c := newClock()
	r := newRig(t, openSQLite(t), cfg, c, "a")
	for _, id := range []string{"I1", "I2", "I3", "I4"} {
		r.feed(incident(id, osprey.SeverityError, nil))
	}
	r.at(time.Minute)
	if n := len(hook.Requests()); n != 4 {
		t.Fatalf("%d requests, want 4", n)
	}
	// Two go at once (the burst); the others wait 30s each for a token.
	if got := c.Sleeps(); !slices.Equal(got, []time.Duration{30 * time.Second, 30 * time.Second}) {
		t.Errorf("rate-limit pauses %v, want [30s 30s]", got)
	}
	if v := testutil.ToFloat64(r.n.m.rateLimited.WithLabelValues("hook")); v != 2 {
		t.Errorf("rate_limited = %v, want 2", v)
	}
}

// exactlyOnce runs two notifiers on one store against one receiver: every
// notification arrives once, and a third notifier started afterwards (a
// restart) sends nothing again.
func exactlyOnce(t *testing.T, st store.Store) {
	hook := newCapture(t)
	cfg := webhookConfig(map[string]string{"hook": hook.URL})
	cfg.RepeatInterval = time.Hour
	c := newClock()
	r1 := newRig(t, st, cfg, c, "replica-1")
	r2 := newRig(t, st, cfg, c, "replica-2")
	incs := []osprey.Incident{incident("I1", osprey.SeverityError, nil), incident("I2", osprey.SeverityWarning, nil)}
	for _, inc := range incs {
		r1.feed(inc)
		if err := r2.n.ConsumeIncidents(t.Context(), []osprey.Incident{inc}); err != nil {
			t.Fatal(err)
		}
	}
	step := func(d time.Duration) {
		c.Advance(t0.Add(d).Sub(c.Now()))
		done := make(chan struct{})
		go func() { r2.n.Flush(); close(done) }()
		r1.n.Flush()
		<-done
	}
	step(time.Minute)
	step(time.Hour + time.Minute)
	incs[0].Status, incs[0].ResolvedAt, incs[0].UpdatedAt = osprey.IncidentResolved, c.Now(), c.Now()
	if err := st.SaveIncident(t.Context(), incs[0]); err != nil {
		t.Fatal(err)
	}
	for _, r := range []*rig{r1, r2} {
		if err := r.n.ConsumeIncidents(t.Context(), incs[:1]); err != nil {
			t.Fatal(err)
		}
	}
	step(time.Hour + 2*time.Minute)

	r3 := newRig(t, st, cfg, c, "replica-3")
	r3.n.Flush()
	step(time.Hour + 3*time.Minute)

	var got []string
	for _, q := range hook.Requests() {
		var doc struct {
			Key      string
			Incident struct{ ID string }
		}
		_ = json.Unmarshal(q.Body, &doc)
		got = append(got, doc.Incident.ID+"/"+doc.Key)
	}
	slices.Sort(got)
	wantKeys(t, "two replicas and a restart", got, "I1/opened", "I1/repeat-1", "I1/resolved", "I2/opened", "I2/repeat-1")
	dup := testutil.ToFloat64(r1.n.m.suppressed.WithLabelValues("hook", reasonDuplicate)) +
		testutil.ToFloat64(r2.n.m.suppressed.WithLabelValues("hook", reasonDuplicate))
	t.Logf("claims lost to the other replica: %v", dup)
}

func TestExactlyOnceSQLite(t *testing.T) { exactlyOnce(t, openSQLite(t)) }

// TestResumeOwnClaim: a notifier that stopped between attempts resumes its
// own claim after a restart instead of waiting for it to go stale.
func TestResumeOwnClaim(t *testing.T) {
	hook := newCapture(t, 500, 200)
	st := openSQLite(t)
	cfg := webhookConfig(map[string]string{"hook": hook.URL})
	c := newClock()
	first := newRig(t, st, cfg, c, "host-1")
	first.feed(incident("I1", osprey.SeverityError, nil))
	// Shutting down interrupts the backoff after the first attempt.
	first.n.sleep = func(ctx context.Context, d time.Duration) error {
		first.n.mu.Lock()
		first.n.stopping = true // as Shutdown does before cancelling the wait
		first.n.mu.Unlock()
		return context.Canceled
	}
	first.at(time.Minute)
	logged, err := st.ListNotifications(t.Context(), store.NotificationQuery{})
	if err != nil || len(logged) != 1 || logged[0].Status != store.NotificationSending || logged[0].LastError == "" {
		t.Fatalf("after the interrupted delivery: %+v, %v", logged, err)
	}
	if err := first.n.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	second := newRig(t, st, cfg, c, "host-1")
	second.at(time.Minute + time.Second)
	logged, err = st.ListNotifications(t.Context(), store.NotificationQuery{})
	if err != nil || len(logged) != 1 || logged[0].Status != store.NotificationSent {
		t.Fatalf("after the restart: %+v, %v", logged, err)
	}
	if n := len(hook.Requests()); n != 2 {
		t.Errorf("%d requests, want 2 (the failed one and the resumed one)", n)
	}
}

// TestReopen: a reopened incident is notified as a new generation of keys,
// also by a notifier that restarted in between.
func TestReopen(t *testing.T) {
	hook := newCapture(t)
	st := openSQLite(t)
	cfg := webhookConfig(map[string]string{"hook": hook.URL})
	c := newClock()
	r := newRig(t, st, cfg, c, "a")
	inc := incident("I1", osprey.SeverityError, nil)
	r.feed(inc)
	r.at(time.Minute)
	resolve := func(d time.Duration) {
		inc.Status, inc.ResolvedAt, inc.UpdatedAt = osprey.IncidentResolved, t0.Add(d), t0.Add(d)
		r.at(d)
		r.feed(inc)
	}
	reopen := func(d time.Duration) {
		inc.Status, inc.ResolvedAt, inc.UpdatedAt = osprey.IncidentOpen, time.Time{}, t0.Add(d)
		r.at(d)
		r.feed(inc)
	}
	resolve(2 * time.Minute)
	reopen(3 * time.Minute)
	resolve(4 * time.Minute)
	// A restart, then the second reopening.
	if err := r.n.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	r = newRig(t, st, cfg, c, "a")
	reopen(5 * time.Minute)
	wantKeys(t, "reopened twice", kinds(t, hook.Requests()), "opened", "resolved", "opened-r1", "resolved-r1", "opened-r2")
	if body := string(hook.Requests()[2].Body); !strings.Contains(body, "Incident reopened") {
		t.Errorf("the reopened message does not say so: %s", body)
	}
}

// TestLateFirstNotificationIsNotRepeatedAtOnce: an incident first seen long
// after it opened (a receiver added, a restart) gets its opening now and its
// first repeat one interval later, not both at once.
func TestLateFirstNotificationIsNotRepeatedAtOnce(t *testing.T) {
	hook := newCapture(t)
	cfg := webhookConfig(map[string]string{"hook": hook.URL})
	cfg.RepeatInterval = time.Hour
	c := newClock()
	r := newRig(t, openSQLite(t), cfg, c, "a")
	r.at(3*time.Hour + 30*time.Minute)
	r.feed(incident("I1", osprey.SeverityError, nil))
	r.at(3*time.Hour + 31*time.Minute)
	wantKeys(t, "late opening", kinds(t, hook.Requests()), "opened")
	r.at(4*time.Hour + 31*time.Minute)
	wantKeys(t, "one interval later", kinds(t, hook.Requests()), "opened", "repeat-4")
}

// TestEveryReceiverKind drives one incident through opened, acknowledged
// and resolved to one receiver of each kind, each a real local listener.
func TestEveryReceiverKind(t *testing.T) {
	slack, pd, am := newCapture(t), newCapture(t, http.StatusAccepted), newCapture(t)
	mailSrv := newSMTPServer(t, nil, "")
	cfg := DefaultConfig()
	cfg.ExternalURL = "https://osprey.example.com/"
	cfg.Receivers = []Receiver{
		{Name: "slack", Slack: SlackConfig{URL: Secret{Value: slack.URL + "/services/x"}}},
		{Name: "pd", PagerDuty: PagerDutyConfig{RoutingKey: Secret{Value: "key"}, URL: pd.URL + "/v2/enqueue"}},
		{Name: "am", Alertmanager: AlertmanagerConfig{URL: am.URL}},
		{Name: "mail", Email: EmailConfig{To: []string{"ops@example.com"}, From: "osprey@example.com", Smarthost: mailSrv.Addr()}},
	}
	cfg.Routes = []Route{{Receivers: []string{"slack", "pd", "am", "mail"}}}
	r := newRig(t, openSQLite(t), cfg, newClock(), "a")
	inc := incident("I1", osprey.SeverityCritical, osprey.Labels{"service": "checkout"})
	r.feed(inc)
	r.at(time.Minute)
	inc.Status, inc.UpdatedAt = osprey.IncidentAcknowledged, t0.Add(2*time.Minute)
	r.at(2 * time.Minute)
	r.feed(inc)
	inc.Status, inc.ResolvedAt, inc.UpdatedAt = osprey.IncidentResolved, t0.Add(3*time.Minute), t0.Add(3*time.Minute)
	r.at(3 * time.Minute)
	r.feed(inc)

	if n := len(slack.Requests()); n != 3 {
		t.Errorf("slack: %d requests, want 3", n)
	}
	var actions []string
	for _, q := range pd.Requests() {
		var ev pdEvent
		if err := json.Unmarshal(q.Body, &ev); err != nil {
			t.Fatal(err)
		}
		if ev.DedupKey != "I1" || ev.RoutingKey != "key" {
			t.Errorf("pagerduty event %+v: want dedup key I1", ev)
		}
		actions = append(actions, ev.EventAction)
	}
	wantKeys(t, "pagerduty actions", actions, "trigger", "acknowledge", "resolve")
	var ends []string
	for _, q := range am.Requests() {
		var alerts []postableAlert
		if err := json.Unmarshal(q.Body, &alerts); err != nil || len(alerts) != 1 || q.Path != "/api/v2/alerts" {
			t.Fatalf("alertmanager request %s %s: %v", q.Path, q.Body, err)
		}
		ends = append(ends, alerts[0].EndsAt)
	}
	wantKeys(t, "alertmanager endsAt", ends, "2026-05-04T22:01:00Z", "2026-05-04T22:02:00Z", "2026-05-04T10:03:00Z")
	mails := mailSrv.Mails()
	if len(mails) != 3 {
		t.Fatalf("%d mails, want 3", len(mails))
	}
	for i, want := range []string{"Message-ID: <I1.opened.mail@example.com>", "In-Reply-To: <I1.opened.mail@example.com>", "Message-ID: <I1.resolved.mail@example.com>"} {
		if !strings.Contains(mails[i].Data, want+"\r\n") {
			t.Errorf("mail %d lacks %q:\n%s", i, want, mails[i].Data)
		}
	}
}

// TestTakeOverDeadClaim: a notifier dies between attempts; another one
// (another instance) leaves the claim alone while it could be live, then
// takes it over and delivers, keeping the attempt count.
func TestTakeOverDeadClaim(t *testing.T) {
	hook := newCapture(t, 500, 200)
	st := openSQLite(t)
	cfg := webhookConfig(map[string]string{"hook": hook.URL})
	c := newClock()
	dead := newRig(t, st, cfg, c, "host-1")
	dead.n.sleep = func(ctx context.Context, d time.Duration) error {
		dead.n.mu.Lock()
		dead.n.stopping = true
		dead.n.mu.Unlock()
		return context.Canceled
	}
	dead.feed(incident("I1", osprey.SeverityError, nil))
	dead.at(time.Minute)

	other := newRig(t, st, cfg, c, "host-2")
	other.at(time.Minute + time.Second)
	other.at(3 * time.Minute)
	if n := len(hook.Requests()); n != 1 {
		t.Fatalf("%d requests while the claim could be live, want 1", n)
	}
	lease := other.n.lease()
	other.at(time.Minute + lease + 2*time.Second)
	logged, err := st.ListNotifications(t.Context(), store.NotificationQuery{})
	if err != nil || len(logged) != 1 {
		t.Fatalf("log: %+v, %v", logged, err)
	}
	if row := logged[0]; row.Status != store.NotificationSent || row.ClaimedBy != "host-2" || row.Attempts != 2 {
		t.Errorf("row %+v: want sent by host-2 after 2 attempts in all", row)
	}
	if n := len(hook.Requests()); n != 2 {
		t.Errorf("%d requests, want 2", n)
	}
}

// TestAttemptTimeoutAndRetryAfter: an attempt that hangs is cut off by the
// timeout and retried; a 429 with Retry-After is retried after the pause the
// server asked for.
func TestAttemptTimeoutAndRetryAfter(t *testing.T) {
	var calls atomic.Int32
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch calls.Add(1) {
		case 1:
			select { // hang until the client gives up
			case <-r.Context().Done():
			case <-stop:
			}
		case 2:
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusTooManyRequests)
		}
	}))
	defer srv.Close()
	defer close(stop)
	cfg := webhookConfig(map[string]string{"hook": srv.URL})
	cfg.Timeout = 50 * time.Millisecond
	c := newClock()
	r := newRig(t, openSQLite(t), cfg, c, "a")
	r.feed(incident("I1", osprey.SeverityError, nil))
	r.at(time.Minute)
	logged, err := r.st.ListNotifications(t.Context(), store.NotificationQuery{})
	if err != nil || len(logged) != 1 {
		t.Fatalf("log: %+v, %v", logged, err)
	}
	if row := logged[0]; row.Status != store.NotificationSent || row.Attempts != 3 || !strings.HasPrefix(row.LastError, "HTTP 429") {
		t.Errorf("row %+v: want sent after 3 attempts, the last error a 429", row)
	}
	if got := c.Sleeps(); len(got) != 2 || got[1] != 7*time.Second {
		t.Errorf("pauses %v: want the second to be the 7s Retry-After", got)
	}
}
