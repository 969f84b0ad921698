package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/osprey-aiops/osprey/internal/bench/rca/petshoptest"
)

// TestBenchRCAServePath runs the serve path of bench rca, the default, on
// the package's fixture day: it prints which path its figures are of, then
// the usual last line; an unknown path is a usage error, and the
// harness's output does not name a path.
func TestBenchRCAServePath(t *testing.T) {
	data := "../bench/rca/testdata/nezha"
	code, out, errOut := runCLI(t, "bench", "rca", "--dataset", "nezha", "--data", data)
	if code != ExitOK {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if !strings.Contains(out, "path: serve") || !strings.HasPrefix(lines[len(lines)-1], "AC@1=1.0000 ") {
		t.Errorf("serve path output:\n%s", out)
	}
	code, out, _ = runCLI(t, "bench", "rca", "--dataset", "nezha", "--data", data, "--path", "harness")
	if code != ExitOK || strings.Contains(out, "path:") {
		t.Errorf("harness path: exit %d, output:\n%s", code, out)
	}
	if code, _, _ := runCLI(t, "bench", "rca", "--dataset", "nezha", "--data", data, "--path", "other"); code != ExitUsage {
		t.Errorf("--path other: exit %d, want %d", code, ExitUsage)
	}
}

// TestBenchRCAConfig replays the fixture day on the serve path with a
// user's configuration file: its settings reach the stages (with the trace
// stage turned off the fixture's fault has no anomaly and is missed, where
// the defaults rank it first). A file that does not load is an error, and
// --config without --path serve a usage error.
func TestBenchRCAConfig(t *testing.T) {
	data := "../bench/rca/testdata/nezha"
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	noTraces := write("no-traces.yaml", "detect:\n  traces:\n    enabled: false\n")
	code, out, errOut := runCLI(t, "bench", "rca", "--dataset", "nezha", "--data", data, "--path", "serve", "--config", noTraces)
	if code != ExitOK {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if !strings.Contains(out, "serve miss:") || !strings.HasPrefix(lines[len(lines)-1], "AC@1=0.0000 ") {
		t.Errorf("serve path without the trace stage:\n%s", out)
	}
	defaults := write("defaults.yaml", "")
	code, out, _ = runCLI(t, "bench", "rca", "--dataset", "nezha", "--data", data, "--path", "serve", "--config", defaults)
	if lines := strings.Split(strings.TrimSpace(out), "\n"); code != ExitOK || !strings.HasPrefix(lines[len(lines)-1], "AC@1=1.0000 ") {
		t.Errorf("serve path with an empty config: exit %d, output:\n%s", code, out)
	}
	bad := write("bad.yaml", "correlate:\n  windw: 5m\n")
	code, _, errOut = runCLI(t, "bench", "rca", "--dataset", "nezha", "--data", data, "--path", "serve", "--config", bad)
	if code != ExitError || !strings.Contains(errOut, "windw") {
		t.Errorf("bad config: exit %d, stderr %q; want %d naming the key", code, errOut, ExitError)
	}
	if code, _, _ := runCLI(t, "bench", "rca", "--dataset", "nezha", "--data", data, "--path", "harness", "--config", defaults); code != ExitUsage {
		t.Errorf("--config on the harness path: exit %d, want %d", code, ExitUsage)
	}
}

// TestBenchRCAPetShopServe runs bench rca --dataset petshop --path serve on
// a tiny generated scenario: the planted api ranks first, the output says
// which path its figures are of, and PRED.json holds the ranking.
func TestBenchRCAPetShopServe(t *testing.T) {
	dir := t.TempDir()
	if err := petshoptest.Write(dir); err != nil {
		t.Fatal(err)
	}
	pred := filepath.Join(dir, "pred.json")
	code, out, errOut := runCLI(t, "bench", "rca", "--dataset", "petshop", "--data", dir, "--path", "serve", "--out", pred)
	if code != ExitOK {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if !strings.Contains(out, "path: serve") || !strings.HasPrefix(lines[len(lines)-1], "AC@1=1.0000 ") {
		t.Errorf("petshop serve output:\n%s", out)
	}
	b, err := os.ReadFile(pred)
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		Case    string   `json:"case"`
		Ranking []string `json:"ranking"`
	}
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) != 1 || cases[0].Case != "tiny/train/issue_0" || len(cases[0].Ranking) == 0 || cases[0].Ranking[0] != "api" {
		t.Errorf("predictions %s", b)
	}
	// The harness path on the same folder names no path.
	code, out, _ = runCLI(t, "bench", "rca", "--dataset", "petshop", "--data", dir, "--path", "harness")
	if code != ExitOK || strings.Contains(out, "path:") {
		t.Errorf("harness path: exit %d, output:\n%s", code, out)
	}
}
