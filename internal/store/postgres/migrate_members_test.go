package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"reflect"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/store/sqlstore"
	"github.com/osprey-aiops/osprey/internal/testenv"
)

// TestMigrationMovesMembersToRows writes an incident the way the schema
// before 0003_incident_members stored it (its members as one JSON column),
// migrates, and checks that the incident reads back with the same members.
func TestMigrationMovesMembersToRows(t *testing.T) {
	ctx := t.Context()
	schema := fmt.Sprintf("migtest_%d", time.Now().UnixNano())
	quoted := pgx.Identifier{schema}.Sanitize()
	cfg, err := pgxpool.ParseConfig(testenv.PostgresDSN())
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = quoted
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err == nil {
		err = pool.Ping(ctx)
	}
	if err != nil {
		testenv.Unavailable(t, "PostgreSQL", err)
	}
	defer func() {
		_, _ = pool.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+quoted+" CASCADE")
		pool.Close()
	}()
	if _, err := pool.Exec(ctx, "CREATE SCHEMA "+quoted); err != nil {
		t.Fatal(err)
	}
	d := dialect()
	old := fstest.MapFS{}
	entries, err := fs.ReadDir(d.Migrations, ".")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() < "0003_" {
			b, err := fs.ReadFile(d.Migrations, e.Name())
			if err != nil {
				t.Fatal(err)
			}
			old[e.Name()] = &fstest.MapFile{Data: b}
		}
	}
	d.Migrations = old
	if err := sqlstore.Migrate(ctx, &db{pool: pool}, d); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 14, 15, 9, 26, 535_000_000, time.UTC)
	members := []*osprey.Member{
		{Kind: osprey.MemberEvent, Fingerprint: 0x8000000000000001, Name: "HighLatency", Labels: osprey.Labels{"service": "checkout"},
			Severity: osprey.SeverityCritical, Status: osprey.StatusFiring, FirstRef: "evt-1", LastRef: "evt-9",
			FirstSeen: at, LastSeen: at.Add(time.Minute), Count: 9, LastSeq: 42},
		{Kind: osprey.MemberAnomaly, Fingerprint: 7, Name: "latency_p99 \"quoted\" é", Severity: osprey.SeverityWarning,
			Status: osprey.StatusResolved, FirstRef: "an-1", LastRef: "an-1", FirstSeen: at, LastSeen: at, Count: 1},
	}
	text, err := json.Marshal(members)
	if err != nil {
		t.Fatal(err)
	}
	insert := `INSERT INTO incidents (id, title, status, severity, labels, assignee, opened_at, updated_at, resolved_at, members, causes)
		VALUES ($1, 't', 'open', 3, 'null', '', $2, $2, $3, $4, 'null')`
	for _, row := range [][]any{{"with-members", at.UnixNano(), int64(-1 << 63), string(text)}, {"no-members", at.UnixNano(), int64(-1 << 63), "null"}} {
		if _, err := pool.Exec(ctx, insert, row...); err != nil {
			t.Fatal(err)
		}
	}

	st, err := Open(ctx, testenv.PostgresDSN(), schema, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	got, err := st.GetIncident(ctx, "with-members")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Members, members) {
		t.Errorf("migrated members:\n got %+v\nwant %+v", got.Members, members)
	}
	empty, err := st.GetIncident(ctx, "no-members")
	if err != nil || len(empty.Members) != 0 {
		t.Errorf("incident without members: %+v, %v", empty.Members, err)
	}
}
