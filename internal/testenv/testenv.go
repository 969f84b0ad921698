// Package testenv helps tests that need an external service (PostgreSQL, NATS,
// Chromium): they run against it when it is there and skip with a clear message
// when it is not, except when OSPREY_REQUIRE_SERVICES is set (CI sets it), where
// a missing service fails the test so CI never skips silently.
package testenv

import (
	"os"
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
