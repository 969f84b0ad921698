package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/osprey-aiops/osprey/internal/store/sqlstore"
)

// db implements sqlstore.DB on a pgx pool.
type db struct {
	pool *pgxpool.Pool
}

var _ sqlstore.DB = (*db)(nil)

// Exec runs a statement outside a transaction.
func (d *db) Exec(ctx context.Context, sql string, args ...any) (int64, error) {
	tag, err := d.pool.Exec(ctx, sql, args...)
	return tag.RowsAffected(), err
}

// Query runs a query outside a transaction.
func (d *db) Query(ctx context.Context, sql string, args ...any) (sqlstore.Rows, error) {
	return query(d.pool.Query(ctx, sql, args...))
}

// InTx runs fn in a read-committed transaction.
func (d *db) InTx(ctx context.Context, fn func(sqlstore.Querier) error) error {
	return pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error { return fn(txQuerier{tx: tx}) })
}

// Ping checks that a connection can be had and answers.
func (d *db) Ping(ctx context.Context) error { return d.pool.Ping(ctx) }

// Close closes the pool, waiting for connections in use to be returned.
func (d *db) Close() error {
	d.pool.Close()
	return nil
}

// txQuerier runs statements inside one transaction.
type txQuerier struct{ tx pgx.Tx }

func (t txQuerier) Exec(ctx context.Context, sql string, args ...any) (int64, error) {
	tag, err := t.tx.Exec(ctx, sql, args...)
	return tag.RowsAffected(), err
}

func (t txQuerier) Query(ctx context.Context, sql string, args ...any) (sqlstore.Rows, error) {
	return query(t.tx.Query(ctx, sql, args...))
}

func query(r pgx.Rows, err error) (sqlstore.Rows, error) {
	if err != nil {
		return nil, err
	}
	return rows{r}, nil
}

// rows adapts pgx.Rows, whose Close reports nothing, to sqlstore.Rows.
type rows struct{ pgx.Rows }

// Close closes the rows and returns any error met while reading them.
func (r rows) Close() error {
	r.Rows.Close()
	return r.Rows.Err()
}
