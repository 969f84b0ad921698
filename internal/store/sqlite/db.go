package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
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
	stmts *stmtCache
}

// maxCachedStmts bounds the statements prepared on the write connection
// (stmtCache). The multi-row statements of a batch differ by their number
// of rows, which sqlstore keeps to 39 per table (1 to 32 rows, then
// multiples of 32 up to 256): the five tables the correlate stage and the
// event ingest write in batches take up to 195.
const maxCachedStmts = 256

// stmtCache holds statements prepared once on the write connection, for
// the transactions to reuse: database/sql prepares every statement afresh
// otherwise, and parsing the multi-row statements of a batch was a fifth of
// the correlate stage's store write (docs/noise.md). A statement first seen
// in a transaction runs unprepared and is prepared after the commit, when
// the single write connection is free again (preparing it on the pool
// inside the transaction would wait for the connection the transaction
// holds). Safe for concurrent use.
type stmtCache struct {
	mu sync.Mutex
	m  map[string]*sql.Stmt // by sqlstore's query text
}

// get returns the prepared statement of query, or nil.
func (c *stmtCache) get(query string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[query]
}

// prepare prepares the queries not yet cached on pool. When the cache is
// full it is emptied first, so that it holds the statements in current
// use. A statement that fails to prepare is left out: it runs unprepared.
// The lock is not held while preparing: that waits for the write
// connection, and a transaction holding it may be looking a statement up.
func (c *stmtCache) prepare(ctx context.Context, pool *sql.DB, queries []pendingStmt) {
	for _, p := range queries {
		if c.get(p.query) != nil {
			continue
		}
		rq, err := rebind(p.query, p.nargs)
		if err != nil {
			continue
		}
		st, err := pool.PrepareContext(ctx, rq)
		if err != nil {
			continue
		}
		c.mu.Lock()
		if _, ok := c.m[p.query]; ok {
			_ = st.Close() // another caller was first
		} else {
			if len(c.m) >= maxCachedStmts {
				c.closeLocked()
			}
			c.m[p.query] = st
		}
		c.mu.Unlock()
	}
}

// close closes every cached statement. Statements a transaction still uses
// are closed when it ends (database/sql keeps them until then).
func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closeLocked()
}

func (c *stmtCache) closeLocked() {
	for q, st := range c.m {
		_ = st.Close()
		delete(c.m, q)
	}
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
	return &db{write: write, read: read, stmts: &stmtCache{m: make(map[string]*sql.Stmt)}}, nil
}

// writeCacheKiB is the page cache of the write connection, in KiB (SQLite's
// default is 2,000). A transaction whose pages do not fit spills them to the
// WAL before its commit, and may write them again; and a cache smaller than
// the pages the correlate stage rewrites batch after batch (the members and
// incidents of its open incidents) reads them back from the file on every
// batch. An alert storm's batch rewrites hundreds of incidents with their
// causes (BenchmarkConsumeEventsManyIncidentsConcurrentRCA).
const writeCacheKiB = 16 << 10

// migrated keeps the write connection's temporary files in memory, once
// the migrations have run. A statement that writes several rows (the
// multi-row upserts of a batch) keeps a journal of the pages it changed,
// to undo itself alone if it fails; past 64 KiB SQLite spills that
// journal to a temporary file, and a batch of incidents whose causes run
// to kilobytes each passes that, so every batch wrote and read a
// temporary file (a fifth of the bytes the correlate stage wrote,
// BenchmarkConsumeEventsLargeIncidentsConcurrentRCA; a third in an alert
// storm). In memory, such a journal is at most the pages of one batch.
// It is not set for the migrations, which may sort a large table to
// build an index: SQLite's sorter then keeps all of it in memory.
func (d *db) migrated(ctx context.Context) error {
	if _, err := d.write.ExecContext(ctx, "PRAGMA temp_store = MEMORY"); err != nil {
		return fmt.Errorf("keep temporary files in memory: %w", err)
	}
	return nil
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
		q.Add("_pragma", fmt.Sprintf("cache_size(%d)", -writeCacheKiB))
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

// InTx runs fn in a transaction on the write connection, with the
// statements the cache holds prepared; it prepares the ones it did not
// hold after the commit.
func (d *db) InTx(ctx context.Context, fn func(sqlstore.Querier) error) error {
	tx, err := d.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	q := &txQuerier{tx: tx, stmts: d.stmts}
	if err := fn(q); err != nil {
		return errors.Join(err, ignoreDone(tx.Rollback()))
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	if len(q.unprepared) > 0 {
		d.stmts.prepare(ctx, d.write, q.unprepared)
	}
	return nil
}

// Ping checks both pools.
func (d *db) Ping(ctx context.Context) error {
	return errors.Join(d.write.PingContext(ctx), d.read.PingContext(ctx))
}

// Close closes the cached statements and both pools.
func (d *db) Close() error {
	d.stmts.close()
	return errors.Join(d.read.Close(), d.write.Close())
}

// txQuerier runs statements inside one transaction, prepared ones from the
// cache; it lists the statements with arguments the cache lacked.
type txQuerier struct {
	tx         *sql.Tx
	stmts      *stmtCache
	unprepared []pendingStmt
}

// pendingStmt is a statement to prepare, with its number of arguments.
type pendingStmt struct {
	query string
	nargs int
}

// stmt returns the cached statement of query bound to the transaction, or
// nil (and notes query) when the cache lacks it.
func (t *txQuerier) stmt(ctx context.Context, query string, nargs int) *sql.Stmt {
	if nargs == 0 {
		return nil // migrations and one-off statements
	}
	if st := t.stmts.get(query); st != nil {
		return t.tx.StmtContext(ctx, st)
	}
	if !slices.ContainsFunc(t.unprepared, func(p pendingStmt) bool { return p.query == query }) {
		t.unprepared = append(t.unprepared, pendingStmt{query, nargs})
	}
	return nil
}

func (t *txQuerier) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	st := t.stmt(ctx, query, len(args))
	if st == nil {
		return exec(ctx, t.tx, query, args)
	}
	res, err := st.ExecContext(ctx, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (t *txQuerier) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	st := t.stmt(ctx, query, len(args))
	if st == nil {
		return queryRows(ctx, t.tx, query, args)
	}
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return nil, err // not a typed nil in an interface
	}
	return rows, nil
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
