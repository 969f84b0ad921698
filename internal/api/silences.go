package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/auth"
	"github.com/osprey-aiops/osprey/internal/match"
)

// Silence routes, always served (silences live in the store).
const (
	routeSilences      = "GET /api/v1/silences"
	routePostSilence   = "POST /api/v1/silences"
	routeExpireSilence = "DELETE /api/v1/silences/{id}"
)

// Audit actions of the silence routes.
const (
	auditSilenceCreate = "silence.create"
	auditSilenceExpire = "silence.expire"
)

// maxSilenceMatchers bounds the matchers of one silence.
const maxSilenceMatchers = 32

// Silence states, as the silence routes report them.
const (
	silenceActive  = "active"
	silencePending = "pending"
	silenceExpired = "expired"
	silenceAll     = "all"
)

// SilenceObserver learns that the silences changed (the correlate stage,
// which then reloads them), so a new or expired silence applies to the next
// signal rather than at the observer's next periodic reload.
type SilenceObserver interface {
	SilencesChanged(ctx context.Context) error
}

// silenceResponse is a silence with its state at the time of the reply.
type silenceResponse struct {
	osprey.Silence
	// State is active, pending or expired.
	State string `json:"state"`
}

// silenceRequest is the body of POST /api/v1/silences. Times are strings so
// that their errors can name the field.
type silenceRequest struct {
	Matchers []osprey.Matcher `json:"matchers"`
	StartsAt string           `json:"startsAt"`
	EndsAt   string           `json:"endsAt"`
	Duration string           `json:"duration"`
	Comment  string           `json:"comment"`
}

// mountSilences adds the silence routes; obs may be nil.
func (a *API) mountSilences(obs SilenceObserver) {
	viewer := func(h http.HandlerFunc) http.Handler { return a.auth.Require(auth.RoleViewer, h) }
	operator := func(h http.HandlerFunc) http.Handler { return a.auth.Require(auth.RoleOperator, h) }
	a.mux.Handle(routeSilences, viewer(a.listSilences))
	a.mux.Handle(routePostSilence, operator(func(w http.ResponseWriter, r *http.Request) { a.postSilence(w, r, obs) }))
	a.mux.Handle(routeExpireSilence, operator(func(w http.ResponseWriter, r *http.Request) { a.expireSilence(w, r, obs) }))
}

// silenceState is s's state at now: pending before StartsAt, expired from
// EndsAt on, else active.
func silenceState(s osprey.Silence, now time.Time) string {
	switch {
	case !now.Before(s.EndsAt):
		return silenceExpired
	case now.Before(s.StartsAt):
		return silencePending
	}
	return silenceActive
}

// listSilences serves GET /api/v1/silences?state=active|pending|expired|all
// (default: active and pending), soonest end first.
func (a *API) listSilences(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if rerr := checkParams(q, "state"); rerr != nil {
		writeRequestError(w, rerr)
		return
	}
	state := q.Get("state")
	switch state {
	case "", silenceActive, silencePending, silenceExpired, silenceAll:
	default:
		writeError(w, http.StatusBadRequest, fmt.Sprintf("state: %q is not active, pending, expired or all", truncate(state, 64)))
		return
	}
	now := a.now()
	since := now // silences that have not ended
	if state == silenceExpired || state == silenceAll {
		since = time.Time{}
	}
	list, err := a.store.ListSilences(r.Context(), since)
	if err != nil {
		a.storeError(w, "list silences", err)
		return
	}
	out := make([]silenceResponse, 0, len(list))
	for _, s := range list {
		st := silenceState(s, now)
		if state == "" || state == silenceAll || st == state {
			out = append(out, silenceResponse{Silence: s, State: st})
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// postSilence serves POST /api/v1/silences: it validates the matchers and
// the window, stores the silence with the caller as its creator, audits it
// and tells obs.
func (a *API) postSilence(w http.ResponseWriter, r *http.Request, obs SilenceObserver) {
	var req silenceRequest
	if rerr := decodeActionBody(w, r, &req, false); rerr != nil {
		writeRequestError(w, rerr)
		return
	}
	now := a.now()
	sil, rerr := req.silence(now)
	if rerr != nil {
		writeRequestError(w, rerr)
		return
	}
	sil.ID = osprey.NewID(now)
	sil.CreatedBy = principalName(r)
	if err := a.store.SaveSilence(r.Context(), sil); err != nil {
		a.storeError(w, "save silence", err)
		return
	}
	a.auditSilence(r.Context(), sil.CreatedBy, auditSilenceCreate, sil)
	a.silencesChanged(r.Context(), obs)
	writeJSON(w, http.StatusCreated, silenceResponse{Silence: sil, State: silenceState(sil, now)})
}

// silence validates the request and returns the silence it describes
// (without ID and creator).
func (req *silenceRequest) silence(now time.Time) (osprey.Silence, *requestError) {
	var sil osprey.Silence
	if len(req.Matchers) == 0 {
		return sil, badRequest(reasonInvalid, `matchers: at least one is required, e.g. {"name":"service","type":"=","value":"checkout"}`)
	}
	if len(req.Matchers) > maxSilenceMatchers {
		return sil, badRequest(reasonInvalid, "matchers: %d, more than %d", len(req.Matchers), maxSilenceMatchers)
	}
	set, err := match.Compile(req.Matchers)
	if err != nil {
		return sil, badRequest(reasonInvalid, "%v", err)
	}
	if set.MatchesEmpty() {
		return sil, badRequest(reasonInvalid, "matchers: %s would match signals without any of these labels, so nearly everything; add a matcher that requires a value, such as service=\"checkout\"", truncate(set.String(), 200))
	}
	start, end, rerr := parseWindow(req.StartsAt, req.EndsAt, req.Duration, now, "endsAt or duration")
	if rerr != nil {
		return sil, rerr
	}
	if !end.After(start) {
		return sil, badRequest(reasonInvalid, "endsAt: %s is not after startsAt %s", end.Format(time.RFC3339), start.Format(time.RFC3339))
	}
	if !end.After(now) {
		return sil, badRequest(reasonInvalid, "endsAt: %s is in the past", end.Format(time.RFC3339))
	}
	if rerr := checkText("comment", req.Comment, maxCommentBytes); rerr != nil {
		return sil, rerr
	}
	return osprey.Silence{
		Matchers: set.Matchers(),
		StartsAt: start.UTC(),
		EndsAt:   end.UTC(),
		Comment:  strings.TrimSpace(req.Comment),
	}, nil
}

// expireSilence serves DELETE /api/v1/silences/{id}: it ends the silence
// now (a pending one is ended before it starts) and replies with it. The
// silence is kept, expired, for the record. Expiring an expired silence is
// not an error: it changes nothing and replies 200 with the silence as it is.
func (a *API) expireSilence(w http.ResponseWriter, r *http.Request, obs SilenceObserver) {
	id := r.PathValue("id")
	sil, err := a.store.GetSilence(r.Context(), id)
	if a.failed(w, err, "get", "silence", id) {
		return
	}
	now := a.now()
	if silenceState(sil, now) == silenceExpired {
		writeJSON(w, http.StatusOK, silenceResponse{Silence: sil, State: silenceExpired})
		return
	}
	sil.EndsAt = now.UTC()
	if sil.StartsAt.After(sil.EndsAt) {
		sil.StartsAt = sil.EndsAt
	}
	if err := a.store.SaveSilence(r.Context(), sil); err != nil {
		a.storeError(w, "expire silence", err)
		return
	}
	a.auditSilence(r.Context(), principalName(r), auditSilenceExpire, sil)
	a.silencesChanged(r.Context(), obs)
	writeJSON(w, http.StatusOK, silenceResponse{Silence: sil, State: silenceExpired})
}

// auditSilence records a silence change. The silence itself is the primary
// record, so a failure is logged rather than failing the request.
func (a *API) auditSilence(ctx context.Context, actor, action string, sil osprey.Silence) {
	ms := make([]string, len(sil.Matchers))
	for i, m := range sil.Matchers {
		ms[i] = match.String(m)
	}
	detail, _ := json.Marshal(map[string]any{
		"matchers": ms, "startsAt": sil.StartsAt, "endsAt": sil.EndsAt, "comment": sil.Comment,
	})
	e := osprey.AuditEntry{At: a.now(), Actor: actor, Action: action, Object: "silence/" + sil.ID, Detail: string(detail)}
	if err := a.store.AppendAudit(ctx, e); err != nil {
		a.log.Error("cannot append audit entry", "action", action, "silence", sil.ID, "err", err)
	}
}

// silencesChanged tells obs; a failure is logged (the observer also reloads
// periodically).
func (a *API) silencesChanged(ctx context.Context, obs SilenceObserver) {
	if obs == nil {
		return
	}
	if err := obs.SilencesChanged(ctx); err != nil {
		a.log.Warn("tell the correlator the silences changed", "err", err)
	}
}

// parseWindow reads the startsAt, endsAt and duration fields of a request
// that creates a time window (a silence, a maintenance window): startsAt
// defaults to now, and exactly one of endsAt and duration is required
// (missing names the alternatives in the error).
func parseWindow(startsAt, endsAt, duration string, now time.Time, missing string) (start, end time.Time, rerr *requestError) {
	start, err := parseTime(startsAt)
	if err != nil {
		return start, end, badRequest(reasonInvalid, "startsAt: %v", err)
	}
	if start.IsZero() {
		start = now
	}
	switch {
	case endsAt != "" && duration != "":
		return start, end, badRequest(reasonInvalid, "give endsAt or duration, not both")
	case endsAt != "":
		if end, err = parseTime(endsAt); err != nil {
			return start, end, badRequest(reasonInvalid, "endsAt: %v", err)
		}
	case duration != "":
		d, err := time.ParseDuration(duration)
		if err != nil || d <= 0 {
			return start, end, badRequest(reasonInvalid, "duration: %q is not a positive duration such as 2h or 90m", truncate(duration, 64))
		}
		end = start.Add(d)
	default:
		return start, end, badRequest(reasonInvalid, "%s: one is required", missing)
	}
	return start, end, nil
}
