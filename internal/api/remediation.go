package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"unicode/utf8"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/auth"
	"github.com/osprey-aiops/osprey/internal/remediate"
)

// Remediation routes. The runs and the audit log are read from the store and
// always served; the control routes need Options.Remediation.
const (
	routeRuns        = "GET /api/v1/runbook-runs"
	routeRun         = "GET /api/v1/runbook-runs/{id}"
	routeApprove     = "POST /api/v1/runbook-runs/{id}/approve"
	routeReject      = "POST /api/v1/runbook-runs/{id}/reject"
	routeRemediation = "GET /api/v1/remediation"
	routePause       = "POST /api/v1/remediation/pause"
	routeResume      = "POST /api/v1/remediation/resume"
	routeReload      = "POST /api/v1/remediation/reload"
	routeAudit       = "GET /api/v1/audit"
)

// Bounds of the decision requests: the whole body, and the reason in it.
const (
	maxDecisionBodyBytes = 16 << 10
	maxReasonBytes       = 1024
)

// runsResponse is the reply to GET /api/v1/runbook-runs.
type runsResponse struct {
	Runs []runView `json:"runs"`
}

// runView is a run as the API shows it: the stored run and its outcome
// (remediate.Outcome: cleared, not_cleared, error, unverified; omitted while
// the run has not finished or never acted).
type runView struct {
	osprey.RunbookRun
	Outcome string `json:"outcome,omitempty"`
}

func viewRun(r osprey.RunbookRun) runView {
	return runView{RunbookRun: r, Outcome: remediate.Outcome(r)}
}

// auditResponse is the reply to GET /api/v1/audit.
type auditResponse struct {
	Entries []osprey.AuditEntry `json:"entries"`
}

// remediationStatus is the reply to GET /api/v1/remediation and to pause
// and resume.
type remediationStatus struct {
	Paused   bool     `json:"paused"`
	Runbooks []string `json:"runbooks"`
}

// decisionRequest is the optional body of approve, reject, pause and resume.
type decisionRequest struct {
	Reason string `json:"reason"`
}

// mountRemediation adds the remediation routes; eng may be nil, which leaves
// out those that act.
func (a *API) mountRemediation(eng *remediate.Engine) {
	viewer := func(h http.HandlerFunc) http.Handler { return a.auth.Require(auth.RoleViewer, h) }
	operator := func(h http.HandlerFunc) http.Handler { return a.auth.Require(auth.RoleOperator, h) }
	a.mux.Handle(routeRuns, viewer(a.listRuns))
	a.mux.Handle(routeRun, viewer(a.getRun))
	a.mux.Handle(routeAudit, viewer(a.listAudit))
	if eng == nil {
		return
	}
	a.mux.Handle(routeApprove, operator(func(w http.ResponseWriter, r *http.Request) { a.decide(w, r, eng.Approve) }))
	a.mux.Handle(routeReject, operator(func(w http.ResponseWriter, r *http.Request) { a.decide(w, r, eng.Reject) }))
	a.mux.Handle(routeRemediation, viewer(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, statusOf(eng))
	}))
	a.mux.Handle(routePause, operator(func(w http.ResponseWriter, r *http.Request) { a.setPause(w, r, eng, eng.Pause) }))
	a.mux.Handle(routeResume, operator(func(w http.ResponseWriter, r *http.Request) { a.setPause(w, r, eng, eng.Resume) }))
	a.mux.Handle(routeReload, operator(func(w http.ResponseWriter, r *http.Request) { a.reloadRemediation(w, r, eng) }))
}

// reloadRemediation serves POST /api/v1/remediation/reload: the engine
// re-reads the remediation section of the configuration file, validates it
// and swaps it in (audited as remediation.reloaded). 409 when Osprey was
// started without a file, 400 with every problem when the section is
// invalid (nothing changes).
func (a *API) reloadRemediation(w http.ResponseWriter, r *http.Request, eng *remediate.Engine) {
	req, rerr := decodeDecision(w, r)
	if rerr != nil {
		writeRequestError(w, rerr)
		return
	}
	res, err := eng.Reload(r.Context(), principalName(r), req.Reason)
	switch {
	case errors.Is(err, remediate.ErrNoConfigSource):
		writeError(w, http.StatusConflict, err.Error())
	case errors.Is(err, remediate.ErrInvalidConfig):
		writeError(w, http.StatusBadRequest, err.Error())
	case err != nil:
		a.remediationError(w, "remediation", err)
	default:
		writeJSON(w, http.StatusOK, res)
	}
}

// listRuns serves GET /api/v1/runbook-runs?incident=&limit=: the runs of one
// incident ("" for all), newest first, with their actions.
func (a *API) listRuns(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if rerr := checkParams(q, "incident", "limit"); rerr != nil {
		writeRequestError(w, rerr)
		return
	}
	limit, err := parseLimit(q.Get("limit"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	runs, err := a.store.ListRuns(r.Context(), q.Get("incident"), limit)
	if err != nil {
		a.storeError(w, "list runbook runs", err)
		return
	}
	views := make([]runView, len(runs))
	for i, run := range runs {
		views[i] = viewRun(run)
	}
	writeJSON(w, http.StatusOK, runsResponse{Runs: views})
}

// getRun serves GET /api/v1/runbook-runs/{id}: one run with its actions.
func (a *API) getRun(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	run, err := a.store.GetRun(r.Context(), id)
	if a.failed(w, err, "get", "runbook run", id) {
		return
	}
	writeJSON(w, http.StatusOK, viewRun(run))
}

// listAudit serves GET /api/v1/audit?since=&limit=: audit entries at or
// after since, newest first.
func (a *API) listAudit(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if rerr := checkParams(q, "since", "limit"); rerr != nil {
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
	entries, err := a.store.ListAudit(r.Context(), since, limit)
	if err != nil {
		a.storeError(w, "list audit log", err)
		return
	}
	if entries == nil {
		entries = []osprey.AuditEntry{}
	}
	writeJSON(w, http.StatusOK, auditResponse{Entries: entries})
}

// decide serves POST /api/v1/runbook-runs/{id}/approve and /reject: decide
// is Engine.Approve or Engine.Reject, called with the authenticated
// principal's name as who. The reply is the run as stored afterwards.
func (a *API) decide(w http.ResponseWriter, r *http.Request, decide func(ctx context.Context, runID, who, why string) error) {
	id := r.PathValue("id")
	req, rerr := decodeDecision(w, r)
	if rerr != nil {
		writeRequestError(w, rerr)
		return
	}
	if err := decide(r.Context(), id, principalName(r), req.Reason); err != nil {
		a.remediationError(w, fmt.Sprintf("runbook run %q", truncate(id, 64)), err)
		return
	}
	run, err := a.store.GetRun(r.Context(), id)
	if err != nil {
		a.storeError(w, "get runbook run", err)
		return
	}
	writeJSON(w, http.StatusOK, viewRun(run))
}

// setPause serves POST /api/v1/remediation/pause and /resume; set is
// Engine.Pause or Engine.Resume. The reply is the new status.
func (a *API) setPause(w http.ResponseWriter, r *http.Request, eng *remediate.Engine, set func(ctx context.Context, who, why string) error) {
	req, rerr := decodeDecision(w, r)
	if rerr != nil {
		writeRequestError(w, rerr)
		return
	}
	if err := set(r.Context(), principalName(r), req.Reason); err != nil {
		a.remediationError(w, "remediation", err)
		return
	}
	writeJSON(w, http.StatusOK, statusOf(eng))
}

// statusOf returns the kill switch and the configured runbooks' names.
func statusOf(eng *remediate.Engine) remediationStatus {
	rbs := eng.Runbooks()
	names := make([]string, len(rbs))
	for i, rb := range rbs {
		names[i] = rb.Name
	}
	return remediationStatus{Paused: eng.Paused(), Runbooks: names}
}

// remediationError replies to a failed engine call: 404 for an unknown run,
// 409 for a run that no longer waits (or while paused), 503 when the engine
// has stopped or the store failed.
func (a *API) remediationError(w http.ResponseWriter, what string, err error) {
	switch {
	case errors.Is(err, osprey.ErrNotFound):
		writeError(w, http.StatusNotFound, what+" not found")
	case errors.Is(err, osprey.ErrConflict):
		writeError(w, http.StatusConflict, err.Error())
	case errors.Is(err, remediate.ErrStopped):
		writeError(w, http.StatusServiceUnavailable, err.Error())
	default:
		a.storeError(w, what, err)
	}
}

// decodeDecision reads the optional {"reason": "..."} body; an empty body
// is no reason.
func decodeDecision(w http.ResponseWriter, r *http.Request) (decisionRequest, *requestError) {
	var req decisionRequest
	if rerr := checkContentType(r.Header.Get("Content-Type")); rerr != nil {
		return req, rerr
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxDecisionBodyBytes))
	dec.DisallowUnknownFields()
	switch err := dec.Decode(&req); {
	case errors.Is(err, io.EOF):
		return req, nil
	case err != nil:
		return req, jsonError(err, -1)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return req, badRequest(reasonMalformed, "body: want one JSON object")
	}
	if len(req.Reason) > maxReasonBytes || !utf8.ValidString(req.Reason) {
		return req, badRequest(reasonInvalid, "reason: want valid UTF-8 of at most %d bytes", maxReasonBytes)
	}
	return req, nil
}

// principalName is who acts in r: the token's name, or auth.LocalName.
func principalName(r *http.Request) string {
	if p, ok := auth.PrincipalFrom(r.Context()); ok {
		return p.Name
	}
	return auth.LocalName
}
