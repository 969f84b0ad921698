package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/store"
	"github.com/osprey-aiops/osprey/internal/store/postgres"
	"github.com/osprey-aiops/osprey/internal/store/sqlstore"
	"github.com/osprey-aiops/osprey/internal/store/storetest"
	"github.com/osprey-aiops/osprey/internal/testenv"
)

// newSchema returns the name of a schema that does not exist yet and drops
// it, with everything in it, when tb ends. It skips tb (or fails it, in CI)
// when the server cannot be reached.
func newSchema(tb testing.TB) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, testenv.PostgresDSN())
	if err != nil {
		testenv.Unavailable(tb, "PostgreSQL", err)
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	schema := "storetest_" + hex.EncodeToString(b)
	tb.Cleanup(func() {
		ctx := context.Background()
		if _, err := admin.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
		admin.Close(ctx)
	})
	return schema
}

// openSchema opens the store in schema and closes it when tb ends (before
// the schema is dropped, as cleanups run last-in first-out).
func openSchema(tb testing.TB, schema string) *postgres.Store {
	tb.Helper()
	st, err := postgres.Open(context.Background(), testenv.PostgresDSN(), schema, 4)
	if err != nil {
		tb.Fatalf("open schema %s: %v", schema, err)
	}
	tb.Cleanup(func() {
		if err := st.Close(); err != nil {
			tb.Errorf("close: %v", err)
		}
	})
	return st
}

func TestConformance(t *testing.T) {
	newSchema(t) // skip early when there is no server
	storetest.Run(t, func(t *testing.T) store.Store {
		return openSchema(t, newSchema(t))
	})
}

func BenchmarkStore(b *testing.B) {
	storetest.Bench(b, func(b *testing.B) store.Store {
		return openSchema(b, newSchema(b))
	})
}

func event(id string) osprey.Event {
	return osprey.Event{ID: id, Name: "A", Status: osprey.StatusFiring, ReceivedAt: time.Unix(1700000000, 0)}
}

func TestReopenKeepsDataAndSeq(t *testing.T) {
	schema := newSchema(t)
	ctx := t.Context()
	first := openSchema(t, schema)
	before := []osprey.Event{event("a"), event("b")}
	if err := first.AppendEvents(ctx, before); err != nil {
		t.Fatal(err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	second := openSchema(t, schema)
	if got, err := second.GetEvent(ctx, "b"); err != nil || got.Seq != before[1].Seq {
		t.Fatalf("after reopen: event b = %+v, %v; want Seq %d", got, err, before[1].Seq)
	}
	after := []osprey.Event{event("c")}
	if err := second.AppendEvents(ctx, after); err != nil {
		t.Fatal(err)
	}
	if after[0].Seq <= before[1].Seq {
		t.Fatalf("Seq after reopen %d, want above %d", after[0].Seq, before[1].Seq)
	}
}

func TestSchemasAreIsolated(t *testing.T) {
	ctx := t.Context()
	a, b := openSchema(t, newSchema(t)), openSchema(t, newSchema(t))
	if err := a.AppendEvents(ctx, []osprey.Event{event("only-in-a")}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.GetEvent(ctx, "only-in-a"); !errors.Is(err, osprey.ErrNotFound) {
		t.Fatalf("event of schema a seen in schema b: %v", err)
	}
}

// TestConcurrentOpen opens one new schema from several goroutines at once, as
// several Osprey processes starting together would: all must succeed, and
// each migration must be applied once.
func TestConcurrentOpen(t *testing.T) {
	schema := newSchema(t)
	const openers = 4
	stores := make([]*postgres.Store, openers)
	errs := make([]error, openers)
	var wg sync.WaitGroup
	for i := range openers {
		wg.Go(func() {
			stores[i], errs[i] = postgres.Open(t.Context(), testenv.PostgresDSN(), schema, 2)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("opener %d: %v", i, err)
			continue
		}
		stores[i].Close()
	}
	if n, want := queryInt(t, schema, "SELECT COUNT(*) FROM schema_migrations"), migrationCount(t); n != want {
		t.Errorf("schema_migrations has %d rows, want %d (one per migration)", n, want)
	}
}

func TestRefusesNewerSchema(t *testing.T) {
	schema := newSchema(t)
	openSchema(t, schema).Close()
	queryInt(t, schema, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'from_the_future', 0) RETURNING 0")
	st, err := postgres.Open(t.Context(), testenv.PostgresDSN(), schema, 2)
	if err == nil {
		st.Close()
		t.Fatal("opened a schema with a newer version")
	}
	if !errors.Is(err, sqlstore.ErrSchemaTooNew) || !strings.Contains(err.Error(), "999") {
		t.Fatalf("error %q, want ErrSchemaTooNew naming version 999", err)
	}
}

func TestRejectsEmptySchema(t *testing.T) {
	if st, err := postgres.Open(t.Context(), testenv.PostgresDSN(), "", 2); err == nil {
		st.Close()
		t.Fatal("opened with an empty schema name")
	}
}

// queryInt runs a query returning one integer in schema, bypassing the
// Store.
func queryInt(t *testing.T, schema, query string) int64 {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), testenv.PostgresDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(t.Context(), "SET search_path TO "+pgx.Identifier{schema}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	var n int64
	if err := conn.QueryRow(t.Context(), query).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// migrationCount returns the number of migration files, each applied once.
func migrationCount(t *testing.T) int64 {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("migrations", "*.sql"))
	if err != nil || len(files) == 0 {
		t.Fatalf("list migrations: %v (%d files)", err, len(files))
	}
	return int64(len(files))
}
