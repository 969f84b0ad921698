package remediate

import (
	"context"
	"errors"
	"fmt"
	"reflect"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/remediate/action"
)

// Notifier is the notification stage as notify steps see it: it sends text
// about an incident to one named receiver.
type Notifier interface {
	Notify(ctx context.Context, receiver string, inc osprey.Incident, text string) error
}

// notifyFunc adapts n to the notify actions: it reads the run's incident
// from the store and hands it over with the planned text.
func (e *Engine) notifyFunc(n Notifier) action.NotifyFunc {
	return func(ctx context.Context, receiver, incidentID, text string) error {
		inc, err := e.store.GetIncident(ctx, incidentID)
		if err != nil {
			return fmt.Errorf("read incident %s: %w", incidentID, err)
		}
		return n.Notify(ctx, receiver, inc, text)
	}
}

// ErrNoConfigSource is returned by Reload when the engine has no
// configuration file to re-read (Osprey was started without --config).
var ErrNoConfigSource = errors.New("osprey was started without a configuration file (--config): there is nothing to reload")

// ErrInvalidConfig wraps the problems of a configuration Reload refused;
// the running runbooks stay as they were.
var ErrInvalidConfig = errors.New("invalid remediation configuration")

// ReloadResult says what a Reload changed.
type ReloadResult struct {
	// Runbooks are the runbook names now configured, in evaluation order.
	Runbooks []string `json:"runbooks"`
	// Added, Removed and Changed name the runbooks that differ from
	// before.
	Added   []string `json:"added"`
	Removed []string `json:"removed"`
	Changed []string `json:"changed"`
	// Notes are settings that did not take effect (they need a restart).
	Notes []string `json:"notes,omitempty"`
}

// Reload re-reads the remediation section from the engine's Source,
// validates it fully (CEL type-checking, templates, exec_allow) and swaps
// the runbooks and settings atomically. Runs already planned or in flight
// keep the runbook version they were planned with; the next incident
// snapshot is matched against the new runbooks. max_concurrency takes effect
// only at the next restart. who and why go to the audit log
// ("remediation.reloaded", or "remediation.reload_failed").
//
// It returns ErrNoConfigSource without a source, an error wrapping
// ErrInvalidConfig when the section is invalid (nothing changes), and
// ErrStopped after Shutdown.
func (e *Engine) Reload(ctx context.Context, who, why string) (ReloadResult, error) {
	if e.source == nil {
		return ReloadResult{}, ErrNoConfigSource
	}
	cfg, err := e.source()
	if err != nil {
		err = fmt.Errorf("%w: %w", ErrInvalidConfig, err)
		e.reloadFailed(ctx, who, why, err)
		return ReloadResult{}, err
	}
	return e.ReloadConfig(ctx, cfg, who, why)
}

// ReloadConfig is Reload with the section given.
func (e *Engine) ReloadConfig(ctx context.Context, cfg Config, who, why string) (ReloadResult, error) {
	var res ReloadResult
	if err := cfg.Validate(); err != nil {
		err = fmt.Errorf("%w: %w", ErrInvalidConfig, err)
		e.reloadFailed(ctx, who, why, err)
		return res, err
	}
	env, err := newCELEnv()
	if err != nil {
		return res, err
	}
	rbs, err := e.compileAll(cfg, env)
	if err != nil {
		err = fmt.Errorf("%w: %w", ErrInvalidConfig, err)
		e.reloadFailed(ctx, who, why, err)
		return res, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopping {
		return res, ErrStopped
	}
	if cfg.MaxConcurrency != e.cfg.MaxConcurrency {
		res.Notes = append(res.Notes, fmt.Sprintf("max_concurrency stays %d until the next restart (the file says %d)",
			e.cfg.MaxConcurrency, cfg.MaxConcurrency))
		cfg.MaxConcurrency = e.cfg.MaxConcurrency
	}
	byName := make(map[string]*runbook, len(rbs))
	res.Runbooks, res.Added, res.Removed, res.Changed = []string{}, []string{}, []string{}, []string{}
	for _, rb := range rbs {
		name := rb.spec.Name
		byName[name] = rb
		res.Runbooks = append(res.Runbooks, name)
		switch old, ok := e.byName[name]; {
		case !ok:
			res.Added = append(res.Added, name)
		case !reflect.DeepEqual(old.spec, rb.spec):
			res.Changed = append(res.Changed, name)
		}
	}
	for _, rb := range e.runbooks {
		if byName[rb.spec.Name] == nil {
			res.Removed = append(res.Removed, rb.spec.Name)
		}
	}
	// Runs in flight hold their own *runbook: they finish as planned.
	e.cfg, e.runbooks, e.byName = cfg, rbs, byName
	// A changed runbook may no longer be blocked where the old one was.
	clear(e.blocked)
	e.auditLocked(ctx, who, "remediation.reloaded", "remediation", map[string]any{
		"reason": why, "runbooks": res.Runbooks, "added": res.Added, "removed": res.Removed, "changed": res.Changed, "notes": res.Notes,
	})
	e.log.Info("remediation configuration reloaded", "by", who, "runbooks", len(rbs),
		"added", res.Added, "removed", res.Removed, "changed", res.Changed)
	e.warnPrograms(cfg)
	return res, nil
}

// reloadFailed audits a refused reload.
func (e *Engine) reloadFailed(ctx context.Context, who, why string, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.m.errors.WithLabelValues("reload").Inc()
	e.auditLocked(ctx, who, "remediation.reload_failed", "remediation", map[string]any{"reason": why, "error": err.Error()})
	e.log.Warn("remediation configuration reload refused", "by", who, "err", err)
}
