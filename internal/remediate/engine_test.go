package remediate

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/remediate/action"
)

func TestDryRunShowsPlanAndRunsNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, restartRunbook("")) // the default mode is dry-run
		inc := h.incident("inc1", osprey.Labels{"service": "web"})
		h.consume(h.eng, inc)
		synctest.Wait()

		run := h.onlyRun("inc1")
		if run.Status != StatusPlanned || !run.DryRun {
			t.Fatalf("run %s dry %v, want planned dry run", run.Status, run.DryRun)
		}
		want := []string{h.rec.path, "restart", "web.service"}
		if len(run.Actions) != 1 || !slices.Equal(run.Actions[0].Args, want) || run.Actions[0].Type != "exec" {
			t.Fatalf("plan %+v, want exec %q", run.Actions, want)
		}
		if calls := h.rec.calls(t); len(calls) != 0 {
			t.Fatalf("a dry run executed %q", calls)
		}
		if !h.auditHas(Actor, "remediation.run.planned") {
			t.Error("no audit entry for the plan")
		}
		if tl := h.timeline("inc1"); !containsAny(tl, "dry run") || !containsAny(tl, "web.service") {
			t.Errorf("timeline %q does not show the plan", tl)
		}
		// Another snapshot of the same incident plans nothing new.
		h.consume(h.eng, inc)
		h.onlyRun("inc1")
	})
}

func TestApprovalFlow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rb := restartRunbook(ModeApproval)
		rb.ApprovalTimeout = 10 * time.Minute
		h := newHarness(t, rb)
		ctx := t.Context()

		// Approve: the planned argv runs once, the approver is recorded.
		h.consume(h.eng, h.incident("inc1", osprey.Labels{"service": "web"}))
		synctest.Wait()
		run := h.onlyRun("inc1")
		if run.Status != osprey.RunPendingApproval || len(h.rec.calls(t)) != 0 {
			t.Fatalf("run %s, %d calls: want pending and nothing run", run.Status, len(h.rec.calls(t)))
		}
		if err := h.eng.Approve(ctx, run.ID, "alice", "known fix for web"); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		run = h.onlyRun("inc1")
		if run.Status != osprey.RunSucceeded || run.ApprovedBy != "alice" {
			t.Fatalf("run %s approved by %q, want succeeded by alice", run.Status, run.ApprovedBy)
		}
		if calls := h.rec.calls(t); len(calls) != 1 || !slices.Equal(calls[0], []string{"restart", "web.service"}) {
			t.Fatalf("calls %q", calls)
		}
		if !h.auditHas("alice", "remediation.run.approved") {
			t.Error("the approval is not in the audit log under alice")
		}
		if err := h.eng.Approve(ctx, run.ID, "bob", "again"); !errors.Is(err, osprey.ErrConflict) {
			t.Errorf("second Approve = %v, want ErrConflict", err)
		}
		if err := h.eng.Approve(ctx, "nope", "bob", ""); !errors.Is(err, osprey.ErrNotFound) {
			t.Errorf("Approve(unknown) = %v, want ErrNotFound", err)
		}

		// Reject: nothing runs.
		h.consume(h.eng, h.incident("inc2", osprey.Labels{"service": "api"}))
		synctest.Wait()
		run2 := h.onlyRun("inc2")
		if err := h.eng.Reject(ctx, run2.ID, "carol", "not during the release"); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if run2 = h.onlyRun("inc2"); run2.Status != osprey.RunRejected || run2.ApprovedBy != "carol" {
			t.Fatalf("run %s by %q, want rejected by carol", run2.Status, run2.ApprovedBy)
		}
		if tl := h.timeline("inc2"); !containsAny(tl, "carol: runbook restart-web rejected by carol: not during the release") {
			t.Errorf("timeline %q", tl)
		}

		// Expiry: no decision within approval_timeout.
		h.consume(h.eng, h.incident("inc3", osprey.Labels{"service": "db"}))
		synctest.Wait()
		run3 := h.onlyRun("inc3")
		time.Sleep(10*time.Minute + time.Second)
		synctest.Wait()
		if run3 = h.onlyRun("inc3"); run3.Status != StatusExpired {
			t.Fatalf("run %s, want expired", run3.Status)
		}
		if err := h.eng.Approve(ctx, run3.ID, "alice", "late"); !errors.Is(err, osprey.ErrConflict) {
			t.Errorf("Approve(expired) = %v, want ErrConflict", err)
		}
		if n := len(h.rec.calls(t)); n != 1 {
			t.Fatalf("%d calls, want only the approved one", n)
		}

		// A pending run whose incident resolves is cancelled.
		inc4 := h.incident("inc4", osprey.Labels{"service": "cache"})
		h.consume(h.eng, inc4)
		h.consume(h.eng, h.resolve(inc4))
		synctest.Wait()
		if run4 := h.onlyRun("inc4"); run4.Status != StatusCancelled {
			t.Fatalf("run %s, want cancelled", run4.Status)
		}
	})
}

func TestCooldownPerTarget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rb := restartRunbook(ModeAuto)
		rb.Cooldown = 10 * time.Minute
		h := newHarness(t, rb)
		h.consume(h.eng, h.incident("inc1", osprey.Labels{"service": "web"}))
		synctest.Wait()
		time.Sleep(time.Minute)
		// A second incident on the same target inside the cooldown does not act.
		h.consume(h.eng, h.incident("inc2", osprey.Labels{"service": "web"}))
		// Another target is not held back.
		h.consume(h.eng, h.incident("inc3", osprey.Labels{"service": "api"}))
		synctest.Wait()
		if n := len(h.runs("inc2")); n != 0 {
			t.Fatalf("inc2 has %d runs inside the cooldown", n)
		}
		h.onlyRun("inc3")
		if tl := h.timeline("inc2"); !containsAny(tl, "did not run: cooldown") {
			t.Errorf("timeline %q does not say why", tl)
		}
		// Once the cooldown has passed, the still-open incident acts.
		time.Sleep(10 * time.Minute)
		h.consume(h.eng, h.incident("inc2", osprey.Labels{"service": "web"}))
		synctest.Wait()
		h.onlyRun("inc2")
		if got := h.rec.calls(t); len(got) != 3 {
			t.Fatalf("calls %q, want 3", got)
		}
	})
}

func TestMaxRunsPerHourAndMaxTargets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rate := restartRunbook(ModeAuto)
		rate.Name = "rate"
		rate.Trigger = `incident.labels.?group.orValue("") == "rate"`
		rate.MaxRunsPerHour = 2
		targets := restartRunbook(ModeAuto)
		targets.Name = "targets"
		targets.Trigger = `incident.labels.?group.orValue("") == "targets"`
		targets.MaxTargets = 2
		h := newHarness(t, rate, targets)

		for i, svc := range []string{"a", "b", "c"} {
			h.consume(h.eng, h.incident("rate"+svc, osprey.Labels{"group": "rate", "service": svc}))
			synctest.Wait()
			want := 1
			if i >= rate.MaxRunsPerHour {
				want = 0
			}
			if got := len(h.runs("rate" + svc)); got != want {
				t.Errorf("rate incident %d: %d runs, want %d", i, got, want)
			}
		}
		if !h.auditHas(Actor, "remediation.run.blocked") {
			t.Error("the rate limit block is not audited")
		}
		time.Sleep(time.Hour)
		h.consume(h.eng, h.incident("rated", osprey.Labels{"group": "rate", "service": "d"}))
		synctest.Wait()
		h.onlyRun("rated")

		for _, c := range []struct {
			id, svc string
			runs    int
		}{{"t1", "a", 1}, {"t2", "b", 1}, {"t3", "c", 0}, {"t4", "a", 1}} {
			h.consume(h.eng, h.incident(c.id, osprey.Labels{"group": "targets", "service": c.svc}))
			synctest.Wait()
			if got := len(h.runs(c.id)); got != c.runs {
				t.Errorf("targets incident %s on %s: %d runs, want %d", c.id, c.svc, got, c.runs)
			}
		}
	})
}

func TestPauseSwitch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		auto := restartRunbook(ModeAuto)
		auto.Trigger = `incident.labels.service == "web"`
		slow := restartRunbook(ModeAuto)
		slow.Name = "slow"
		slow.Trigger = `incident.labels.service == "slow"`
		slow.Steps = append([]Step{{Name: "settle", Wait: action.WaitSpec{Duration: time.Minute}}}, slow.Steps...)
		appr := restartRunbook(ModeApproval)
		appr.Name = "approve-me"
		appr.Trigger = `incident.labels.service == "db"`
		h := newHarness(t, auto, slow, appr)
		ctx := t.Context()

		// A run in flight stops before its next step.
		h.consume(h.eng, h.incident("slow1", osprey.Labels{"service": "slow"}))
		synctest.Wait()
		if err := h.eng.Pause(ctx, "alice", "incident review"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		if n := len(h.rec.calls(t)); n != 0 {
			t.Fatalf("%d steps ran while paused", n)
		}
		// Auto runs do not trigger; approvals are refused.
		web := h.incident("web1", osprey.Labels{"service": "web"})
		h.consume(h.eng, web, h.incident("db1", osprey.Labels{"service": "db"}))
		synctest.Wait()
		if n := len(h.runs("web1")); n != 0 {
			t.Fatalf("an auto run was created while paused")
		}
		pending := h.onlyRun("db1")
		if err := h.eng.Approve(ctx, pending.ID, "bob", "go"); !errors.Is(err, ErrPaused) || !errors.Is(err, osprey.ErrConflict) {
			t.Fatalf("Approve while paused = %v", err)
		}
		// The switch survives a restart.
		if !h.start(auto, slow, appr).Paused() {
			t.Fatal("a restarted engine is not paused")
		}
		if !h.auditHas("alice", "remediation.paused") {
			t.Error("pause not audited")
		}

		if err := h.eng.Resume(ctx, "alice", "review done"); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		h.consume(h.eng, web)
		synctest.Wait()
		if r := h.onlyRun("slow1"); r.Status != osprey.RunSucceeded {
			t.Errorf("held run %s, want succeeded after Resume", r.Status)
		}
		if r := h.onlyRun("web1"); r.Status != osprey.RunSucceeded {
			t.Errorf("web run %s, want succeeded after Resume", r.Status)
		}
		if n := len(h.rec.calls(t)); n != 2 {
			t.Fatalf("%d calls after Resume, want 2", n)
		}
	})
}

func verifyRunbook() Runbook {
	rb := restartRunbook(ModeAuto)
	rb.Verify = Verify{Within: 5 * time.Minute}
	rb.OnFailure = []Step{{
		Name: "escalate",
		Exec: action.ExecSpec{Argv: []string{"REC", "escalate", "{{ .Incident.ID }}"}},
	}}
	return rb
}

func TestVerifyCleared(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, verifyRunbook())
		inc := h.incident("inc1", osprey.Labels{"service": "web"})
		h.consume(h.eng, inc)
		synctest.Wait()
		if r := h.onlyRun("inc1"); r.Status != osprey.RunRunning {
			t.Fatalf("run %s while verifying, want running", r.Status)
		}
		time.Sleep(2 * time.Minute)
		h.consume(h.eng, h.resolve(inc))
		synctest.Wait()
		r := h.onlyRun("inc1")
		want := []osprey.RunStatus{osprey.RunSucceeded, osprey.RunSucceeded, StatusSkipped}
		if r.Status != osprey.RunSucceeded || !slices.Equal(statuses(r), want) {
			t.Fatalf("run %s actions %v, want succeeded %v", r.Status, statuses(r), want)
		}
		if calls := h.rec.calls(t); len(calls) != 1 {
			t.Fatalf("calls %q: on_failure ran after a cleared incident", calls)
		}
		tl := h.timeline("inc1")
		for _, want := range []string{"runs automatically", "step restart", "verifying", "verification cleared", "succeeded: the incident cleared"} {
			if !containsAny(tl, want) {
				t.Errorf("timeline lacks %q: %q", want, tl)
			}
		}
		if !h.auditHas(Actor, "remediation.verify.cleared") || !h.auditHas(Actor, "remediation.step.finished") {
			t.Error("verification or step missing from the audit log")
		}
	})
}

func TestVerifyNotClearedRunsOnFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, verifyRunbook())
		h.consume(h.eng, h.incident("inc1", osprey.Labels{"service": "web"}))
		synctest.Wait()
		time.Sleep(5*time.Minute + time.Second)
		synctest.Wait()
		r := h.onlyRun("inc1")
		want := []osprey.RunStatus{osprey.RunSucceeded, osprey.RunFailed, osprey.RunSucceeded}
		if r.Status != osprey.RunFailed || !slices.Equal(statuses(r), want) {
			t.Fatalf("run %s actions %v, want failed %v", r.Status, statuses(r), want)
		}
		calls := h.rec.calls(t)
		if len(calls) != 2 || !slices.Equal(calls[1], []string{"escalate", "inc1"}) {
			t.Fatalf("calls %q, want the restart then on_failure", calls)
		}
		tl := h.timeline("inc1")
		for _, want := range []string{"verification not cleared within 5m0s", "step on_failure/escalate", "runbook restart-web failed"} {
			if !containsAny(tl, want) {
				t.Errorf("timeline lacks %q: %q", want, tl)
			}
		}
	})
}

func TestVerifyMembers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rb := verifyRunbook()
		rb.Verify.Members = []string{"HighErrorRate"}
		h := newHarness(t, rb)
		inc := h.incident("inc1", osprey.Labels{"service": "web"})
		inc.Members = append(inc.Members, &osprey.Member{Kind: osprey.MemberEvent, Name: "DiskFull", Status: osprey.StatusFiring})
		h.consume(h.eng, inc)
		synctest.Wait()
		inc.Members[0].Status = osprey.StatusResolved // the named member clears, DiskFull still fires
		h.consume(h.eng, inc)
		synctest.Wait()
		if r := h.onlyRun("inc1"); r.Status != osprey.RunSucceeded {
			t.Fatalf("run %s, want succeeded once the named member resolved", r.Status)
		}
	})
}

func TestFailedStepRunsOnFailureAndRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rb := verifyRunbook()
		rb.Steps[0].Retries = 2
		rb.Steps[0].RetryDelay = time.Second
		rb.Steps[0].Exec.Argv = []string{"/bin/false"}
		h := newHarness(t)
		cfg := DefaultConfig()
		cfg.ExecAllow = []string{h.rec.path, "/bin/false"}
		cfg.Runbooks = []Runbook{h.bind(rb)}
		eng, err := New(Options{Config: cfg, Store: h.st})
		if err != nil {
			t.Fatal(err)
		}
		if err := eng.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		defer eng.Shutdown(t.Context())
		h.consume(eng, h.incident("inc1", osprey.Labels{"service": "web"}))
		synctest.Wait()
		time.Sleep(5 * time.Second)
		synctest.Wait()
		r := h.onlyRun("inc1")
		want := []osprey.RunStatus{osprey.RunFailed, StatusSkipped, osprey.RunSucceeded}
		if r.Status != osprey.RunFailed || !slices.Equal(statuses(r), want) {
			t.Fatalf("run %s actions %v, want failed %v", r.Status, statuses(r), want)
		}
		if !strings.HasPrefix(r.Actions[0].Output, "attempts=3 ") {
			t.Errorf("output %q does not count 3 attempts", r.Actions[0].Output)
		}
	})
}

// TestIdempotencyAcrossRestart leaves the store as a crash would, at two
// points of a run, and starts a new engine on it: a completed step never runs
// again, and a step that was started but has no outcome is not re-run
// blindly but marked unknown and escalated.
func TestIdempotencyAcrossRestart(t *testing.T) {
	rb := restartRunbook(ModeAuto)
	rb.Steps = append(rb.Steps, Step{Name: "settle", Wait: action.WaitSpec{Duration: time.Minute}})
	rb.Verify = Verify{Within: 5 * time.Minute}

	// crashState runs the restart step with a first engine and returns the
	// run as stored while the settle step was in flight.
	crashState := func(t *testing.T, h *harness, inc osprey.Incident) osprey.RunbookRun {
		eng := h.start(rb)
		h.consume(eng, inc)
		synctest.Wait()
		r := h.onlyRun(inc.ID)
		if got := statuses(r); !slices.Equal(got, []osprey.RunStatus{osprey.RunSucceeded, osprey.RunRunning, StatusPlanned}) {
			t.Fatalf("mid-run statuses %v", got)
		}
		// The process dies: the engine stops, and the store is put back
		// as it was at that moment (below), as if nothing after it had
		// been written.
		if err := eng.Shutdown(t.Context()); err != nil {
			t.Fatal(err)
		}
		return r
	}

	t.Run("exec step in flight", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			h := newHarness(t)
			inc := h.incident("inc1", osprey.Labels{"service": "web"})
			r := crashState(t, h, inc)
			// "kill -9" while the restart program ran: its start is
			// stored, its outcome is not.
			r.Actions[0].Status, r.Actions[0].Output = osprey.RunRunning, ""
			r.Actions[1].Status, r.Actions[1].StartedAt = StatusPlanned, time.Time{}
			if err := h.st.SaveRun(t.Context(), r); err != nil {
				t.Fatal(err)
			}
			eng := h.start(rb)
			synctest.Wait()
			got := h.onlyRun("inc1")
			want := []osprey.RunStatus{StatusUnknown, StatusSkipped, StatusSkipped}
			if got.Status != osprey.RunEscalated || !slices.Equal(statuses(got), want) {
				t.Fatalf("after restart: run %s actions %v, want escalated %v", got.Status, statuses(got), want)
			}
			if Outcome(got) != OutcomeError {
				t.Errorf("outcome %q, want %q", Outcome(got), OutcomeError)
			}
			if n := len(h.rec.calls(t)); n != 1 {
				t.Fatalf("the restart step ran %d times", n)
			}
			if tl := h.timeline("inc1"); !containsAny(tl, "outcome is unknown and it was not run again") {
				t.Errorf("timeline %q", tl)
			}
			// The same incident again: the run exists, nothing new happens.
			h.consume(eng, inc)
			synctest.Wait()
			h.onlyRun("inc1")
			if n := len(h.rec.calls(t)); n != 1 {
				t.Fatalf("the restart step ran %d times", n)
			}
		})
	})

	t.Run("wait step in flight", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			h := newHarness(t)
			inc := h.incident("inc1", osprey.Labels{"service": "web"})
			r := crashState(t, h, inc)
			// "kill -9" during the wait: the first engine's later writes
			// never happened. A wait has no effect, so it runs again.
			if err := h.st.SaveRun(t.Context(), r); err != nil {
				t.Fatal(err)
			}
			eng := h.start(rb)
			synctest.Wait()
			mid := h.onlyRun("inc1")
			if got := statuses(mid); !slices.Equal(got, []osprey.RunStatus{osprey.RunSucceeded, osprey.RunRunning, StatusPlanned}) {
				t.Fatalf("after restart: actions %v, want the wait running again", got)
			}
			time.Sleep(time.Minute + time.Second)
			h.consume(eng, h.resolve(inc))
			synctest.Wait()
			got := h.onlyRun("inc1")
			if got.Status != osprey.RunSucceeded || Outcome(got) != OutcomeCleared {
				t.Fatalf("after restart: run %s (%s) actions %v, want succeeded, cleared", got.Status, Outcome(got), statuses(got))
			}
			if n := len(h.rec.calls(t)); n != 1 {
				t.Fatalf("the completed restart step ran %d times", n)
			}
			if tl := h.timeline("inc1"); !containsAny(tl, "(wait) was interrupted by a restart; it runs again") {
				t.Errorf("timeline %q", tl)
			}
		})
	})

	t.Run("between steps", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			h := newHarness(t)
			inc := h.incident("inc1", osprey.Labels{"service": "web"})
			r := crashState(t, h, inc)
			// The crash came after the restart's outcome was stored and
			// before the settle step's start was.
			r.Actions[1].Status, r.Actions[1].StartedAt = StatusPlanned, time.Time{}
			if err := h.st.SaveRun(t.Context(), r); err != nil {
				t.Fatal(err)
			}
			eng := h.start(rb)
			time.Sleep(time.Minute + time.Second)
			h.consume(eng, h.resolve(inc))
			synctest.Wait()
			got := h.onlyRun("inc1")
			if got.Status != osprey.RunSucceeded {
				t.Fatalf("after restart: run %s actions %v, want succeeded", got.Status, statuses(got))
			}
			if n := len(h.rec.calls(t)); n != 1 {
				t.Fatalf("the completed restart step ran %d times", n)
			}
		})
	})
}

func TestPlanRefusedRunsNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, restartRunbook(ModeAuto))
		h.consume(h.eng, h.incident("inc1", osprey.Labels{"service": "web; rm -rf /"}))
		synctest.Wait()
		r := h.onlyRun("inc1")
		if r.Status != osprey.RunFailed || r.Actions[0].Status != osprey.RunFailed || !strings.Contains(r.Actions[0].Error, "does not match") {
			t.Fatalf("run %s actions %+v, want a refused plan", r.Status, r.Actions)
		}
		if n := len(h.rec.calls(t)); n != 0 {
			t.Fatalf("%d calls", n)
		}
		if !h.auditHas(Actor, "remediation.run.plan_refused") {
			t.Error("refusal not audited")
		}
	})
}

func TestWhenSkipsStep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rb := restartRunbook(ModeAuto)
		rb.Steps[0].When = `incident.labels.?env.orValue("") == "prod"`
		rb.Steps = append(rb.Steps, Step{Name: "always", Exec: action.ExecSpec{Argv: []string{"REC", "always"}}})
		h := newHarness(t, rb)
		h.consume(h.eng, h.incident("inc1", osprey.Labels{"service": "web", "env": "dev"}))
		synctest.Wait()
		r := h.onlyRun("inc1")
		if got := statuses(r); !slices.Equal(got, []osprey.RunStatus{StatusSkipped, osprey.RunSucceeded}) {
			t.Fatalf("statuses %v", got)
		}
		if calls := h.rec.calls(t); len(calls) != 1 || calls[0][0] != "always" {
			t.Fatalf("calls %q", calls)
		}
	})
}

func TestMaxConcurrency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rb := Runbook{Name: "slow", Trigger: "true", Mode: ModeAuto, Steps: []Step{{Name: "settle", Wait: action.WaitSpec{Duration: time.Minute}}}}
		h := newHarness(t)
		cfg := DefaultConfig()
		cfg.MaxConcurrency = 2
		cfg.Runbooks = []Runbook{rb}
		eng, err := New(Options{Config: cfg, Store: h.st})
		if err != nil {
			t.Fatal(err)
		}
		if err := eng.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		defer eng.Shutdown(t.Context())
		for _, id := range []string{"a", "b", "c"} {
			h.consume(eng, h.incident(id, osprey.Labels{"service": id}))
		}
		synctest.Wait()
		running := 0
		for _, id := range []string{"a", "b", "c"} {
			if h.onlyRun(id).Actions[0].Status == osprey.RunRunning {
				running++
			}
		}
		if running != 2 {
			t.Fatalf("%d runs executing at once, want max_concurrency 2", running)
		}
		time.Sleep(2*time.Minute + time.Second)
		synctest.Wait()
		for _, id := range []string{"a", "b", "c"} {
			if s := h.onlyRun(id).Status; s != osprey.RunSucceeded {
				t.Errorf("run %s: %s", id, s)
			}
		}
	})
}
