package api

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/store"
)

// incidentsResponse is the reply to GET /api/v1/incidents.
type incidentsResponse struct {
	Incidents []osprey.Incident `json:"incidents"`
}

// listIncidents serves GET /api/v1/incidents?status=open,acknowledged&limit=&since=,
// most recently updated first, without timelines.
func (a *API) listIncidents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if rerr := checkParams(q, "status", "limit", "since"); rerr != nil {
		writeRequestError(w, rerr)
		return
	}
	statuses, err := parseStatuses(q.Get("status"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
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
	incs, err := a.store.ListIncidents(r.Context(), store.IncidentQuery{Statuses: statuses, UpdatedSince: since, Limit: limit})
	if err != nil {
		a.storeError(w, "list incidents", err)
		return
	}
	if incs == nil {
		incs = []osprey.Incident{}
	}
	writeJSON(w, http.StatusOK, incidentsResponse{Incidents: incs})
}

// getIncident serves GET /api/v1/incidents/{id}: the incident with its
// timeline, oldest entry first.
func (a *API) getIncident(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	inc, err := a.store.GetIncident(r.Context(), id)
	if a.failed(w, err, "get", "incident", id) {
		return
	}
	writeJSON(w, http.StatusOK, newIncidentView(inc))
}

// parseStatuses parses a comma-separated list of incident statuses; "" keeps
// every status.
func parseStatuses(s string) ([]osprey.IncidentStatus, error) {
	if s == "" {
		return nil, nil
	}
	var out []osprey.IncidentStatus
	for part := range strings.SplitSeq(s, ",") {
		st := osprey.IncidentStatus(strings.TrimSpace(part))
		if st == "" {
			continue
		}
		if !st.Valid() {
			return nil, fmt.Errorf("status: %q is not open, acknowledged or resolved", truncate(string(st), 64))
		}
		out = append(out, st)
	}
	return out, nil
}
