package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/auth"
)

// Incident action routes, served when Options.Incidents is set.
const (
	routeIncidentAck     = "POST /api/v1/incidents/{id}/ack"
	routeIncidentResolve = "POST /api/v1/incidents/{id}/resolve"
	routeIncidentReopen  = "POST /api/v1/incidents/{id}/reopen"
	routeIncidentAssign  = "POST /api/v1/incidents/{id}/assign"
	routeIncidentComment = "POST /api/v1/incidents/{id}/comments"
	routeIncidentMerge   = "POST /api/v1/incidents/{id}/merge"
	routeIncidentSplit   = "POST /api/v1/incidents/{id}/split"
)

// Bounds of the incident action requests.
const (
	maxActionBodyBytes = 16 << 10
	maxCommentBytes    = 4096
	maxAssigneeBytes   = 256
	// maxSplitMembers bounds the members one split request names.
	maxSplitMembers = 1000
)

// IncidentActions are people's actions on incidents. The correlate stage
// implements them, because it owns the state of unresolved incidents; each
// stores the incident with a timeline entry, audits the action and hands the
// change on. An unknown id gives osprey.ErrNotFound and a transition the
// incident's status does not allow osprey.ErrConflict (both possibly
// wrapped).
type IncidentActions interface {
	Ack(ctx context.Context, id, actor, comment string) (osprey.Incident, error)
	Resolve(ctx context.Context, id, actor, comment string) (osprey.Incident, error)
	Reopen(ctx context.Context, id, actor, comment string) (osprey.Incident, error)
	Assign(ctx context.Context, id, actor, assignee string) (osprey.Incident, error)
	Comment(ctx context.Context, id, actor, text string) (osprey.TimelineEntry, error)
	Merge(ctx context.Context, intoID, fromID, actor string) (osprey.Incident, error)
	// Split moves the members with the given fingerprints into a new
	// incident and returns it, then the incident split.
	Split(ctx context.Context, id string, fingerprints []osprey.Fingerprint, actor string) (osprey.Incident, osprey.Incident, error)
}

// statusRequest is the optional body of ack, resolve and reopen.
type statusRequest struct {
	Comment string `json:"comment"`
}

// assignRequest is the body of assign; an empty assignee unassigns.
type assignRequest struct {
	Assignee *string `json:"assignee"`
}

// commentRequest is the body of comments.
type commentRequest struct {
	Text string `json:"text"`
}

// mergeRequest is the body of merge: the incident merged into the one in
// the path.
type mergeRequest struct {
	From string `json:"from"`
}

// splitRequest is the body of split: the fingerprints (as the incident's
// members show them) of the members that move to a new incident.
type splitRequest struct {
	Members []string `json:"members"`
}

// mountIncidentActions adds the incident action routes (operator role);
// acts may be nil, which leaves them out.
func (a *API) mountIncidentActions(acts IncidentActions) {
	if acts == nil {
		return
	}
	operator := func(h http.HandlerFunc) http.Handler { return a.auth.Require(auth.RoleOperator, h) }
	status := func(do func(ctx context.Context, id, actor, comment string) (osprey.Incident, error)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			var req statusRequest
			if rerr := decodeActionBody(w, r, &req, true); rerr != nil {
				writeRequestError(w, rerr)
				return
			}
			if rerr := checkText("comment", req.Comment, maxCommentBytes); rerr != nil {
				writeRequestError(w, rerr)
				return
			}
			id := r.PathValue("id")
			inc, err := do(r.Context(), id, principalName(r), req.Comment)
			a.replyIncident(w, r, id, inc, err)
		}
	}
	a.mux.Handle(routeIncidentAck, operator(status(acts.Ack)))
	a.mux.Handle(routeIncidentResolve, operator(status(acts.Resolve)))
	a.mux.Handle(routeIncidentReopen, operator(status(acts.Reopen)))
	a.mux.Handle(routeIncidentAssign, operator(func(w http.ResponseWriter, r *http.Request) {
		var req assignRequest
		if rerr := decodeActionBody(w, r, &req, false); rerr != nil {
			writeRequestError(w, rerr)
			return
		}
		if req.Assignee == nil {
			writeRequestError(w, badRequest(reasonInvalid, `assignee: required ("" unassigns)`))
			return
		}
		if rerr := checkText("assignee", *req.Assignee, maxAssigneeBytes); rerr != nil {
			writeRequestError(w, rerr)
			return
		}
		id := r.PathValue("id")
		inc, err := acts.Assign(r.Context(), id, principalName(r), strings.TrimSpace(*req.Assignee))
		a.replyIncident(w, r, id, inc, err)
	}))
	a.mux.Handle(routeIncidentComment, operator(func(w http.ResponseWriter, r *http.Request) {
		var req commentRequest
		if rerr := decodeActionBody(w, r, &req, false); rerr != nil {
			writeRequestError(w, rerr)
			return
		}
		if strings.TrimSpace(req.Text) == "" {
			writeRequestError(w, badRequest(reasonInvalid, "text: required, and not only spaces"))
			return
		}
		if rerr := checkText("text", req.Text, maxCommentBytes); rerr != nil {
			writeRequestError(w, rerr)
			return
		}
		id := r.PathValue("id")
		entry, err := acts.Comment(r.Context(), id, principalName(r), req.Text)
		if a.actionFailed(w, id, err) {
			return
		}
		writeJSON(w, http.StatusCreated, entry)
	}))
	a.mux.Handle(routeIncidentMerge, operator(func(w http.ResponseWriter, r *http.Request) {
		var req mergeRequest
		if rerr := decodeActionBody(w, r, &req, false); rerr != nil {
			writeRequestError(w, rerr)
			return
		}
		if req.From == "" {
			writeRequestError(w, badRequest(reasonInvalid, "from: required: the id of the incident to merge into this one"))
			return
		}
		id := r.PathValue("id")
		inc, err := acts.Merge(r.Context(), id, req.From, principalName(r))
		if err != nil && errors.Is(err, osprey.ErrNotFound) {
			writeError(w, http.StatusNotFound, fmt.Sprintf("incident %q or %q not found", truncate(id, 64), truncate(req.From, 64)))
			return
		}
		a.replyIncident(w, r, id, inc, err)
	}))
	a.mux.Handle(routeIncidentSplit, operator(func(w http.ResponseWriter, r *http.Request) {
		var req splitRequest
		if rerr := decodeActionBody(w, r, &req, false); rerr != nil {
			writeRequestError(w, rerr)
			return
		}
		if len(req.Members) == 0 {
			writeRequestError(w, badRequest(reasonInvalid, "members: required: the fingerprints of the members to move to a new incident"))
			return
		}
		if len(req.Members) > maxSplitMembers {
			writeRequestError(w, badRequest(reasonInvalid, "members: %d given, at most %d", len(req.Members), maxSplitMembers))
			return
		}
		fps := make([]osprey.Fingerprint, len(req.Members))
		for i, s := range req.Members {
			fp, err := osprey.ParseFingerprint(s)
			if err != nil {
				writeRequestError(w, badRequest(reasonInvalid, "members[%d]: %q is not a fingerprint (16 hex digits)", i, truncate(s, 64)))
				return
			}
			fps[i] = fp
		}
		id := r.PathValue("id")
		inc, _, err := acts.Split(r.Context(), id, fps, principalName(r))
		if a.actionFailed(w, id, err) {
			return
		}
		if full, err := a.store.GetIncident(r.Context(), inc.ID); err == nil {
			inc = full
		} else {
			a.log.Warn("re-read incident after a split", "incident", inc.ID, "err", err)
		}
		w.Header().Set("Location", "/api/v1/incidents/"+inc.ID)
		writeJSON(w, http.StatusCreated, inc)
	}))
}

// replyIncident replies to an action on incident id: on success with the
// incident as stored, with its whole timeline (the action's result when
// the re-read fails), else with the action's error.
func (a *API) replyIncident(w http.ResponseWriter, r *http.Request, id string, inc osprey.Incident, err error) {
	if a.actionFailed(w, id, err) {
		return
	}
	if full, err := a.store.GetIncident(r.Context(), inc.ID); err == nil {
		inc = full
	} else {
		a.log.Warn("re-read incident after an action", "incident", inc.ID, "err", err)
	}
	writeJSON(w, http.StatusOK, inc)
}

// actionFailed replies to a failed incident action: 404 for an unknown
// incident, 409 for a transition its status does not allow, else 503. It
// reports whether err was non-nil.
func (a *API) actionFailed(w http.ResponseWriter, id string, err error) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, osprey.ErrNotFound):
		writeError(w, http.StatusNotFound, fmt.Sprintf("incident %q not found", truncate(id, 64)))
	case errors.Is(err, osprey.ErrConflict):
		writeError(w, http.StatusConflict, err.Error())
	default:
		a.storeError(w, "incident "+truncate(id, 64), err)
	}
	return true
}

// decodeActionBody reads one JSON object into v, rejecting unknown fields.
// An empty body is accepted when optional (v keeps its zero value).
func decodeActionBody(w http.ResponseWriter, r *http.Request, v any, optional bool) *requestError {
	if rerr := checkContentType(r.Header.Get("Content-Type")); rerr != nil {
		return rerr
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxActionBodyBytes))
	dec.DisallowUnknownFields()
	switch err := dec.Decode(v); {
	case errors.Is(err, io.EOF):
		if optional {
			return nil
		}
		return badRequest(reasonMalformed, "empty body: want a JSON object")
	case err != nil:
		return jsonError(err, -1)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badRequest(reasonMalformed, "body: want one JSON object")
	}
	return nil
}

// checkText rejects a field that is not valid UTF-8 or longer than max
// bytes.
func checkText(field, s string, max int) *requestError {
	if !utf8.ValidString(s) {
		return badRequest(reasonInvalid, "%s: not valid UTF-8", field)
	}
	if len(s) > max {
		return badRequest(reasonInvalid, "%s: %d bytes, more than %d", field, len(s), max)
	}
	return nil
}
