package inproc_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if a worker, drain or publisher
// goroutine outlives them.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
