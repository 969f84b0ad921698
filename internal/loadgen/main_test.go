package loadgen

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if a sender goroutine or an idle
// connection outlives them.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
