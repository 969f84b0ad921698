package storetest

import (
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
)

func newRun(id, incident string, requested time.Duration) osprey.RunbookRun {
	return osprey.RunbookRun{
		ID: id, Runbook: "restart-service", IncidentID: incident, Status: osprey.RunSucceeded,
		ApprovedBy: "bob", RequestedAt: at(requested), StartedAt: at(requested + time.Second),
		FinishedAt: at(requested + 3*time.Second),
		Actions: []osprey.Action{
			{
				Type: "command", Target: "web-1", Args: []string{"systemctl", "restart", "checkout service"},
				Status: osprey.RunSucceeded, Output: "ok\n", StartedAt: at(requested + time.Second), FinishedAt: at(requested + 2*time.Second),
			},
			{Type: "webhook", Target: "https://hooks.example.com/x", Status: osprey.RunFailed, Error: "502 Bad Gateway"},
		},
	}
}

func testRuns(t *testing.T, open Opener) {
	t.Run("RoundTripAndReplace", func(t *testing.T) {
		st := open(t)
		r := newRun("r1", "inc-1", 0)
		dry := osprey.RunbookRun{ID: "r2", Runbook: "scale-up", Status: osprey.RunPendingApproval, DryRun: true, RequestedAt: at(0)}
		for _, want := range []osprey.RunbookRun{r, dry} {
			must(t, "save", st.SaveRun(t.Context(), want))
			got, err := st.GetRun(t.Context(), want.ID)
			must(t, "get", err)
			same(t, want.ID, got, want)
		}
		dry.Status, dry.DryRun, dry.ApprovedBy = osprey.RunRejected, false, "carol"
		must(t, "replace", st.SaveRun(t.Context(), dry))
		got, err := st.GetRun(t.Context(), dry.ID)
		must(t, "get", err)
		same(t, "replaced", got, dry)
	})

	t.Run("GetMissing", func(t *testing.T) {
		_, err := open(t).GetRun(t.Context(), "nope")
		wantErr(t, "get missing run", err, osprey.ErrNotFound)
	})

	t.Run("List", func(t *testing.T) {
		st := open(t)
		for _, r := range []osprey.RunbookRun{newRun("r2", "B", 2*time.Minute), newRun("r1", "A", time.Minute), newRun("r3", "A", 3*time.Minute)} {
			must(t, "save", st.SaveRun(t.Context(), r))
		}
		cases := []struct {
			name, incident string
			limit          int
			want           []string
		}{
			{name: "all newest first", want: []string{"r3", "r2", "r1"}},
			{name: "limit", limit: 1, want: []string{"r3"}},
			{name: "one incident", incident: "A", want: []string{"r3", "r1"}},
			{name: "unknown incident", incident: "Z", want: nil},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				got, err := st.ListRuns(t.Context(), tc.incident, tc.limit)
				must(t, "list", err)
				sameIDs(t, "runs", ids(got, runID), tc.want)
			})
		}
	})
}
