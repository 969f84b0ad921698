package main_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// These tests run the real binary as a separate process, the way a user does.

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "osprey-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "osprey")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build osprey: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// server is a running `osprey serve` process.
type server struct {
	t      *testing.T
	cmd    *exec.Cmd
	base   string
	stderr *bytes.Buffer
	exited chan error
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// startServer runs osprey serve on dataDir and addr and waits until /readyz
// answers 200.
func startServer(t *testing.T, dataDir, addr string, extra ...string) *server {
	t.Helper()
	args := append([]string{"serve", "--data-dir", dataDir, "--listen", addr}, extra...)
	cmd := exec.Command(binary, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, cmd: cmd, base: "http://" + addr, stderr: &stderr, exited: make(chan error, 1)}
	go func() { s.exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-s.exited
		}
	})
	// Readiness wait: bounded by attempts, not asserting any duration.
	for range 600 {
		select {
		case err := <-s.exited:
			t.Fatalf("osprey exited during start-up: %v\n%s", err, stderr.String())
		default:
		}
		resp, err := http.Get(s.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("osprey never became ready\n%s", stderr.String())
	return nil
}

// stop sends sig and waits for the process to exit, returning its error.
func (s *server) stop(sig syscall.Signal) error {
	s.t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatal(err)
	}
	select {
	case err := <-s.exited:
		return err
	case <-time.After(2 * time.Minute):
		s.cmd.Process.Kill()
		s.t.Fatalf("osprey did not exit after %v\n%s", sig, s.stderr.String())
		return nil
	}
}

func (s *server) postEvents(events string) []string {
	s.t.Helper()
	resp, err := http.Post(s.base+"/api/v1/events", "application/json", strings.NewReader(events))
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusAccepted {
		s.t.Fatalf("POST /api/v1/events = %d: %s", resp.StatusCode, body)
	}
	var out struct {
		IDs []string `json:"ids"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		s.t.Fatalf("decode reply %s: %v", body, err)
	}
	return out.IDs
}

func (s *server) getJSON(path string, v any) {
	s.t.Helper()
	resp, err := http.Get(s.base + path)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		s.t.Fatalf("GET %s = %d: %s", path, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		s.t.Fatalf("decode %s: %v", body, err)
	}
}

type incident struct {
	ID      string `json:"id"`
	Status  string `json:"status"`
	Title   string `json:"title"`
	Members []struct {
		Name   string `json:"name"`
		Count  int    `json:"count"`
		Status string `json:"status"`
	} `json:"members"`
	Timeline []struct {
		Kind string `json:"kind"`
	} `json:"timeline"`
}

func (s *server) incidents() []incident {
	var out struct {
		Incidents []incident `json:"incidents"`
	}
	s.getJSON("/api/v1/incidents", &out)
	return out.Incidents
}

func (s *server) eventIDs() map[string]bool {
	var out struct {
		Events []struct {
			ID string `json:"id"`
		} `json:"events"`
	}
	s.getJSON("/api/v1/events?limit=10000", &out)
	ids := map[string]bool{}
	for _, e := range out.Events {
		ids[e.ID] = true
	}
	return ids
}

// waitIncidents polls until pred holds for the incident list (the correlate
// stage runs asynchronously behind the bus).
func (s *server) waitIncidents(pred func([]incident) bool) []incident {
	s.t.Helper()
	var incs []incident
	for range 400 {
		incs = s.incidents()
		if pred(incs) {
			return incs
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Fatalf("incidents never reached the expected state: %+v", incs)
	return nil
}

func TestServeIngestCorrelateRestart(t *testing.T) {
	dataDir := t.TempDir()
	addr := freeAddr(t)
	s := startServer(t, dataDir, addr)

	ids := s.postEvents(`[
		{"name": "HighLatency", "labels": {"service": "checkout"}, "severity": "warning"},
		{"name": "HighLatency", "labels": {"service": "checkout"}, "severity": "warning"},
		{"name": "ErrorRate", "labels": {"service": "checkout", "pod": "checkout-1"}, "severity": "critical"},
		{"name": "DiskFull", "labels": {"service": "db"}, "severity": "error"}
	]`)
	if len(ids) != 4 {
		t.Fatalf("got %d ids, want 4", len(ids))
	}
	incs := s.waitIncidents(func(incs []incident) bool { return len(incs) == 2 })
	var checkout incident
	for _, inc := range incs {
		if len(inc.Members) == 2 {
			checkout = inc
		}
	}
	if checkout.ID == "" {
		t.Fatalf("no incident with the two checkout alerts: %+v", incs)
	}
	var full incident
	s.getJSON("/api/v1/incidents/"+checkout.ID, &full)
	if len(full.Timeline) == 0 || full.Timeline[0].Kind != "opened" {
		t.Errorf("incident timeline = %+v, want it to start with opened", full.Timeline)
	}

	if err := s.stop(syscall.SIGTERM); err != nil {
		t.Fatalf("osprey exited with %v after SIGTERM\n%s", err, s.stderr)
	}
	if !strings.Contains(s.stderr.String(), "osprey stopped") {
		t.Errorf("no clean-stop log line:\n%s", s.stderr)
	}

	// Restart on the same data dir: everything is still there, and the
	// resolutions posted now close the incident that was opened before.
	s = startServer(t, dataDir, addr)
	got := s.eventIDs()
	for _, id := range ids {
		if !got[id] {
			t.Errorf("event %s lost across restart", id)
		}
	}
	s.postEvents(`[
		{"name": "HighLatency", "labels": {"service": "checkout"}, "status": "resolved"},
		{"name": "ErrorRate", "labels": {"service": "checkout", "pod": "checkout-1"}, "status": "resolved"}
	]`)
	// Every member clears; the incident itself resolves only after
	// correlate.resolve_grace (5m by default), so it is still open.
	s.waitIncidents(func(incs []incident) bool {
		for _, inc := range incs {
			if inc.ID != checkout.ID {
				continue
			}
			for _, m := range inc.Members {
				if m.Status != "resolved" {
					return false
				}
			}
			return inc.Status == "open"
		}
		return false
	})
	if err := s.stop(syscall.SIGTERM); err != nil {
		t.Fatalf("second stop: %v\n%s", err, s.stderr)
	}
}

func TestKill9LosesNothingAcknowledged(t *testing.T) {
	dataDir := t.TempDir()
	addr := freeAddr(t)
	s := startServer(t, dataDir, addr)
	var acked []string
	for i := range 20 {
		acked = append(acked, s.postEvents(fmt.Sprintf(
			`[{"name": "Burst", "labels": {"service": "svc%d", "n": "%d"}}, {"name": "Other", "labels": {"service": "svc%d"}}]`, i%3, i, i%3))...)
	}
	// SIGKILL straight after the last 202: no shutdown hook runs.
	s.stop(syscall.SIGKILL)

	s = startServer(t, dataDir, addr)
	got := s.eventIDs()
	for _, id := range acked {
		if !got[id] {
			t.Errorf("acknowledged event %s lost after kill -9", id)
		}
	}
	// Correlation catches up from the store: every acknowledged event ends
	// up in an incident (3 services → 3 incidents, 40 distinct alerts).
	s.waitIncidents(func(incs []incident) bool {
		members := 0
		for _, inc := range incs {
			members += len(inc.Members)
		}
		return len(incs) == 3 && members == 20+3
	})
}

func TestCheckConfig(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(good, []byte("server:\n  listen: 127.0.0.1:9999\n"), 0o600)
	os.WriteFile(bad, []byte("server:\n  listen: nonsense\n  bogus: 1\nbus:\n  queue_size: -1\n"), 0o600)

	out, err := exec.Command(binary, "check-config", good).CombinedOutput()
	if err != nil {
		t.Errorf("check-config on a good file: %v\n%s", err, out)
	}
	out, err = exec.Command(binary, "check-config", bad).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Errorf("check-config on a bad file: err = %v, want exit status 1\n%s", err, out)
	}
	if !strings.Contains(string(out), "bogus") {
		t.Errorf("check-config output does not name the unknown key:\n%s", out)
	}
	out, err = exec.Command(binary, "check-config").CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
		t.Errorf("check-config without a file: err = %v, want exit status 2\n%s", err, out)
	}
}

func TestHelpAndVersion(t *testing.T) {
	out, err := exec.Command(binary, "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("--help: %v", err)
	}
	for _, cmd := range []string{"serve", "check-config", "version"} {
		if !strings.Contains(string(out), cmd) {
			t.Errorf("--help does not mention %s:\n%s", cmd, out)
		}
	}
	out, err = exec.Command(binary, "version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "osprey ") {
		t.Errorf("version: %v %q", err, out)
	}
}

func TestServeWithTokens(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ci.token"), []byte("s3cret-operator\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "viewer.token"), []byte("s3cret-viewer"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "osprey.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`
auth:
  tokens:
    - name: ci
      role: operator
      token_file: %s
    - name: dashboard
      role: viewer
      token_file: %s
`, filepath.Join(dir, "ci.token"), filepath.Join(dir, "viewer.token"))), 0o600)
	s := startServer(t, filepath.Join(dir, "data"), freeAddr(t), "--config", cfg)

	post := func(token string) int {
		req, _ := http.NewRequest("POST", s.base+"/api/v1/events", strings.NewReader(`[{"name": "A"}]`))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, tc := range []struct {
		token string
		want  int
	}{
		{"", http.StatusUnauthorized},
		{"wrong", http.StatusUnauthorized},
		{"s3cret-viewer", http.StatusForbidden},
		{"s3cret-operator", http.StatusAccepted},
	} {
		if got := post(tc.token); got != tc.want {
			t.Errorf("POST with token %q = %d, want %d", tc.token, got, tc.want)
		}
	}
	if err := s.stop(syscall.SIGTERM); err != nil {
		t.Fatalf("stop: %v\n%s", err, s.stderr)
	}
}
