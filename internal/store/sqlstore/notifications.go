package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/store"
)

var notificationColList = []string{
	"id", "incident_id", "receiver", "nkey", "status", "attempts", "last_error",
	"claimed_by", "claimed_at", "finished_at",
}

var notificationCols = strings.Join(notificationColList, ", ")

// ClaimNotification inserts n as sending unless its (incident, receiver, key)
// is logged already; a row still sending whose claim is older than
// staleBefore is taken over instead. Both the insert and the take-over are
// single statements whose row count says who won, so two notifiers racing
// for the same key (on one PostgreSQL, or one SQLite file) cannot both win.
func (s *Store) ClaimNotification(ctx context.Context, n store.Notification, staleBefore time.Time) (store.Notification, bool, error) {
	if n.ID == "" || n.IncidentID == "" || n.Receiver == "" || n.Key == "" || n.ClaimedBy == "" {
		return n, false, fmt.Errorf("claim notification: %w", osprey.Permanent(errors.New("id, incident, receiver, key and claimant are required")))
	}
	n.Status = store.NotificationSending
	var a args
	a.add(n.ID, n.IncidentID, n.Receiver, n.Key, string(n.Status), int64(n.Attempts), n.LastError, n.ClaimedBy)
	a.time(n.ClaimedAt)
	a.time(n.FinishedAt)
	var cut args
	cut.time(n.ClaimedAt)
	cut.time(staleBefore)
	if a.err != nil || cut.err != nil {
		return n, false, fmt.Errorf("claim notification %s/%s/%s: %w", n.IncidentID, n.Receiver, n.Key, errors.Join(a.err, cut.err))
	}
	var (
		got     store.Notification
		claimed bool
	)
	err := s.inTx(ctx, func(tx Querier) error {
		rows, err := tx.Exec(ctx, "INSERT INTO notifications ("+notificationCols+") VALUES "+placeholders(1, len(notificationColList))+
			" ON CONFLICT (incident_id, receiver, nkey) DO NOTHING", a.list...)
		if err != nil {
			return err
		}
		if rows == 0 {
			rows, err = tx.Exec(ctx, "UPDATE notifications SET claimed_by = $1, claimed_at = $2"+
				" WHERE incident_id = $3 AND receiver = $4 AND nkey = $5 AND status = $6 AND claimed_at < $7",
				n.ClaimedBy, cut.list[0], n.IncidentID, n.Receiver, n.Key, string(store.NotificationSending), cut.list[1])
			if err != nil {
				return err
			}
		}
		claimed = rows == 1
		got, err = one(ctx, tx, "SELECT "+notificationCols+" FROM notifications WHERE incident_id = $1 AND receiver = $2 AND nkey = $3",
			[]any{n.IncidentID, n.Receiver, n.Key}, scanNotification)
		return err
	})
	if err != nil {
		return n, false, fmt.Errorf("claim notification %s/%s/%s: %w", n.IncidentID, n.Receiver, n.Key, err)
	}
	return got, claimed, nil
}

// UpdateNotification records progress or the outcome of a claimed
// notification, provided the caller still holds the claim.
func (s *Store) UpdateNotification(ctx context.Context, n store.Notification) error {
	var a args
	a.add(string(n.Status), int64(n.Attempts), n.LastError)
	a.time(n.ClaimedAt)
	a.time(n.FinishedAt)
	a.add(n.ID, n.ClaimedBy)
	if a.err != nil {
		return fmt.Errorf("update notification %s: %w", n.ID, a.err)
	}
	err := s.inTx(ctx, func(tx Querier) error {
		rows, err := tx.Exec(ctx, "UPDATE notifications SET status = $1, attempts = $2, last_error = $3, claimed_at = $4, finished_at = $5"+
			" WHERE id = $6 AND claimed_by = $7", a.list...)
		if err != nil || rows == 1 {
			return err
		}
		var holder string
		err = queryRow(ctx, tx, "SELECT claimed_by FROM notifications WHERE id = $1", []any{n.ID}, &holder)
		if err != nil {
			return notFound(err, "notification", n.ID)
		}
		return fmt.Errorf("%w: claimed by %s, not %s", osprey.ErrConflict, holder, n.ClaimedBy)
	})
	if err != nil {
		return fmt.Errorf("update notification %s: %w", n.ID, err)
	}
	return nil
}

// ListNotifications returns log rows, most recently claimed first (ties by
// descending ID).
func (s *Store) ListNotifications(ctx context.Context, q store.NotificationQuery) ([]store.Notification, error) {
	var f filter
	if q.IncidentID != "" {
		f.where("incident_id = " + f.arg(q.IncidentID))
	}
	limit := store.ClampLimit(q.Limit)
	sql := "SELECT " + notificationCols + " FROM notifications" + f.clause() +
		" ORDER BY claimed_at DESC, id DESC LIMIT " + f.arg(int64(limit))
	list, err := all(ctx, s.db, sql, f.args, limit, scanNotification)
	if err != nil {
		return nil, fmt.Errorf("list notifications: %w", err)
	}
	return list, nil
}

// scanNotification reads a row of notificationCols.
func scanNotification(r Rows) (store.Notification, error) {
	var (
		n                 store.Notification
		status            string
		attempts          int64
		claimed, finished int64
	)
	if err := r.Scan(&n.ID, &n.IncidentID, &n.Receiver, &n.Key, &status, &attempts, &n.LastError,
		&n.ClaimedBy, &claimed, &finished); err != nil {
		return n, err
	}
	n.Status = store.NotificationStatus(status)
	n.Attempts = int(attempts)
	n.ClaimedAt, n.FinishedAt = decodeTime(claimed), decodeTime(finished)
	return n, nil
}
