// Package sqlite is Osprey's embedded store: one SQLite database file, used
// through the pure-Go modernc.org/sqlite driver so that Osprey builds without
// cgo.
//
// The database runs in WAL mode with synchronous=FULL, so a write that
// returned nil survives a crash or power loss, and readers never wait for the
// writer. SQLite allows one writer at a time; Store keeps all writes on a
// single connection, so that concurrent writers queue in the process instead
// of failing with SQLITE_BUSY, and serves reads from a separate pool of
// read-only connections.
package sqlite

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/osprey-aiops/osprey/internal/store"
	"github.com/osprey-aiops/osprey/internal/store/sqlstore"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Store is a store.Store kept in a SQLite database file. Its methods are
// those of sqlstore.Store.
type Store struct {
	*sqlstore.Store
}

var _ store.Store = (*Store)(nil)

// Open opens the database file at path, creating it and its parent
// directory when missing, and migrates it to the current schema. It refuses
// a database written by a newer Osprey (sqlstore.ErrSchemaTooNew). path must
// name a file: ":memory:" and "file:" URIs are not accepted, because the
// write and read pools must see the same database. The caller closes the
// Store.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("sqlite: %q is not a database file path", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("sqlite: create directory: %w", err)
	}
	db, err := openDB(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	s, err := sqlstore.Open(ctx, db, dialect())
	if err != nil {
		return nil, errors.Join(fmt.Errorf("sqlite %s: %w", path, err), db.Close())
	}
	if err := db.migrated(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("sqlite %s: %w", path, err), db.Close())
	}
	return &Store{Store: s}, nil
}

// dialect describes SQLite to sqlstore.
func dialect() sqlstore.Dialect {
	migrations, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		panic("BUG: embedded migrations: " + err.Error())
	}
	return sqlstore.Dialect{
		Name:       "sqlite",
		Migrations: migrations,
		// The single write connection and BEGIN IMMEDIATE already make
		// appends and migrations exclusive.
		LockEvents:     "",
		LockMigrations: "",
		Contains: func(col, param string) string {
			return "instr(" + col + ", " + param + ") > 0"
		},
		IsUniqueViolation: isUniqueViolation,
	}
}

// isUniqueViolation reports whether err is SQLite's unique or primary key
// constraint error.
func isUniqueViolation(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	return e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}
