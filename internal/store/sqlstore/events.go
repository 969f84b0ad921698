package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/store"
)

// eventInsertCols are the columns an append writes; seq is assigned by the
// database.
var eventInsertCols = []string{
	"id", "source", "name", "labels", "annotations", "severity", "status",
	"starts_at", "ends_at", "fingerprint", "received_at",
}

const eventCols = "seq, id, source, name, labels, annotations, severity, status, starts_at, ends_at, fingerprint, received_at"

// maxParams bounds the parameters of one statement, below SQLite's limit of
// 32766 and PostgreSQL's of 65535.
const maxParams = 30000

// eventInsertSQL is the INSERT of n events that returns each one's id
// and assigned seq.
func eventInsertSQL(n int) string {
	return valuesSQL("INSERT INTO events ("+strings.Join(eventInsertCols, ", ")+") VALUES ", n, len(eventInsertCols), " RETURNING id, seq")
}

// AppendEvents stores the batch in one transaction, inserting it with
// multi-row INSERTs of a few sizes (inChunks), and sets each event's Seq.
// Within a batch, Seq follows batch order.
func (s *Store) AppendEvents(ctx context.Context, batch []osprey.Event) error {
	if len(batch) == 0 {
		return nil
	}
	a := args{list: make([]any, 0, len(batch)*len(eventInsertCols))}
	for i := range batch {
		e := &batch[i]
		if e.ID == "" {
			return fmt.Errorf("append events: event %d (%s): %w", i, e.Name, osprey.Permanent(fmt.Errorf("no id")))
		}
		a.add(e.ID, e.Source, e.Name)
		a.json(e.Labels)
		a.json(e.Annotations)
		a.add(int64(e.Severity), string(e.Status))
		a.time(e.StartsAt)
		a.time(e.EndsAt)
		a.add(e.Fingerprint.String())
		a.time(e.ReceivedAt)
	}
	if a.err != nil {
		return fmt.Errorf("append events: %w", a.err)
	}
	seqs := make(map[string]int64, len(batch))
	err := s.inTx(ctx, func(tx Querier) error {
		if s.d.LockEvents != "" {
			if _, err := tx.Exec(ctx, s.d.LockEvents); err != nil {
				return fmt.Errorf("lock events: %w", err)
			}
		}
		stmt := s.sqlFor("events", eventInsertSQL)
		return inChunks(a.list, len(eventInsertCols), func(params []any, n int) error {
			return collect(ctx, tx, stmt(n), params, func(r Rows) error {
				var id string
				var seq int64
				if err := r.Scan(&id, &seq); err != nil {
					return err
				}
				seqs[id] = seq
				return nil
			})
		})
	})
	if err != nil {
		return fmt.Errorf("append events: %w", err)
	}
	for i := range batch {
		batch[i].Seq = seqs[batch[i].ID]
	}
	return nil
}

// GetEvent returns the event with id, or osprey.ErrNotFound.
func (s *Store) GetEvent(ctx context.Context, id string) (osprey.Event, error) {
	e, err := one(ctx, s.db, "SELECT "+eventCols+" FROM events WHERE id = $1", []any{id}, scanEvent)
	if err != nil {
		return osprey.Event{}, fmt.Errorf("get event: %w", notFound(err, "event", id))
	}
	return e, nil
}

// ListEvents returns events matching q: by Seq descending, or ascending when
// q.AfterSeq or q.OldestFirst is set.
func (s *Store) ListEvents(ctx context.Context, q store.EventQuery) ([]osprey.Event, error) {
	var f filter
	order := "seq DESC"
	if q.AfterSeq != 0 || q.OldestFirst {
		order = "seq"
	}
	if q.AfterSeq != 0 {
		f.where("seq > " + f.arg(q.AfterSeq))
	}
	if err := f.notBefore("received_at", q.Since); err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	if q.Fingerprint != 0 {
		f.where("fingerprint = " + f.arg(q.Fingerprint.String()))
	}
	limit := store.ClampLimit(q.Limit)
	sql := "SELECT " + eventCols + " FROM events" + f.clause() + " ORDER BY " + order + " LIMIT " + f.arg(int64(limit))
	events, err := all(ctx, s.db, sql, f.args, limit, scanEvent)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	return events, nil
}

// scanEvent reads a row of eventCols.
func scanEvent(r Rows) (osprey.Event, error) {
	var (
		e                        osprey.Event
		labels, annots, st, fp   string
		sev, starts, ends, recvd int64
	)
	if err := r.Scan(&e.Seq, &e.ID, &e.Source, &e.Name, &labels, &annots, &sev, &st, &starts, &ends, &fp, &recvd); err != nil {
		return e, err
	}
	if err := decodeJSON("labels", labels, &e.Labels); err != nil {
		return e, err
	}
	if err := decodeJSON("annotations", annots, &e.Annotations); err != nil {
		return e, err
	}
	var err error
	if e.Fingerprint, err = osprey.ParseFingerprint(fp); err != nil {
		return e, err
	}
	e.Severity = osprey.Severity(sev)
	e.Status = osprey.EventStatus(st)
	e.StartsAt, e.EndsAt, e.ReceivedAt = decodeTime(starts), decodeTime(ends), decodeTime(recvd)
	return e, nil
}
