package api

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/store"
)

// feedbackSink records the verdicts handed to Options.Feedback.
type feedbackSink struct {
	mu  sync.Mutex
	got []string // "<anomaly id> <verdict>"
}

func (s *feedbackSink) Feedback(a osprey.Anomaly, f osprey.Feedback) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, a.ID+" "+string(f))
	return a.Kind == osprey.AnomalyMetric
}

func (s *feedbackSink) calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.got)
}

func withFeedback(fb AnomalyFeedback) envOption { return func(o *Options) { o.Feedback = fb } }

// seedAnomalies stores three anomalies starting a minute apart: an ended
// metric one, an ongoing metric one and an ongoing log one (newest).
func seedAnomalies(tb testing.TB, st store.Store) (ended, active, logA osprey.Anomaly) {
	tb.Helper()
	mk := func(id string, kind osprey.AnomalyKind, start time.Duration, end bool) osprey.Anomaly {
		labels := osprey.Labels{osprey.LabelMetric: "latency", "service": "checkout"}
		a := osprey.Anomaly{ID: id, Kind: kind, Labels: labels, Score: 0.7, Observed: 62, Expected: 50, Lower: 45, Upper: 55,
			Severity: osprey.SeverityWarning, StartsAt: testNow.Add(start), Fingerprint: labels.Fingerprint(),
			Evidence: []osprey.Evidence{{Detector: "point", Score: 0.7, Reason: "observed 62"}}}
		if end {
			a.EndsAt = a.StartsAt.Add(time.Hour)
		}
		return a
	}
	ended = mk("01JANOMENDED00000000000000", osprey.AnomalyMetric, 0, true)
	active = mk("01JANOMACTIVE0000000000000", osprey.AnomalyMetric, time.Minute, false)
	logA = mk("01JANOMLOG0000000000000000", osprey.AnomalyLog, 2*time.Minute, false)
	if err := st.SaveAnomalies(context.Background(), []osprey.Anomaly{ended, active, logA}); err != nil {
		tb.Fatalf("save anomalies: %v", err)
	}
	return ended, active, logA
}

func TestListAndGetAnomalies(t *testing.T) {
	e := newEnv(t, withTokens)
	ended, active, logA := seedAnomalies(t, e.store)
	viewer := bearer(viewerToken)

	for _, tc := range []struct {
		name    string
		target  string
		wantIDs []string
	}{
		{"all", "/api/v1/anomalies", []string{logA.ID, active.ID, ended.ID}},
		{"active", "/api/v1/anomalies?active=true", []string{logA.ID, active.ID}},
		{"active false lists all", "/api/v1/anomalies?active=false", []string{logA.ID, active.ID, ended.ID}},
		{"since", "/api/v1/anomalies?since=2025-06-01T12:01:00Z", []string{logA.ID, active.ID}},
		{"limit", "/api/v1/anomalies?limit=1", []string{logA.ID}},
		{"none", "/api/v1/anomalies?since=2030-01-01T00:00:00Z", []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got anomaliesResponse
			decodeReply(t, e.do("GET", tc.target, "", viewer...), 200, &got)
			ids := []string{}
			for _, a := range got.Anomalies {
				ids = append(ids, a.ID)
			}
			if !slices.Equal(ids, tc.wantIDs) {
				t.Errorf("ids = %v, want %v", ids, tc.wantIDs)
			}
		})
	}

	var view anomalyView
	decodeReply(t, e.do("GET", "/api/v1/anomalies/"+ended.ID, "", viewer...), 200, &view)
	if view.ID != ended.ID || view.Feedback != "" || view.Active() || len(view.Evidence) != 1 ||
		view.Fingerprint != ended.Fingerprint || view.Labels["service"] != "checkout" {
		t.Errorf("anomaly = %+v", view)
	}

	for _, tc := range []struct {
		name, target, token string
		wantCode            int
		wantErr             string
	}{
		{"bad active", "/api/v1/anomalies?active=maybe", viewerToken, 400, "active"},
		{"bad since", "/api/v1/anomalies?since=soon", viewerToken, 400, "since"},
		{"bad limit", "/api/v1/anomalies?limit=0", viewerToken, 400, "limit"},
		{"unknown parameter", "/api/v1/anomalies?kind=log", viewerToken, 400, `"kind"`},
		{"list without token", "/api/v1/anomalies", "", 401, "missing bearer token"},
		{"unknown anomaly", "/api/v1/anomalies/01JNOSUCH00000000000000000", viewerToken, 404, "not found"},
		{"one without token", "/api/v1/anomalies/" + ended.ID, "", 401, "missing bearer token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var hdr []string
			if tc.token != "" {
				hdr = bearer(tc.token)
			}
			rec := e.do("GET", tc.target, "", hdr...)
			if rec.Code != tc.wantCode {
				t.Fatalf("code = %d, want %d; body %s", rec.Code, tc.wantCode, rec.Body)
			}
			if body := errorReply(t, rec); !strings.Contains(body.Error, tc.wantErr) {
				t.Errorf("error = %q, want it to mention %q", body.Error, tc.wantErr)
			}
		})
	}
}

func TestAnomalyFeedback(t *testing.T) {
	sink := &feedbackSink{}
	e := newEnv(t, withTokens, withFeedback(sink))
	_, active, logA := seedAnomalies(t, e.store)
	operator := append(bearer(operatorToken), "Content-Type", "application/json")
	target := "/api/v1/anomalies/" + active.ID + "/feedback"

	post := func(t *testing.T, target, body string) feedbackResponse {
		t.Helper()
		var got feedbackResponse
		decodeReply(t, e.do("POST", target, body, operator...), 200, &got)
		return got
	}
	stored := func(t *testing.T, id string) osprey.Feedback {
		t.Helper()
		fb, err := e.store.GetFeedback(context.Background(), id)
		if err != nil {
			t.Fatalf("get feedback: %v", err)
		}
		return fb
	}

	got := post(t, target, `{"verdict": "false_positive", "reason": "deploy at 12:01"}`)
	if got.ID != active.ID || got.Feedback != osprey.FeedbackFalsePositive || !got.ModelAdjusted {
		t.Errorf("reply = %+v, want the anomaly with verdict false_positive, model adjusted", got)
	}
	if fb := stored(t, active.ID); fb != osprey.FeedbackFalsePositive {
		t.Errorf("stored verdict = %q", fb)
	}
	// Repeating a verdict stores it again but adjusts the model once.
	if got := post(t, target, `{"verdict": "false_positive"}`); got.ModelAdjusted {
		t.Error("a repeated verdict adjusted the model again")
	}
	if got := post(t, target, `{"verdict": "true_positive"}`); got.Feedback != osprey.FeedbackTruePositive || !got.ModelAdjusted {
		t.Errorf("changed verdict: reply = %+v", got)
	}
	// A log anomaly: stored, handed over, no model for it.
	if got := post(t, "/api/v1/anomalies/"+logA.ID+"/feedback", `{"verdict": "false_positive"}`); got.ModelAdjusted {
		t.Errorf("log anomaly: reply = %+v, want no model adjusted", got)
	}
	want := []string{active.ID + " false_positive", active.ID + " true_positive", logA.ID + " false_positive"}
	if calls := sink.calls(); !slices.Equal(calls, want) {
		t.Errorf("sink got %v, want %v", calls, want)
	}

	var view anomalyView
	decodeReply(t, e.do("GET", "/api/v1/anomalies/"+active.ID, "", bearer(viewerToken)...), 200, &view)
	if view.Feedback != osprey.FeedbackTruePositive {
		t.Errorf("GET after feedback: verdict %q, want true_positive", view.Feedback)
	}

	audit, err := e.store.ListAudit(context.Background(), time.Time{}, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(audit) != 4 {
		t.Fatalf("audit entries = %+v, want 4", audit)
	}
	first := audit[len(audit)-1]
	if first.Actor != "alertmanager" || first.Action != auditAnomalyFeedback || first.Object != "anomaly/"+active.ID ||
		!strings.Contains(first.Detail, "deploy at 12:01") || !first.At.Equal(testNow) {
		t.Errorf("first audit entry = %+v", first)
	}

	for _, tc := range []struct {
		name, target, body string
		header             []string
		wantCode           int
		wantErr            string
	}{
		{"viewer", target, `{"verdict": "false_positive"}`, bearer(viewerToken), 403, "role operator required"},
		{"no token", target, `{"verdict": "false_positive"}`, nil, 401, "missing bearer token"},
		{"unknown anomaly", "/api/v1/anomalies/01JNOSUCH00000000000000000/feedback", `{"verdict": "false_positive"}`, operator, 404, "not found"},
		{"bad verdict", target, `{"verdict": "maybe"}`, operator, 400, "verdict"},
		{"no verdict", target, `{"reason": "x"}`, operator, 400, "verdict"},
		{"empty body", target, ``, operator, 400, "empty body"},
		{"malformed", target, `{"verdict": `, operator, 400, ""},
		{"unknown field", target, `{"verdict": "false_positive", "score": 1}`, operator, 400, "score"},
		{"two objects", target, `{"verdict": "false_positive"}{}`, operator, 400, "one JSON object"},
		{"long reason", target, `{"verdict": "false_positive", "reason": "` + strings.Repeat("x", 1025) + `"}`, operator, 400, "reason"},
		{"form", target, `verdict=false_positive`, append(bearer(operatorToken), "Content-Type", "application/x-www-form-urlencoded"), 415, ""},
		{"GET", target, ``, operator, 405, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			method := "POST"
			if tc.name == "GET" {
				method = "GET"
			}
			rec := e.do(method, tc.target, tc.body, tc.header...)
			if rec.Code != tc.wantCode {
				t.Fatalf("code = %d, want %d; body %s", rec.Code, tc.wantCode, rec.Body)
			}
			if body := errorReply(t, rec); !strings.Contains(body.Error, tc.wantErr) {
				t.Errorf("error = %q, want it to mention %q", body.Error, tc.wantErr)
			}
		})
	}
	if n := len(sink.calls()); n != 3 {
		t.Errorf("rejected requests reached the sink: %d calls", n)
	}
	if fb := stored(t, active.ID); fb != osprey.FeedbackTruePositive {
		t.Errorf("rejected requests changed the stored verdict to %q", fb)
	}
}

func TestAnomalyFeedbackWithoutSink(t *testing.T) {
	e := newEnv(t)
	_, active, _ := seedAnomalies(t, e.store)
	var got feedbackResponse
	decodeReply(t, e.do("POST", "/api/v1/anomalies/"+active.ID+"/feedback", `{"verdict": "false_positive"}`), 200, &got)
	if got.Feedback != osprey.FeedbackFalsePositive || got.ModelAdjusted {
		t.Errorf("reply = %+v, want the verdict stored and no model adjusted", got)
	}
	audit, err := e.store.ListAudit(context.Background(), time.Time{}, 10)
	if err != nil || len(audit) != 1 || audit[0].Actor != "local" {
		t.Errorf("audit = %+v, %v; want one entry by local", audit, err)
	}
}
