package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/osprey-aiops/osprey"
)

var silenceColList = []string{"id", "matchers", "starts_at", "ends_at", "created_by", "comment"}

var (
	silenceCols   = strings.Join(silenceColList, ", ")
	upsertSilence = upsertSQL("silences", silenceColList, 1)
)

// SaveSilence creates or replaces a silence by ID.
func (s *Store) SaveSilence(ctx context.Context, sil osprey.Silence) error {
	if sil.ID == "" {
		return fmt.Errorf("save silence: %w", osprey.Permanent(fmt.Errorf("no id")))
	}
	var a args
	a.add(sil.ID)
	a.json(sil.Matchers)
	a.time(sil.StartsAt)
	a.time(sil.EndsAt)
	a.add(sil.CreatedBy, sil.Comment)
	if a.err != nil {
		return fmt.Errorf("save silence %s: %w", sil.ID, a.err)
	}
	err := s.inTx(ctx, func(tx Querier) error {
		_, err := tx.Exec(ctx, upsertSilence, a.list...)
		return err
	})
	if err != nil {
		return fmt.Errorf("save silence %s: %w", sil.ID, err)
	}
	return nil
}

// ListSilences returns the silences whose end is after at (all silences when
// at is zero), soonest end first (ties by ID). Silences that have not started
// yet are included.
func (s *Store) ListSilences(ctx context.Context, at time.Time) ([]osprey.Silence, error) {
	var f filter
	if !at.IsZero() {
		ns, err := encodeTime(at)
		if err != nil {
			return nil, fmt.Errorf("list silences: %w", err)
		}
		f.where("ends_at > " + f.arg(ns))
	}
	sql := "SELECT " + silenceCols + " FROM silences" + f.clause() + " ORDER BY ends_at, id"
	list, err := all(ctx, s.db, sql, f.args, 64, scanSilence)
	if err != nil {
		return nil, fmt.Errorf("list silences: %w", err)
	}
	return list, nil
}

// GetSilence returns the silence with id, or osprey.ErrNotFound.
func (s *Store) GetSilence(ctx context.Context, id string) (osprey.Silence, error) {
	list, err := all(ctx, s.db, "SELECT "+silenceCols+" FROM silences WHERE id = $1", []any{id}, 1, scanSilence)
	if err != nil {
		return osprey.Silence{}, fmt.Errorf("get silence %s: %w", id, err)
	}
	if len(list) == 0 {
		return osprey.Silence{}, fmt.Errorf("get silence: %w", notFound(errNoRows, "silence", id))
	}
	return list[0], nil
}

// DeleteSilence removes a silence, or returns osprey.ErrNotFound.
func (s *Store) DeleteSilence(ctx context.Context, id string) error {
	err := s.inTx(ctx, func(tx Querier) error {
		n, err := tx.Exec(ctx, "DELETE FROM silences WHERE id = $1", id)
		if err == nil && n == 0 {
			err = notFound(errNoRows, "silence", id)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("delete silence: %w", err)
	}
	return nil
}

// scanSilence reads a row of silenceCols.
func scanSilence(r Rows) (osprey.Silence, error) {
	var (
		sil          osprey.Silence
		matchers     string
		starts, ends int64
	)
	if err := r.Scan(&sil.ID, &matchers, &starts, &ends, &sil.CreatedBy, &sil.Comment); err != nil {
		return sil, err
	}
	if err := decodeJSON("matchers", matchers, &sil.Matchers); err != nil {
		return sil, err
	}
	sil.StartsAt, sil.EndsAt = decodeTime(starts), decodeTime(ends)
	return sil, nil
}
