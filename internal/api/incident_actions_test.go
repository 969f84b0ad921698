package api

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/correlate"
	"github.com/osprey-aiops/osprey/internal/store"
)

// withCorrelator builds a started correlate stage on the test store and
// clock and gives it to the API as Incidents and Silences.
func withCorrelator(tb testing.TB, corr **correlate.Correlator) envOption {
	return func(o *Options) {
		c, err := correlate.New(correlate.Options{
			Store: o.Store, Window: 5 * time.Minute, GroupBy: []string{"service"},
			CatchUpInterval: time.Hour, Now: o.Now, Registerer: prometheus.NewRegistry(),
		})
		if err != nil {
			tb.Fatal(err)
		}
		if err := c.Start(context.Background()); err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { c.Shutdown(context.Background()) })
		o.Incidents, o.Silences = c, c
		*corr = c
	}
}

// fire stores a firing event of service and applies it, as the pipeline
// would, and returns the id of the incident it is in.
func (e *env) fire(tb testing.TB, c *correlate.Correlator, name, service string) string {
	tb.Helper()
	ctx := context.Background()
	labels := osprey.Labels{"service": service}
	now := e.clock.Now()
	ev := osprey.Event{ID: osprey.NewID(now), Source: "test", Name: name, Labels: labels, Status: osprey.StatusFiring,
		StartsAt: now, ReceivedAt: now, Fingerprint: osprey.EventFingerprint(name, labels)}
	batch := []osprey.Event{ev}
	if err := e.store.AppendEvents(ctx, batch); err != nil {
		tb.Fatal(err)
	}
	if err := c.ConsumeEvents(ctx, batch); err != nil {
		tb.Fatal(err)
	}
	incs, err := e.store.ListIncidents(ctx, store.IncidentQuery{Limit: store.MaxLimit})
	if err != nil {
		tb.Fatal(err)
	}
	for _, inc := range incs {
		for _, m := range inc.Members {
			if m.Fingerprint == ev.Fingerprint && inc.Status != osprey.IncidentResolved {
				return inc.ID
			}
		}
	}
	return ""
}

func TestIncidentActionRoutes(t *testing.T) {
	var corr *correlate.Correlator
	e := newEnv(t, withTokens, withCorrelator(t, &corr))
	operator := append(bearer(operatorToken), "Content-Type", "application/json")
	id := e.fire(t, corr, "HighLatency", "checkout")
	other := e.fire(t, corr, "DiskFull", "db")
	if id == "" || other == "" || id == other {
		t.Fatalf("incidents %q and %q", id, other)
	}
	base := "/api/v1/incidents/" + id

	var inc osprey.Incident
	decodeReply(t, e.do("POST", base+"/ack", `{"comment":"on it"}`, operator...), 200, &inc)
	if inc.Status != osprey.IncidentAcknowledged || len(inc.Timeline) < 2 {
		t.Fatalf("ack reply: %s with %d timeline entries, want acknowledged with the whole timeline", inc.Status, len(inc.Timeline))
	}
	if last := inc.Timeline[len(inc.Timeline)-1]; last.Actor != "alertmanager" || last.Message != "acknowledged by alertmanager: on it" {
		t.Errorf("ack entry = %+v", last)
	}

	var entry osprey.TimelineEntry
	decodeReply(t, e.do("POST", base+"/comments", `{"text":"rolled back"}`, operator...), 201, &entry)
	if entry.Kind != osprey.TimelineComment || entry.Actor != "alertmanager" || entry.Message != "rolled back" || entry.Seq == 0 {
		t.Errorf("comment reply = %+v", entry)
	}
	decodeReply(t, e.do("POST", base+"/assign", `{"assignee":"alice"}`, operator...), 200, &inc)
	if inc.Assignee != "alice" {
		t.Errorf("assignee = %q", inc.Assignee)
	}
	decodeReply(t, e.do("POST", base+"/merge", `{"from":"`+other+`"}`, operator...), 200, &inc)
	if len(inc.Members) != 2 {
		t.Errorf("merged incident has %d members, want 2", len(inc.Members))
	}
	decodeReply(t, e.do("POST", base+"/resolve", "", operator...), 200, &inc)
	if inc.Status != osprey.IncidentResolved || inc.ResolvedAt.IsZero() {
		t.Errorf("resolve reply: %s at %s", inc.Status, inc.ResolvedAt)
	}
	decodeReply(t, e.do("POST", base+"/reopen", `{"comment":"still slow"}`, operator...), 200, &inc)
	if inc.Status != osprey.IncidentOpen {
		t.Errorf("reopen reply: %s", inc.Status)
	}

	tests := []struct {
		name, target, body string
		header             []string
		wantCode           int
		wantErr            string
	}{
		{"viewer cannot act", base + "/ack", "", bearer(viewerToken), 403, ""},
		{"no token", base + "/resolve", "", nil, 401, ""},
		{"reopen of an open incident", base + "/reopen", "", operator, 409, "conflict: incident " + id + " is open, not resolved"},
		{"unknown incident", "/api/v1/incidents/01NOSUCH/ack", "", operator, 404, `incident "01NOSUCH" not found`},
		{"comment on unknown incident", "/api/v1/incidents/01NOSUCH/comments", `{"text":"x"}`, operator, 404, "not found"},
		{"bad comment type", base + "/ack", `{"comment":5}`, operator, 400, "comment: got JSON number, want string"},
		{"unknown field", base + "/ack", `{"reason":"x"}`, operator, 400, `unknown field "reason"`},
		{"two objects", base + "/ack", `{}{}`, operator, 400, "want one JSON object"},
		{"wrong media type", base + "/ack", `{}`, append(bearer(operatorToken), "Content-Type", "text/plain"), 415, ""},
		{"assign without assignee", base + "/assign", `{}`, operator, 400, "assignee: required"},
		{"assign without body", base + "/assign", ``, operator, 400, "empty body"},
		{"assignee too long", base + "/assign", `{"assignee":"` + strings.Repeat("a", 300) + `"}`, operator, 400, "assignee: 300 bytes, more than 256"},
		{"empty comment", base + "/comments", `{"text":"  "}`, operator, 400, "text: required"},
		{"comment too long", base + "/comments", `{"text":"` + strings.Repeat("x", 5000) + `"}`, operator, 400, "more than 4096"},
		{"merge without from", base + "/merge", `{}`, operator, 400, "from: required"},
		{"merge into itself", base + "/merge", `{"from":"` + id + `"}`, operator, 409, "into itself"},
		{"merge of unknown", base + "/merge", `{"from":"01NOSUCH"}`, operator, 404, "not found"},
		{"merge of a resolved incident", base + "/merge", `{"from":"` + other + `"}`, operator, 409, "only unresolved incidents merge"},
		{"GET is not a route", base + "/ack", "", operator, 405, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := "POST"
			if strings.HasPrefix(tt.name, "GET") {
				method = "GET"
			}
			rec := e.do(method, tt.target, tt.body, tt.header...)
			if rec.Code != tt.wantCode {
				t.Fatalf("code = %d, want %d; body %s", rec.Code, tt.wantCode, rec.Body)
			}
			var body errorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("error reply is not JSON: %s", rec.Body)
			}
			if !strings.Contains(body.Error, tt.wantErr) {
				t.Errorf("error = %q, want it to contain %q", body.Error, tt.wantErr)
			}
		})
	}

	// Every action is in the audit log under the token's name.
	audit, err := e.store.ListAudit(context.Background(), time.Time{}, 100)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, a := range audit {
		if a.Actor != "alertmanager" {
			t.Errorf("audit actor = %q", a.Actor)
		}
		actions = append(actions, a.Action)
	}
	want := "incident.reopen incident.resolve incident.merge incident.assign incident.comment incident.ack"
	if got := strings.Join(actions, " "); got != want {
		t.Errorf("audit = %s, want %s", got, want)
	}
}

func TestIncidentActionRoutesNeedTheCorrelator(t *testing.T) {
	e := newEnv(t)
	if rec := e.do("POST", "/api/v1/incidents/x/ack", ""); rec.Code != 404 {
		t.Errorf("ack without Options.Incidents: code %d, want 404", rec.Code)
	}
}

// TestIncidentSplitRoute: POST /api/v1/incidents/{id}/split moves the
// named members to a new incident (201, Location), and refuses bad
// requests with the reason.
func TestIncidentSplitRoute(t *testing.T) {
	var corr *correlate.Correlator
	e := newEnv(t, withTokens, withCorrelator(t, &corr))
	operator := append(bearer(operatorToken), "Content-Type", "application/json")
	id := e.fire(t, corr, "HighLatency", "checkout")
	other := e.fire(t, corr, "DiskFull", "db")
	base := "/api/v1/incidents/" + id
	var inc osprey.Incident
	decodeReply(t, e.do("POST", base+"/merge", `{"from":"`+other+`"}`, operator...), 200, &inc)
	disk := osprey.EventFingerprint("DiskFull", osprey.Labels{"service": "db"}).String()
	latency := osprey.EventFingerprint("HighLatency", osprey.Labels{"service": "checkout"}).String()

	for _, tt := range []struct {
		name, target, body string
		header             []string
		wantCode           int
		wantErr            string
	}{
		{"viewer cannot split", base + "/split", `{"members":["` + disk + `"]}`, append(bearer(viewerToken), "Content-Type", "application/json"), 403, ""},
		{"no members", base + "/split", `{"members":[]}`, operator, 400, "members: required"},
		{"not a fingerprint", base + "/split", `{"members":["zz"]}`, operator, 400, `members[0]: "zz" is not a fingerprint`},
		{"not a member", base + "/split", `{"members":["00000000000000aa"]}`, operator, 409, "has no member 00000000000000aa"},
		{"every member", base + "/split", `{"members":["` + disk + `","` + latency + `"]}`, operator, 409, "at least one member"},
		{"unknown incident", "/api/v1/incidents/01NOSUCH/split", `{"members":["` + disk + `"]}`, operator, 404, "not found"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := e.do("POST", tt.target, tt.body, tt.header...)
			if rec.Code != tt.wantCode {
				t.Fatalf("code = %d, want %d; body %s", rec.Code, tt.wantCode, rec.Body)
			}
			var body errorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || !strings.Contains(body.Error, tt.wantErr) {
				t.Errorf("error = %q (%v), want it to contain %q", body.Error, err, tt.wantErr)
			}
		})
	}

	rec := e.do("POST", base+"/split", `{"members":["`+disk+`"]}`, operator...)
	decodeReply(t, rec, 201, &inc)
	if inc.ID == id || len(inc.Members) != 1 || inc.Members[0].Fingerprint.String() != disk || len(inc.Timeline) == 0 {
		t.Fatalf("split reply: %s with %d members, %d timeline entries", inc.ID, len(inc.Members), len(inc.Timeline))
	}
	if loc := rec.Header().Get("Location"); loc != "/api/v1/incidents/"+inc.ID {
		t.Errorf("Location = %q", loc)
	}
	if last := inc.Timeline[len(inc.Timeline)-1]; last.Kind != osprey.TimelineSplit || last.Actor != "alertmanager" || last.Ref != id {
		t.Errorf("new incident's split entry = %+v", last)
	}
	decodeReply(t, e.do("GET", base, "", bearer(viewerToken)...), 200, &inc)
	if len(inc.Members) != 1 || inc.Members[0].Fingerprint.String() != latency {
		t.Errorf("split incident keeps %+v, want only HighLatency", inc.Members)
	}
}
