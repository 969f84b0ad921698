package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/store"
)

var runColList = []string{
	"id", "runbook", "incident_id", "status", "dry_run", "approved_by",
	"requested_at", "started_at", "finished_at", "actions",
}

var (
	runCols   = strings.Join(runColList, ", ")
	upsertRun = upsertSQL("runbook_runs", runColList, 1)
)

// SaveRun creates or replaces a runbook run, with its actions, by ID.
func (s *Store) SaveRun(ctx context.Context, r osprey.RunbookRun) error {
	if r.ID == "" {
		return fmt.Errorf("save run: %w", osprey.Permanent(fmt.Errorf("no id")))
	}
	var a args
	a.add(r.ID, r.Runbook, r.IncidentID, string(r.Status), r.DryRun, r.ApprovedBy)
	a.time(r.RequestedAt)
	a.time(r.StartedAt)
	a.time(r.FinishedAt)
	a.json(r.Actions)
	if a.err != nil {
		return fmt.Errorf("save run %s: %w", r.ID, a.err)
	}
	err := s.inTx(ctx, func(tx Querier) error {
		_, err := tx.Exec(ctx, upsertRun, a.list...)
		return err
	})
	if err != nil {
		return fmt.Errorf("save run %s: %w", r.ID, err)
	}
	return nil
}

// GetRun returns the run with id, or osprey.ErrNotFound.
func (s *Store) GetRun(ctx context.Context, id string) (osprey.RunbookRun, error) {
	r, err := one(ctx, s.db, "SELECT "+runCols+" FROM runbook_runs WHERE id = $1", []any{id}, scanRun)
	if err != nil {
		return osprey.RunbookRun{}, fmt.Errorf("get run: %w", notFound(err, "runbook run", id))
	}
	return r, nil
}

// ListRuns returns the runs of an incident ("" for all), latest request
// first (ties by descending ID).
func (s *Store) ListRuns(ctx context.Context, incidentID string, limit int) ([]osprey.RunbookRun, error) {
	var f filter
	if incidentID != "" {
		f.where("incident_id = " + f.arg(incidentID))
	}
	limit = store.ClampLimit(limit)
	sql := "SELECT " + runCols + " FROM runbook_runs" + f.clause() +
		" ORDER BY requested_at DESC, id DESC LIMIT " + f.arg(int64(limit))
	list, err := all(ctx, s.db, sql, f.args, limit, scanRun)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	return list, nil
}

// scanRun reads a row of runCols.
func scanRun(rs Rows) (osprey.RunbookRun, error) {
	var (
		r                            osprey.RunbookRun
		status, actions              string
		requested, started, finished int64
	)
	err := rs.Scan(&r.ID, &r.Runbook, &r.IncidentID, &status, &r.DryRun, &r.ApprovedBy,
		&requested, &started, &finished, &actions)
	if err != nil {
		return r, err
	}
	if err := decodeJSON("actions", actions, &r.Actions); err != nil {
		return r, err
	}
	for i := range r.Actions {
		a := &r.Actions[i]
		a.StartedAt, a.FinishedAt = a.StartedAt.UTC(), a.FinishedAt.UTC()
	}
	r.Status = osprey.RunStatus(status)
	r.RequestedAt, r.StartedAt, r.FinishedAt = decodeTime(requested), decodeTime(started), decodeTime(finished)
	return r, nil
}
