package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/store"
)

// pruneStep is one kind of row Prune deletes: the statement selecting the
// keys of a batch of rows to delete, and the statement deleting the rows
// with those keys.
type pruneStep struct {
	table  string
	cutoff time.Time
	// keys selects the keys of the rows to delete; its parameters are
	// args, and its %d verb (in LIMIT) takes the batch size.
	keys string
	args []any
	// del deletes the rows whose key is in the subquery it is given.
	del string
}

// Prune deletes what has aged out, batch by batch, each batch in its own
// transaction so that the single writer is never held for long.
func (s *Store) Prune(ctx context.Context, r store.PruneRequest) (store.PruneResult, error) {
	batch := r.BatchSize
	if batch <= 0 {
		batch = store.DefaultPruneBatch
	}
	steps, err := pruneSteps(r)
	if err != nil {
		return nil, fmt.Errorf("prune: %w", err)
	}
	out := store.PruneResult{}
	for _, st := range steps {
		if st.cutoff.IsZero() {
			continue
		}
		// The batch size is an int of ours, not input: it goes into the
		// statement as a literal.
		sql := st.del + " IN (" + fmt.Sprintf(st.keys, batch) + ")"
		args := st.args
		for {
			if err := ctx.Err(); err != nil {
				return out, fmt.Errorf("prune %s: %w", st.table, err)
			}
			var n int64
			err := s.inTx(ctx, func(tx Querier) error {
				var err error
				n, err = tx.Exec(ctx, sql, args...)
				return err
			})
			if err != nil {
				return out, fmt.Errorf("prune %s: %w", st.table, err)
			}
			if n > 0 {
				out[st.table] += n
			}
			if n < int64(batch) {
				break
			}
		}
	}
	return out, nil
}

// pruneSteps lists the deletions of r in dependency order: incidents go
// before the notification log and runbook runs that outlive them.
func pruneSteps(r store.PruneRequest) ([]pruneStep, error) {
	var a args
	ns := func(t time.Time) int64 {
		if t.IsZero() {
			return 0
		}
		v, err := encodeTime(t)
		a.keep(err)
		return v
	}
	zero := int64(zeroTime)
	events, anomalies, incidents := ns(r.EventsBefore), ns(r.AnomaliesBefore), ns(r.IncidentsBefore)
	noise, audit, silences := ns(r.NoiseBefore), ns(r.AuditBefore), ns(r.SilencesBefore)
	if a.err != nil {
		return nil, a.err
	}
	return []pruneStep{
		{
			table: "events", cutoff: r.EventsBefore,
			keys: "SELECT seq FROM events WHERE received_at < $1 AND seq <= $2 ORDER BY seq LIMIT %d",
			args: []any{events, r.EventsMaxSeq},
			del:  "DELETE FROM events WHERE seq",
		},
		{
			table: "anomalies", cutoff: r.AnomaliesBefore,
			keys: "SELECT id FROM anomalies WHERE ends_at < $1 AND ends_at <> $2 ORDER BY ends_at LIMIT %d",
			args: []any{anomalies, zero},
			del:  "DELETE FROM anomalies WHERE id",
		},
		{
			table: "incidents", cutoff: r.IncidentsBefore,
			keys: "SELECT id FROM incidents WHERE resolved_at < $1 AND status = $2 AND resolved_at <> $3 ORDER BY resolved_at LIMIT %d",
			args: []any{incidents, string(osprey.IncidentResolved), zero},
			del:  "DELETE FROM incidents WHERE id",
		},
		{
			table: "notifications", cutoff: r.IncidentsBefore,
			keys: "SELECT n.id FROM notifications AS n WHERE n.claimed_at < $1" +
				" AND NOT EXISTS (SELECT 1 FROM incidents AS i WHERE i.id = n.incident_id) ORDER BY n.claimed_at LIMIT %d",
			args: []any{incidents},
			del:  "DELETE FROM notifications WHERE id",
		},
		{
			table: "runbook_runs", cutoff: r.IncidentsBefore,
			keys: "SELECT r.id FROM runbook_runs AS r WHERE r.requested_at < $1" +
				" AND NOT EXISTS (SELECT 1 FROM incidents AS i WHERE i.id = r.incident_id) ORDER BY r.requested_at LIMIT %d",
			args: []any{incidents},
			del:  "DELETE FROM runbook_runs WHERE id",
		},
		{
			table: "noise_counts", cutoff: r.NoiseBefore,
			// A minute holds a handful of rows (sources × rules ×
			// outcomes), so a batch is counted in minutes.
			keys: "SELECT DISTINCT minute FROM noise_counts WHERE minute < $1 ORDER BY minute LIMIT %d",
			args: []any{noise},
			del:  "DELETE FROM noise_counts WHERE minute",
		},
		{
			table: "audit_log", cutoff: r.AuditBefore,
			keys: "SELECT seq FROM audit_log WHERE at < $1 ORDER BY seq LIMIT %d",
			args: []any{audit},
			del:  "DELETE FROM audit_log WHERE seq",
		},
		{
			table: "silences", cutoff: r.SilencesBefore,
			keys: "SELECT id FROM silences WHERE ends_at < $1 AND ends_at <> $2 ORDER BY ends_at LIMIT %d",
			args: []any{silences, zero},
			del:  "DELETE FROM silences WHERE id",
		},
		{
			table: "maintenance_windows", cutoff: r.SilencesBefore,
			keys: "SELECT id FROM maintenance_windows WHERE schedule = '' AND ends_at < $1 AND ends_at <> $2 ORDER BY ends_at LIMIT %d",
			args: []any{silences, zero},
			del:  "DELETE FROM maintenance_windows WHERE id",
		},
	}, nil
}
