package cli

import (
	"context"
	"strings"
	"testing"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/client"
)

func testRunbook(t *testing.T, s *ospreyServer, checkout, cart osprey.Incident) {
	ctx := context.Background()
	pending := map[string]client.Run{} // by incident id
	eventually(t, "a run waiting for approval for both incidents", func() bool {
		runs, err := s.client.ListRuns(ctx, "", 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range runs {
			if r.Status == osprey.RunPendingApproval {
				pending[r.IncidentID] = r
			}
		}
		return len(pending) == 2
	})
	approve, reject := pending[checkout.ID], pending[cart.ID]

	out := s.mustRun(t, "runbook", "runs")
	if !strings.HasPrefix(out, "ID ") || !strings.Contains(out, "DECIDED BY") || !strings.Contains(out, "OUTCOME") {
		t.Errorf("runbook runs: no header:\n%s", out)
	}
	for _, r := range []client.Run{approve, reject} {
		if !strings.Contains(out, r.ID+"  hold-checkout  "+r.IncidentID+"  pending_approval") {
			t.Errorf("runbook runs lacks the row of %s:\n%s", r.ID, out)
		}
	}
	var runs []osprey.RunbookRun
	decodeJSON(t, s.mustRun(t, "runbook", "runs", "--incident", checkout.ID, "-o", "json"), &runs)
	if len(runs) != 1 || runs[0].ID != approve.ID {
		t.Errorf("runs --incident -o json = %+v", runs)
	}

	out = s.mustRun(t, "runbook", "show", approve.ID)
	for _, want := range []string{"Runbook:     hold-checkout", "Status:      pending_approval", "Incident:    " + checkout.ID, "Actions (", "wait"} {
		if !strings.Contains(out, want) {
			t.Errorf("runbook show lacks %q:\n%s", want, out)
		}
	}

	s.wantFail(t, ExitError, []string{"runbook", "approve", approve.ID, "--token", viewerToken}, "osprey: server: 403 ")
	out = s.mustRun(t, "runbook", "approve", approve.ID, "--reason", "checked the dashboard")
	if !strings.Contains(out, "run "+approve.ID+" of runbook hold-checkout approved by alice: status ") {
		t.Errorf("approve: %q", out)
	}
	var run osprey.RunbookRun
	decodeJSON(t, s.mustRun(t, "runbook", "reject", reject.ID, "--reason", "not now", "-o", "json"), &run)
	if run.ID != reject.ID || run.Status != osprey.RunRejected || run.ApprovedBy != "alice" {
		t.Errorf("reject -o json = %+v", run)
	}
	s.wantFail(t, ExitError, []string{"runbook", "approve", reject.ID}, "osprey: server: 409 ")
	s.wantFail(t, ExitError, []string{"runbook", "show", "01NOSUCHRUN"}, `osprey: server: 404 runbook run "01NOSUCHRUN" not found`)

	var done client.Run
	eventually(t, "the approved run to succeed", func() bool {
		r, err := s.client.GetRun(ctx, approve.ID)
		if err != nil {
			t.Fatal(err)
		}
		done = r
		return r.Status == osprey.RunSucceeded
	})
	if done.Outcome == "" {
		t.Errorf("a finished run has no outcome: %+v", done)
	}
	out = s.mustRun(t, "runbook", "show", approve.ID)
	if !strings.Contains(out, "Outcome:     "+done.Outcome+"\n") {
		t.Errorf("runbook show lacks the outcome %q:\n%s", done.Outcome, out)
	}
	if !strings.Contains(out, "Status:      succeeded") || !strings.Contains(out, "Decided by:  alice") || !strings.Contains(out, ": succeeded (started ") {
		t.Errorf("runbook show after the run:\n%s", out)
	}
}
