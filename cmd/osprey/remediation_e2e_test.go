package main_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// runbookRun is the part of a runbook run these tests look at.
type runbookRun struct {
	ID         string      `json:"id"`
	Runbook    string      `json:"runbook"`
	IncidentID string      `json:"incidentId"`
	Status     string      `json:"status"`
	ApprovedBy string      `json:"approvedBy"`
	Actions    []runAction `json:"actions"`
}

// runAction is one action of a runbook run.
type runAction struct {
	Type   string   `json:"type"`
	Target string   `json:"target"`
	Args   []string `json:"args"`
	Status string   `json:"status"`
}

// post sends body to path and decodes the 200 reply into v.
func (s *server) post(path, body string, v any) {
	s.t.Helper()
	resp, err := http.Post(s.base+path, "application/json", strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	reply, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		s.t.Fatalf("POST %s = %d: %s", path, resp.StatusCode, reply)
	}
	if err := json.Unmarshal(reply, v); err != nil {
		s.t.Fatalf("decode %s: %v", reply, err)
	}
}

// waitRun polls the runbook runs until one satisfies pred. The bound is a
// failure timeout, not a duration the test asserts.
func (s *server) waitRun(what string, pred func(runbookRun) bool) runbookRun {
	s.t.Helper()
	var out struct {
		Runs []runbookRun `json:"runs"`
	}
	for range 400 {
		s.getJSON("/api/v1/runbook-runs", &out)
		if i := slices.IndexFunc(out.Runs, pred); i >= 0 {
			return out.Runs[i]
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Fatalf("no runbook run became %s: %+v\n%s", what, out.Runs, s.stderr.String())
	return runbookRun{}
}

// TestRemediationApproveVerify runs a real program from an approval-mode
// runbook: an incident of service checkout plans a run, the API approves it,
// the program runs with exactly the planned argv, and the run succeeds when
// the incident resolves within the verification window.
func TestRemediationApproveVerify(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "restart")
	argvLog := filepath.Join(dir, "argv.log")
	// The script appends each argument (without argv[0]) NUL-terminated.
	if err := os.WriteFile(script, []byte("#!/bin/sh\nprintf '%s\\0' \"$@\" >> '"+argvLog+"'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "osprey.yaml")
	yaml := `remediation:
  exec_allow: [` + script + `]
  runbooks:
    - name: restart-checkout
      trigger: incident.labels.?service.orValue("") == "checkout"
      mode: approval
      steps:
        - name: restart
          timeout: 30s
          exec:
            argv: [` + script + `, restart, "{{.Incident.Labels.service}}", "--reason=osprey run {{.RunID}}"]
            fields:
              - {field: .Incident.Labels.service, pattern: "[a-z0-9-]{1,63}"}
              - {field: .RunID, pattern: "[A-Za-z0-9]{1,64}"}
      verify: {within: 5m}
`
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, filepath.Join(dir, "data"), freeAddr(t), "--config", cfg)

	var status struct {
		Paused   bool     `json:"paused"`
		Runbooks []string `json:"runbooks"`
	}
	s.getJSON("/api/v1/remediation", &status)
	if status.Paused || !slices.Equal(status.Runbooks, []string{"restart-checkout"}) {
		t.Fatalf("GET /api/v1/remediation = %+v", status)
	}

	s.postEvents(`[{"name": "CheckoutDown", "labels": {"service": "checkout"}, "severity": "critical"}]`)
	pending := s.waitRun("pending_approval", func(r runbookRun) bool { return r.Status == "pending_approval" })
	if pending.Runbook != "restart-checkout" || len(pending.Actions) == 0 {
		t.Fatalf("pending run = %+v", pending)
	}
	if _, err := os.Stat(argvLog); !os.IsNotExist(err) {
		t.Fatalf("the program ran before approval (stat: %v)", err)
	}
	wantArgs := []string{script, "restart", "checkout", "--reason=osprey run " + pending.ID}
	if got := pending.Actions[0].Args; !slices.Equal(got, wantArgs) {
		t.Errorf("planned argv = %q, want %q", got, wantArgs)
	}

	var approved runbookRun
	s.post("/api/v1/runbook-runs/"+pending.ID+"/approve", `{"reason": "e2e"}`, &approved)
	if approved.ApprovedBy != "local" || approved.Status == "pending_approval" {
		t.Fatalf("approve replied %+v", approved)
	}
	// Verification starts once the step succeeded; resolving the incident
	// then clears it.
	s.waitRun("verifying", func(r runbookRun) bool {
		return r.ID == pending.ID && slices.ContainsFunc(r.Actions, func(a runAction) bool {
			return a.Type == "verify" && a.Status == "running"
		})
	})
	s.postEvents(`[{"name": "CheckoutDown", "labels": {"service": "checkout"}, "status": "resolved"}]`)
	done := s.waitRun("succeeded", func(r runbookRun) bool { return r.ID == pending.ID && r.Status == "succeeded" })
	for _, a := range done.Actions {
		if a.Status != "succeeded" {
			t.Errorf("action %s %s is %s, want succeeded", a.Type, a.Target, a.Status)
		}
	}

	data, err := os.ReadFile(argvLog)
	if err != nil {
		t.Fatalf("the program did not run: %v", err)
	}
	got := strings.Split(strings.TrimSuffix(string(data), "\x00"), "\x00")
	if !slices.Equal(got, wantArgs[1:]) {
		t.Errorf("the program got %q, want exactly %q", got, wantArgs[1:])
	}

	var audit struct {
		Entries []struct {
			Actor  string `json:"actor"`
			Action string `json:"action"`
			Object string `json:"object"`
			Detail string `json:"detail"`
		} `json:"entries"`
	}
	s.getJSON("/api/v1/audit", &audit)
	var actions []string
	approvedSeen := false
	for _, e := range audit.Entries {
		actions = append(actions, e.Action)
		if e.Action == "remediation.run.approved" && e.Actor == "local" && e.Object == "run/"+pending.ID &&
			strings.Contains(e.Detail, "e2e") {
			approvedSeen = true
		}
	}
	if !approvedSeen {
		t.Errorf("audit log has no approval of run %s by local: %v", pending.ID, actions)
	}
	for _, want := range []string{"remediation.step.finished", "remediation.verify.cleared", "remediation.run.finished"} {
		if !slices.Contains(actions, want) {
			t.Errorf("audit log has no %s: %v", want, actions)
		}
	}

	// The kill switch, through the API.
	s.post("/api/v1/remediation/pause", `{"reason": "maintenance"}`, &status)
	s.getJSON("/api/v1/remediation", &status)
	if !status.Paused {
		t.Errorf("GET /api/v1/remediation after pause = %+v, want paused", status)
	}
}

// TestCheckConfigRunbooks runs check-config on a runbook whose CEL trigger
// names a field the incident does not have.
func TestCheckConfigRunbooks(t *testing.T) {
	fixture := filepath.Join("..", "..", "internal", "config", "testdata", "bad", "remediation.yaml")
	out, err := exec.Command(binary, "check-config", fixture).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("check-config: err = %v, want exit status 1\n%s", err, out)
	}
	for _, want := range []string{
		"remediation.runbooks[0].trigger: ERROR: <input>:1:9: undefined field 'lables'",
		"remediation.runbooks[1].trigger: must be a boolean expression",
		`remediation.runbooks[0].steps[0].exec.argv[0]: "/usr/bin/systemctl" is not on remediation.exec_allow`,
	} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("check-config output lacks %q:\n%s", want, out)
		}
	}
}
