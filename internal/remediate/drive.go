package remediate

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/remediate/action"
)

// A run's state is its stored actions: advanceLocked reads them and decides
// the next move, so a run resumed after a restart continues exactly where the
// store says it stopped.
//
//  1. The first planned step runs (in a goroutine that holds a concurrency
//     slot). A failed or unknown step skips the remaining steps and the
//     verification.
//  2. When the steps succeeded, the verification starts: the engine watches
//     the incident until it clears or verify.within passes.
//  3. When a step or the verification failed, the planned on_failure steps
//     run.
//  4. Then the run finishes: succeeded, failed, or escalated when an outcome
//     is unknown or an on_failure step failed too.

// move is what a run does next.
type move int

const (
	moveExec   move = iota // run action next
	moveVerify             // start the verification (action next)
	moveWait               // the verification is running: wait
	moveFinish             // finish with status
)

// nextMove decides a run's next move from its actions.
func nextMove(run *osprey.RunbookRun) (m move, next int, status osprey.RunStatus) {
	failed, unknown, fbFailed := false, false, false
	for i := range run.Actions {
		a := &run.Actions[i]
		switch phaseOf(a) {
		case phaseSteps:
			switch a.Status {
			case StatusPlanned:
				if !failed && !unknown {
					return moveExec, i, ""
				}
			case osprey.RunFailed:
				failed = true
			case StatusUnknown, osprey.RunRunning:
				unknown = true
			}
		case phaseVerify:
			switch a.Status {
			case StatusPlanned:
				if !failed && !unknown {
					return moveVerify, i, ""
				}
			case osprey.RunRunning:
				return moveWait, i, ""
			case osprey.RunFailed:
				failed = true
			}
		case phaseOnFailure:
			if !failed || unknown {
				// on_failure runs after a known failure only: after an
				// unknown outcome a person decides.
				continue
			}
			switch a.Status {
			case StatusPlanned:
				return moveExec, i, ""
			case osprey.RunFailed, StatusUnknown, osprey.RunRunning:
				fbFailed = true
			}
		}
	}
	switch {
	case unknown || fbFailed:
		return moveFinish, -1, osprey.RunEscalated
	case failed:
		return moveFinish, -1, osprey.RunFailed
	}
	return moveFinish, -1, osprey.RunSucceeded
}

// advanceLocked moves an approved run on: it starts a driver goroutine for
// steps, starts the verification, or finishes the run.
func (e *Engine) advanceLocked(rs *runState) {
	if rs.driving || rs.verifying || e.stopping {
		return
	}
	m, i, status := nextMove(&rs.run)
	switch m {
	case moveExec:
		rs.driving = e.goLocked(func() { e.drive(rs) })
	case moveVerify:
		e.startVerifyLocked(rs, i)
	case moveWait:
		e.rearmVerifyLocked(rs, i)
	case moveFinish:
		e.finishLocked(rs, status)
	}
}

// drive executes a run's actions while there are actions to execute,
// holding one of the MaxConcurrency slots.
func (e *Engine) drive(rs *runState) {
	select {
	case e.sem <- struct{}{}:
	case <-e.stop:
		e.mu.Lock()
		rs.driving = false
		e.mu.Unlock()
		return
	}
	defer func() { <-e.sem }()
	e.mu.Lock()
	defer e.mu.Unlock()
	for {
		if e.stopping {
			rs.driving = false
			return
		}
		if e.paused {
			// The kill switch: no new step starts until Resume.
			resumed := e.resumed
			e.mu.Unlock()
			select {
			case <-resumed:
			case <-e.stop:
			}
			e.mu.Lock()
			continue
		}
		m, i, _ := nextMove(&rs.run)
		if m != moveExec {
			rs.driving = false
			e.advanceLocked(rs)
			return
		}
		if !e.executeLocked(rs, i) {
			rs.driving = false
			return
		}
	}
}

// stepFor returns the compiled step that action a of the run was planned
// from, or nil when the runbook no longer has it.
func (rs *runState) stepFor(a *osprey.Action) *step {
	list := rs.rb.steps
	if phaseOf(a) == phaseOnFailure {
		list = rs.rb.onFailure
	}
	for _, s := range list {
		if s.actionTarget() == a.Target && s.act.Type() == a.Type {
			return s
		}
	}
	return nil
}

// executeLocked runs action i: it records the start (the idempotency key:
// this step of this runbook for this incident) before anything runs,
// releases the lock while the action runs, and records the outcome. It
// returns false when the run must stop being driven for now.
func (e *Engine) executeLocked(rs *runState, i int) bool {
	ctx, cancel := storeCtx()
	defer cancel()
	a := &rs.run.Actions[i]
	s := rs.stepFor(a)
	if s == nil {
		a.Status = osprey.RunFailed
		a.Error = "the runbook no longer has this step"
		e.skipRemainingLocked(rs, phaseOf(a))
		_ = e.saveLocked(ctx, rs)
		return true
	}
	now := e.now()
	a.Status = osprey.RunRunning
	a.StartedAt = now
	prevStatus, prevStarted := rs.run.Status, rs.run.StartedAt
	rs.run.Status = osprey.RunRunning
	if rs.run.StartedAt.IsZero() {
		rs.run.StartedAt = now
	}
	if err := e.saveLocked(ctx, rs); err != nil {
		// Never run a step whose start is not stored: a crash would then
		// repeat it. Try again later.
		a.Status, a.StartedAt = StatusPlanned, time.Time{}
		rs.run.Status, rs.run.StartedAt = prevStatus, prevStarted
		e.log.Error("cannot record step start; step postponed", "run", rs.run.ID, "step", a.Target, "err", err)
		rs.timer = e.afterFuncLocked(retrySaveAfter, func() { e.advanceLocked(rs) })
		return false
	}
	args := slices.Clone(a.Args)
	e.auditLocked(ctx, Actor, "remediation.step.started", "run/"+rs.run.ID, map[string]any{
		"runbook": rs.rb.spec.Name, "incident": rs.run.IncidentID, "step": a.Target, "type": a.Type, "args": args,
		"key": rs.run.IncidentID + "/" + rs.rb.spec.Name + "/" + a.Target,
	})

	e.mu.Unlock()
	res, attempts := e.attempt(s, args)
	e.mu.Lock()

	a = &rs.run.Actions[i]
	if res.Err != nil && a.Type == "wait" && e.stopCtx.Err() != nil {
		// A wait cut short by Shutdown did nothing: it runs again after
		// the restart.
		a.Status, a.StartedAt = StatusPlanned, time.Time{}
		if err := e.saveLocked(ctx, rs); err != nil {
			e.log.Error("cannot record interrupted wait", "run", rs.run.ID, "err", err)
		}
		return false
	}
	a.FinishedAt = e.now()
	a.Output = res.Output()
	if attempts > 1 {
		a.Output = fmt.Sprintf("attempts=%d ", attempts) + a.Output
	}
	switch {
	case res.Err != nil && e.execCtx.Err() != nil:
		a.Status = StatusUnknown
		a.Error = "interrupted by shutdown: " + res.Err.Error()
	case res.Err != nil:
		a.Status = osprey.RunFailed
		a.Error = res.Err.Error()
	default:
		a.Status = osprey.RunSucceeded
	}
	if a.Status != osprey.RunSucceeded {
		e.skipRemainingLocked(rs, phaseOf(a))
	}
	e.m.steps.WithLabelValues(a.Type, string(a.Status)).Inc()
	if err := e.saveLocked(ctx, rs); err != nil {
		e.log.Error("cannot record step outcome", "run", rs.run.ID, "step", a.Target, "err", err)
	}
	e.auditLocked(ctx, Actor, "remediation.step.finished", "run/"+rs.run.ID, map[string]any{
		"runbook": rs.rb.spec.Name, "incident": rs.run.IncidentID, "step": a.Target, "type": a.Type, "args": args,
		"status": a.Status, "exitCode": res.ExitCode, "httpStatus": res.HTTPStatus, "durationMs": res.Duration.Milliseconds(),
		"attempts": attempts, "stdout": res.Stdout, "stderr": res.Stderr, "truncated": res.Truncated, "error": a.Error,
	})
	msg := fmt.Sprintf("runbook %s step %s (%s %q) %s", rs.rb.spec.Name, a.Target, a.Type, args, a.Status)
	if a.Error != "" {
		msg += ": " + a.Error
	}
	e.timelineLocked(ctx, rs.run.IncidentID, Actor, rs.run.ID, msg)
	return true
}

// attempt executes a step, retrying a failure up to its retries with its
// retry delay. It returns the last result and the attempts made.
func (e *Engine) attempt(s *step, args []string) (action.Result, int) {
	for n := 1; ; n++ {
		// A wait has no effect, so Shutdown may interrupt it; anything
		// else runs to its own timeout unless Shutdown's deadline passes.
		ctx, cancel := e.stopCtx, context.CancelFunc(func() {})
		if s.act.Type() != "wait" {
			ctx, cancel = context.WithTimeout(e.execCtx, s.timeout)
		}
		res := s.act.Execute(ctx, args)
		cancel()
		if res.Err == nil || n > s.retries || e.execCtx.Err() != nil {
			return res, n
		}
		t := time.NewTimer(s.retryDelay)
		select {
		case <-t.C:
		case <-e.stop:
			t.Stop()
			return res, n
		}
	}
}

// skipRemainingLocked marks the planned actions after a failure in phase p
// as skipped: the rest of the steps and the verification.
func (e *Engine) skipRemainingLocked(rs *runState, p phase) {
	if p == phaseOnFailure {
		return // later on_failure steps still run
	}
	for i := range rs.run.Actions {
		a := &rs.run.Actions[i]
		if a.Status == StatusPlanned && phaseOf(a) != phaseOnFailure {
			a.Status = StatusSkipped
			a.Output = "not run: an earlier step failed"
		}
	}
}

// startVerifyLocked starts watching the incident after the steps.
func (e *Engine) startVerifyLocked(rs *runState, i int) {
	ctx, cancel := storeCtx()
	defer cancel()
	a := &rs.run.Actions[i]
	a.Status = osprey.RunRunning
	a.StartedAt = e.now()
	rs.run.Status = osprey.RunRunning
	if rs.run.StartedAt.IsZero() {
		rs.run.StartedAt = a.StartedAt
	}
	_ = e.saveLocked(ctx, rs)
	within := rs.rb.spec.Verify.Within
	e.auditLocked(ctx, Actor, "remediation.verify.started", "run/"+rs.run.ID, map[string]any{
		"runbook": rs.rb.spec.Name, "incident": rs.run.IncidentID, "within": within.String(), "members": rs.rb.spec.Verify.Members,
	})
	e.timelineLocked(ctx, rs.run.IncidentID, Actor, rs.run.ID,
		fmt.Sprintf("runbook %s: verifying that %s clears within %s", rs.rb.spec.Name, verifyWhat(rs.rb), within))
	e.rearmVerifyLocked(rs, i)
}

// rearmVerifyLocked sets the verification deadline of a running
// verification and checks the incident's current state at once.
func (e *Engine) rearmVerifyLocked(rs *runState, i int) {
	rs.verifying = true
	deadline := rs.run.Actions[i].StartedAt.Add(rs.rb.spec.Verify.Within)
	if rs.timer != nil {
		rs.timer.Stop()
	}
	id := rs.run.ID
	rs.timer = e.afterFuncLocked(max(deadline.Sub(e.now()), 0), func() { e.verifyDeadlineLocked(id) })
	ctx, cancel := storeCtx()
	defer cancel()
	if inc, err := e.store.GetIncident(ctx, rs.run.IncidentID); err == nil && cleared(rs.rb, &inc) {
		e.verifyDoneLocked(rs, true, "cleared: "+clearedWhy(rs.rb, &inc))
	}
}

// verifyDeadlineLocked ends a verification whose window passed. The
// incident is read from the store, so a snapshot the engine missed still
// counts.
func (e *Engine) verifyDeadlineLocked(runID string) {
	rs := e.active[runID]
	if rs == nil || !rs.verifying {
		return
	}
	ctx, cancel := storeCtx()
	defer cancel()
	inc, err := e.store.GetIncident(ctx, rs.run.IncidentID)
	switch {
	case err != nil:
		e.verifyDoneLocked(rs, false, fmt.Sprintf("not cleared within %s (incident unreadable: %v)", rs.rb.spec.Verify.Within, err))
	case cleared(rs.rb, &inc):
		e.verifyDoneLocked(rs, true, "cleared: "+clearedWhy(rs.rb, &inc))
	default:
		e.verifyDoneLocked(rs, false, fmt.Sprintf("not cleared within %s", rs.rb.spec.Verify.Within))
	}
}

// observeLocked checks an incident snapshot against the runs verifying it.
func (e *Engine) observeLocked(inc *osprey.Incident, now time.Time) {
	for _, rs := range e.active {
		if rs.run.IncidentID != inc.ID {
			continue
		}
		switch {
		case rs.verifying && cleared(rs.rb, inc):
			e.verifyDoneLocked(rs, true, "cleared: "+clearedWhy(rs.rb, inc))
		case rs.run.Status == osprey.RunPendingApproval && inc.Status == osprey.IncidentResolved:
			e.closePendingLocked(rs, StatusCancelled, Actor, "the incident resolved before approval", now)
		}
	}
}

// verifyDoneLocked records the verification outcome and moves the run on.
func (e *Engine) verifyDoneLocked(rs *runState, ok bool, msg string) {
	ctx, cancel := storeCtx()
	defer cancel()
	rs.verifying = false
	if rs.timer != nil {
		rs.timer.Stop()
		rs.timer = nil
	}
	i := slices.IndexFunc(rs.run.Actions, func(a osprey.Action) bool { return a.Type == verifyType })
	a := &rs.run.Actions[i]
	a.FinishedAt = e.now()
	a.Output = msg
	a.Status = osprey.RunSucceeded
	verb := "remediation.verify.cleared"
	if !ok {
		a.Status = osprey.RunFailed
		a.Error = msg
		verb = "remediation.verify.not_cleared"
	}
	_ = e.saveLocked(ctx, rs)
	e.auditLocked(ctx, Actor, verb, "run/"+rs.run.ID, map[string]any{
		"runbook": rs.rb.spec.Name, "incident": rs.run.IncidentID, "result": msg,
	})
	e.timelineLocked(ctx, rs.run.IncidentID, Actor, rs.run.ID, fmt.Sprintf("runbook %s: verification %s", rs.rb.spec.Name, msg))
	e.advanceLocked(rs)
}

// cleared reports whether what rb's verification watches has cleared.
func cleared(rb *runbook, inc *osprey.Incident) bool {
	if inc.Status == osprey.IncidentResolved {
		return true
	}
	names := rb.spec.Verify.Members
	if len(names) == 0 {
		// The whole incident: every member has cleared. The incident
		// itself resolves only after the correlator's resolve grace, which
		// verification need not wait for.
		for _, m := range inc.Members {
			if m.Status != osprey.StatusResolved || m.Flapping {
				return false
			}
		}
		return len(inc.Members) > 0
	}
	found := false
	for _, m := range inc.Members {
		if slices.Contains(names, m.Name) {
			found = true
			if m.Status != osprey.StatusResolved {
				return false
			}
		}
	}
	return found
}

func clearedWhy(rb *runbook, inc *osprey.Incident) string {
	if inc.Status == osprey.IncidentResolved {
		return "the incident resolved"
	}
	if len(rb.spec.Verify.Members) == 0 {
		return "every member of the incident resolved"
	}
	return fmt.Sprintf("members %q resolved", rb.spec.Verify.Members)
}

func verifyWhat(rb *runbook) string {
	if len(rb.spec.Verify.Members) == 0 {
		return "the incident"
	}
	return fmt.Sprintf("members %q", rb.spec.Verify.Members)
}

// finishLocked records a run's final status.
func (e *Engine) finishLocked(rs *runState, status osprey.RunStatus) {
	ctx, cancel := storeCtx()
	defer cancel()
	for i := range rs.run.Actions {
		if a := &rs.run.Actions[i]; a.Status == StatusPlanned {
			a.Status = StatusSkipped
			if phaseOf(a) == phaseOnFailure {
				a.Output = "not needed"
			}
		}
	}
	rs.run.Status = status
	rs.run.FinishedAt = e.now()
	if rs.timer != nil {
		rs.timer.Stop()
		rs.timer = nil
	}
	delete(e.active, rs.run.ID)
	_ = e.saveLocked(ctx, rs)
	e.m.outcomes.WithLabelValues(string(status)).Inc()
	outcome := map[osprey.RunStatus]string{
		osprey.RunSucceeded: "succeeded",
		osprey.RunFailed:    "failed",
		osprey.RunEscalated: "escalated to a person (an outcome is unknown or on_failure failed)",
	}[status]
	if status == osprey.RunSucceeded && rs.rb.spec.Verify.Within > 0 {
		outcome = "succeeded: the incident cleared"
	}
	e.auditLocked(ctx, Actor, "remediation.run.finished", "run/"+rs.run.ID, map[string]any{
		"runbook": rs.rb.spec.Name, "incident": rs.run.IncidentID, "status": status, "actions": planView(rs.run.Actions),
	})
	e.timelineLocked(ctx, rs.run.IncidentID, Actor, rs.run.ID, fmt.Sprintf("runbook %s %s", rs.rb.spec.Name, outcome))
}
