package sqlstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strconv"
	"time"
)

// ErrSchemaTooNew is returned (wrapped) by Migrate and Open when the database
// was migrated by a newer Osprey than this one: running on would risk
// misreading or damaging data the newer schema added.
var ErrSchemaTooNew = errors.New("database schema is newer than this binary supports")

// migration is one versioned schema change.
type migration struct {
	version int64
	name    string
	sql     string
}

// migrationName is the file name of a migration: a version of at least four
// digits, an underscore and a description.
var migrationName = regexp.MustCompile(`^([0-9]{4,})_([a-z0-9_]+)\.sql$`)

// loadMigrations reads the migrations at the root of fsys in version order.
// Versions must run 1, 2, 3, ... without gaps or repeats, so that a database's
// version says exactly which migrations it has.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var ms []migration
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		m := migrationName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("migration %s: name is not NNNN_description.sql", e.Name())
		}
		v, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("migration %s: %w", e.Name(), err)
		}
		b, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", e.Name(), err)
		}
		ms = append(ms, migration{version: v, name: m[2], sql: string(b)})
	}
	slices.SortFunc(ms, func(a, b migration) int { return cmp.Compare(a.version, b.version) })
	for i, m := range ms {
		if m.version != int64(i+1) {
			return nil, fmt.Errorf("migration %04d_%s: want version %d (versions start at 1 without gaps or repeats)", m.version, m.name, i+1)
		}
	}
	return ms, nil
}

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    BIGINT PRIMARY KEY,
	name       TEXT NOT NULL,
	applied_at BIGINT NOT NULL
)`

// Migrate brings the database to the latest version in d.Migrations. Each
// migration runs in its own transaction together with its row in
// schema_migrations, so a failed migration leaves the database at the
// previous version. Running Migrate again on a migrated database does
// nothing. A database whose version is newer than the latest migration is
// refused with ErrSchemaTooNew.
func Migrate(ctx context.Context, db DB, d Dialect) error {
	ms, err := loadMigrations(d.Migrations)
	if err != nil {
		return err
	}
	latest := int64(len(ms))
	var current int64
	err = db.InTx(ctx, func(tx Querier) error {
		if err := lockMigrations(ctx, tx, d); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, createMigrationsTable); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		current, err = schemaVersion(ctx, tx, latest)
		return err
	})
	if err != nil {
		return fmt.Errorf("migrate %s: %w", d.Name, err)
	}
	for _, m := range ms[current:] {
		if err := db.InTx(ctx, func(tx Querier) error { return apply(ctx, tx, d, m, latest) }); err != nil {
			return fmt.Errorf("migrate %s to version %d (%s): %w", d.Name, m.version, m.name, err)
		}
	}
	return nil
}

// apply runs migration m unless a concurrent opener has applied it already.
func apply(ctx context.Context, tx Querier, d Dialect, m migration, latest int64) error {
	if err := lockMigrations(ctx, tx, d); err != nil {
		return err
	}
	current, err := schemaVersion(ctx, tx, latest)
	if err != nil || current >= m.version {
		return err
	}
	if _, err := tx.Exec(ctx, m.sql); err != nil {
		return err
	}
	_, err = tx.Exec(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
		m.version, m.name, time.Now().UnixNano())
	return err
}

func lockMigrations(ctx context.Context, tx Querier, d Dialect) error {
	if d.LockMigrations == "" {
		return nil
	}
	if _, err := tx.Exec(ctx, d.LockMigrations); err != nil {
		return fmt.Errorf("lock migrations: %w", err)
	}
	return nil
}

// schemaVersion returns the database's version, refusing one above latest.
func schemaVersion(ctx context.Context, q Querier, latest int64) (int64, error) {
	var v int64
	if err := queryRow(ctx, q, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", nil, &v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	if v > latest {
		return 0, fmt.Errorf("%w: database is at version %d, this binary knows versions up to %d; run a newer osprey", ErrSchemaTooNew, v, latest)
	}
	return v, nil
}
