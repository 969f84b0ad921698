package api

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey/internal/correlate"
	"github.com/osprey-aiops/osprey/internal/match"
)

func TestSilenceRoutes(t *testing.T) {
	var corr *correlate.Correlator
	e := newEnv(t, withTokens, withCorrelator(t, &corr))
	operator := append(bearer(operatorToken), "Content-Type", "application/json")
	viewer := bearer(viewerToken)

	var active, pending silenceResponse
	decodeReply(t, e.do("POST", "/api/v1/silences",
		`{"matchers":[{"name":"service","type":"=","value":"checkout"},{"name":"env","type":"!~","value":"prod.*"}],"duration":"2h","comment":" deploy "}`,
		operator...), 201, &active)
	if active.State != "active" || active.CreatedBy != "alertmanager" || active.Comment != "deploy" ||
		!active.StartsAt.Equal(testNow) || !active.EndsAt.Equal(testNow.Add(2*time.Hour)) || active.ID == "" {
		t.Fatalf("created = %+v", active)
	}
	decodeReply(t, e.do("POST", "/api/v1/silences",
		`{"matchers":[{"name":"service","type":"=~","value":"mail|smtp"}],"startsAt":"2025-06-01T13:00:00Z","endsAt":"2025-06-01T15:00:00+00:00"}`,
		operator...), 201, &pending)
	if pending.State != "pending" {
		t.Fatalf("future silence state = %s, want pending", pending.State)
	}

	// The correlator heard of the silence: a matching alert opens nothing.
	if id := e.fire(t, corr, "HighLatency", "checkout"); id != "" {
		t.Errorf("silenced alert opened incident %s", id)
	}
	if id := e.fire(t, corr, "HighLatency", "cart"); id == "" {
		t.Error("alert of an unsilenced service opened no incident")
	}

	list := func(query string) []string {
		t.Helper()
		var out []silenceResponse
		decodeReply(t, e.do("GET", "/api/v1/silences"+query, "", viewer...), 200, &out)
		ids := []string{}
		for _, s := range out {
			ids = append(ids, s.ID+":"+s.State)
		}
		return ids
	}
	if got, want := strings.Join(list(""), ","), active.ID+":active,"+pending.ID+":pending"; got != want {
		t.Errorf("default list = %s, want %s", got, want)
	}

	// Expire the active one: 200 with the silence ended now, idempotent.
	e.clock.Advance(time.Minute)
	var expired silenceResponse
	decodeReply(t, e.do("DELETE", "/api/v1/silences/"+active.ID, "", bearer(operatorToken)...), 200, &expired)
	if expired.State != "expired" || !expired.EndsAt.Equal(testNow.Add(time.Minute)) {
		t.Fatalf("expired = %+v", expired)
	}
	decodeReply(t, e.do("DELETE", "/api/v1/silences/"+active.ID, "", bearer(operatorToken)...), 200, &expired)
	if !expired.EndsAt.Equal(testNow.Add(time.Minute)) {
		t.Errorf("expiring again changed the end to %s", expired.EndsAt)
	}
	// Expiring a pending silence ends it before it starts.
	decodeReply(t, e.do("DELETE", "/api/v1/silences/"+pending.ID, "", bearer(operatorToken)...), 200, &expired)
	if !expired.StartsAt.Equal(expired.EndsAt) || expired.State != "expired" {
		t.Errorf("expired pending silence = %+v", expired)
	}
	if got := list(""); len(got) != 0 {
		t.Errorf("default list after expiry = %v", got)
	}
	if got := list("?state=expired"); len(got) != 2 {
		t.Errorf("expired list = %v", got)
	}
	if got := list("?state=all"); len(got) != 2 {
		t.Errorf("all list = %v", got)
	}
	if got := list("?state=active"); len(got) != 0 {
		t.Errorf("active list = %v", got)
	}
	// The correlator heard of the expiry: checkout alerts correlate again.
	if id := e.fire(t, corr, "HighLatency", "checkout"); id == "" {
		t.Error("alert after the silence was expired opened no incident")
	}

	audit, err := e.store.ListAudit(context.Background(), time.Time{}, 100)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, a := range audit {
		actions = append(actions, a.Actor+" "+a.Action+" "+a.Object)
	}
	want := []string{
		"alertmanager silence.expire silence/" + pending.ID,
		"alertmanager silence.expire silence/" + active.ID,
		"alertmanager silence.create silence/" + pending.ID,
		"alertmanager silence.create silence/" + active.ID,
	}
	if strings.Join(actions, "|") != strings.Join(want, "|") {
		t.Errorf("audit = %q, want %q", actions, want)
	}
	if !strings.Contains(audit[3].Detail, `"matchers":["service=\"checkout\"","env!~\"prod.*\""]`) {
		t.Errorf("create audit detail = %s", audit[3].Detail)
	}
}

func TestSilenceRouteErrors(t *testing.T) {
	e := newEnv(t, withTokens)
	operator := append(bearer(operatorToken), "Content-Type", "application/json")
	m := `"matchers":[{"name":"service","type":"=","value":"checkout"}]`
	tests := []struct {
		name, method, target, body string
		header                     []string
		wantCode                   int
		wantErr                    string
	}{
		{"viewer cannot create", "POST", "/api/v1/silences", `{` + m + `,"duration":"1h"}`, append(bearer(viewerToken), "Content-Type", "application/json"), 403, ""},
		{"viewer cannot expire", "DELETE", "/api/v1/silences/x", "", bearer(viewerToken), 403, ""},
		{"no matchers", "POST", "/api/v1/silences", `{"duration":"1h"}`, operator, 400, "matchers: at least one is required"},
		{"bad matcher type", "POST", "/api/v1/silences", `{"matchers":[{"name":"a","type":"==","value":"1"}],"duration":"1h"}`, operator, 400, `matchers[0]: invalid matcher: a: unknown match type "=="`},
		{"bad label name", "POST", "/api/v1/silences", `{"matchers":[{"name":"a-b","type":"=","value":"1"}],"duration":"1h"}`, operator, 400, `"a-b" is not a valid label name`},
		{"bad regex", "POST", "/api/v1/silences", `{"matchers":[{"name":"a","type":"=~","value":"("}],"duration":"1h"}`, operator, 400, "bad regular expression: missing closing )"},
		{"matches everything", "POST", "/api/v1/silences", `{"matchers":[{"name":"env","type":"!=","value":"prod"}],"duration":"1h"}`, operator, 400, "would match signals without any of these labels"},
		{"neither end nor duration", "POST", "/api/v1/silences", `{` + m + `}`, operator, 400, "endsAt or duration: one is required"},
		{"both end and duration", "POST", "/api/v1/silences", `{` + m + `,"duration":"1h","endsAt":"2025-06-01T13:00:00Z"}`, operator, 400, "not both"},
		{"bad duration", "POST", "/api/v1/silences", `{` + m + `,"duration":"1d"}`, operator, 400, `duration: "1d" is not a positive duration`},
		{"negative duration", "POST", "/api/v1/silences", `{` + m + `,"duration":"-1h"}`, operator, 400, "not a positive duration"},
		{"bad startsAt", "POST", "/api/v1/silences", `{` + m + `,"duration":"1h","startsAt":"tomorrow"}`, operator, 400, `startsAt: "tomorrow" is not an RFC 3339 time`},
		{"end before start", "POST", "/api/v1/silences", `{` + m + `,"startsAt":"2025-06-01T15:00:00Z","endsAt":"2025-06-01T14:00:00Z"}`, operator, 400, "is not after startsAt"},
		{"end in the past", "POST", "/api/v1/silences", `{` + m + `,"startsAt":"2025-06-01T10:00:00Z","endsAt":"2025-06-01T11:00:00Z"}`, operator, 400, "is in the past"},
		{"unknown field", "POST", "/api/v1/silences", `{` + m + `,"duration":"1h","createdBy":"mallory"}`, operator, 400, `unknown field "createdBy"`},
		{"comment too long", "POST", "/api/v1/silences", `{` + m + `,"duration":"1h","comment":"` + strings.Repeat("x", 5000) + `"}`, operator, 400, "comment: 5000 bytes"},
		{"bad state", "GET", "/api/v1/silences?state=gone", "", bearer(viewerToken), 400, `state: "gone" is not active, pending, expired or all`},
		{"unknown parameter", "GET", "/api/v1/silences?status=active", "", bearer(viewerToken), 400, `unknown query parameter "status"`},
		{"expire unknown", "DELETE", "/api/v1/silences/01NOSUCH", "", bearer(operatorToken), 404, `silence "01NOSUCH" not found`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := e.do(tt.method, tt.target, tt.body, tt.header...)
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
	// Nothing was stored by the rejected requests.
	list, err := e.store.ListSilences(context.Background(), time.Time{})
	if err != nil || len(list) != 0 {
		t.Errorf("stored silences = %v, %v", list, err)
	}
}

// FuzzSilenceRequest checks that the silence body validation never panics
// and that what it accepts is a silence the correlator can compile and that
// does not match everything.
func FuzzSilenceRequest(f *testing.F) {
	f.Add(`{"matchers":[{"name":"service","type":"=","value":"checkout"}],"duration":"2h"}`)
	f.Add(`{"matchers":[{"name":"a","type":"=~","value":"x.*"}],"startsAt":"2025-06-01T13:00:00Z","endsAt":"2025-06-01T14:00:00Z","comment":"c"}`)
	f.Add(`{"matchers":[{"name":"env","type":"!=","value":"prod"}],"duration":"1h"}`)
	f.Fuzz(func(t *testing.T, body string) {
		var req silenceRequest
		if json.Unmarshal([]byte(body), &req) != nil {
			return
		}
		sil, rerr := req.silence(testNow)
		if rerr != nil {
			if rerr.code != 400 || rerr.msg == "" {
				t.Fatalf("rejection %+v", rerr)
			}
			return
		}
		set, err := match.Compile(sil.Matchers)
		if err != nil || set.Len() == 0 || set.MatchesEmpty() {
			t.Fatalf("accepted matchers %+v: %v", sil.Matchers, err)
		}
		if !sil.EndsAt.After(sil.StartsAt) || !sil.EndsAt.After(testNow) {
			t.Fatalf("accepted window %s..%s", sil.StartsAt, sil.EndsAt)
		}
	})
}
