// Package testenv helps tests that need an external service (PostgreSQL, NATS,
// Chromium): they run against it when it is there and skip with a clear message
// when it is not, except when OSPREY_REQUIRE_SERVICES is set (CI sets it), where
// a missing service fails the test so CI never skips silently.
package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

// RequireEnv is the environment variable that turns a missing service into a
// test failure.
const RequireEnv = "OSPREY_REQUIRE_SERVICES"

// DefaultPostgresDSN is the PostgreSQL server tests use unless
// OSPREY_TEST_POSTGRES_DSN says otherwise.
const DefaultPostgresDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// PostgresDSN returns the DSN of the PostgreSQL server for tests.
func PostgresDSN() string {
	if dsn := os.Getenv("OSPREY_TEST_POSTGRES_DSN"); dsn != "" {
		return dsn
	}
	return DefaultPostgresDSN
}

// NATSURL returns the NATS server URL for tests.
func NATSURL() string {
	if u := os.Getenv("OSPREY_TEST_NATS_URL"); u != "" {
		return u
	}
	return "nats://127.0.0.1:4222"
}

// Unavailable is called when service could not be reached (err says why). It
// skips the test, or fails it when RequireEnv is set.
func Unavailable(tb testing.TB, service string, err error) {
	tb.Helper()
	if os.Getenv(RequireEnv) != "" {
		tb.Fatalf("%s is required (%s is set) but unavailable: %v", service, RequireEnv, err)
	}
	tb.Skipf("skipping: %s unavailable (%v); set %s=1 to make this a failure", service, err, RequireEnv)
}

// SharedData returns the path of sub inside the benchmark corpora folder
// (../shared/data beside the repository, or $OSPREY_SHARED_DATA), skipping the
// test with a clear message when it is absent. The corpora are never committed.
func SharedData(tb testing.TB, sub string) string {
	tb.Helper()
	root := os.Getenv("OSPREY_SHARED_DATA")
	if root == "" {
		dir, err := os.Getwd()
		if err != nil {
			tb.Fatal(err)
		}
		// Walk up to the module root (the directory with go.mod).
		for {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				break
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				tb.Fatalf("no go.mod above the test's directory")
			}
			dir = parent
		}
		root = filepath.Join(filepath.Dir(dir), "shared", "data")
	}
	path := filepath.Join(root, sub)
	if _, err := os.Stat(path); err != nil {
		tb.Skipf("skipping: benchmark data %s not found (%v); it lives in ../shared/data beside the repository, or set OSPREY_SHARED_DATA", path, err)
	}
	return path
}
