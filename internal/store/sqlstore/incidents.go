package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/store"
)

var incidentColList = []string{
	"id", "title", "status", "severity", "labels", "assignee",
	"opened_at", "updated_at", "resolved_at", "members", "causes",
}

var (
	incidentCols   = strings.Join(incidentColList, ", ")
	upsertIncident = upsertSQL("incidents", incidentColList, 1)
)

const (
	timelineCols   = "seq, at, kind, actor, message, ref"
	insertTimeline = "INSERT INTO timeline (incident_id, at, kind, actor, message, ref) VALUES ($1, $2, $3, $4, $5, $6) RETURNING seq"
)

// SaveIncident creates or replaces inc and appends entries to its timeline in
// one transaction, setting each entry's Seq.
func (s *Store) SaveIncident(ctx context.Context, inc osprey.Incident, entries ...osprey.TimelineEntry) error {
	if inc.ID == "" {
		return fmt.Errorf("save incident: %w", osprey.Permanent(fmt.Errorf("no id")))
	}
	var a args
	a.add(inc.ID, inc.Title, string(inc.Status), int64(inc.Severity))
	a.json(inc.Labels)
	a.add(inc.Assignee)
	a.time(inc.OpenedAt)
	a.time(inc.UpdatedAt)
	a.time(inc.ResolvedAt)
	a.json(inc.Members)
	a.json(inc.Causes)
	if a.err != nil {
		return fmt.Errorf("save incident %s: %w", inc.ID, a.err)
	}
	var seqs []int64
	err := s.inTx(ctx, func(tx Querier) error {
		if _, err := tx.Exec(ctx, upsertIncident, a.list...); err != nil {
			return err
		}
		var err error
		seqs, err = appendTimeline(ctx, tx, inc.ID, entries)
		return err
	})
	if err != nil {
		return fmt.Errorf("save incident %s: %w", inc.ID, err)
	}
	setSeqs(entries, seqs)
	return nil
}

// AppendTimeline appends entries to an existing incident's timeline, setting
// each entry's Seq, or returns osprey.ErrNotFound.
func (s *Store) AppendTimeline(ctx context.Context, incidentID string, entries ...osprey.TimelineEntry) error {
	var seqs []int64
	err := s.inTx(ctx, func(tx Querier) error {
		var one int64
		err := queryRow(ctx, tx, "SELECT 1 FROM incidents WHERE id = $1", []any{incidentID}, &one)
		if err != nil {
			return notFound(err, "incident", incidentID)
		}
		seqs, err = appendTimeline(ctx, tx, incidentID, entries)
		return err
	})
	if err != nil {
		return fmt.Errorf("append timeline: %w", err)
	}
	setSeqs(entries, seqs)
	return nil
}

// appendTimeline inserts entries in order and returns the Seqs the database
// assigned, which increase.
func appendTimeline(ctx context.Context, tx Querier, incidentID string, entries []osprey.TimelineEntry) ([]int64, error) {
	seqs := make([]int64, len(entries))
	for i := range entries {
		e := &entries[i]
		var a args
		a.add(incidentID)
		a.time(e.At)
		a.add(string(e.Kind), e.Actor, e.Message, e.Ref)
		if a.err != nil {
			return nil, fmt.Errorf("timeline entry %d: %w", i, a.err)
		}
		if err := queryRow(ctx, tx, insertTimeline, a.list, &seqs[i]); err != nil {
			return nil, fmt.Errorf("timeline entry %d: %w", i, err)
		}
	}
	return seqs, nil
}

// setSeqs copies the Seqs of committed entries into the caller's entries.
func setSeqs(entries []osprey.TimelineEntry, seqs []int64) {
	for i := range entries {
		entries[i].Seq = seqs[i]
	}
}

// GetIncident returns the incident with id and its timeline, oldest entry
// first, or osprey.ErrNotFound.
func (s *Store) GetIncident(ctx context.Context, id string) (osprey.Incident, error) {
	inc, err := one(ctx, s.db, "SELECT "+incidentCols+" FROM incidents WHERE id = $1", []any{id}, scanIncident)
	if err != nil {
		return osprey.Incident{}, fmt.Errorf("get incident: %w", notFound(err, "incident", id))
	}
	inc.Timeline, err = all(ctx, s.db, "SELECT "+timelineCols+" FROM timeline WHERE incident_id = $1 ORDER BY seq",
		[]any{id}, 64, scanTimelineEntry)
	if err != nil {
		return osprey.Incident{}, fmt.Errorf("get incident %s timeline: %w", id, err)
	}
	if len(inc.Timeline) == 0 {
		inc.Timeline = nil
	}
	return inc, nil
}

// ListIncidents returns incidents matching q, most recently updated first
// (ties by descending ID), without timelines.
func (s *Store) ListIncidents(ctx context.Context, q store.IncidentQuery) ([]osprey.Incident, error) {
	var f filter
	if len(q.Statuses) > 0 {
		ps := make([]string, len(q.Statuses))
		for i, st := range q.Statuses {
			ps[i] = f.arg(string(st))
		}
		f.where("status IN (" + strings.Join(ps, ", ") + ")")
	}
	if err := f.notBefore("updated_at", q.UpdatedSince); err != nil {
		return nil, fmt.Errorf("list incidents: %w", err)
	}
	limit := store.ClampLimit(q.Limit)
	sql := "SELECT " + incidentCols + " FROM incidents" + f.clause() +
		" ORDER BY updated_at DESC, id DESC LIMIT " + f.arg(int64(limit))
	incs, err := all(ctx, s.db, sql, f.args, limit, scanIncident)
	if err != nil {
		return nil, fmt.Errorf("list incidents: %w", err)
	}
	return incs, nil
}

// scanIncident reads a row of incidentCols.
func scanIncident(r Rows) (osprey.Incident, error) {
	var (
		inc                            osprey.Incident
		status, labels, members, cause string
		sev, opened, updated, resolved int64
	)
	err := r.Scan(&inc.ID, &inc.Title, &status, &sev, &labels, &inc.Assignee, &opened, &updated, &resolved, &members, &cause)
	if err != nil {
		return inc, err
	}
	if err := decodeJSON("labels", labels, &inc.Labels); err != nil {
		return inc, err
	}
	if err := decodeJSON("members", members, &inc.Members); err != nil {
		return inc, err
	}
	for i := range inc.Members {
		m := &inc.Members[i]
		m.FirstSeen, m.LastSeen = m.FirstSeen.UTC(), m.LastSeen.UTC()
	}
	if err := decodeJSON("causes", cause, &inc.Causes); err != nil {
		return inc, err
	}
	inc.Status = osprey.IncidentStatus(status)
	inc.Severity = osprey.Severity(sev)
	inc.OpenedAt, inc.UpdatedAt, inc.ResolvedAt = decodeTime(opened), decodeTime(updated), decodeTime(resolved)
	return inc, nil
}

// scanTimelineEntry reads a row of timelineCols.
func scanTimelineEntry(r Rows) (osprey.TimelineEntry, error) {
	var (
		e    osprey.TimelineEntry
		at   int64
		kind string
	)
	if err := r.Scan(&e.Seq, &at, &kind, &e.Actor, &e.Message, &e.Ref); err != nil {
		return e, err
	}
	e.At, e.Kind = decodeTime(at), osprey.TimelineKind(kind)
	return e, nil
}
