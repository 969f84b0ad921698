package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/store"
)

const (
	auditCols   = "seq, at, actor, action, object, detail"
	insertAudit = "INSERT INTO audit_log (at, actor, action, object, detail) VALUES ($1, $2, $3, $4, $5) RETURNING seq"
)

// AppendAudit stores entries in one transaction and sets each entry's Seq,
// which a caller that passed a slice (entries...) sees.
func (s *Store) AppendAudit(ctx context.Context, entries ...osprey.AuditEntry) error {
	if len(entries) == 0 {
		return nil
	}
	rows := make([][]any, len(entries))
	for i, e := range entries {
		var a args
		a.time(e.At)
		a.add(e.Actor, e.Action, e.Object, e.Detail)
		if a.err != nil {
			return fmt.Errorf("append audit: entry %d: %w", i, a.err)
		}
		rows[i] = a.list
	}
	seqs := make([]int64, len(entries))
	err := s.inTx(ctx, func(tx Querier) error {
		for i, row := range rows {
			if err := queryRow(ctx, tx, insertAudit, row, &seqs[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("append audit: %w", err)
	}
	for i := range entries {
		entries[i].Seq = seqs[i]
	}
	return nil
}

// ListAudit returns entries at or after since, latest first (ties by
// descending Seq).
func (s *Store) ListAudit(ctx context.Context, since time.Time, limit int) ([]osprey.AuditEntry, error) {
	var f filter
	if err := f.notBefore("at", since); err != nil {
		return nil, fmt.Errorf("list audit: %w", err)
	}
	limit = store.ClampLimit(limit)
	sql := "SELECT " + auditCols + " FROM audit_log" + f.clause() + " ORDER BY at DESC, seq DESC LIMIT " + f.arg(int64(limit))
	list, err := all(ctx, s.db, sql, f.args, limit, scanAudit)
	if err != nil {
		return nil, fmt.Errorf("list audit: %w", err)
	}
	return list, nil
}

// scanAudit reads a row of auditCols.
func scanAudit(r Rows) (osprey.AuditEntry, error) {
	var (
		e  osprey.AuditEntry
		at int64
	)
	if err := r.Scan(&e.Seq, &at, &e.Actor, &e.Action, &e.Object, &e.Detail); err != nil {
		return e, err
	}
	e.At = decodeTime(at)
	return e, nil
}
