package cli

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/osprey-aiops/osprey"
)

func testIncidents(t *testing.T, s *ospreyServer, checkout, cart osprey.Incident) {
	// list, table: a header, one aligned row per incident, relative times.
	out := s.mustRun(t, "incidents", "list")
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) < 3 || !regexp.MustCompile(`^ID +STATUS +SEVERITY +TITLE +MEMBERS +ASSIGNEE +OPENED +UPDATED$`).MatchString(lines[0]) {
		t.Fatalf("incidents list:\n%s", out)
	}
	col := strings.Index(lines[0], "STATUS")
	for _, id := range []string{checkout.ID, cart.ID} {
		i := strings.Index(out, id)
		if i < 0 {
			t.Fatalf("incident %s not listed:\n%s", id, out)
		}
		line := out[i : i+strings.Index(out[i:], "\n")]
		if !strings.HasPrefix(line[col:], "open ") || !regexp.MustCompile(`(just now|\d+s ago) +(just now|\d+s ago)$`).MatchString(line) {
			t.Errorf("row not aligned or without a relative time: %q", line)
		}
	}
	// The title's escape sequence and tab are shown escaped, not sent to
	// the terminal.
	if strings.ContainsAny(out, "\x1b") || !strings.Contains(out, `checkout \x1b[31mred\x1b[0m is down\tnow`) {
		t.Errorf("control characters in a title not escaped:\n%q", out)
	}

	// list, json: the API's objects, for scripts.
	var incs []osprey.Incident
	decodeJSON(t, s.mustRun(t, "incidents", "list", "-o", "json", "--limit", "1"), &incs)
	if len(incs) != 1 {
		t.Errorf("--limit 1 -o json: %d incidents", len(incs))
	}
	decodeJSON(t, s.mustRun(t, "incidents", "list", "-o", "json", "--status", "resolved"), &incs)
	if incs == nil || len(incs) != 0 {
		t.Errorf("--status resolved -o json = %v, want []", incs)
	}
	if out := s.mustRun(t, "incidents", "list", "--status", "resolved"); out != "No incidents.\n" {
		t.Errorf("empty list: %q", out)
	}
	s.wantFail(t, ExitUsage, []string{"incidents", "list", "--status", "closed"}, `--status "closed"`)

	// show: members, causes with their explanation, timeline.
	out = s.mustRun(t, "incidents", "show", checkout.ID)
	for _, want := range []string{
		"ID:        " + checkout.ID, "Status:    open", "Severity:  critical", `Labels:    service="checkout"`,
		"Members (1):", `CheckoutDown  env="prod", service="checkout"  critical  firing  1`,
		"Root causes (", "Timeline (", "opened by event CheckoutDown",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("incidents show lacks %q:\n%s", want, out)
		}
	}
	full, err := s.client.GetIncident(context.Background(), checkout.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range full.Causes {
		if c.Explanation != "" && !strings.Contains(out, strings.SplitN(c.Explanation, "\n", 2)[0]) {
			t.Errorf("cause %s shown without its explanation %q:\n%s", c.Name, c.Explanation, out)
		}
	}
	var inc osprey.Incident
	decodeJSON(t, s.mustRun(t, "incidents", "show", checkout.ID, "-o", "json"), &inc)
	if inc.ID != checkout.ID || len(inc.Timeline) == 0 || len(inc.Members) != 1 {
		t.Errorf("show -o json = %+v", inc)
	}
	s.wantFail(t, ExitError, []string{"incidents", "show", "01NOSUCHINCIDENT"}, `osprey: server: 404 incident "01NOSUCHINCIDENT" not found`)

	// ack, resolve, reopen with comments; comment.
	out = s.mustRun(t, "incidents", "ack", cart.ID, "--comment", "looking at the cart pods")
	if !strings.Contains(out, "incident "+cart.ID+" acknowledged: status acknowledged") {
		t.Errorf("ack: %q", out)
	}
	s.wantFail(t, ExitError, []string{"incidents", "ack", cart.ID, "--token", viewerToken}, "osprey: server: 403 ", "operator")
	out = s.mustRun(t, "incidents", "comment", cart.ID, "rolled", "back", "deploy", "4512")
	if !strings.Contains(out, "comment added to incident "+cart.ID) || !strings.Contains(out, "by alice") {
		t.Errorf("comment: %q", out)
	}
	var entry osprey.TimelineEntry
	decodeJSON(t, s.mustRun(t, "incidents", "comment", cart.ID, "second note", "-o", "json"), &entry)
	if entry.Kind != osprey.TimelineComment || entry.Message != "second note" || entry.Actor != "alice" {
		t.Errorf("comment -o json = %+v", entry)
	}
	decodeJSON(t, s.mustRun(t, "incidents", "resolve", cart.ID, "-o", "json", "--comment", "fixed by rollback"), &inc)
	if inc.Status != osprey.IncidentResolved {
		t.Errorf("resolve -o json: status %s", inc.Status)
	}
	out = s.mustRun(t, "incidents", "reopen", cart.ID)
	if !strings.Contains(out, "reopened: status open") {
		t.Errorf("reopen: %q", out)
	}
	out = s.mustRun(t, "incidents", "show", cart.ID)
	for _, want := range []string{"looking at the cart pods", "rolled back deploy 4512", "second note", "alice"} {
		if !strings.Contains(out, want) {
			t.Errorf("timeline lacks %q after ack, comment, resolve, reopen:\n%s", want, out)
		}
	}
	s.wantFail(t, ExitUsage, []string{"incidents", "comment", cart.ID}, "requires at least 2 arg")
	s.wantFail(t, ExitError, []string{"incidents", "ack", "01NOSUCHINCIDENT"}, "osprey: server: 404 ")

	out = s.mustRun(t, "incidents", "assign", cart.ID, "carol")
	if out != "incident "+cart.ID+" assigned to carol\n" {
		t.Errorf("assign: %q", out)
	}
	if out := s.mustRun(t, "incidents", "list"); !regexp.MustCompile(cart.ID + `  open +warning +CartDown \(cart\) +1 +carol `).MatchString(out) {
		t.Errorf("the assignee is not listed:\n%s", out)
	}

	// merge: cart's member joins checkout's incident.
	decodeJSON(t, s.mustRun(t, "incidents", "merge", checkout.ID, cart.ID, "-o", "json"), &inc)
	if inc.ID != checkout.ID || len(inc.Members) != 2 {
		t.Errorf("merge -o json: %s with %d members", inc.ID, len(inc.Members))
	}

	// split: cart's member moves back out, to a new incident.
	cartFP := ""
	for _, m := range inc.Members {
		if m.Name == "CartDown" {
			cartFP = m.Fingerprint.String()
		}
	}
	out = s.mustRun(t, "incidents", "split", checkout.ID, cartFP)
	if !regexp.MustCompile(`^1 members of incident ` + checkout.ID + ` split into new incident \S+: CartDown`).MatchString(out) {
		t.Errorf("split: %q", out)
	}
	s.wantFail(t, ExitUsage, []string{"incidents", "split", checkout.ID}, "requires at least 2 arg")
}
