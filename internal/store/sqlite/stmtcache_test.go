package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/osprey-aiops/osprey/internal/store/sqlstore"
)

// insertRows is a multi-row INSERT of n rows into t, in sqlstore's $N
// placeholders, with its arguments.
func insertRows(base, n int) (string, []any) {
	var b strings.Builder
	b.WriteString("INSERT INTO t (k, v) VALUES ")
	args := make([]any, 0, 2*n)
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "($%d, $%d)", 2*i+1, 2*i+2)
		args = append(args, int64(base+i), "x")
	}
	return b.String(), args
}

// A statement with arguments run in a transaction is prepared after the
// commit and reused by the next transactions; the cache stays within its
// bound; transactions of several goroutines, each looking statements up
// while another prepares, neither deadlock nor lose a row.
func TestStatementCache(t *testing.T) {
	ctx := context.Background()
	d, err := openDB(ctx, filepath.Join(t.TempDir(), "osprey.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.Exec(ctx, "CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	cached := func() int {
		d.stmts.mu.Lock()
		defer d.stmts.mu.Unlock()
		return len(d.stmts.m)
	}
	q, args := insertRows(0, 3)
	for i := range 2 {
		err := d.InTx(ctx, func(tx sqlstore.Querier) error {
			if i == 1 {
				q, args = insertRows(3, 3) // the same text
			}
			n, err := tx.Exec(ctx, q, args...)
			if err == nil && n != 3 {
				err = fmt.Errorf("%d rows affected, want 3", n)
			}
			return err
		})
		if err != nil {
			t.Fatalf("tx %d: %v", i, err)
		}
		if got := cached(); got != 1 {
			t.Fatalf("after tx %d: %d statements cached, want 1", i, got)
		}
	}

	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 40 {
				// Row counts 1..(maxCachedStmts+40): more texts than the cache holds.
				n := 1 + (g*40+i)%(maxCachedStmts+40)
				q, args := insertRows(1000+(g*40+i)*1000, n)
				err := d.InTx(ctx, func(tx sqlstore.Querier) error {
					_, err := tx.Exec(ctx, q, args...)
					return err
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := cached(); got > maxCachedStmts {
		t.Errorf("%d statements cached, bound %d", got, maxCachedStmts)
	}
	want := 6
	for g := range 8 {
		for i := range 40 {
			want += 1 + (g*40+i)%(maxCachedStmts+40)
		}
	}
	rows, err := d.Query(ctx, "SELECT count(*) FROM t")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got int64
	if !rows.Next() || rows.Scan(&got) != nil || got != int64(want) {
		t.Errorf("%d rows stored, want %d", got, want)
	}
}
