package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/app"
	"github.com/osprey-aiops/osprey/internal/client"
	"github.com/osprey-aiops/osprey/internal/config"
)

// The client commands are tested against a real Osprey started in this
// process (app.Run, embedded SQLite in a temp dir, tokens configured), with
// events and samples posted over its API, through cli.Main as a user runs
// them.

// Test tokens: alice operates, bob only views.
const (
	operatorToken = "op-token-0123456789abcdef"
	viewerToken   = "viewer-token-0123456789abcdef"
)

// ospreyServer is a running Osprey.
type ospreyServer struct {
	url       string
	tokenFile string // alice's, the operator
	client    *client.Client
}

// startOsprey runs Osprey until the test ends. Its one runbook,
// hold-checkout, waits for approval on any incident with a member named
// CheckoutDown or CartDown, and then only waits a second.
func startOsprey(t *testing.T) *ospreyServer {
	t.Helper()
	dir := t.TempDir()
	opFile, viewFile := filepath.Join(dir, "op.token"), filepath.Join(dir, "viewer.token")
	for f, tok := range map[string]string{opFile: operatorToken, viewFile: viewerToken} {
		if err := os.WriteFile(f, []byte(tok+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	yaml := `data_dir: ` + filepath.Join(dir, "data") + `
server:
  listen: 127.0.0.1:0
  shutdown_timeout: 10s
auth:
  tokens:
    - {name: alice, role: operator, token_file: ` + opFile + `}
    - {name: bob, role: viewer, token_file: ` + viewFile + `}
topology:
  dependencies:
    - {caller: checkout, callees: [postgres]}
  placement:
    - {host: db-1, services: [postgres]}
remediation:
  runbooks:
    - name: hold-checkout
      trigger: incident.members.exists(m, m.name == "CheckoutDown" || m.name == "CartDown")
      mode: approval
      steps:
        - name: settle
          wait: {duration: 1s}
`
	cfg, err := config.Parse([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx, cfg, app.Options{Started: func(a string) { addr <- a }}) }()
	var s *ospreyServer
	select {
	case a := <-addr:
		s = &ospreyServer{url: "http://" + a, tokenFile: opFile}
	case err := <-done:
		cancel()
		t.Fatalf("osprey did not start: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("osprey shut down with %v", err)
		}
	})
	c, err := client.New(s.url, operatorToken, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.client = c
	return s
}

// run runs the command line with args against s, as alice unless args
// name a --server, --token or --token-file themselves.
func (s *ospreyServer) run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	full := slices.Clone(args)
	if !slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "--server") }) {
		full = append(full, "--server", s.url)
	}
	if !slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "--token") }) {
		full = append(full, "--token-file", s.tokenFile)
	}
	return runCLI(t, full...)
}

// runCLI runs the command line with exactly args.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = Main(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// mustRun runs args and fails unless they exit 0.
func (s *ospreyServer) mustRun(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := s.run(t, args...)
	if code != ExitOK {
		t.Fatalf("osprey %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// wantFail runs args and checks the exit code and that stderr holds every
// one of want.
func (s *ospreyServer) wantFail(t *testing.T, code int, args []string, want ...string) {
	t.Helper()
	got, out, errOut := s.run(t, args...)
	if got != code {
		t.Errorf("osprey %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), got, code, out, errOut)
	}
	for _, w := range want {
		if !strings.Contains(errOut, w) {
			t.Errorf("osprey %s: stderr %q does not contain %q", strings.Join(args, " "), errOut, w)
		}
	}
}

// decodeJSON decodes stdout of a -o json command into v.
func decodeJSON(t *testing.T, stdout string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(stdout), v); err != nil {
		t.Fatalf("-o json printed something that is not JSON (%v):\n%s", err, stdout)
	}
}

// eventually polls cond until it holds; the bound is a failure timeout for
// the asynchronous pipeline, not a duration the test asserts.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 600 {
		if cond() {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// waitIncident waits for the incident with a member named name.
func (s *ospreyServer) waitIncident(t *testing.T, name string) osprey.Incident {
	t.Helper()
	var found osprey.Incident
	eventually(t, "an incident with member "+name, func() bool {
		incs, err := s.client.ListIncidents(context.Background(), client.IncidentQuery{})
		if err != nil {
			t.Fatal(err)
		}
		for _, inc := range incs {
			if slices.ContainsFunc(inc.Members, func(m *osprey.Member) bool { return m.Name == name }) {
				found = inc
				return true
			}
		}
		return false
	})
	return found
}

// remoteWrite sends series as Prometheus' remote-write client does.
func (s *ospreyServer) remoteWrite(t *testing.T, ts []prompb.TimeSeries) {
	t.Helper()
	wr := prompb.WriteRequest{Timeseries: ts}
	raw, err := wr.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, s.url+"/api/v1/write", bytes.NewReader(snappy.Encode(nil, raw)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Encoding", "snappy")
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	req.Header.Set("Authorization", "Bearer "+operatorToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("POST /api/v1/write = %d", resp.StatusCode)
	}
}

// TestClientCommands runs every client command against one Osprey.
func TestClientCommands(t *testing.T) {
	s := startOsprey(t)
	ctx := context.Background()
	if _, err := s.client.PostEvents(ctx, []client.Event{
		{Source: "cli-test", Name: "CheckoutDown", Labels: map[string]string{"service": "checkout", "env": "prod"},
			Annotations: map[string]string{"summary": "checkout \x1b[31mred\x1b[0m is down\tnow"}, Severity: "critical"},
		{Source: "cli-test", Name: "CartDown", Labels: map[string]string{"service": "cart"}, Severity: "warning"},
	}); err != nil {
		t.Fatal(err)
	}
	checkout, cart := s.waitIncident(t, "CheckoutDown"), s.waitIncident(t, "CartDown")

	t.Run("flags", func(t *testing.T) { testClientFlags(t, s) })
	// Runbook runs first: resolving an incident (below) ends its run.
	t.Run("runbook", func(t *testing.T) { testRunbook(t, s, checkout, cart) })
	t.Run("incidents", func(t *testing.T) { testIncidents(t, s, checkout, cart) })
	t.Run("silence", func(t *testing.T) { testSilence(t, s) })
	t.Run("maintenance", func(t *testing.T) { testMaintenance(t, s) })
	t.Run("stats", func(t *testing.T) { testStats(t, s) })
	t.Run("anomalies", func(t *testing.T) { testAnomalies(t, s) })
	t.Run("topology", func(t *testing.T) { testTopology(t, s) })
	t.Run("logs", func(t *testing.T) { testLogTemplates(t, s) })
	t.Run("completion", func(t *testing.T) { testCompletion(t, s, checkout) })
}

// testClientFlags covers authentication, the server's address and output
// flags, shared by every client command.
func testClientFlags(t *testing.T, s *ospreyServer) {
	// A wrong token: the server's 401, clearly.
	s.wantFail(t, ExitError, []string{"incidents", "list", "--token", "wrong"}, "osprey: server: 401 unknown token\n")
	// No token at all.
	s.wantFail(t, ExitError, []string{"incidents", "list", "--token="},
		"osprey: server: 401 missing bearer token (this server needs a token: --token-file, --token or $OSPREY_TOKEN)")
	// A viewer reads but may not act.
	bob := []string{"--token", viewerToken}
	if code, out, errOut := s.run(t, append([]string{"incidents", "list"}, bob...)...); code != ExitOK || !strings.Contains(out, "(checkout)") {
		t.Errorf("viewer list: exit %d\n%s%s", code, out, errOut)
	}

	// The token and the server from the environment.
	t.Setenv(envServerURL, s.url)
	t.Setenv(envToken, operatorToken)
	if code, out, errOut := runCLI(t, "incidents", "list"); code != ExitOK || !strings.Contains(out, "STATUS") {
		t.Errorf("with OSPREY_URL and OSPREY_TOKEN: exit %d\n%s%s", code, out, errOut)
	}
	t.Setenv(envToken, "")

	// Nothing listens: a connection error naming the address.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + ln.Addr().String()
	ln.Close()
	s.wantFail(t, ExitError, []string{"incidents", "list", "--server", down}, "osprey: cannot reach Osprey at "+down+": ", "refused")

	// Usage errors exit 2 without calling anyone.
	s.wantFail(t, ExitUsage, []string{"incidents", "list", "-o", "yaml"}, `--output "yaml": want table or json`)
	s.wantFail(t, ExitUsage, []string{"incidents", "list", "--server", "localhost:9464"}, "server URL")
	s.wantFail(t, ExitUsage, []string{"incidents", "list", "--token", "a", "--token-file", s.tokenFile}, "not both")
	s.wantFail(t, ExitUsage, []string{"incidents", "list", "--nope"}, "unknown flag")
	s.wantFail(t, ExitUsage, []string{"incidents", "show"}, "accepts 1 arg")
	s.wantFail(t, ExitUsage, []string{"incidents", "shw", "x"}, `unknown command "shw" for "osprey incidents"`)
	s.wantFail(t, ExitError, []string{"incidents", "list", "--token-file", filepath.Join(t.TempDir(), "missing")}, "--token-file")
}

// testCompletion checks cobra's completion scripts and the ids completed
// from the server.
func testCompletion(t *testing.T, s *ospreyServer, checkout osprey.Incident) {
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		code, out, errOut := runCLI(t, "completion", shell)
		if code != ExitOK || !strings.Contains(out, "osprey") {
			t.Errorf("completion %s: exit %d, %d bytes\n%s", shell, code, len(out), errOut)
		}
	}
	// What the shell scripts run on TAB.
	auth := []string{"--server", s.url, "--token-file", s.tokenFile}
	code, out, errOut := runCLI(t, append(append([]string{"__complete", "incidents", "show"}, auth...), "")...)
	if code != ExitOK {
		t.Fatalf("__complete: exit %d\n%s", code, errOut)
	}
	if !strings.Contains(out, checkout.ID+"\t") {
		t.Errorf("incident ids not completed:\n%s", out)
	}
	if !strings.Contains(out, ":4") { // ShellCompDirectiveNoFileComp
		t.Errorf("completion offers files too:\n%s", out)
	}
	// A down server completes nothing, quickly, without an error.
	code, out, _ = runCLI(t, "__complete", "incidents", "show", "--server", "http://127.0.0.1:1", "")
	if code != ExitOK || strings.Contains(out, checkout.ID) {
		t.Errorf("completion against a down server: exit %d\n%s", code, out)
	}
	_, out, _ = runCLI(t, "__complete", "incidents", "list", "--status", "")
	if !strings.Contains(out, "acknowledged") {
		t.Errorf("--status values not completed:\n%s", out)
	}
}
