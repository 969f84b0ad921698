package cli

import (
	"strings"
	"testing"
)

// TestBenchRCAServePath runs the serve path of bench rca on the package's
// fixture day: it prints which path its figures are of, then the usual
// last line; an unknown path is a usage error, and the harness's output
// does not name a path.
func TestBenchRCAServePath(t *testing.T) {
	data := "../bench/rca/testdata/nezha"
	code, out, errOut := runCLI(t, "bench", "rca", "--dataset", "nezha", "--data", data, "--path", "serve")
	if code != ExitOK {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if !strings.Contains(out, "path: serve") || !strings.HasPrefix(lines[len(lines)-1], "AC@1=1.0000 ") {
		t.Errorf("serve path output:\n%s", out)
	}
	code, out, _ = runCLI(t, "bench", "rca", "--dataset", "nezha", "--data", data)
	if code != ExitOK || strings.Contains(out, "path:") {
		t.Errorf("harness path: exit %d, output:\n%s", code, out)
	}
	if code, _, _ := runCLI(t, "bench", "rca", "--dataset", "nezha", "--data", data, "--path", "other"); code != ExitUsage {
		t.Errorf("--path other: exit %d, want %d", code, ExitUsage)
	}
}
