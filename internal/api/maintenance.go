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
	"github.com/osprey-aiops/osprey/internal/correlate"
	"github.com/osprey-aiops/osprey/internal/match"
)

// Maintenance window routes, always served (API windows live in the store).
const (
	routeMaintenance       = "GET /api/v1/maintenance"
	routePostMaintenance   = "POST /api/v1/maintenance"
	routeDeleteMaintenance = "DELETE /api/v1/maintenance/{id}"
)

// Audit actions of the maintenance routes.
const (
	auditMaintenanceCreate = "maintenance.create"
	auditMaintenanceDelete = "maintenance.delete"
)

// maxNameBytes bounds a maintenance window's name.
const maxNameBytes = 256

// Maintenance window states, as the routes report them.
const (
	maintenanceActive    = "active"
	maintenancePending   = "pending"
	maintenanceExpired   = "expired"
	maintenanceRecurring = "scheduled"
)

// MaintenanceSource is the correlate stage as the maintenance routes need
// it: the windows from the configuration (listed, never deleted) and a way
// to tell it that the stored windows changed.
type MaintenanceSource interface {
	MaintenanceWindows() []osprey.MaintenanceWindow
	MaintenanceChanged(ctx context.Context) error
}

// maintenanceResponse is a window with its state at the time of the reply.
type maintenanceResponse struct {
	osprey.MaintenanceWindow
	// Source is "config" (from the configuration file) or "api".
	Source string `json:"source"`
	// State is active, pending or expired for a one-off window, and active
	// or scheduled for a recurring one.
	State string `json:"state"`
	// ActiveUntil is the end of the current occurrence while active.
	ActiveUntil time.Time `json:"activeUntil,omitzero"`
}

// maintenanceRequest is the body of POST /api/v1/maintenance.
type maintenanceRequest struct {
	Name     string                 `json:"name"`
	Matchers []osprey.Matcher       `json:"matchers"`
	StartsAt string                 `json:"startsAt"`
	EndsAt   string                 `json:"endsAt"`
	Duration string                 `json:"duration"`
	Schedule *osprey.WeeklySchedule `json:"schedule"`
	Comment  string                 `json:"comment"`
}

// mountMaintenance adds the maintenance routes; src may be nil.
func (a *API) mountMaintenance(src MaintenanceSource) {
	viewer := func(h http.HandlerFunc) http.Handler { return a.auth.Require(auth.RoleViewer, h) }
	operator := func(h http.HandlerFunc) http.Handler { return a.auth.Require(auth.RoleOperator, h) }
	a.mux.Handle(routeMaintenance, viewer(func(w http.ResponseWriter, r *http.Request) { a.listMaintenance(w, r, src) }))
	a.mux.Handle(routePostMaintenance, operator(func(w http.ResponseWriter, r *http.Request) { a.postMaintenance(w, r, src) }))
	a.mux.Handle(routeDeleteMaintenance, operator(func(w http.ResponseWriter, r *http.Request) { a.deleteMaintenance(w, r, src) }))
}

// maintenanceState returns w's state at now and, while active, the end of
// the current occurrence.
func maintenanceState(w osprey.MaintenanceWindow, now time.Time) (string, time.Time) {
	if w.Schedule != nil {
		sc, err := correlate.ParseSchedule(*w.Schedule)
		if err != nil {
			return maintenanceRecurring, time.Time{}
		}
		if end, ok := sc.Active(now); ok {
			return maintenanceActive, end
		}
		return maintenanceRecurring, time.Time{}
	}
	switch {
	case !now.Before(w.EndsAt):
		return maintenanceExpired, time.Time{}
	case now.Before(w.StartsAt):
		return maintenancePending, time.Time{}
	}
	return maintenanceActive, w.EndsAt
}

func maintenanceReply(w osprey.MaintenanceWindow, source string, now time.Time) maintenanceResponse {
	st, until := maintenanceState(w, now)
	return maintenanceResponse{MaintenanceWindow: w, Source: source, State: st, ActiveUntil: until}
}

// listMaintenance serves GET /api/v1/maintenance: the configured windows,
// then the stored ones by id, each with its state.
func (a *API) listMaintenance(w http.ResponseWriter, r *http.Request, src MaintenanceSource) {
	if rerr := checkParams(r.URL.Query()); rerr != nil {
		writeRequestError(w, rerr)
		return
	}
	now := a.now()
	out := []maintenanceResponse{}
	if src != nil {
		for _, mw := range src.MaintenanceWindows() {
			out = append(out, maintenanceReply(mw, "config", now))
		}
	}
	list, err := a.store.ListMaintenance(r.Context())
	if err != nil {
		a.storeError(w, "list maintenance windows", err)
		return
	}
	for _, mw := range list {
		out = append(out, maintenanceReply(mw, "api", now))
	}
	writeJSON(w, http.StatusOK, out)
}

// postMaintenance serves POST /api/v1/maintenance: it validates the window,
// stores it with the caller as its creator, audits it and tells src.
func (a *API) postMaintenance(w http.ResponseWriter, r *http.Request, src MaintenanceSource) {
	var req maintenanceRequest
	if rerr := decodeActionBody(w, r, &req, false); rerr != nil {
		writeRequestError(w, rerr)
		return
	}
	now := a.now()
	mw, rerr := req.window(now)
	if rerr != nil {
		writeRequestError(w, rerr)
		return
	}
	mw.ID = osprey.NewID(now)
	mw.CreatedBy = principalName(r)
	mw.CreatedAt = now.UTC()
	if err := a.store.SaveMaintenance(r.Context(), mw); err != nil {
		a.storeError(w, "save maintenance window", err)
		return
	}
	a.auditMaintenance(r.Context(), mw.CreatedBy, auditMaintenanceCreate, mw)
	a.maintenanceChanged(r.Context(), src)
	writeJSON(w, http.StatusCreated, maintenanceReply(mw, "api", now))
}

// window validates the request and returns the window it describes
// (without ID, creator and creation time).
func (req *maintenanceRequest) window(now time.Time) (osprey.MaintenanceWindow, *requestError) {
	var mw osprey.MaintenanceWindow
	if len(req.Matchers) > maxSilenceMatchers {
		return mw, badRequest(reasonInvalid, "matchers: %d, more than %d", len(req.Matchers), maxSilenceMatchers)
	}
	if rerr := checkText("name", req.Name, maxNameBytes); rerr != nil {
		return mw, rerr
	}
	if rerr := checkText("comment", req.Comment, maxCommentBytes); rerr != nil {
		return mw, rerr
	}
	mw.Name = strings.TrimSpace(req.Name)
	mw.Comment = strings.TrimSpace(req.Comment)
	mw.Matchers = req.Matchers
	if req.Schedule != nil {
		if req.StartsAt != "" || req.EndsAt != "" || req.Duration != "" {
			return mw, badRequest(reasonInvalid, "give startsAt/endsAt/duration or a schedule, not both")
		}
		s := *req.Schedule
		mw.Schedule = &s
	} else {
		start, end, rerr := parseWindow(req.StartsAt, req.EndsAt, req.Duration, now, "endsAt, duration or schedule")
		if rerr != nil {
			return mw, rerr
		}
		mw.StartsAt, mw.EndsAt = start.UTC(), end.UTC()
		if end.After(start) && !end.After(now) {
			return mw, badRequest(reasonInvalid, "endsAt: %s is in the past", end.UTC().Format(time.RFC3339))
		}
	}
	if err := correlate.ValidateMaintenance(mw); err != nil {
		return mw, badRequest(reasonInvalid, "%s", strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	set, _ := match.Compile(mw.Matchers)
	mw.Matchers = set.Matchers()
	return mw, nil
}

// deleteMaintenance serves DELETE /api/v1/maintenance/{id}: it removes a
// stored window and replies with it. Windows from the configuration are
// refused with 409 (edit the file instead).
func (a *API) deleteMaintenance(w http.ResponseWriter, r *http.Request, src MaintenanceSource) {
	id := r.PathValue("id")
	if src != nil {
		for _, mw := range src.MaintenanceWindows() {
			if mw.ID == id {
				writeError(w, http.StatusConflict, fmt.Sprintf("maintenance window %q is defined in the configuration file (correlate.maintenance); remove it there", truncate(id, 64)))
				return
			}
		}
	}
	mw, err := a.store.GetMaintenance(r.Context(), id)
	if a.failed(w, err, "get", "maintenance window", id) {
		return
	}
	if err := a.store.DeleteMaintenance(r.Context(), id); a.failed(w, err, "delete", "maintenance window", id) {
		return
	}
	a.auditMaintenance(r.Context(), principalName(r), auditMaintenanceDelete, mw)
	a.maintenanceChanged(r.Context(), src)
	writeJSON(w, http.StatusOK, maintenanceReply(mw, "api", a.now()))
}

// auditMaintenance records a maintenance window change. The window itself
// is the primary record, so a failure is logged rather than failing the
// request.
func (a *API) auditMaintenance(ctx context.Context, actor, action string, mw osprey.MaintenanceWindow) {
	ms := make([]string, len(mw.Matchers))
	for i, m := range mw.Matchers {
		ms[i] = match.String(m)
	}
	detail, _ := json.Marshal(map[string]any{
		"name": mw.Name, "matchers": ms, "startsAt": mw.StartsAt, "endsAt": mw.EndsAt, "schedule": mw.Schedule, "comment": mw.Comment,
	})
	e := osprey.AuditEntry{At: a.now(), Actor: actor, Action: action, Object: "maintenance/" + mw.ID, Detail: string(detail)}
	if err := a.store.AppendAudit(ctx, e); err != nil {
		a.log.Error("cannot append audit entry", "action", action, "maintenance", mw.ID, "err", err)
	}
}

// maintenanceChanged tells src; a failure is logged (the stage also
// reloads periodically).
func (a *API) maintenanceChanged(ctx context.Context, src MaintenanceSource) {
	if src == nil {
		return
	}
	if err := src.MaintenanceChanged(ctx); err != nil {
		a.log.Warn("tell the correlator the maintenance windows changed", "err", err)
	}
}
