package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestDemoUsage: bad demo flags are usage errors, reported before anything
// starts. (The demo itself is tested in internal/demo.)
func TestDemoUsage(t *testing.T) {
	for _, args := range [][]string{
		{"demo", "--fault-interval", "1s"},
		{"demo", "extra"},
		{"demo", "--seed", "x"},
	} {
		var stdout, stderr bytes.Buffer
		if code := Main(context.Background(), args, &stdout, &stderr); code != ExitUsage {
			t.Errorf("%q: exit %d, want %d; stderr %s", args, code, ExitUsage, stderr.String())
		}
		if !strings.Contains(stderr.String(), "osprey: ") {
			t.Errorf("%q: stderr %q", args, stderr.String())
		}
	}
}
