package replay

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey/internal/config"
	"github.com/osprey-aiops/osprey/internal/notify"
)

// notifyConfig returns a notifications section with one webhook receiver
// (every incident goes to it, after a group_wait of 1m) whose URL is a
// server that fails the test if anything reaches it: a replay must not
// send.
func notifyConfig(t *testing.T) notify.Config {
	t.Helper()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(func() {
		srv.Close()
		if n := hits.Load(); n > 0 {
			t.Errorf("the replay sent %d real HTTP requests to the webhook", n)
		}
	})
	nc := notify.DefaultConfig()
	nc.GroupWait = time.Minute
	nc.Receivers = []notify.Receiver{{Name: "oncall", Webhook: notify.WebhookConfig{URL: srv.URL + "/hook"}}}
	nc.DefaultReceiver = "oncall"
	return nc
}

// TestNotificationsOpenedResolved replays one alert that fires and
// resolves: the webhook receiver would have been told once of the opening
// (after group_wait) and once of the resolution, and nothing is sent.
func TestNotificationsOpenedResolved(t *testing.T) {
	at := func(m int) string { return t0.Add(time.Duration(m) * time.Minute).Format(time.RFC3339) }
	lines := `{"name":"DiskFull","labels":{"service":"billing"},"severity":"critical","startsAt":"` + at(0) + `"}` + "\n" +
		`{"name":"DiskFull","labels":{"service":"billing"},"status":"resolved","startsAt":"` + at(0) + `","endsAt":"` + at(10) + `"}` + "\n"
	path := filepath.Join(t.TempDir(), "alerts.jsonl")
	if err := os.WriteFile(path, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Notifications = notifyConfig(t)
	cfg.Correlate.ResolveGrace = 0 // the data ends with the resolution
	for _, seq := range []bool{true, false} {
		rep, err := Run(context.Background(), Options{Inputs: []Source{EventsSource{Path: path}},
			Configs: []NamedConfig{{Name: "default", Config: cfg}}, Window: Window{Step: time.Minute}, Sequential: seq})
		if err != nil {
			t.Fatal(err)
		}
		ns := rep.Results[0].Notifications
		if !ns.Available || ns.Total != 2 || len(ns.List) != 2 || len(ns.ByReceiver) != 1 {
			t.Fatalf("sequential=%v: notifications %+v", seq, ns)
		}
		rn := ns.ByReceiver[0]
		if rn.Receiver != "oncall" || rn.Type != "webhook" || rn.ByKind["opened"] != 1 || rn.ByKind["resolved"] != 1 || rn.Total != 2 {
			t.Errorf("sequential=%v: receiver counts %+v", seq, rn)
		}
		opened, resolved := ns.List[0], ns.List[1]
		if opened.Kind != "opened" || !opened.At.Equal(t0.Add(time.Minute)) || opened.Incident != "I1" || opened.Receiver != "oncall" {
			t.Errorf("sequential=%v: first notification %+v, want opened I1 at %s (group_wait after the opening)", seq, opened, t0.Add(time.Minute))
		}
		if resolved.Kind != "resolved" || !resolved.At.Equal(t0.Add(10*time.Minute)) || resolved.Incident != "I1" {
			t.Errorf("sequential=%v: second notification %+v, want resolved I1 at %s", seq, resolved, t0.Add(10*time.Minute))
		}
		if !strings.Contains(opened.Payload, `"kind":"opened"`) && !strings.Contains(opened.Payload, `"opened"`) {
			t.Errorf("sequential=%v: payload %q does not look like the webhook's document", seq, opened.Payload)
		}
		var md strings.Builder
		if err := rep.WriteMarkdown(&md); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"| oncall | webhook | 1 | 0 | 0 | 1 | 0 | 2 |", "oncall: opened I1 (opened)", "oncall: resolved I1 (resolved)"} {
			if !strings.Contains(md.String(), want) {
				t.Errorf("sequential=%v: markdown lacks %q:\n%s", seq, want, md.String())
			}
		}
	}
}

// TestNotificationsNoReceivers: without receivers the section says so.
func TestNotificationsNoReceivers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alerts.jsonl")
	if err := os.WriteFile(path, []byte(eventLines()), 0o600); err != nil {
		t.Fatal(err)
	}
	rep := run(t, []Source{EventsSource{Path: path}})
	ns := rep.Results[0].Notifications
	if ns.Available || ns.Total != 0 || !strings.Contains(ns.Note, "no notification receivers") {
		t.Errorf("notifications %+v", ns)
	}
}

// TestNotificationsDiff: with receivers only in B, the diff counts B's
// notifications.
func TestNotificationsDiff(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alerts.jsonl")
	if err := os.WriteFile(path, []byte(eventLines()), 0o600); err != nil {
		t.Fatal(err)
	}
	b := config.Default()
	b.Notifications = notifyConfig(t)
	rep := run(t, []Source{EventsSource{Path: path}}, NamedConfig{Name: "A", Config: config.Default()}, NamedConfig{Name: "B", Config: b})
	d := rep.Diff
	if d == nil || d.Notifications.A["total"] != 0 || d.Notifications.B["total"] == 0 || d.Notifications.B["opened"] != 1 {
		t.Fatalf("diff %+v", d)
	}
	var md strings.Builder
	if err := rep.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "| notifications | A | B |") {
		t.Errorf("markdown diff lacks the notification counts:\n%s", md.String())
	}
}

// TestResolveGraceInVirtualTime: replay honours correlate.resolve_grace as
// serve does. An alert that clears at 10m resolves its incident when the
// grace (5m) has passed, at 15m, and the resolution is handed on (here:
// notified) then, by the correlator's sweep on the virtual clock, not at
// the next record (an unrelated alert at 40m). An alert that fires again
// within the grace keeps its incident open.
func TestResolveGraceInVirtualTime(t *testing.T) {
	at := func(m int) string { return t0.Add(time.Duration(m) * time.Minute).Format(time.RFC3339) }
	ev := func(name, svc string, start, end int) string {
		s := `{"name":"` + name + `","labels":{"service":"` + svc + `"},"severity":"critical","startsAt":"` + at(start) + `"`
		if end >= 0 {
			s += `,"status":"resolved","endsAt":"` + at(end) + `"`
		}
		return s + "}\n"
	}
	lines := ev("DiskFull", "billing", 0, -1) + ev("DiskFull", "billing", 0, 10) +
		ev("Errors", "mail", 1, -1) + ev("Errors", "mail", 1, 8) + ev("Errors", "mail", 12, -1) +
		ev("Latency", "search", 40, -1)
	path := filepath.Join(t.TempDir(), "alerts.jsonl")
	if err := os.WriteFile(path, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Correlate.ResolveGrace = 5 * time.Minute
	cfg.Notifications = notifyConfig(t)
	for _, seq := range []bool{true, false} {
		rep, err := Run(context.Background(), Options{Inputs: []Source{EventsSource{Path: path}},
			Configs: []NamedConfig{{Name: "default", Config: cfg}}, Window: Window{Step: time.Minute}, Sequential: seq})
		if err != nil {
			t.Fatal(err)
		}
		res := &rep.Results[0]
		status := map[string]string{}
		for _, inc := range res.Incidents.List {
			status[inc.Labels.Get("service")] = inc.Status
			if svc := inc.Labels.Get("service"); svc == "billing" && !inc.ResolvedAt.Equal(t0.Add(15*time.Minute)) {
				t.Errorf("sequential=%v: billing's incident resolved at %s, want %s (cleared at 10m, grace 5m)", seq, inc.ResolvedAt, t0.Add(15*time.Minute))
			}
		}
		if status["billing"] != "resolved" || status["mail"] != "open" || status["search"] != "open" {
			t.Errorf("sequential=%v: statuses %v, want billing resolved, mail open (fired again within the grace), search open", seq, status)
		}
		var resolved []NotificationItem
		for _, n := range res.Notifications.List {
			if n.Kind == "resolved" {
				resolved = append(resolved, n)
			}
		}
		if len(resolved) != 1 || !resolved[0].At.Equal(t0.Add(15*time.Minute)) {
			t.Errorf("sequential=%v: resolved notifications %+v, want one at %s", seq, resolved, t0.Add(15*time.Minute))
		}
	}
}
