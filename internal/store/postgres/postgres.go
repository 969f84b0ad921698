// Package postgres is Osprey's shared store for scale-out deployments:
// PostgreSQL through a pgx connection pool. All of Osprey's tables live in
// one schema, created when missing, so that several installations (or test
// runs) can share a database.
//
// Event appends hold a transaction-scoped advisory lock, one per schema, so
// that Seq order is commit order across all Osprey processes sharing the
// schema (see store.Events); reads never wait for it.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"math"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/osprey-aiops/osprey/internal/store"
	"github.com/osprey-aiops/osprey/internal/store/sqlstore"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Store is a store.Store kept in a PostgreSQL schema. Its methods are those
// of sqlstore.Store.
type Store struct {
	*sqlstore.Store
}

var _ store.Store = (*Store)(nil)

// PostgreSQL error codes that Open and the dialect recognise.
const (
	codeUniqueViolation = "23505"
	codeDuplicateSchema = "42P06"
)

// Open connects to the database at dsn (a URL or key=value string, as pgx
// accepts), creates schema when it is missing, points every connection's
// search_path at it and migrates it to the current schema version. It
// refuses a schema migrated by a newer Osprey (sqlstore.ErrSchemaTooNew).
// maxConns caps the pool; 0 or less means pgx's default. The caller closes
// the Store.
func Open(ctx context.Context, dsn, schema string, maxConns int) (*Store, error) {
	if schema == "" {
		return nil, errors.New("postgres: empty schema name")
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse dsn: %w", err)
	}
	if maxConns > 0 {
		cfg.MaxConns = int32(min(maxConns, math.MaxInt32))
	}
	quoted := pgx.Identifier{schema}.Sanitize()
	// A startup parameter costs no extra round trip per connection, unlike
	// a SET in AfterConnect.
	cfg.ConnConfig.RuntimeParams["search_path"] = quoted
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	s, err := open(ctx, pool, schema, quoted)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres schema %s: %w", schema, err)
	}
	return s, nil
}

func open(ctx context.Context, pool *pgxpool.Pool, schema, quoted string) (*Store, error) {
	// Two processes creating the schema at once can both get past IF NOT
	// EXISTS; the loser's error says the schema exists, which is the goal.
	if _, err := pool.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+quoted); err != nil &&
		!hasCode(err, codeUniqueViolation, codeDuplicateSchema) {
		return nil, fmt.Errorf("create schema: %w", err)
	}
	s, err := sqlstore.Open(ctx, &db{pool: pool}, dialect())
	if err != nil {
		return nil, err
	}
	return &Store{Store: s}, nil
}

// dialect describes PostgreSQL to sqlstore.
func dialect() sqlstore.Dialect {
	migrations, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		panic("BUG: embedded migrations: " + err.Error())
	}
	return sqlstore.Dialect{
		Name:       "postgres",
		Migrations: migrations,
		// Identity values are handed out at insert, not at commit; holding
		// this lock until commit makes the two orders agree. An advisory
		// lock rather than LOCK TABLE, so that neither readers nor
		// autovacuum contend with it. Both locks are keyed by schema, so
		// that installations sharing a database do not wait for each other.
		LockEvents:     "SELECT pg_advisory_xact_lock(hashtext(current_schema()), 1)",
		LockMigrations: "SELECT pg_advisory_xact_lock(hashtext(current_schema()), 0)",
		Contains: func(col, param string) string {
			return "strpos(" + col + ", " + param + ") > 0"
		},
		IsUniqueViolation: func(err error) bool { return hasCode(err, codeUniqueViolation) },
	}
}

// hasCode reports whether err is a PostgreSQL error with one of codes.
func hasCode(err error, codes ...string) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	for _, c := range codes {
		if pgErr.Code == c {
			return true
		}
	}
	return false
}
