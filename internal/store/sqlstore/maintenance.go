package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/osprey-aiops/osprey"
)

var maintenanceColList = []string{"id", "name", "matchers", "starts_at", "ends_at", "schedule", "created_by", "created_at", "comment"}

var (
	maintenanceCols   = strings.Join(maintenanceColList, ", ")
	upsertMaintenance = upsertSQL("maintenance_windows", maintenanceColList, 1)
)

// SaveMaintenance creates or replaces a maintenance window by ID.
func (s *Store) SaveMaintenance(ctx context.Context, w osprey.MaintenanceWindow) error {
	if w.ID == "" {
		return fmt.Errorf("save maintenance window: %w", osprey.Permanent(fmt.Errorf("no id")))
	}
	var a args
	a.add(w.ID, w.Name)
	a.json(w.Matchers)
	a.time(w.StartsAt)
	a.time(w.EndsAt)
	if w.Schedule != nil {
		a.json(w.Schedule)
	} else {
		a.add("")
	}
	a.add(w.CreatedBy)
	a.time(w.CreatedAt)
	a.add(w.Comment)
	if a.err != nil {
		return fmt.Errorf("save maintenance window %s: %w", w.ID, a.err)
	}
	err := s.inTx(ctx, func(tx Querier) error {
		_, err := tx.Exec(ctx, upsertMaintenance, a.list...)
		return err
	})
	if err != nil {
		return fmt.Errorf("save maintenance window %s: %w", w.ID, err)
	}
	return nil
}

// ListMaintenance returns every stored maintenance window, by ID.
func (s *Store) ListMaintenance(ctx context.Context) ([]osprey.MaintenanceWindow, error) {
	list, err := all(ctx, s.db, "SELECT "+maintenanceCols+" FROM maintenance_windows ORDER BY id", nil, 16, scanMaintenance)
	if err != nil {
		return nil, fmt.Errorf("list maintenance windows: %w", err)
	}
	return list, nil
}

// GetMaintenance returns the maintenance window with id, or
// osprey.ErrNotFound.
func (s *Store) GetMaintenance(ctx context.Context, id string) (osprey.MaintenanceWindow, error) {
	list, err := all(ctx, s.db, "SELECT "+maintenanceCols+" FROM maintenance_windows WHERE id = $1", []any{id}, 1, scanMaintenance)
	if err != nil {
		return osprey.MaintenanceWindow{}, fmt.Errorf("get maintenance window %s: %w", id, err)
	}
	if len(list) == 0 {
		return osprey.MaintenanceWindow{}, fmt.Errorf("get maintenance window: %w", notFound(errNoRows, "maintenance window", id))
	}
	return list[0], nil
}

// DeleteMaintenance removes a maintenance window, or returns
// osprey.ErrNotFound.
func (s *Store) DeleteMaintenance(ctx context.Context, id string) error {
	err := s.inTx(ctx, func(tx Querier) error {
		n, err := tx.Exec(ctx, "DELETE FROM maintenance_windows WHERE id = $1", id)
		if err == nil && n == 0 {
			err = notFound(errNoRows, "maintenance window", id)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("delete maintenance window: %w", err)
	}
	return nil
}

// scanMaintenance reads a row of maintenanceCols.
func scanMaintenance(r Rows) (osprey.MaintenanceWindow, error) {
	var (
		w                       osprey.MaintenanceWindow
		matchers, schedule      string
		starts, ends, createdAt int64
	)
	if err := r.Scan(&w.ID, &w.Name, &matchers, &starts, &ends, &schedule, &w.CreatedBy, &createdAt, &w.Comment); err != nil {
		return w, err
	}
	if err := decodeJSON("matchers", matchers, &w.Matchers); err != nil {
		return w, err
	}
	if schedule != "" {
		w.Schedule = &osprey.WeeklySchedule{}
		if err := decodeJSON("schedule", schedule, w.Schedule); err != nil {
			return w, err
		}
	}
	w.StartsAt, w.EndsAt, w.CreatedAt = decodeTime(starts), decodeTime(ends), decodeTime(createdAt)
	return w, nil
}
