package api

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/remediate"
	"github.com/osprey-aiops/osprey/internal/remediate/action"
)

// withRemediation builds a started remediation engine on the test store with
// one approval runbook for service "web" whose only step waits an hour (so an
// approved run stays running, and nothing is executed), and hands it to the
// API. The engine is shut down before the store closes.
func withRemediation(tb testing.TB, eng **remediate.Engine) envOption {
	return func(o *Options) {
		cfg := remediate.DefaultConfig()
		cfg.Runbooks = []remediate.Runbook{{
			Name:    "hold-web",
			Trigger: `incident.labels.?service.orValue("") == "web"`,
			Mode:    remediate.ModeApproval,
			Steps:   []remediate.Step{{Name: "hold", Wait: action.WaitSpec{Duration: time.Hour}}},
		}}
		e, err := remediate.New(remediate.Options{Config: cfg, Store: o.Store})
		if err != nil {
			tb.Fatal(err)
		}
		if err := e.Start(context.Background()); err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { shutdownEngine(tb, e) })
		o.Remediation = e
		*eng = e
	}
}

func shutdownEngine(tb testing.TB, e *remediate.Engine) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := e.Shutdown(ctx); err != nil {
		tb.Errorf("shut down remediation: %v", err)
	}
}

// pendingRun stores an open incident of service web, hands it to the engine
// and returns the approval request it planned.
func (e *env) pendingRun(tb testing.TB, eng *remediate.Engine, incidentID string) osprey.RunbookRun {
	tb.Helper()
	now := time.Now()
	labels := osprey.Labels{"service": "web"}
	inc := osprey.Incident{ID: incidentID, Title: "web is down", Status: osprey.IncidentOpen,
		Severity: osprey.SeverityCritical, Labels: labels, OpenedAt: now, UpdatedAt: now,
		Members: []*osprey.Member{{Kind: osprey.MemberEvent, Name: "Down", Labels: labels,
			Severity: osprey.SeverityCritical, Status: osprey.StatusFiring, FirstSeen: now, LastSeen: now, Count: 1}}}
	ctx := context.Background()
	if err := e.store.SaveIncident(ctx, inc); err != nil {
		tb.Fatal(err)
	}
	if err := eng.ConsumeIncidents(ctx, []osprey.Incident{inc}); err != nil {
		tb.Fatal(err)
	}
	runs, err := e.store.ListRuns(ctx, incidentID, 10)
	if err != nil || len(runs) != 1 || runs[0].Status != osprey.RunPendingApproval {
		tb.Fatalf("runs of %s = %+v, %v; want one pending_approval", incidentID, runs, err)
	}
	return runs[0]
}

// decodeReply decodes a 2xx JSON reply into v, failing on another code.
func decodeReply(tb testing.TB, rec interface {
	Result() *http.Response
}, wantCode int, v any) {
	tb.Helper()
	resp := rec.Result()
	defer resp.Body.Close()
	if resp.StatusCode != wantCode {
		body, _ := io.ReadAll(resp.Body)
		tb.Fatalf("code = %d, want %d; body %s", resp.StatusCode, wantCode, body)
	}
	if v != nil {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			tb.Fatalf("decode reply: %v", err)
		}
	}
}

func TestRemediationRoutes(t *testing.T) {
	var eng *remediate.Engine
	e := newEnv(t, withTokens, withRemediation(t, &eng))
	viewer, operator := bearer(viewerToken), bearer(operatorToken)

	var status remediationStatus
	decodeReply(t, e.do("GET", "/api/v1/remediation", "", viewer...), 200, &status)
	if status.Paused || !slices.Equal(status.Runbooks, []string{"hold-web"}) {
		t.Fatalf("status = %+v, want running with runbook hold-web", status)
	}

	first := e.pendingRun(t, eng, "inc-1")
	second := e.pendingRun(t, eng, "inc-2")

	var runs runsResponse
	decodeReply(t, e.do("GET", "/api/v1/runbook-runs?incident=inc-1", "", viewer...), 200, &runs)
	if len(runs.Runs) != 1 || runs.Runs[0].ID != first.ID {
		t.Fatalf("runs of inc-1 = %+v, want %s", runs.Runs, first.ID)
	}
	decodeReply(t, e.do("GET", "/api/v1/runbook-runs?limit=1", "", viewer...), 200, &runs)
	if len(runs.Runs) != 1 {
		t.Fatalf("limit=1 gave %d runs", len(runs.Runs))
	}
	var run osprey.RunbookRun
	decodeReply(t, e.do("GET", "/api/v1/runbook-runs/"+first.ID, "", viewer...), 200, &run)
	if run.ID != first.ID || run.Runbook != "hold-web" || len(run.Actions) == 0 {
		t.Fatalf("run = %+v", run)
	}

	// Approve: who is the token's name, the reply the run as stored.
	decodeReply(t, e.do("POST", "/api/v1/runbook-runs/"+first.ID+"/approve", `{"reason":"on call says go"}`,
		append(operator, "Content-Type", "application/json")...), 200, &run)
	if run.ApprovedBy != "alertmanager" || run.Status == osprey.RunPendingApproval {
		t.Errorf("approved run = %+v, want approved by alertmanager", run)
	}
	// Reject without a body.
	decodeReply(t, e.do("POST", "/api/v1/runbook-runs/"+second.ID+"/reject", "", operator...), 200, &run)
	if run.Status != osprey.RunRejected || run.ApprovedBy != "alertmanager" {
		t.Errorf("rejected run = %+v", run)
	}

	tests := []struct {
		name, method, target, body string
		header                     []string
		wantCode                   int
		wantErr                    string
	}{
		{"unknown run", "GET", "/api/v1/runbook-runs/nope", "", viewer, 404, `runbook run "nope" not found`},
		{"approve twice", "POST", "/api/v1/runbook-runs/" + first.ID + "/approve", "", operator, 409, "not waiting for approval"},
		{"reject decided", "POST", "/api/v1/runbook-runs/" + second.ID + "/reject", "", operator, 409, "not waiting for approval"},
		{"approve unknown", "POST", "/api/v1/runbook-runs/nope/approve", "", operator, 404, "not found"},
		{"viewer may not approve", "POST", "/api/v1/runbook-runs/" + first.ID + "/approve", "", viewer, 403, "operator"},
		{"viewer may not pause", "POST", "/api/v1/remediation/pause", "", viewer, 403, "operator"},
		{"no token", "GET", "/api/v1/runbook-runs", "", nil, 401, "missing bearer token"},
		{"unknown field", "POST", "/api/v1/runbook-runs/x/approve", `{"why":"x"}`, operator, 400, `unknown field "why"`},
		{"not json", "POST", "/api/v1/runbook-runs/x/approve", `reason`, operator, 400, "invalid JSON"},
		{"two objects", "POST", "/api/v1/runbook-runs/x/approve", `{}{}`, operator, 400, "one JSON object"},
		{"long reason", "POST", "/api/v1/remediation/pause", `{"reason":"` + strings.Repeat("x", 2000) + `"}`, operator, 400, "at most 1024"},
		{"form post", "POST", "/api/v1/remediation/pause", "a=b", append(slices.Clone(operator), "Content-Type", "application/x-www-form-urlencoded"), 415, ""},
		{"bad limit", "GET", "/api/v1/runbook-runs?limit=0", "", viewer, 400, "limit"},
		{"unknown parameter", "GET", "/api/v1/runbook-runs?status=x", "", viewer, 400, `"status"`},
		{"bad since", "GET", "/api/v1/audit?since=yesterday", "", viewer, 400, "since"},
		{"wrong method", "GET", "/api/v1/remediation/pause", "", viewer, 405, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := e.do(tt.method, tt.target, tt.body, tt.header...)
			if rec.Code != tt.wantCode {
				t.Fatalf("code = %d, want %d; body %s", rec.Code, tt.wantCode, rec.Body)
			}
			if body := errorReply(t, rec); !strings.Contains(body.Error, tt.wantErr) {
				t.Errorf("error = %q, want it to contain %q", body.Error, tt.wantErr)
			}
		})
	}

	// The kill switch: approvals are refused while paused.
	third := e.pendingRun(t, eng, "inc-3")
	decodeReply(t, e.do("POST", "/api/v1/remediation/pause", `{"reason":"maintenance"}`, operator...), 200, &status)
	if !status.Paused {
		t.Errorf("pause replied %+v", status)
	}
	decodeReply(t, e.do("GET", "/api/v1/remediation", "", viewer...), 200, &status)
	if !status.Paused {
		t.Errorf("status after pause = %+v", status)
	}
	rec := e.do("POST", "/api/v1/runbook-runs/"+third.ID+"/approve", "", operator...)
	if rec.Code != http.StatusConflict || !strings.Contains(errorReply(t, rec).Error, "paused") {
		t.Errorf("approve while paused = %d %s, want 409 paused", rec.Code, rec.Body)
	}
	decodeReply(t, e.do("POST", "/api/v1/remediation/resume", "", operator...), 200, &status)
	if status.Paused {
		t.Errorf("resume replied %+v", status)
	}

	// The audit log shows who decided what.
	var audit auditResponse
	decodeReply(t, e.do("GET", "/api/v1/audit?since=1h", "", viewer...), 200, &audit)
	for _, want := range []struct{ actor, action string }{
		{"alertmanager", "remediation.run.approved"},
		{"alertmanager", "remediation.run.rejected"},
		{"alertmanager", "remediation.paused"},
		{"alertmanager", "remediation.resumed"},
	} {
		if !slices.ContainsFunc(audit.Entries, func(a osprey.AuditEntry) bool {
			return a.Actor == want.actor && a.Action == want.action
		}) {
			t.Errorf("audit log has no %s by %s: %+v", want.action, want.actor, audit.Entries)
		}
	}
	var approval osprey.AuditEntry
	for _, a := range audit.Entries {
		if a.Action == "remediation.run.approved" {
			approval = a
		}
	}
	if !strings.Contains(approval.Detail, "on call says go") || approval.Object != "run/"+first.ID {
		t.Errorf("approval entry = %+v, want the reason and the run", approval)
	}
	decodeReply(t, e.do("GET", "/api/v1/audit?limit=2", "", viewer...), 200, &audit)
	if len(audit.Entries) != 2 {
		t.Errorf("limit=2 gave %d entries", len(audit.Entries))
	}

	// A stopped engine refuses decisions with 503.
	shutdownEngine(t, eng)
	rec = e.do("POST", "/api/v1/runbook-runs/"+third.ID+"/approve", "", operator...)
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(errorReply(t, rec).Error, "stopped") {
		t.Errorf("approve after shutdown = %d %s, want 503", rec.Code, rec.Body)
	}
}

func TestRemediationRoutesWithoutEngine(t *testing.T) {
	e := newEnv(t)
	var runs runsResponse
	decodeReply(t, e.do("GET", "/api/v1/runbook-runs", "", nil...), 200, &runs)
	if runs.Runs == nil || len(runs.Runs) != 0 {
		t.Errorf("runs = %#v, want an empty list", runs.Runs)
	}
	var audit auditResponse
	decodeReply(t, e.do("GET", "/api/v1/audit", "", nil...), 200, &audit)
	if audit.Entries == nil {
		t.Errorf("entries = nil, want an empty list")
	}
	if rec := e.do("GET", "/api/v1/remediation", ""); rec.Code != http.StatusNotFound {
		t.Errorf("GET /api/v1/remediation without an engine = %d, want 404", rec.Code)
	}
}
