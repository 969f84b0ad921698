package sqlite

import (
	"database/sql"
	"path/filepath"
	"testing"
)

// TestConnectionSettings checks the settings durability and concurrency
// depend on, on both pools.
func TestConnectionSettings(t *testing.T) {
	d, err := openDB(t.Context(), filepath.Join(t.TempDir(), "osprey.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	cases := []struct {
		pool   string
		db     *sql.DB
		pragma string
		want   string
	}{
		{"write", d.write, "journal_mode", "wal"},
		{"write", d.write, "synchronous", "2"}, // FULL
		{"write", d.write, "foreign_keys", "1"},
		{"write", d.write, "busy_timeout", "10000"},
		{"write", d.write, "query_only", "0"},
		{"write", d.write, "cache_size", "-16384"}, // KiB: writeCacheKiB
		{"read", d.read, "journal_mode", "wal"},
		{"read", d.read, "foreign_keys", "1"},
		{"read", d.read, "busy_timeout", "10000"},
		{"read", d.read, "query_only", "1"},
	}
	for _, tc := range cases {
		t.Run(tc.pool+"/"+tc.pragma, func(t *testing.T) {
			var got string
			if err := tc.db.QueryRow("PRAGMA " + tc.pragma).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("PRAGMA %s = %s, want %s", tc.pragma, got, tc.want)
			}
		})
	}
	if got := d.write.Stats().MaxOpenConnections; got != 1 {
		t.Errorf("write pool allows %d connections, want 1", got)
	}
}

// The write connection keeps its temporary files (the journals of
// multi-row statements) in memory once the migrations have run, and not
// before (a migration's sort would be held in memory).
func TestTempStoreInMemoryAfterMigrations(t *testing.T) {
	d, err := openDB(t.Context(), filepath.Join(t.TempDir(), "osprey.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	tempStore := func() string {
		t.Helper()
		var got string
		if err := d.write.QueryRow("PRAGMA temp_store").Scan(&got); err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := tempStore(); got != "0" {
		t.Errorf("before the migrations: temp_store = %s, want 0 (default)", got)
	}
	if err := d.migrated(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := tempStore(); got != "2" {
		t.Errorf("after the migrations: temp_store = %s, want 2 (memory)", got)
	}
}
