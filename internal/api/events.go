package api

import (
	"net/http"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/ingest"
	"github.com/osprey-aiops/osprey/internal/store"
)

// idsResponse is the reply to an accepted POST /api/v1/events: the IDs
// assigned to the events, in request order.
type idsResponse struct {
	IDs []string `json:"ids"`
}

// eventsResponse is the reply to GET /api/v1/events.
type eventsResponse struct {
	Events []osprey.Event `json:"events"`
}

// postEvents ingests a JSON array of events: all or nothing, committed to the
// store before the 202 reply, then handed to the pipeline (both by the
// ingest.Committer that every receiver shares).
func (a *API) postEvents(w http.ResponseWriter, r *http.Request) {
	if rerr := checkContentType(r.Header.Get("Content-Type")); rerr != nil {
		a.reject(w, rerr)
		return
	}
	body := http.MaxBytesReader(w, r.Body, a.limits.MaxBodyBytes)
	events, rerr := decodeEvents(body, &a.limits, a.now())
	if rerr != nil {
		a.reject(w, rerr)
		return
	}
	// The IDs are read before the hand-off: the consumer owns events after.
	ids := make([]string, len(events))
	for i := range events {
		ids[i] = events[i].ID
	}
	if err := a.commit.ConsumeEvents(r.Context(), events); err != nil {
		a.metrics.rejected.WithLabelValues(reasonStore).Inc()
		a.recv.Rejected(ingest.ReasonStore, len(ids))
		a.recv.Done(0, len(ids))
		a.log.Error("store events", "events", len(ids), "err", err)
		code := http.StatusServiceUnavailable
		if osprey.IsPermanent(err) {
			code = http.StatusInternalServerError
		}
		writeError(w, code, "store events: storage is unavailable, nothing was accepted; retry the batch")
		return
	}
	a.recv.Done(len(ids), 0)
	writeJSON(w, http.StatusAccepted, idsResponse{IDs: ids})
}

// reject replies with a request error and counts it. The events API is all
// or nothing, so every rejection refuses the whole request.
func (a *API) reject(w http.ResponseWriter, e *requestError) {
	a.metrics.rejected.WithLabelValues(e.reason).Inc()
	a.recv.RejectRequest(ingest.Reason(e.reason))
	writeRequestError(w, e)
}

// listEvents serves GET /api/v1/events?limit=&since=, newest first.
func (a *API) listEvents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if rerr := checkParams(q, "limit", "since"); rerr != nil {
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
	events, err := a.store.ListEvents(r.Context(), store.EventQuery{Since: since, Limit: limit})
	if err != nil {
		a.storeError(w, "list events", err)
		return
	}
	if events == nil {
		events = []osprey.Event{}
	}
	writeJSON(w, http.StatusOK, eventsResponse{Events: events})
}

// storeError replies to a failed store read. Not-found is the caller's to
// handle; anything else is the store's fault, logged here and not detailed
// to the client.
func (a *API) storeError(w http.ResponseWriter, what string, err error) {
	a.log.Error(what, "err", err)
	writeError(w, http.StatusServiceUnavailable, what+": storage is unavailable")
}
