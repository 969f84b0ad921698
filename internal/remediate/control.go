package remediate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/store"
)

// Approve lets a run that waits for approval execute. who is the approver's
// name (a token name) and why their reason; both go to the audit log and the
// incident timeline. It returns an error wrapping osprey.ErrNotFound for an
// unknown run, osprey.ErrConflict for a run that no longer waits (decided,
// expired, cancelled), and ErrPaused (with osprey.ErrConflict) while
// remediation is paused.
func (e *Engine) Approve(ctx context.Context, runID, who, why string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	rs, err := e.pendingLocked(ctx, runID)
	if err != nil {
		return fmt.Errorf("approve run %s: %w", runID, err)
	}
	if e.paused {
		return fmt.Errorf("approve run %s: %w", runID, errors.Join(ErrPaused, osprey.ErrConflict))
	}
	if rs.timer != nil {
		rs.timer.Stop()
		rs.timer = nil
	}
	rs.run.Status = osprey.RunApproved
	rs.run.ApprovedBy = who
	if err := e.saveLocked(ctx, rs); err != nil {
		rs.run.Status, rs.run.ApprovedBy = osprey.RunPendingApproval, ""
		rs.timer = e.afterFuncLocked(max(e.expiry(rs).Sub(e.now()), 0), func() { e.expireLocked(runID) })
		return fmt.Errorf("approve run %s: %w", runID, err)
	}
	e.auditLocked(ctx, who, "remediation.run.approved", "run/"+runID, map[string]any{
		"runbook": rs.rb.spec.Name, "incident": rs.run.IncidentID, "reason": why,
	})
	e.timelineLocked(ctx, rs.run.IncidentID, who, runID, fmt.Sprintf("%s approved runbook %s: %s", who, rs.rb.spec.Name, why))
	e.advanceLocked(rs)
	return nil
}

// Reject refuses a run that waits for approval; nothing of it runs. Errors
// are as Approve's, except that rejecting works while paused.
func (e *Engine) Reject(ctx context.Context, runID, who, why string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	rs, err := e.pendingLocked(ctx, runID)
	if err != nil {
		return fmt.Errorf("reject run %s: %w", runID, err)
	}
	e.closePendingLocked(rs, osprey.RunRejected, who, why, e.now())
	return nil
}

// pendingLocked returns the run runID if it waits for approval and has not
// expired; an expired one is closed on the spot.
func (e *Engine) pendingLocked(ctx context.Context, runID string) (*runState, error) {
	if e.stopping || !e.started {
		return nil, ErrStopped
	}
	rs := e.active[runID]
	if rs == nil {
		r, err := e.store.GetRun(ctx, runID)
		if err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("run is %s, not waiting for approval: %w", r.Status, osprey.ErrConflict)
	}
	if rs.run.Status != osprey.RunPendingApproval {
		return nil, fmt.Errorf("run is %s, not waiting for approval: %w", rs.run.Status, osprey.ErrConflict)
	}
	if now := e.now(); !now.Before(e.expiry(rs)) {
		e.closePendingLocked(rs, StatusExpired, Actor, "no decision within the approval timeout", now)
		return nil, fmt.Errorf("run expired at %s: %w", e.expiry(rs).UTC().Format(time.RFC3339), osprey.ErrConflict)
	}
	return rs, nil
}

// expiry is when a pending run expires.
func (e *Engine) expiry(rs *runState) time.Time {
	return rs.run.RequestedAt.Add(e.approvalTimeout(rs.rb))
}

// expireLocked closes a run whose approval window passed.
func (e *Engine) expireLocked(runID string) {
	rs := e.active[runID]
	if rs == nil || rs.run.Status != osprey.RunPendingApproval {
		return
	}
	e.closePendingLocked(rs, StatusExpired, Actor, "no decision within the approval timeout", e.now())
}

// closePendingLocked ends a pending run as rejected, expired or cancelled.
func (e *Engine) closePendingLocked(rs *runState, status osprey.RunStatus, who, why string, now time.Time) {
	ctx, cancel := storeCtx()
	defer cancel()
	if rs.timer != nil {
		rs.timer.Stop()
		rs.timer = nil
	}
	for i := range rs.run.Actions {
		if a := &rs.run.Actions[i]; a.Status == StatusPlanned {
			a.Status = StatusSkipped
			a.Output = "not run: the run was " + string(status)
		}
	}
	rs.run.Status = status
	rs.run.FinishedAt = now
	if status == osprey.RunRejected {
		rs.run.ApprovedBy = who
	}
	delete(e.active, rs.run.ID)
	_ = e.saveLocked(ctx, rs)
	e.m.outcomes.WithLabelValues(string(status)).Inc()
	e.auditLocked(ctx, who, "remediation.run."+string(status), "run/"+rs.run.ID, map[string]any{
		"runbook": rs.rb.spec.Name, "incident": rs.run.IncidentID, "reason": why,
	})
	e.timelineLocked(ctx, rs.run.IncidentID, who, rs.run.ID, fmt.Sprintf("runbook %s %s by %s: %s", rs.rb.spec.Name, status, who, why))
}

// Pause is the kill switch: no step starts until Resume (steps in flight
// finish), runs in auto mode do not trigger, and approvals are refused.
// Dry runs and approval requests are still planned, and verification goes on.
// The switch is stored, so it holds across restarts.
func (e *Engine) Pause(ctx context.Context, who, why string) error {
	return e.setPause(ctx, true, who, why)
}

// Resume lifts the kill switch; runs held by it continue with their next
// step.
func (e *Engine) Resume(ctx context.Context, who, why string) error {
	return e.setPause(ctx, false, who, why)
}

func (e *Engine) setPause(ctx context.Context, pause bool, who, why string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	pos, verb := int64(0), "remediation.resumed"
	if pause {
		pos, verb = 1, "remediation.paused"
	}
	if err := e.store.SetCheckpoint(ctx, PausedCheckpoint, pos); err != nil {
		return fmt.Errorf("store pause switch: %w", err)
	}
	if e.paused != pause {
		e.auditLocked(ctx, who, verb, "remediation", map[string]any{"reason": why})
	}
	e.setPausedLocked(pause)
	return nil
}

func (e *Engine) setPausedLocked(pause bool) {
	switch {
	case pause && !e.paused:
		e.resumed = make(chan struct{})
		e.m.paused.Set(1)
	case !pause && e.paused:
		close(e.resumed)
		e.m.paused.Set(0)
		// The blocks recorded while paused may lift now.
		clear(e.blocked)
	}
	e.paused = pause
}

// Paused reports whether the kill switch is on.
func (e *Engine) Paused() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.paused
}

// recoverLocked rebuilds the guardrail history from recent runs and resumes
// the unfinished ones.
func (e *Engine) recoverLocked(ctx context.Context) error {
	runs, err := e.store.ListRuns(ctx, "", store.MaxLimit)
	if err != nil {
		return err
	}
	now := e.now()
	horizon := e.horizon()
	incidents := make(map[string]*osprey.Incident)
	incident := func(id string) *osprey.Incident {
		if inc, ok := incidents[id]; ok {
			return inc
		}
		inc, err := e.store.GetIncident(ctx, id)
		if err != nil {
			incidents[id] = nil
			return nil
		}
		incidents[id] = &inc
		return &inc
	}
	// Oldest first, so the history is in time order.
	for i := len(runs) - 1; i >= 0; i-- {
		r := runs[i]
		rb := e.byName[r.Runbook]
		if rb == nil {
			if !terminal(r.Status) {
				e.abandonLocked(ctx, r)
			}
			continue
		}
		// The target is not stored with the run; it is rendered again
		// from the incident (the incident id when that fails).
		target := "incident/" + r.IncidentID
		if inc := incident(r.IncidentID); inc != nil {
			if t, err := rb.renderTarget(inc); err == nil {
				target = t
			}
		}
		if now.Sub(r.RequestedAt) <= horizon {
			e.rememberLocked(r.Runbook, target, r.RequestedAt)
		}
		if terminal(r.Status) {
			continue
		}
		rs := &runState{run: r, rb: rb, target: target}
		e.active[r.ID] = rs
		e.resumeLocked(ctx, rs, now)
	}
	return nil
}

// resumeLocked continues an unfinished run after a restart.
func (e *Engine) resumeLocked(ctx context.Context, rs *runState, now time.Time) {
	if rs.run.Status == osprey.RunPendingApproval {
		exp := e.expiry(rs)
		if !now.Before(exp) {
			e.closePendingLocked(rs, StatusExpired, Actor, "no decision within the approval timeout", now)
			return
		}
		id := rs.run.ID
		rs.timer = e.afterFuncLocked(exp.Sub(now), func() { e.expireLocked(id) })
		return
	}
	interrupted, rewound := false, false
	for i := range rs.run.Actions {
		a := &rs.run.Actions[i]
		if a.Status != osprey.RunRunning || a.Type == verifyType {
			continue
		}
		if a.Type == "wait" {
			// A wait has no effect: the process died while the run
			// waited (kill -9, a crash), and the wait simply runs again,
			// in full. The steps before it stay done.
			a.Status, a.StartedAt = StatusPlanned, time.Time{}
			rewound = true
			e.timelineLocked(ctx, rs.run.IncidentID, Actor, rs.run.ID, fmt.Sprintf(
				"runbook %s step %s (wait) was interrupted by a restart; it runs again", rs.rb.spec.Name, a.Target))
			continue
		}
		// Started, no outcome stored: it may or may not have acted. Running
		// it again could act twice; a person decides.
		a.Status = StatusUnknown
		a.Error = "interrupted: Osprey stopped while this step ran; it was not run again"
		interrupted = true
		e.auditLocked(ctx, Actor, "remediation.step.unknown", "run/"+rs.run.ID, map[string]any{
			"runbook": rs.rb.spec.Name, "incident": rs.run.IncidentID, "step": a.Target, "args": a.Args,
		})
		e.timelineLocked(ctx, rs.run.IncidentID, Actor, rs.run.ID, fmt.Sprintf(
			"runbook %s step %s was interrupted by a restart; its outcome is unknown and it was not run again", rs.rb.spec.Name, a.Target))
	}
	if interrupted {
		e.skipRemainingLocked(rs, phaseSteps)
	}
	if interrupted || rewound {
		_ = e.saveLocked(ctx, rs)
	}
	e.advanceLocked(rs)
}

// abandonLocked closes an unfinished run whose runbook is no longer
// configured.
func (e *Engine) abandonLocked(ctx context.Context, r osprey.RunbookRun) {
	status := osprey.RunEscalated
	if r.Status == osprey.RunPendingApproval {
		status = StatusExpired
	}
	for i := range r.Actions {
		switch a := &r.Actions[i]; a.Status {
		case StatusPlanned:
			a.Status = StatusSkipped
		case osprey.RunRunning:
			a.Status = StatusUnknown
		}
	}
	r.Status = status
	r.FinishedAt = e.now()
	if err := e.store.SaveRun(ctx, r); err != nil {
		e.log.Error("cannot close run of a removed runbook", "run", r.ID, "err", err)
	}
	e.auditLocked(ctx, Actor, "remediation.run."+string(status), "run/"+r.ID, map[string]any{
		"runbook": r.Runbook, "incident": r.IncidentID, "reason": "the runbook is no longer configured",
	})
}
