package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"unicode/utf8"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/auth"
	"github.com/osprey-aiops/osprey/internal/store"
)

// Anomaly routes.
const (
	routeAnomalies = "GET /api/v1/anomalies"
	routeAnomaly   = "GET /api/v1/anomalies/{id}"
	routeFeedback  = "POST /api/v1/anomalies/{id}/feedback"
)

// auditAnomalyFeedback is the audit log action of a feedback verdict.
const auditAnomalyFeedback = "anomaly.feedback"

// AnomalyFeedback takes operators' verdicts on anomalies to the detector
// that found them (metric.Engine), which adjusts the series' model.
//
// Feedback is called from HTTP handlers, concurrently, after the verdict is
// stored, and only when the verdict differs from the one stored before (so
// repeating a verdict adjusts nothing). It must not block for long and must
// not retain a. It reports whether a model was adjusted: false for an
// anomaly the detector has no model for (another kind, a series no longer
// modelled).
type AnomalyFeedback interface {
	Feedback(a osprey.Anomaly, f osprey.Feedback) bool
}

// anomaliesResponse is the reply to GET /api/v1/anomalies.
type anomaliesResponse struct {
	Anomalies []anomalyItem `json:"anomalies"`
}

// anomalyView is the reply to GET /api/v1/anomalies/{id}: the anomaly and
// the operator's verdict on it, if any.
type anomalyView struct {
	osprey.Anomaly
	Feedback osprey.Feedback `json:"feedback,omitempty"`
	// TemplateURL links a log anomaly's template (see anomalyItem).
	TemplateURL string `json:"templateUrl,omitempty"`
}

// feedbackResponse is the reply to POST /api/v1/anomalies/{id}/feedback.
type feedbackResponse struct {
	anomalyView
	// ModelAdjusted says whether the detector adjusted the series' model.
	ModelAdjusted bool `json:"modelAdjusted"`
}

// feedbackRequest is the body of POST /api/v1/anomalies/{id}/feedback.
type feedbackRequest struct {
	Verdict osprey.Feedback `json:"verdict"`
	Reason  string          `json:"reason"`
}

// mountAnomalies adds the anomaly routes; fb may be nil, in which case
// verdicts are stored and audited but adjust no model.
func (a *API) mountAnomalies(fb AnomalyFeedback) {
	a.feedback = fb
	a.mux.Handle(routeAnomalies, a.auth.Require(auth.RoleViewer, http.HandlerFunc(a.listAnomalies)))
	a.mux.Handle(routeAnomaly, a.auth.Require(auth.RoleViewer, http.HandlerFunc(a.getAnomaly)))
	a.mux.Handle(routeFeedback, a.auth.Require(auth.RoleOperator, http.HandlerFunc(a.postFeedback)))
}

// listAnomalies serves GET /api/v1/anomalies?since=&active=&limit=: the
// anomalies that started at or after since, newest start first;
// active=true keeps the ongoing ones.
func (a *API) listAnomalies(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if rerr := checkParams(q, "since", "active", "limit"); rerr != nil {
		writeRequestError(w, rerr)
		return
	}
	limit, err := parseLimit(q.Get("limit"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	since, err := parseSince(q.Get("since"), a.now())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	active := false
	if s := q.Get("active"); s != "" {
		if active, err = strconv.ParseBool(s); err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("active: %q is not true or false", truncate(s, 64)))
			return
		}
	}
	list, err := a.store.ListAnomalies(r.Context(), store.AnomalyQuery{Since: since, ActiveOnly: active, Limit: limit})
	if err != nil {
		a.storeError(w, "list anomalies", err)
		return
	}
	if list == nil {
		list = []osprey.Anomaly{}
	}
	writeJSON(w, http.StatusOK, anomaliesResponse{Anomalies: anomalyItems(list)})
}

// getAnomaly serves GET /api/v1/anomalies/{id}: the anomaly with the
// verdict on it, if any.
func (a *API) getAnomaly(w http.ResponseWriter, r *http.Request) {
	view, ok := a.anomalyView(w, r, r.PathValue("id"))
	if ok {
		writeJSON(w, http.StatusOK, view)
	}
}

// anomalyView reads an anomaly and its verdict, replying with the error
// (404, 503) and false if that fails.
func (a *API) anomalyView(w http.ResponseWriter, r *http.Request, id string) (anomalyView, bool) {
	an, err := a.store.GetAnomaly(r.Context(), id)
	if a.failed(w, err, "get", "anomaly", id) {
		return anomalyView{}, false
	}
	fb, err := a.store.GetFeedback(r.Context(), id)
	if err != nil && !errors.Is(err, osprey.ErrNotFound) {
		a.storeError(w, "get anomaly feedback", err)
		return anomalyView{}, false
	}
	return anomalyView{Anomaly: an, Feedback: fb, TemplateURL: templateURL(&an)}, true
}

// postFeedback serves POST /api/v1/anomalies/{id}/feedback with body
// {"verdict": "false_positive"|"true_positive", "reason": "..."}: it stores
// the verdict (replacing an earlier one) with the principal's name, writes
// it and the reason to the audit log, and hands a changed verdict to the
// detector. The reply is the anomaly with its verdict.
func (a *API) postFeedback(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	req, rerr := decodeFeedback(w, r)
	if rerr != nil {
		writeRequestError(w, rerr)
		return
	}
	// One verdict at a time, so that two identical verdicts racing each
	// other adjust the model once.
	a.feedbackMu.Lock()
	defer a.feedbackMu.Unlock()
	view, ok := a.anomalyView(w, r, id)
	if !ok {
		return
	}
	who, now := principalName(r), a.now()
	if err := a.store.SetFeedback(r.Context(), id, req.Verdict, who, now); a.failed(w, err, "set feedback of", "anomaly", id) {
		return
	}
	detail, _ := json.Marshal(req) // two strings: cannot fail
	entry := osprey.AuditEntry{At: now, Actor: who, Action: auditAnomalyFeedback, Object: "anomaly/" + id, Detail: string(detail)}
	if err := a.store.AppendAudit(r.Context(), entry); err != nil {
		// The verdict itself is stored; the audit entry is its echo.
		a.log.Error("append audit entry", "action", auditAnomalyFeedback, "object", entry.Object, "err", err)
	}
	resp := feedbackResponse{anomalyView: view}
	if a.feedback != nil && view.Feedback != req.Verdict {
		resp.ModelAdjusted = a.feedback.Feedback(view.Anomaly, req.Verdict)
	}
	resp.Feedback = req.Verdict
	writeJSON(w, http.StatusOK, resp)
}

// decodeFeedback reads the {"verdict": ..., "reason": ...} body.
func decodeFeedback(w http.ResponseWriter, r *http.Request) (feedbackRequest, *requestError) {
	var req feedbackRequest
	if rerr := checkContentType(r.Header.Get("Content-Type")); rerr != nil {
		return req, rerr
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxDecisionBodyBytes))
	dec.DisallowUnknownFields()
	switch err := dec.Decode(&req); {
	case errors.Is(err, io.EOF):
		return req, badRequest(reasonMalformed, `empty body: send {"verdict": "false_positive" or "true_positive", "reason": "..."}`)
	case err != nil:
		return req, jsonError(err, -1)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return req, badRequest(reasonMalformed, "body: want one JSON object")
	}
	if req.Verdict != osprey.FeedbackFalsePositive && req.Verdict != osprey.FeedbackTruePositive {
		return req, badRequest(reasonInvalid, "verdict: %q is not %s or %s", truncate(string(req.Verdict), 64),
			osprey.FeedbackFalsePositive, osprey.FeedbackTruePositive)
	}
	if len(req.Reason) > maxReasonBytes || !utf8.ValidString(req.Reason) {
		return req, badRequest(reasonInvalid, "reason: want valid UTF-8 of at most %d bytes", maxReasonBytes)
	}
	return req, nil
}
