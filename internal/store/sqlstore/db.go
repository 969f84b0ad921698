package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sync"

	"github.com/osprey-aiops/osprey/internal/store"
)

// Querier runs SQL with $1-style placeholders, on the database or inside one
// transaction. Implementations convert their driver's errors only as far as
// Rows and Exec require; Store maps unique violations and missing rows itself.
type Querier interface {
	// Exec runs a statement and returns the number of rows it affected.
	// Called without args, sql may hold several statements separated by
	// semicolons (migrations rely on this).
	Exec(ctx context.Context, sql string, args ...any) (int64, error)
	// Query runs a query. The caller closes the returned Rows.
	Query(ctx context.Context, sql string, args ...any) (Rows, error)
}

// Rows iterates over a query's result, as database/sql's *sql.Rows does.
// Scan must accept pointers to int64, float64, string and bool.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close() error
}

// DB is a backend's database handle. Its own Query serves reads; every write
// goes through InTx. A DB must be safe for concurrent use, and InTx must
// serialise or retry as its engine needs, so that concurrent writes succeed.
type DB interface {
	Querier
	// InTx runs fn in a read-write transaction and commits it when fn
	// returns nil. When fn or the commit fails, the transaction is rolled
	// back and the error returned. A nil return means the change is durable.
	InTx(ctx context.Context, fn func(tx Querier) error) error
	// Ping reports whether the database is reachable.
	Ping(ctx context.Context) error
	// Close releases the connections.
	Close() error
}

// Dialect describes what differs between backends.
type Dialect struct {
	// Name names the backend in error messages: "sqlite", "postgres".
	Name string
	// Migrations holds the backend's schema migrations, files named
	// NNNN_description.sql at its root (see Migrate).
	Migrations fs.FS
	// LockEvents, when not empty, runs first in every AppendEvents
	// transaction and must hold until commit a lock that keeps other
	// appends out, so that Seq order is commit order. Engines with a single
	// writer (SQLite) need none.
	LockEvents string
	// LockMigrations, when not empty, runs first in every migration
	// transaction and must keep concurrent openers from migrating at the
	// same time.
	LockMigrations string
	// Contains returns a condition that holds when the text in column col
	// contains the text of parameter param ("$2") as a literal,
	// case-sensitive substring.
	Contains func(col, param string) string
	// IsUniqueViolation reports whether err says a unique or primary key
	// constraint was violated.
	IsUniqueViolation func(err error) bool
}

// Store implements store.Store on a DB. Backends embed it.
type Store struct {
	db DB
	d  Dialect
	// texts caches the multi-row statements of the batch writes
	// (sqlFor).
	texts sync.Map // textKey -> string

	closeOnce sync.Once
	closeErr  error
}

var _ store.Store = (*Store)(nil)

// textKey names a multi-row statement: what it writes and its rows.
type textKey struct {
	name string
	rows int
}

// sqlFor returns build, with the text it builds for a number of rows
// cached under name: a batch write's statements come in a few sizes
// (inChunks), and building one (a placeholder list per row) cost about as
// much as a tenth of the member rows' writes.
func (s *Store) sqlFor(name string, build func(rows int) string) func(rows int) string {
	return func(rows int) string {
		k := textKey{name, rows}
		if q, ok := s.texts.Load(k); ok {
			return q.(string)
		}
		q := build(rows)
		s.texts.Store(k, q)
		return q
	}
}

// Open applies d's migrations to db and returns a Store that uses it. The
// Store owns db from then on and closes it in Close; when Open fails, db is
// left open for the caller to close.
func Open(ctx context.Context, db DB, d Dialect) (*Store, error) {
	if d.Contains == nil || d.IsUniqueViolation == nil || d.Migrations == nil {
		return nil, errors.New("sqlstore: incomplete dialect")
	}
	if err := Migrate(ctx, db, d); err != nil {
		return nil, err
	}
	return &Store{db: db, d: d}, nil
}

// Ping reports whether the database is reachable and answers queries.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.Ping(ctx); err != nil {
		return fmt.Errorf("ping %s: %w", s.d.Name, err)
	}
	var one int64
	if err := queryRow(ctx, s.db, "SELECT 1", nil, &one); err != nil {
		return fmt.Errorf("ping %s: %w", s.d.Name, err)
	}
	return nil
}

// Close closes the database. Later calls return the first call's result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.db.Close() })
	return s.closeErr
}

// inTx runs fn in a write transaction and maps a unique violation anywhere in
// it to osprey.ErrConflict.
func (s *Store) inTx(ctx context.Context, fn func(tx Querier) error) error {
	err := s.db.InTx(ctx, fn)
	if err != nil && s.d.IsUniqueViolation(err) {
		return conflict(err)
	}
	return err
}
