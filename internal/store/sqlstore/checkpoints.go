package sqlstore

import (
	"context"
	"errors"
	"fmt"
)

var upsertCheckpoint = upsertSQL("checkpoints", []string{"name", "position"}, 1)

// SetCheckpoint records position for name, replacing the previous one.
func (s *Store) SetCheckpoint(ctx context.Context, name string, position int64) error {
	err := s.inTx(ctx, func(tx Querier) error {
		_, err := tx.Exec(ctx, upsertCheckpoint, name, position)
		return err
	})
	if err != nil {
		return fmt.Errorf("set checkpoint %s: %w", name, err)
	}
	return nil
}

// Checkpoint returns the position recorded for name, or 0 when none was.
func (s *Store) Checkpoint(ctx context.Context, name string) (int64, error) {
	var pos int64
	err := queryRow(ctx, s.db, "SELECT position FROM checkpoints WHERE name = $1", []any{name}, &pos)
	if errors.Is(err, errNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("get checkpoint %s: %w", name, err)
	}
	return pos, nil
}
