package app

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/osprey-aiops/osprey/internal/config"
)

// TestRemediationNotifyStep runs Osprey with an auto runbook whose notify
// step names a webhook receiver that no route uses: an event posted to the
// API becomes an incident, the runbook runs, and the receiver gets the
// rendered text once, as a message of kind runbook; the step succeeded and
// the delivery is on the incident's timeline.
func TestRemediationNotifyStep(t *testing.T) {
	type hookDoc struct {
		Kind string `json:"kind"`
		Key  string `json:"key"`
		Note string `json:"note"`
	}
	var (
		mu   sync.Mutex
		docs []hookDoc
	)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var doc hookDoc
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &doc)
		mu.Lock()
		docs = append(docs, doc)
		mu.Unlock()
	}))
	defer hook.Close()
	received := func() []hookDoc {
		mu.Lock()
		defer mu.Unlock()
		return append([]hookDoc(nil), docs...)
	}

	yaml := `data_dir: ` + filepath.Join(t.TempDir(), "data") + `
server:
  listen: 127.0.0.1:0
notifications:
  external_url: https://osprey.example.com
  receivers:
    - name: oncall
      webhook: {url: "` + hook.URL + `"}
remediation:
  runbooks:
    - name: tell-oncall
      trigger: incident.labels["service"] == "checkout"
      mode: auto
      steps:
        - name: tell
          notify:
            receiver: oncall
            text: "runbook {{ .Runbook }} looked at {{ .Incident.Labels.service }}"
`
	cfg, err := config.Parse([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	base, stop := startRun(t, cfg)
	defer stop()
	getJSON := func(path string, v any) { t.Helper(); getJSON(t, base+path, v) }
	wait := func(what string, cond func() bool) {
		t.Helper()
		waitFor(t, what, cond, func() string { return fmt.Sprintf("received %+v", received()) })
	}

	postEvents(t, base, `[{"name": "CheckoutDown", "labels": {"service": "checkout"}, "severity": "critical"}]`)

	var runs struct {
		Runs []struct {
			ID         string `json:"id"`
			IncidentID string `json:"incidentId"`
			Status     string `json:"status"`
			Actions    []struct {
				Type   string `json:"type"`
				Status string `json:"status"`
				Error  string `json:"error"`
			} `json:"actions"`
		} `json:"runs"`
	}
	wait("the run finished", func() bool {
		getJSON("/api/v1/runbook-runs", &runs)
		if len(runs.Runs) != 1 {
			return false
		}
		switch runs.Runs[0].Status {
		case "succeeded", "failed", "rejected", "escalated":
			return true
		}
		return false // planned, approved, running: not finished yet
	})
	run := runs.Runs[0]
	if run.Status != "succeeded" || len(run.Actions) != 1 || run.Actions[0].Type != "notify" || run.Actions[0].Status != "succeeded" {
		t.Fatalf("run: %+v", run)
	}
	got := received()
	if len(got) != 1 || got[0].Kind != "runbook" || got[0].Note != "runbook tell-oncall looked at checkout" ||
		!strings.HasPrefix(got[0].Key, "runbook-") {
		t.Fatalf("webhook received %+v, want one runbook message with the text", got)
	}
	var inc struct {
		Timeline []struct {
			Kind    string `json:"kind"`
			Message string `json:"message"`
		} `json:"timeline"`
	}
	getJSON("/api/v1/incidents/"+run.IncidentID, &inc)
	var notes []string
	for _, e := range inc.Timeline {
		if e.Kind == "notification" {
			notes = append(notes, e.Message)
		}
	}
	if strings.Join(notes, "|") != "notified oncall (webhook): "+got[0].Key {
		t.Errorf("timeline notifications: %q", notes)
	}
}

// TestRemediationNotifierUnconfigured: without receivers the engine gets no
// notifier, so a notify step keeps its "notifications not configured" error.
func TestRemediationNotifierUnconfigured(t *testing.T) {
	if n := remediationNotifier(config.Config{}, nil); n != nil {
		t.Errorf("remediationNotifier without receivers = %v, want nil", n)
	}
}
