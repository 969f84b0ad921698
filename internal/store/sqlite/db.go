package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"runtime"
	"time"

	"github.com/osprey-aiops/osprey/internal/store/sqlstore"
)

// busyTimeout is how long a connection waits for a lock held by another
// connection (a checkpoint, another process) before failing with SQLITE_BUSY.
const busyTimeout = 10 * time.Second

// db implements sqlstore.DB with two database/sql pools on one file: a
// single write connection, which serialises writers in the process, and a
// pool of read-only connections that WAL lets read while the writer writes.
type db struct {
	write *sql.DB
	read  *sql.DB
}

var _ sqlstore.DB = (*db)(nil)

// openDB opens both pools. The write connection is opened first, because it
// puts a new database into WAL mode.
func openDB(ctx context.Context, path string) (*db, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	write, err := sql.Open("sqlite", dsn(abs, false))
	if err != nil {
		return nil, err
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	write.SetConnMaxIdleTime(0)
	if err := write.PingContext(ctx); err != nil {
		return nil, errors.Join(err, write.Close())
	}
	read, err := sql.Open("sqlite", dsn(abs, true))
	if err != nil {
		return nil, errors.Join(err, write.Close())
	}
	n := max(4, runtime.GOMAXPROCS(0))
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)
	return &db{write: write, read: read}, nil
}

// dsn returns the driver's name for the file at the absolute path abs with
// the connection settings. Every connection gets busy_timeout, foreign_keys
// and synchronous=FULL (per-connection settings); the write connection sets
// WAL mode (a property of the file) and begins transactions IMMEDIATE, so a
// transaction takes the write lock up front rather than failing when it
// upgrades; read connections are query_only.
func dsn(abs string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(FULL)")
	if readOnly {
		q.Set("_query_only", "1")
	} else {
		q.Add("_pragma", "journal_mode(WAL)")
		q.Set("_txlock", "immediate")
	}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: q.Encode()}
	return u.String()
}

// Exec runs a statement on the write connection outside a transaction.
func (d *db) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	return exec(ctx, d.write, query, args)
}

// Query runs a read on the read pool.
func (d *db) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	return queryRows(ctx, d.read, query, args)
}

// InTx runs fn in a transaction on the write connection.
func (d *db) InTx(ctx context.Context, fn func(sqlstore.Querier) error) error {
	tx, err := d.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(txQuerier{tx}); err != nil {
		return errors.Join(err, ignoreDone(tx.Rollback()))
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// Ping checks both pools.
func (d *db) Ping(ctx context.Context) error {
	return errors.Join(d.write.PingContext(ctx), d.read.PingContext(ctx))
}

// Close closes both pools.
func (d *db) Close() error {
	return errors.Join(d.read.Close(), d.write.Close())
}

// txQuerier runs statements inside one transaction.
type txQuerier struct{ tx *sql.Tx }

func (t txQuerier) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	return exec(ctx, t.tx, query, args)
}

func (t txQuerier) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	return queryRows(ctx, t.tx, query, args)
}

// conn is what *sql.DB and *sql.Tx have in common.
type conn interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func exec(ctx context.Context, c conn, query string, args []any) (int64, error) {
	query, err := rebind(query, len(args))
	if err != nil {
		return 0, err
	}
	res, err := c.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func queryRows(ctx context.Context, c conn, query string, args []any) (sqlstore.Rows, error) {
	query, err := rebind(query, len(args))
	if err != nil {
		return nil, err
	}
	rows, err := c.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err // not a typed nil in an interface
	}
	return rows, nil
}

// ignoreDone drops the error of rolling back a transaction that database/sql
// already ended (when ctx was cancelled).
func ignoreDone(err error) error {
	if errors.Is(err, sql.ErrTxDone) {
		return nil
	}
	return err
}
