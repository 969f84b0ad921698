package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/store"
)

var anomalyColList = []string{
	"id", "kind", "labels", "template_id", "score", "observed", "expected",
	"lower_bound", "upper_bound", "severity", "starts_at", "ends_at", "evidence", "fingerprint",
}

var anomalyCols = strings.Join(anomalyColList, ", ")

var (
	feedbackColList = []string{"anomaly_id", "verdict", "actor", "at"}
	upsertFeedback  = upsertSQL("anomaly_feedback", feedbackColList, 1)
)

// SaveAnomalies creates or replaces each anomaly by ID, in one transaction.
// Feedback on a replaced anomaly is kept.
func (s *Store) SaveAnomalies(ctx context.Context, batch []osprey.Anomaly) error {
	if len(batch) == 0 {
		return nil
	}
	a := args{list: make([]any, 0, len(batch)*len(anomalyColList))}
	for i := range batch {
		an := &batch[i]
		if an.ID == "" {
			return fmt.Errorf("save anomalies: anomaly %d: %w", i, osprey.Permanent(fmt.Errorf("no id")))
		}
		a.add(an.ID, string(an.Kind))
		a.json(an.Labels)
		a.add(an.TemplateID, an.Score, an.Observed, an.Expected, an.Lower, an.Upper, int64(an.Severity))
		a.time(an.StartsAt)
		a.time(an.EndsAt)
		a.json(an.Evidence)
		a.add(an.Fingerprint.String())
	}
	if a.err != nil {
		return fmt.Errorf("save anomalies: %w", a.err)
	}
	err := s.inTx(ctx, func(tx Querier) error {
		return upsertRows(ctx, tx, "anomalies", anomalyColList, a.list)
	})
	if err != nil {
		return fmt.Errorf("save anomalies: %w", err)
	}
	return nil
}

// GetAnomaly returns the anomaly with id, or osprey.ErrNotFound.
func (s *Store) GetAnomaly(ctx context.Context, id string) (osprey.Anomaly, error) {
	an, err := one(ctx, s.db, "SELECT "+anomalyCols+" FROM anomalies WHERE id = $1", []any{id}, scanAnomaly)
	if err != nil {
		return osprey.Anomaly{}, fmt.Errorf("get anomaly: %w", notFound(err, "anomaly", id))
	}
	return an, nil
}

// ListAnomalies returns anomalies matching q, latest start first (ties by
// descending ID).
func (s *Store) ListAnomalies(ctx context.Context, q store.AnomalyQuery) ([]osprey.Anomaly, error) {
	var f filter
	if err := f.notBefore("starts_at", q.Since); err != nil {
		return nil, fmt.Errorf("list anomalies: %w", err)
	}
	if q.Fingerprint != 0 {
		f.where("fingerprint = " + f.arg(q.Fingerprint.String()))
	}
	if q.ActiveOnly {
		f.where("ends_at = " + f.arg(int64(zeroTime)))
	}
	limit := store.ClampLimit(q.Limit)
	sql := "SELECT " + anomalyCols + " FROM anomalies" + f.clause() +
		" ORDER BY starts_at DESC, id DESC LIMIT " + f.arg(int64(limit))
	list, err := all(ctx, s.db, sql, f.args, limit, scanAnomaly)
	if err != nil {
		return nil, fmt.Errorf("list anomalies: %w", err)
	}
	return list, nil
}

// SetFeedback records a verdict on an existing anomaly, replacing an earlier
// one, or returns osprey.ErrNotFound.
func (s *Store) SetFeedback(ctx context.Context, anomalyID string, fb osprey.Feedback, actor string, at time.Time) error {
	var a args
	a.add(anomalyID, string(fb), actor)
	a.time(at)
	if a.err != nil {
		return fmt.Errorf("set feedback on anomaly %s: %w", anomalyID, a.err)
	}
	err := s.inTx(ctx, func(tx Querier) error {
		var one int64
		err := queryRow(ctx, tx, "SELECT 1 FROM anomalies WHERE id = $1", []any{anomalyID}, &one)
		if err != nil {
			return notFound(err, "anomaly", anomalyID)
		}
		_, err = tx.Exec(ctx, upsertFeedback, a.list...)
		return err
	})
	if err != nil {
		return fmt.Errorf("set feedback: %w", err)
	}
	return nil
}

// GetFeedback returns the verdict on an anomaly, or osprey.ErrNotFound when
// there is none (or no such anomaly).
func (s *Store) GetFeedback(ctx context.Context, anomalyID string) (osprey.Feedback, error) {
	var fb string
	err := queryRow(ctx, s.db, "SELECT verdict FROM anomaly_feedback WHERE anomaly_id = $1", []any{anomalyID}, &fb)
	if err != nil {
		return "", fmt.Errorf("get feedback: %w", notFound(err, "feedback on anomaly", anomalyID))
	}
	return osprey.Feedback(fb), nil
}

// scanAnomaly reads a row of anomalyCols.
func scanAnomaly(r Rows) (osprey.Anomaly, error) {
	var (
		an                         osprey.Anomaly
		kind, labels, evidence, fp string
		sev, starts, ends          int64
	)
	err := r.Scan(&an.ID, &kind, &labels, &an.TemplateID, &an.Score, &an.Observed, &an.Expected,
		&an.Lower, &an.Upper, &sev, &starts, &ends, &evidence, &fp)
	if err != nil {
		return an, err
	}
	if err := decodeJSON("labels", labels, &an.Labels); err != nil {
		return an, err
	}
	if err := decodeJSON("evidence", evidence, &an.Evidence); err != nil {
		return an, err
	}
	if an.Fingerprint, err = osprey.ParseFingerprint(fp); err != nil {
		return an, err
	}
	an.Kind, an.Severity = osprey.AnomalyKind(kind), osprey.Severity(sev)
	an.StartsAt, an.EndsAt = decodeTime(starts), decodeTime(ends)
	return an, nil
}
