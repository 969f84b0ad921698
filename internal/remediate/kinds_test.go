package remediate

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/remediate/action"
	"github.com/osprey-aiops/osprey/internal/store/sqlite"
)

// engineWith starts an engine on its own SQLite store with opts (Store,
// Config defaults filled in).
func engineWith(t *testing.T, opts Options) (*Engine, *sqlite.Store) {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "osprey.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	opts.Store = st
	eng, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = eng.Shutdown(ctx)
	})
	return eng, st
}

func openIncident(t *testing.T, st *sqlite.Store, id string, labels osprey.Labels) osprey.Incident {
	t.Helper()
	now := time.Now()
	inc := osprey.Incident{ID: id, Title: "trouble", Status: osprey.IncidentOpen, Severity: osprey.SeverityCritical,
		Labels: labels, OpenedAt: now, UpdatedAt: now,
		Members: []*osprey.Member{{Kind: osprey.MemberEvent, Name: "ServiceDown", Labels: labels, Severity: osprey.SeverityCritical,
			Status: osprey.StatusFiring, FirstSeen: now, LastSeen: now, Count: 1}}}
	if err := st.SaveIncident(t.Context(), inc); err != nil {
		t.Fatal(err)
	}
	return inc
}

func onlyRunOf(t *testing.T, st *sqlite.Store, incidentID string) osprey.RunbookRun {
	t.Helper()
	runs, err := st.ListRuns(t.Context(), incidentID, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 {
		t.Fatalf("incident %s has %d runs, want 1", incidentID, len(runs))
	}
	return runs[0]
}

// TestSystemdStep plans and runs a systemd step with a fake systemctl (a
// real program that records its argv): the dry run shows the exact argv,
// the auto run executes exactly it, and a hostile service label is refused.
func TestSystemdStep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newRecorder(t)
		cfg := DefaultConfig()
		cfg.ExecAllow, cfg.Systemctl = []string{rec.path}, rec.path
		for _, mode := range []Mode{ModeDryRun, ModeAuto} {
			cfg.Runbooks = append(cfg.Runbooks, Runbook{
				Name: "restart-" + string(mode), Mode: mode,
				Trigger: `incident.labels.?mode.orValue("") == "` + string(mode) + `"`,
				Steps:   []Step{{Name: "restart", Systemd: action.SystemdSpec{Unit: "{{ .Incident.Labels.service }}.service", Verb: "restart"}}},
			})
		}
		eng, st := engineWith(t, Options{Config: cfg})
		dry := openIncident(t, st, "inc-dry", osprey.Labels{"service": "web", "mode": "dry-run"})
		auto := openIncident(t, st, "inc-auto", osprey.Labels{"service": "api", "mode": "auto"})
		evil := openIncident(t, st, "inc-evil", osprey.Labels{"service": "--now", "mode": "auto"})
		if err := eng.ConsumeIncidents(t.Context(), []osprey.Incident{dry, auto, evil}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()

		r := onlyRunOf(t, st, "inc-dry")
		want := []string{rec.path, "restart", "--", "web.service"}
		if r.Status != StatusPlanned || r.Actions[0].Type != "systemd" || !slices.Equal(r.Actions[0].Args, want) {
			t.Errorf("dry run %s %+v, want planned systemd %q", r.Status, r.Actions, want)
		}
		r = onlyRunOf(t, st, "inc-auto")
		if r.Status != osprey.RunSucceeded || Outcome(r) != OutcomeUnverified {
			t.Errorf("auto run %s (%s), want succeeded, unverified", r.Status, Outcome(r))
		}
		r = onlyRunOf(t, st, "inc-evil")
		if r.Status != osprey.RunFailed || !strings.Contains(r.Actions[0].Error, "plan refused") || Outcome(r) != OutcomeError {
			t.Errorf("hostile run %s %+v (%s), want failed: plan refused", r.Status, r.Actions, Outcome(r))
		}
		if got := rec.calls(t); !slices.EqualFunc(got, [][]string{{"restart", "--", "api.service"}}, slices.Equal[[]string]) {
			t.Errorf("systemctl saw %q, want exactly one restart of api.service", got)
		}
	})
}

func TestSystemdNeedsExecAllow(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Runbooks = []Runbook{{Name: "r", Trigger: "true",
		Steps: []Step{{Name: "s", Systemd: action.SystemdSpec{Unit: "web.service", Verb: "restart"}}}}}
	err := cfg.Validate()
	if err == nil || !strings.Contains(err.Error(), "runbooks[0].steps[0].systemd: systemd steps run /usr/bin/systemctl, which is not on remediation.exec_allow") {
		t.Fatalf("Validate = %v", err)
	}
	cfg.ExecAllow = []string{"/usr/bin/systemctl"}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
}

// fakeNotifier records what notify steps hand it.
type fakeNotifier struct {
	mu   sync.Mutex
	sent []string
}

func (f *fakeNotifier) Notify(_ context.Context, receiver string, inc osprey.Incident, text string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, receiver+"|"+inc.ID+"|"+inc.Labels.Get("service")+"|"+text)
	return nil
}

func TestNotifyStep(t *testing.T) {
	rb := Runbook{Name: "tell", Mode: ModeAuto, Trigger: "true",
		Steps: []Step{{Name: "tell", Notify: action.NotifySpec{Receiver: "oncall", Text: "osprey looked at {{ .Incident.Labels.service }}"}}}}
	cfg := DefaultConfig()
	cfg.Runbooks = []Runbook{rb}

	t.Run("wired", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			n := &fakeNotifier{}
			eng, st := engineWith(t, Options{Config: cfg, Notifier: n})
			inc := openIncident(t, st, "inc1", osprey.Labels{"service": "web"})
			if err := eng.ConsumeIncidents(t.Context(), []osprey.Incident{inc}); err != nil {
				t.Fatal(err)
			}
			synctest.Wait()
			r := onlyRunOf(t, st, "inc1")
			if r.Status != osprey.RunSucceeded || !slices.Equal(r.Actions[0].Args, []string{"oncall", "inc1", "osprey looked at web"}) {
				t.Errorf("run %s %+v", r.Status, r.Actions)
			}
			if !slices.Equal(n.sent, []string{"oncall|inc1|web|osprey looked at web"}) {
				t.Errorf("sent %q", n.sent)
			}
		})
	})
	t.Run("not wired", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			eng, st := engineWith(t, Options{Config: cfg})
			inc := openIncident(t, st, "inc1", osprey.Labels{"service": "web"})
			if err := eng.ConsumeIncidents(t.Context(), []osprey.Incident{inc}); err != nil {
				t.Fatal(err)
			}
			synctest.Wait()
			r := onlyRunOf(t, st, "inc1")
			if r.Status != osprey.RunFailed || !strings.Contains(r.Actions[0].Error, "notifications not configured") {
				t.Errorf("run %s %+v, want failed: notifications not configured", r.Status, r.Actions)
			}
		})
	})
}

// TestReload swaps the runbooks: a run in flight keeps its version, new
// incidents see the new runbooks, an invalid section changes nothing, and
// an engine without a source says so.
func TestReload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newRecorder(t)
		v1 := Runbook{Name: "restart", Mode: ModeApproval, Trigger: `"service" in incident.labels`,
			Steps: []Step{{Name: "restart", Exec: action.ExecSpec{Argv: []string{rec.path, "v1", "{{ .Incident.Labels.service }}"}}}}}
		cfg := DefaultConfig()
		cfg.ExecAllow = []string{rec.path}
		cfg.Runbooks = []Runbook{v1}

		var mu sync.Mutex
		next := cfg
		var nextErr error
		source := func() (Config, error) {
			mu.Lock()
			defer mu.Unlock()
			return next, nextErr
		}
		eng, st := engineWith(t, Options{Config: cfg, Source: source})
		inc1 := openIncident(t, st, "inc1", osprey.Labels{"service": "web"})
		if err := eng.ConsumeIncidents(t.Context(), []osprey.Incident{inc1}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		pending := onlyRunOf(t, st, "inc1")

		v2 := v1
		v2.Steps = []Step{{Name: "restart", Exec: action.ExecSpec{Argv: []string{rec.path, "v2", "{{ .Incident.Labels.service }}"}}}}
		added := Runbook{Name: "dry", Trigger: "false", Steps: []Step{{Name: "w", Wait: action.WaitSpec{Duration: time.Second}}}}
		mu.Lock()
		next = cfg
		next.Runbooks = []Runbook{v2, added}
		next.MaxConcurrency = 9
		mu.Unlock()
		res, err := eng.Reload(t.Context(), "alice", "new version")
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(res.Runbooks, []string{"restart", "dry"}) || !slices.Equal(res.Added, []string{"dry"}) ||
			!slices.Equal(res.Changed, []string{"restart"}) || len(res.Removed) != 0 || len(res.Notes) != 1 {
			t.Errorf("reload result %+v", res)
		}
		if names := eng.Runbooks(); len(names) != 2 {
			t.Errorf("Runbooks() = %+v", names)
		}

		// The run planned before the reload executes its own plan (v1).
		if err := eng.Approve(t.Context(), pending.ID, "bob", "ok"); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		// A new incident is planned with the new version.
		inc2 := openIncident(t, st, "inc2", osprey.Labels{"service": "api"})
		if err := eng.ConsumeIncidents(t.Context(), []osprey.Incident{inc2}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if r := onlyRunOf(t, st, "inc2"); !slices.Equal(r.Actions[0].Args, []string{rec.path, "v2", "api"}) {
			t.Errorf("new run planned %q, want v2", r.Actions[0].Args)
		}
		if got := rec.calls(t); !slices.EqualFunc(got, [][]string{{"v1", "web"}}, slices.Equal[[]string]) {
			t.Errorf("calls %q, want the in-flight run's v1 plan", got)
		}

		// An invalid section (a CEL type error) is refused; nothing changes.
		bad := next
		bad.Runbooks = []Runbook{{Name: "bad", Trigger: "incident.lables.x == 1", Steps: v1.Steps}}
		mu.Lock()
		next = bad
		mu.Unlock()
		if _, err := eng.Reload(t.Context(), "alice", ""); !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "lables") {
			t.Errorf("invalid reload = %v, want ErrInvalidConfig naming the field", err)
		}
		mu.Lock()
		nextErr = errors.New("config.yaml:3: unknown key")
		mu.Unlock()
		if _, err := eng.Reload(t.Context(), "alice", ""); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("reload of an unreadable file = %v", err)
		}
		if names := eng.Runbooks(); len(names) != 2 || names[0].Name != "restart" {
			t.Errorf("a refused reload changed the runbooks: %+v", names)
		}
		audit, err := st.ListAudit(t.Context(), time.Time{}, 100)
		if err != nil {
			t.Fatal(err)
		}
		var acts []string
		for _, e := range audit {
			if strings.HasPrefix(e.Action, "remediation.reload") {
				acts = append(acts, e.Actor+" "+e.Action)
			}
		}
		if !slices.Contains(acts, "alice remediation.reloaded") || !slices.Contains(acts, "alice remediation.reload_failed") {
			t.Errorf("audit %q", acts)
		}

		eng2, _ := engineWith(t, Options{Config: cfg})
		if _, err := eng2.Reload(t.Context(), "alice", ""); !errors.Is(err, ErrNoConfigSource) {
			t.Errorf("reload without source = %v", err)
		}
	})
}

func TestOutcome(t *testing.T) {
	act := func(typ string, s osprey.RunStatus) osprey.Action {
		return osprey.Action{Type: typ, Target: typ, Status: s}
	}
	tests := []struct {
		run  osprey.RunbookRun
		want string
	}{
		{osprey.RunbookRun{Status: StatusPlanned, Actions: []osprey.Action{act("exec", StatusPlanned)}}, ""},
		{osprey.RunbookRun{Status: osprey.RunPendingApproval}, ""},
		{osprey.RunbookRun{Status: osprey.RunRejected}, ""},
		{osprey.RunbookRun{Status: osprey.RunRunning, Actions: []osprey.Action{act("exec", osprey.RunRunning)}}, ""},
		{osprey.RunbookRun{Status: osprey.RunSucceeded, Actions: []osprey.Action{act("exec", osprey.RunSucceeded), act("verify", osprey.RunSucceeded)}}, OutcomeCleared},
		{osprey.RunbookRun{Status: osprey.RunFailed, Actions: []osprey.Action{act("exec", osprey.RunSucceeded), act("verify", osprey.RunFailed)}}, OutcomeNotCleared},
		{osprey.RunbookRun{Status: osprey.RunEscalated, Actions: []osprey.Action{act("exec", osprey.RunSucceeded), act("verify", osprey.RunFailed)}}, OutcomeNotCleared},
		{osprey.RunbookRun{Status: osprey.RunFailed, Actions: []osprey.Action{act("exec", osprey.RunFailed), act("verify", StatusSkipped)}}, OutcomeError},
		{osprey.RunbookRun{Status: osprey.RunEscalated, Actions: []osprey.Action{act("exec", StatusUnknown)}}, OutcomeError},
		{osprey.RunbookRun{Status: osprey.RunSucceeded, Actions: []osprey.Action{act("exec", osprey.RunSucceeded)}}, OutcomeUnverified},
	}
	for i, tc := range tests {
		if got := Outcome(tc.run); got != tc.want {
			t.Errorf("%d: Outcome(%s %v) = %q, want %q", i, tc.run.Status, statuses(tc.run), got, tc.want)
		}
	}
}

func TestCheckReceivers(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Runbooks = []Runbook{{Name: "r", Trigger: "true",
		Steps:     []Step{{Name: "a", Notify: action.NotifySpec{Receiver: "oncall", Text: "x"}}},
		OnFailure: []Step{{Name: "b", Notify: action.NotifySpec{Receiver: "nobody", Text: "x"}}}}}
	if err := cfg.CheckReceivers([]string{"oncall", "nobody"}); err != nil {
		t.Fatal(err)
	}
	err := cfg.CheckReceivers([]string{"oncall"})
	if err == nil || err.Error() != `runbooks[0].on_failure[0].notify.receiver: "nobody" is not a receiver of notifications.receivers` {
		t.Fatalf("CheckReceivers = %v", err)
	}
}
