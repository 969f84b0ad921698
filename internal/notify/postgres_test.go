package notify

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/osprey-aiops/osprey/internal/store/postgres"
	"github.com/osprey-aiops/osprey/internal/testenv"
)

// TestExactlyOncePostgres runs the two-replica scenario on one PostgreSQL
// schema, as two Osprey processes sharing a database would.
func TestExactlyOncePostgres(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, testenv.PostgresDSN())
	if err != nil {
		testenv.Unavailable(t, "PostgreSQL", err)
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	schema := "notifytest_" + hex.EncodeToString(b)
	t.Cleanup(func() {
		if _, err := admin.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
		admin.Close(context.Background())
	})
	st, err := postgres.Open(ctx, testenv.PostgresDSN(), schema, 8)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	exactlyOnce(t, st)
}
