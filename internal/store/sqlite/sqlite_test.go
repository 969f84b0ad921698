package sqlite_test

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/store"
	"github.com/osprey-aiops/osprey/internal/store/sqlite"
	"github.com/osprey-aiops/osprey/internal/store/sqlstore"
	"github.com/osprey-aiops/osprey/internal/store/storetest"
)

// openAt opens the store at path and closes it when tb ends.
func openAt(tb testing.TB, path string) *sqlite.Store {
	tb.Helper()
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		tb.Fatalf("open %s: %v", path, err)
	}
	tb.Cleanup(func() {
		if err := st.Close(); err != nil {
			tb.Errorf("close: %v", err)
		}
	})
	return st
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return openAt(t, filepath.Join(t.TempDir(), "osprey.db"))
	})
}

func BenchmarkStore(b *testing.B) {
	storetest.Bench(b, func(b *testing.B) store.Store {
		return openAt(b, filepath.Join(b.TempDir(), "osprey.db"))
	})
}

func event(id string) osprey.Event {
	return osprey.Event{ID: id, Name: "A", Status: osprey.StatusFiring, ReceivedAt: time.Unix(1700000000, 0)}
}

func TestReopenKeepsDataAndSeq(t *testing.T) {
	// The parent directories do not exist yet: Open creates them.
	path := filepath.Join(t.TempDir(), "data", "nested", "osprey.db")
	ctx := t.Context()
	first, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	before := []osprey.Event{event("a"), event("b")}
	if err := first.AppendEvents(ctx, before); err != nil {
		t.Fatal(err)
	}
	if err := first.SetCheckpoint(ctx, "correlate", before[1].Seq); err != nil {
		t.Fatal(err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}

	second := openAt(t, path)
	got, err := second.GetEvent(ctx, "b")
	if err != nil || got.Seq != before[1].Seq {
		t.Fatalf("after reopen: event b = %+v, %v; want Seq %d", got, err, before[1].Seq)
	}
	if cp, err := second.Checkpoint(ctx, "correlate"); err != nil || cp != before[1].Seq {
		t.Fatalf("after reopen: checkpoint %d, %v; want %d", cp, err, before[1].Seq)
	}
	after := []osprey.Event{event("c")}
	if err := second.AppendEvents(ctx, after); err != nil {
		t.Fatal(err)
	}
	if after[0].Seq <= before[1].Seq {
		t.Fatalf("Seq after reopen %d, want above %d", after[0].Seq, before[1].Seq)
	}
	if err := second.AppendEvents(ctx, []osprey.Event{event("a")}); !errors.Is(err, osprey.ErrConflict) {
		t.Fatalf("duplicate of an event from before the reopen: %v, want ErrConflict", err)
	}
	if n, want := countRows(t, path, "SELECT COUNT(*) FROM schema_migrations"), migrationCount(t); n != want {
		t.Errorf("schema_migrations has %d rows after reopening, want %d (one per migration)", n, want)
	}
}

func TestRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "osprey.db")
	st, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	execRaw(t, path, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'from_the_future', 0)")
	st, err = sqlite.Open(t.Context(), path)
	if err == nil {
		st.Close()
		t.Fatal("opened a database with a newer schema")
	}
	if !errors.Is(err, sqlstore.ErrSchemaTooNew) || !strings.Contains(err.Error(), "999") {
		t.Fatalf("error %q, want ErrSchemaTooNew naming version 999", err)
	}
}

func TestRejectsNonFilePaths(t *testing.T) {
	for _, path := range []string{"", ":memory:", "file:x.db?mode=memory"} {
		if st, err := sqlite.Open(t.Context(), path); err == nil {
			st.Close()
			t.Errorf("Open(%q) succeeded, want an error", path)
		}
	}
}

// crashPathEnv tells the test binary, run again by TestCrashAfterAppend, to
// be the process that appends and is killed.
const crashPathEnv = "OSPREY_SQLITE_CRASH_PATH"

// TestCrashAfterAppend kills (SIGKILL) a process right after AppendEvents
// returned and checks that the event is there on reopen.
func TestCrashAfterAppend(t *testing.T) {
	if path := os.Getenv(crashPathEnv); path != "" {
		appendAndHang(path)
		return
	}
	path := filepath.Join(t.TempDir(), "osprey.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashAfterAppend$")
	cmd.Env = append(os.Environ(), crashPathEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var seq int64
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if s, ok := strings.CutPrefix(sc.Text(), "appended "); ok {
			seq, _ = strconv.ParseInt(s, 10, 64)
			break
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if seq == 0 {
		t.Fatal("child did not report its append")
	}
	got, err := openAt(t, path).GetEvent(t.Context(), "crash-1")
	if err != nil || got.Seq != seq {
		t.Fatalf("after kill: event %+v, %v; want Seq %d", got, err, seq)
	}
}

func appendAndHang(path string) {
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(1)
	}
	batch := []osprey.Event{event("crash-1")}
	if err := st.AppendEvents(context.Background(), batch); err != nil {
		fmt.Println("append:", err)
		os.Exit(1)
	}
	fmt.Printf("appended %d\n", batch[0].Seq)
	time.Sleep(time.Hour) // until killed
}

// execRaw runs a statement on the database file, bypassing the Store.
func execRaw(t *testing.T, path, stmt string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(stmt); err != nil {
		t.Fatal(err)
	}
}

func countRows(t *testing.T, path, query string) int {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(query).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// migrationCount returns the number of migration files, each applied once.
func migrationCount(t *testing.T) int {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("migrations", "*.sql"))
	if err != nil || len(files) == 0 {
		t.Fatalf("list migrations: %v (%d files)", err, len(files))
	}
	return len(files)
}
