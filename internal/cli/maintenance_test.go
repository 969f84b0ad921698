package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey/internal/client"
)

func testMaintenance(t *testing.T, s *ospreyServer) {
	// Usage errors are caught before the server is asked.
	s.wantFail(t, ExitUsage, []string{"maintenance", "add", "service=db"}, "exactly one of --duration and --end")
	s.wantFail(t, ExitUsage, []string{"maintenance", "add", "service=db", "--days", "sat", "--duration", "2h"}, "needs --days, --at and --duration")
	s.wantFail(t, ExitUsage, []string{"maintenance", "add", "service=db", "--duration", "2h", "--timezone", "UTC"}, "--timezone is for weekly")
	s.wantFail(t, ExitUsage, []string{"maintenance", "add", "9x=db", "--duration", "2h"}, "matcher [0]")
	// The server's validation, with its message.
	s.wantFail(t, ExitError, []string{"maintenance", "add", "service=db", "--days", "someday", "--at", "02:00", "--duration", "2h"}, "osprey: server: 400 ")

	out := s.mustRun(t, "maintenance", "add", "service=db", "--duration", "2h", "--name", "db upgrade", "--comment", "ticket 42")
	id := strings.TrimSpace(out)
	if id == "" || strings.ContainsAny(id, " \n") {
		t.Fatalf("maintenance add printed %q, want the id", out)
	}
	var weekly client.Maintenance
	decodeJSON(t, s.mustRun(t, "maintenance", "add", "cluster=batch", "--days", "sat,sun", "--at", "02:00", "--duration", "2h",
		"--timezone", "Europe/Berlin", "-o", "json"), &weekly)
	if weekly.Schedule == nil || strings.Join(weekly.Schedule.Days, ",") != "sat,sun" || weekly.Schedule.Start != "02:00" ||
		weekly.Source != "api" || weekly.CreatedBy != "alice" {
		t.Errorf("maintenance add (weekly) -o json = %+v", weekly)
	}

	out = s.mustRun(t, "maintenance", "list")
	if !strings.HasPrefix(out, "ID ") {
		t.Errorf("maintenance list: no header:\n%s", out)
	}
	for _, want := range []string{id, "db upgrade", `service="db"`, "active", "ticket 42", weekly.ID, "sat,sun 02:00 for 2h Europe/Berlin", "api"} {
		if !strings.Contains(out, want) {
			t.Errorf("maintenance list lacks %q:\n%s", want, out)
		}
	}
	var list []client.Maintenance
	decodeJSON(t, s.mustRun(t, "maintenance", "list", "-o", "json"), &list)
	if len(list) != 2 || list[0].ID != id || list[0].State != client.MaintenanceActive {
		t.Errorf("maintenance list -o json = %+v", list)
	}

	s.wantFail(t, ExitError, []string{"maintenance", "delete", id, "--token", viewerToken}, "osprey: delete "+id+": server: 403 ")
	out = s.mustRun(t, "maintenance", "delete", id, weekly.ID)
	if out != "maintenance window "+id+" deleted\nmaintenance window "+weekly.ID+" deleted\n" {
		t.Errorf("maintenance delete: %q", out)
	}
	if out := s.mustRun(t, "maintenance", "list"); out != "No maintenance windows.\n" {
		t.Errorf("maintenance list after deleting both:\n%s", out)
	}
	s.wantFail(t, ExitError, []string{"maintenance", "delete", "01NOSUCHWINDOW"}, "delete 01NOSUCHWINDOW: server: 404 ")
}

func testStats(t *testing.T, s *ospreyServer) {
	var st client.NoiseStats
	decodeJSON(t, s.mustRun(t, "stats", "noise", "--since", "1h", "-o", "json"), &st)
	if st.Totals.Received < 2 || st.Totals.Opened < 2 || len(st.Sources) == 0 || st.Sources[0].Source != "cli-test" {
		t.Errorf("stats noise -o json = %+v", st)
	}
	out := s.mustRun(t, "stats", "noise")
	for _, want := range []string{"Signals: ", " received → ", "compression ", "Incidents opened: ", "Notifications: ",
		"By source:", "SOURCE", "cli-test", "By rule:", "CheckoutDown", "CartDown"} {
		if !strings.Contains(out, want) {
			t.Errorf("stats noise lacks %q:\n%s", want, out)
		}
	}
	s.wantFail(t, ExitError, []string{"stats", "noise", "--since", "yesterday"}, "osprey: server: 400 ")
}

func TestCompactDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{2 * time.Hour: "2h", 90 * time.Minute: "1h30m", 30 * time.Minute: "30m",
		45 * time.Second: "45s", time.Hour + time.Second: "1h0m1s"} {
		if got := compactDuration(d); got != want {
			t.Errorf("compactDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
