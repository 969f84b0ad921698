package remediate

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/remediate/action"
	"github.com/osprey-aiops/osprey/internal/store"
)

// maxTargetBytes caps a rendered target.
const maxTargetBytes = 1024

// histEntry is one run in the guardrail history.
type histEntry struct {
	at     time.Time
	target string
}

// triggerLocked evaluates every runbook against an open incident and plans a
// run for each that triggers and that the guardrails allow.
func (e *Engine) triggerLocked(ctx context.Context, inc *osprey.Incident, now time.Time) error {
	has, err := e.runsOfLocked(ctx, inc.ID)
	if err != nil {
		e.m.errors.WithLabelValues("store").Inc()
		return err
	}
	var vars map[string]any
	for _, rb := range e.runbooks {
		if has[rb.spec.Name] {
			continue // at most one run per (incident, runbook)
		}
		if vars == nil {
			vars = celVars(inc, now)
		}
		ok, err := evalBool(rb.trigger, vars)
		if err != nil {
			// A missing label is the common case; it means "no match".
			e.m.errors.WithLabelValues("trigger").Inc()
			e.log.Debug("trigger evaluation failed", "runbook", rb.spec.Name, "incident", inc.ID, "err", err)
			continue
		}
		if !ok {
			continue
		}
		target, terr := rb.renderTarget(inc)
		if len(target) > maxTargetBytes {
			// A key, not shown to any program: a digest keeps it bounded.
			target = fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(target)))
		}
		if terr == nil {
			if reason, msg := e.guardLocked(rb, target, now); reason != "" {
				e.blockLocked(ctx, rb, inc, target, reason, msg)
				continue
			}
		}
		if err := e.createRunLocked(ctx, rb, inc, target, terr, vars, now); err != nil {
			return err
		}
		has[rb.spec.Name] = true
	}
	return nil
}

// runsOfLocked returns the runbooks that have a run for the incident,
// loading them from the store the first time.
func (e *Engine) runsOfLocked(ctx context.Context, incidentID string) (map[string]bool, error) {
	if m, ok := e.known[incidentID]; ok {
		return m, nil
	}
	runs, err := e.store.ListRuns(ctx, incidentID, store.MaxLimit)
	if err != nil {
		return nil, fmt.Errorf("list runs of incident %s: %w", incidentID, err)
	}
	m := make(map[string]bool, len(runs))
	for _, r := range runs {
		m[r.Runbook] = true
	}
	e.known[incidentID] = m
	return m, nil
}

// guardLocked returns why a new run of rb on target must not start, or "".
func (e *Engine) guardLocked(rb *runbook, target string, now time.Time) (reason, msg string) {
	spec := &rb.spec
	if rb.mode == ModeAuto && e.paused {
		return "paused", "remediation is paused"
	}
	hist := e.hist[spec.Name]
	if spec.Cooldown > 0 {
		for _, h := range hist {
			if h.target == target && now.Sub(h.at) < spec.Cooldown {
				return "cooldown", fmt.Sprintf("runbook ran on this target at %s, cooldown %s", h.at.UTC().Format(time.RFC3339), spec.Cooldown)
			}
		}
	}
	if tc := e.cfg.TargetCooldown; tc > 0 {
		if last, ok := e.lastTarget[target]; ok && now.Sub(last) < tc {
			return "target_cooldown", fmt.Sprintf("a runbook ran on this target at %s, target_cooldown %s", last.UTC().Format(time.RFC3339), tc)
		}
	}
	hourAgo := now.Add(-time.Hour)
	if spec.MaxRunsPerHour > 0 {
		n := 0
		for _, h := range hist {
			if h.at.After(hourAgo) {
				n++
			}
		}
		if n >= spec.MaxRunsPerHour {
			return "max_runs_per_hour", fmt.Sprintf("%d runs in the last hour, max_runs_per_hour %d", n, spec.MaxRunsPerHour)
		}
	}
	if spec.MaxTargets > 0 {
		targets := make(map[string]bool)
		for _, h := range hist {
			if h.at.After(hourAgo) {
				targets[h.target] = true
			}
		}
		for _, rs := range e.active {
			if rs.rb.spec.Name == spec.Name {
				targets[rs.target] = true
			}
		}
		if !targets[target] && len(targets) >= spec.MaxTargets {
			return "max_targets", fmt.Sprintf("already acting on %d targets within the hour, max_targets %d", len(targets), spec.MaxTargets)
		}
	}
	return "", ""
}

// remember adds a run to the guardrail history.
func (e *Engine) rememberLocked(rb string, target string, at time.Time) {
	horizon := e.horizon()
	h := e.hist[rb]
	cut := 0
	for cut < len(h) && at.Sub(h[cut].at) > horizon {
		cut++
	}
	h = append(h[cut:], histEntry{at: at, target: target})
	if len(h) > maxHistory {
		h = h[len(h)-maxHistory:]
	}
	e.hist[rb] = h
	if last, ok := e.lastTarget[target]; !ok || at.After(last) {
		e.lastTarget[target] = at
	}
	if len(e.lastTarget) > maxHistory {
		for t, last := range e.lastTarget {
			if at.Sub(last) > horizon {
				delete(e.lastTarget, t)
			}
		}
	}
}

// horizon is how far back the guardrails look.
func (e *Engine) horizon() time.Duration {
	h := max(time.Hour, e.cfg.TargetCooldown)
	for _, rb := range e.runbooks {
		h = max(h, rb.spec.Cooldown)
	}
	return h
}

// blockLocked records, once per incident, runbook and reason, that a
// guardrail stopped a triggered runbook.
func (e *Engine) blockLocked(ctx context.Context, rb *runbook, inc *osprey.Incident, target, reason, msg string) {
	e.m.blocked.WithLabelValues(reason).Inc()
	key := inc.ID + "\x00" + rb.spec.Name
	if e.blocked[key] == reason {
		return
	}
	if len(e.blocked) > maxHistory {
		clear(e.blocked)
	}
	e.blocked[key] = reason
	e.auditLocked(ctx, Actor, "remediation.run.blocked", "incident/"+inc.ID, map[string]any{
		"runbook": rb.spec.Name, "incident": inc.ID, "target": target, "reason": reason, "message": msg,
	})
	e.timelineLocked(ctx, inc.ID, Actor, "", fmt.Sprintf("runbook %s triggered but did not run: %s (%s)", rb.spec.Name, reason, msg))
}

// createRunLocked plans a run of rb for inc and starts it as its mode says.
// A plan that fails (a value refused by its pattern, a missing label) is
// stored as a failed run, and nothing of it runs.
func (e *Engine) createRunLocked(ctx context.Context, rb *runbook, inc *osprey.Incident, target string, targetErr error,
	vars map[string]any, now time.Time) error {
	run := osprey.RunbookRun{
		ID:          osprey.NewID(now),
		Runbook:     rb.spec.Name,
		IncidentID:  inc.ID,
		DryRun:      rb.mode == ModeDryRun,
		RequestedAt: now,
	}
	var planErr error
	run.Actions, planErr = plan(rb, inc, run.ID, target, vars)
	if targetErr != nil {
		targetErr = fmt.Errorf("target: %w", targetErr)
		planErr = errors.Join(targetErr, planErr)
		if len(run.Actions) > 0 && run.Actions[0].Error == "" {
			run.Actions[0].Status = osprey.RunFailed
			run.Actions[0].Error = "plan refused: " + targetErr.Error()
		}
	}
	rs := &runState{run: run, rb: rb, target: target}
	e.rememberLocked(rb.spec.Name, target, now)
	e.m.runs.WithLabelValues(string(rb.mode)).Inc()
	detail := map[string]any{"runbook": rb.spec.Name, "incident": inc.ID, "target": target, "mode": string(rb.mode), "plan": planView(run.Actions)}
	switch {
	case planErr != nil:
		for i := range rs.run.Actions {
			if rs.run.Actions[i].Status == StatusPlanned {
				rs.run.Actions[i].Status = StatusSkipped
			}
		}
		rs.run.Status = osprey.RunFailed
		rs.run.FinishedAt = now
		detail["error"] = planErr.Error()
		if err := e.saveLocked(ctx, rs); err != nil {
			return err
		}
		e.m.outcomes.WithLabelValues(string(osprey.RunFailed)).Inc()
		e.auditLocked(ctx, Actor, "remediation.run.plan_refused", "run/"+run.ID, detail)
		e.timelineLocked(ctx, inc.ID, Actor, run.ID, fmt.Sprintf("runbook %s: plan refused, nothing ran: %v", rb.spec.Name, planErr))
		return nil
	case rb.mode == ModeDryRun:
		rs.run.Status = StatusPlanned
		rs.run.FinishedAt = now
		if err := e.saveLocked(ctx, rs); err != nil {
			return err
		}
		e.auditLocked(ctx, Actor, "remediation.run.planned", "run/"+run.ID, detail)
		e.timelineLocked(ctx, inc.ID, Actor, run.ID, fmt.Sprintf("runbook %s (dry run) would run: %s", rb.spec.Name, describePlan(run.Actions)))
		return nil
	case rb.mode == ModeApproval:
		rs.run.Status = osprey.RunPendingApproval
		if err := e.saveLocked(ctx, rs); err != nil {
			return err
		}
		expires := now.Add(e.approvalTimeout(rb))
		detail["expires"] = expires
		e.active[run.ID] = rs
		rs.timer = e.afterFuncLocked(expires.Sub(now), func() { e.expireLocked(run.ID) })
		e.auditLocked(ctx, Actor, "remediation.run.pending_approval", "run/"+run.ID, detail)
		e.timelineLocked(ctx, inc.ID, Actor, run.ID, fmt.Sprintf("runbook %s awaits approval until %s: %s",
			rb.spec.Name, expires.UTC().Format(time.RFC3339), describePlan(run.Actions)))
		return nil
	default:
		rs.run.Status = osprey.RunApproved
		if err := e.saveLocked(ctx, rs); err != nil {
			return err
		}
		e.active[run.ID] = rs
		e.auditLocked(ctx, Actor, "remediation.run.approved", "run/"+run.ID, detail)
		e.timelineLocked(ctx, inc.ID, Actor, run.ID, fmt.Sprintf("runbook %s runs automatically: %s", rb.spec.Name, describePlan(run.Actions)))
		e.advanceLocked(rs)
		return nil
	}
}

func (e *Engine) approvalTimeout(rb *runbook) time.Duration {
	if rb.approvalTimeout > 0 {
		return rb.approvalTimeout
	}
	return e.cfg.ApprovalTimeout
}

// plan renders every step of rb for inc: steps, the verification, then the
// on_failure steps. A step whose when condition is false (or cannot be
// evaluated) is skipped. The first refused value fails the plan; the
// actions are returned with it, the refused one marked failed.
func plan(rb *runbook, inc *osprey.Incident, runID, target string, vars map[string]any) ([]osprey.Action, error) {
	data := action.NewData(inc, rb.spec.Name, runID, target)
	var (
		out  []osprey.Action
		errs []error
	)
	add := func(s *step) {
		a := osprey.Action{Type: s.act.Type(), Target: s.actionTarget(), Status: StatusPlanned}
		if s.when != nil {
			ok, err := evalBool(s.when, vars)
			if err != nil || !ok {
				a.Status = StatusSkipped
				a.Output = "when is false: " + s.whenSrc
				if err != nil {
					a.Output = fmt.Sprintf("when could not be evaluated (%v): %s", err, s.whenSrc)
				}
				out = append(out, a)
				return
			}
		}
		args, err := s.act.Plan(data)
		if err != nil {
			a.Status = osprey.RunFailed
			a.Error = "plan refused: " + err.Error()
			errs = append(errs, fmt.Errorf("%s: %w", a.Target, err))
		}
		a.Args = args
		out = append(out, a)
	}
	for _, s := range rb.steps {
		add(s)
	}
	if v := rb.spec.Verify; v.Within > 0 {
		args := []string{"within=" + v.Within.String()}
		if len(v.Members) == 0 {
			args = append(args, "incident=resolved")
		} else {
			args = append(args, "members="+strings.Join(v.Members, ","))
		}
		out = append(out, osprey.Action{Type: verifyType, Target: verifyType, Args: args, Status: StatusPlanned})
	}
	for _, s := range rb.onFailure {
		add(s)
	}
	return out, errors.Join(errs...)
}

// planView is the audit form of a plan.
func planView(acts []osprey.Action) []map[string]any {
	out := make([]map[string]any, 0, len(acts))
	for _, a := range acts {
		v := map[string]any{"step": a.Target, "type": a.Type, "args": a.Args, "status": a.Status}
		if a.Error != "" {
			v["error"] = a.Error
		}
		out = append(out, v)
	}
	return out
}

// describePlan renders the steps of a plan for a timeline entry.
func describePlan(acts []osprey.Action) string {
	var parts []string
	for _, a := range acts {
		if a.Status != StatusPlanned || phaseOf(&a) != phaseSteps {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s: %s %q", a.Target, a.Type, a.Args))
	}
	if len(parts) == 0 {
		return "no steps"
	}
	return strings.Join(parts, "; ")
}
