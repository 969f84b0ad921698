package jetstream_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if a consumer, handler or drain
// goroutine, or one of nats.go's connection goroutines, outlives them: every
// Bus the tests make is shut down, and Shutdown closes its connection.
// (goleak retries for a while, so goroutines that nats.go is still winding
// down after Close are not reported.)
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
