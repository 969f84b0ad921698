package remediate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/osprey-aiops/osprey"
)

// saveLocked stores the run as it is now.
func (e *Engine) saveLocked(ctx context.Context, rs *runState) error {
	if err := e.store.SaveRun(ctx, rs.run); err != nil {
		e.m.errors.WithLabelValues("store").Inc()
		return fmt.Errorf("save run %s: %w", rs.run.ID, err)
	}
	return nil
}

// auditLocked appends an audit entry whose detail is v as JSON. A failure is
// logged and counted: the run's own record is the primary one.
func (e *Engine) auditLocked(ctx context.Context, actor, act, object string, v any) {
	detail, err := json.Marshal(v)
	if err != nil {
		detail = []byte(fmt.Sprintf("%q", fmt.Sprint(v)))
	}
	entry := osprey.AuditEntry{At: e.now(), Actor: actor, Action: act, Object: object, Detail: string(detail)}
	if err := e.store.AppendAudit(ctx, entry); err != nil {
		e.m.errors.WithLabelValues("audit").Inc()
		e.log.Error("cannot append audit entry", "action", act, "object", object, "err", err)
	}
}

// timelineLocked appends an action entry to an incident's timeline.
func (e *Engine) timelineLocked(ctx context.Context, incidentID, actor, ref, msg string) {
	entry := osprey.TimelineEntry{At: e.now(), Kind: osprey.TimelineAction, Actor: actor, Message: msg, Ref: ref}
	if err := e.store.AppendTimeline(ctx, incidentID, entry); err != nil {
		if errors.Is(err, osprey.ErrNotFound) {
			return // an incident that was never stored (a test, a replay)
		}
		e.m.errors.WithLabelValues("timeline").Inc()
		e.log.Error("cannot append timeline entry", "incident", incidentID, "err", err)
	}
}
