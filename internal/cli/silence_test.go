package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/client"
)

func testSilence(t *testing.T, s *ospreyServer) {
	// Usage errors are caught before the server is asked.
	s.wantFail(t, ExitUsage, []string{"silence", "add", "service=checkout", "--comment", "x"}, "exactly one of --duration and --end")
	s.wantFail(t, ExitUsage, []string{"silence", "add", "service=checkout", "--duration", "1h"}, "--comment is required")
	s.wantFail(t, ExitUsage, []string{"silence", "add", "service=checkout", "--duration", "1h", "--end", "2030-01-01T00:00:00Z", "--comment", "x"}, "exactly one")
	s.wantFail(t, ExitUsage, []string{"silence", "add", "9service=x", "--duration", "1h", "--comment", "x"}, "matcher [0]")
	s.wantFail(t, ExitUsage, []string{"silence", "add", "--duration", "1h", "--comment", "x"}, "requires at least 1 arg")
	s.wantFail(t, ExitUsage, []string{"silence", "add", "a=b", "--end", "tomorrow", "--comment", "x"}, `--end "tomorrow"`)
	s.wantFail(t, ExitUsage, []string{"silence", "list", "--state", "gone"}, `--state "gone"`)

	// add prints the id alone, for scripts.
	out := s.mustRun(t, "silence", "add", "service=checkout", `env=~"prod|stage"`, "host!=a", "--duration", "2h", "--comment", "DB migration")
	id := strings.TrimSpace(out)
	if id == "" || strings.ContainsAny(id, " \n") {
		t.Fatalf("silence add printed %q, want the id", out)
	}
	start := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	var pending client.Silence
	decodeJSON(t, s.mustRun(t, "silence", "add", "alertname=DiskFull", "--start", start.Format(time.RFC3339),
		"--end", start.Add(time.Hour).Format(time.RFC3339), "--comment", "disk swap", "-o", "json"), &pending)
	if pending.State != client.SilencePending || !pending.StartsAt.Equal(start) || !pending.EndsAt.Equal(start.Add(time.Hour)) ||
		pending.CreatedBy != "alice" || len(pending.Matchers) != 1 {
		t.Errorf("silence add -o json = %+v", pending)
	}

	out = s.mustRun(t, "silence", "list")
	if !strings.HasPrefix(out, "ID ") {
		t.Errorf("silence list: no header:\n%s", out)
	}
	for _, want := range []string{id, `service="checkout" env=~"prod|stage" host!="a"`, "active", "in 1h59m", "DB migration", pending.ID, "pending", "alice"} {
		if !strings.Contains(out, want) {
			t.Errorf("silence list lacks %q:\n%s", want, out)
		}
	}
	var list []client.Silence
	decodeJSON(t, s.mustRun(t, "silence", "list", "-o", "json"), &list)
	if len(list) != 2 {
		t.Errorf("silence list -o json: %d silences, want 2", len(list))
	}
	for _, sl := range list {
		if sl.ID == id && (len(sl.Matchers) != 3 || sl.Matchers[1] != (osprey.Matcher{Name: "env", Type: osprey.MatchRegexp, Value: "prod|stage"})) {
			t.Errorf("stored matchers = %+v", sl.Matchers)
		}
	}

	s.wantFail(t, ExitError, []string{"silence", "expire", id, "--token", viewerToken}, "osprey: expire "+id+": server: 403 ")
	out = s.mustRun(t, "silence", "expire", id, pending.ID)
	if out != "silence "+id+" expired\nsilence "+pending.ID+" expired\n" {
		t.Errorf("silence expire: %q", out)
	}
	if out := s.mustRun(t, "silence", "list"); out != "No silences.\n" {
		t.Errorf("silence list after expiring both:\n%s", out)
	}
	decodeJSON(t, s.mustRun(t, "silence", "list", "--state", "expired", "-o", "json"), &list)
	if len(list) != 2 || list[0].State != client.SilenceExpired {
		t.Errorf("silence list --state expired -o json = %+v", list)
	}
	// One unknown id: the others are still expired, the exit is 1.
	s.wantFail(t, ExitError, []string{"silence", "expire", "01NOSUCHSILENCE"}, "expire 01NOSUCHSILENCE: server: 404 ")
}
