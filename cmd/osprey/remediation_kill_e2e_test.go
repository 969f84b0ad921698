package main_test

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRemediationKillMidRun kills `osprey serve` with SIGKILL while an auto
// runbook waits between two real programs, restarts it on the same data
// directory, and checks that the step that had completed never runs again
// while the rest of the run does: the step's start is stored before it
// runs and its outcome after, the interrupted wait (which has no effect)
// runs again, and the second program runs once. Then a second incident on
// the same target inside the runbook's cooldown does not act.
func TestRemediationKillMidRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs osprey twice with a 3s wait")
	}
	dir := t.TempDir()
	ran := filepath.Join(dir, "ran.log")
	first := filepath.Join(dir, "first")
	second := filepath.Join(dir, "second")
	for path, line := range map[string]string{first: "first", second: "second"} {
		script := "#!/bin/sh\necho " + line + " >> '" + ran + "'\n"
		if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cfg := filepath.Join(dir, "osprey.yaml")
	yaml := `correlate:
  resolve_grace: 0s
remediation:
  exec_allow: [` + first + `, ` + second + `]
  runbooks:
    - name: two-steps
      trigger: incident.labels.?service.orValue("") == "checkout"
      mode: auto
      target: "{{ .Incident.Labels.service }}"
      cooldown: 1h
      steps:
        - name: first
          exec: {argv: [` + first + `]}
        - name: settle
          wait: {duration: 3s}
        - name: second
          exec: {argv: [` + second + `]}
`
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	s := startServer(t, data, freeAddr(t), "--config", cfg)
	s.postEvents(`[{"name": "CheckoutDown", "labels": {"service": "checkout"}, "severity": "critical"}]`)

	// The first step's outcome is stored and the wait is in flight.
	mid := s.waitRun("waiting", func(r runbookRun) bool {
		return len(r.Actions) == 3 && r.Actions[0].Status == "succeeded" && r.Actions[1].Status == "running"
	})
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-s.exited
	if got := fileLines(t, ran); !slices.Equal(got, []string{"first"}) {
		t.Fatalf("before the restart the programs ran %q, want [first]", got)
	}

	s2 := startServer(t, data, freeAddr(t), "--config", cfg)
	done := s2.waitRun("finished", func(r runbookRun) bool { return r.ID == mid.ID && r.Status != "running" && r.Status != "approved" })
	if done.Status != "succeeded" {
		t.Fatalf("after the restart the run is %s: %+v\n%s", done.Status, done.Actions, s2.stderr.String())
	}
	for _, a := range done.Actions {
		if a.Status != "succeeded" {
			t.Errorf("action %s is %s, want succeeded", a.Target, a.Status)
		}
	}
	if got := fileLines(t, ran); !slices.Equal(got, []string{"first", "second"}) {
		t.Fatalf("the programs ran %q, want exactly [first second]: the completed step must not run again", got)
	}
	var runs struct {
		Runs []struct {
			ID      string `json:"id"`
			Outcome string `json:"outcome"`
		} `json:"runs"`
	}
	s2.getJSON("/api/v1/runbook-runs", &runs)
	if len(runs.Runs) != 1 || runs.Runs[0].Outcome != "unverified" {
		t.Errorf("runs %+v, want one with outcome unverified (no verify section)", runs.Runs)
	}

	// A second incident on the same target inside the cooldown does not
	// act: the first resolves, a new alert of the service opens another.
	s2.postEvents(`[{"name": "CheckoutDown", "labels": {"service": "checkout"}, "status": "resolved"}]`)
	var incidents struct {
		Incidents []struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		} `json:"incidents"`
	}
	for range 400 {
		s2.getJSON("/api/v1/incidents", &incidents)
		if len(incidents.Incidents) == 1 && incidents.Incidents[0].Status == "resolved" {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	s2.postEvents(`[{"name": "CheckoutSlow", "labels": {"service": "checkout"}, "severity": "critical"}]`)
	var audit struct {
		Entries []struct {
			Action string `json:"action"`
			Detail string `json:"detail"`
		} `json:"entries"`
	}
	blocked := false
	for i := 0; i < 400 && !blocked; i++ {
		s2.getJSON("/api/v1/audit", &audit)
		for _, e := range audit.Entries {
			if e.Action == "remediation.run.blocked" && strings.Contains(e.Detail, `"reason":"cooldown"`) {
				blocked = true
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	s2.getJSON("/api/v1/incidents", &incidents)
	if !blocked || len(incidents.Incidents) != 2 {
		t.Fatalf("second incident: blocked by cooldown %v, incidents %+v", blocked, incidents.Incidents)
	}
	s2.getJSON("/api/v1/runbook-runs", &runs)
	if len(runs.Runs) != 1 {
		t.Errorf("runs %+v, want still one: the cooldown holds", runs.Runs)
	}
	if got := fileLines(t, ran); !slices.Equal(got, []string{"first", "second"}) {
		t.Errorf("after the second incident the programs ran %q", got)
	}

	if err := s2.stop(syscall.SIGTERM); err != nil {
		t.Errorf("osprey exited with %v\n%s", err, s2.stderr.String())
	}
}

// fileLines returns the lines of the file at path (none if it does not exist).
func fileLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(b))
}

// TestRemediationReload changes the configuration file under a running
// osprey: POST /api/v1/remediation/reload swaps the runbooks, an invalid
// file is refused with its problem and changes nothing, SIGHUP reloads too,
// and a server started without --config answers 409.
func TestRemediationReload(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "osprey.yaml")
	write := func(body string) {
		t.Helper()
		if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	runbook := func(name string) string {
		return "    - name: " + name + "\n      trigger: incident.severity_rank >= 3\n      steps:\n        - name: settle\n          wait: {duration: 1s}\n"
	}
	write("remediation:\n  runbooks:\n" + runbook("first"))
	s := startServer(t, filepath.Join(dir, "data"), freeAddr(t), "--config", cfg)

	write("remediation:\n  runbooks:\n" + runbook("first") + runbook("second"))
	var res struct {
		Runbooks []string `json:"runbooks"`
		Added    []string `json:"added"`
	}
	s.post("/api/v1/remediation/reload", `{"reason": "e2e"}`, &res)
	if !slices.Equal(res.Runbooks, []string{"first", "second"}) || !slices.Equal(res.Added, []string{"second"}) {
		t.Fatalf("reload replied %+v", res)
	}

	write("remediation:\n  runbooks:\n    - name: broken\n      trigger: incident.lables.x == \"y\"\n      steps:\n        - name: settle\n          wait: {duration: 1s}\n")
	code, body := s.postStatus("/api/v1/remediation/reload", "")
	if code != http.StatusBadRequest || !strings.Contains(body, "undefined field 'lables'") {
		t.Fatalf("reload of an invalid file = %d %s, want 400 naming the field", code, body)
	}
	var status struct {
		Runbooks []string `json:"runbooks"`
	}
	s.getJSON("/api/v1/remediation", &status)
	if !slices.Equal(status.Runbooks, []string{"first", "second"}) {
		t.Fatalf("after a refused reload the runbooks are %v", status.Runbooks)
	}

	write("remediation:\n  runbooks:\n" + runbook("third"))
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	for range 400 {
		s.getJSON("/api/v1/remediation", &status)
		if slices.Equal(status.Runbooks, []string{"third"}) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !slices.Equal(status.Runbooks, []string{"third"}) {
		t.Fatalf("after SIGHUP the runbooks are %v\n%s", status.Runbooks, s.stderr.String())
	}

	bare := startServer(t, filepath.Join(dir, "data2"), freeAddr(t))
	if code, body := bare.postStatus("/api/v1/remediation/reload", ""); code != http.StatusConflict || !strings.Contains(body, "--config") {
		t.Fatalf("reload without --config = %d %s, want 409", code, body)
	}
}

// postStatus sends body to path and returns the status and the reply.
func (s *server) postStatus(path, body string) (int, string) {
	s.t.Helper()
	resp, err := http.Post(s.base+path, "application/json", strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	reply, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(reply)
}
