package api

import (
	"net/http"

	"github.com/osprey-aiops/osprey"
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
// store before the 202 reply, then handed to the pipeline.
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
	if err := a.store.AppendEvents(r.Context(), events); err != nil {
		a.metrics.rejected.WithLabelValues(reasonStore).Inc()
		a.log.Error("store events", "events", len(events), "err", err)
		code := http.StatusServiceUnavailable
		if osprey.IsPermanent(err) {
			code = http.StatusInternalServerError
		}
		writeError(w, code, "store events: storage is unavailable, nothing was accepted; retry the batch")
		return
	}

	ids := make([]string, len(events))
	for i := range events {
		ids[i] = events[i].ID
	}
	a.countAccepted(events)
	if a.events != nil {
		// The events are committed: a failed hand-off delays them (the
		// correlator catches up from the store) but does not lose them, so
		// the reply stays 202. The consumer owns events from here on.
		if err := a.events.ConsumeEvents(r.Context(), events); err != nil {
			a.metrics.handoffFailures.Inc()
			a.log.Warn("hand off stored events", "events", len(ids), "err", err)
		}
	}
	writeJSON(w, http.StatusAccepted, idsResponse{IDs: ids})
}

// reject replies with a request error and counts it.
func (a *API) reject(w http.ResponseWriter, e *requestError) {
	a.metrics.rejected.WithLabelValues(e.reason).Inc()
	writeRequestError(w, e)
}

// countAccepted adds events to the accepted counter of their source, one
// counter update per run of equal sources (a batch usually has one source).
func (a *API) countAccepted(events []osprey.Event) {
	for i := 0; i < len(events); {
		j := i + 1
		for j < len(events) && events[j].Source == events[i].Source {
			j++
		}
		a.metrics.acceptedFor(events[i].Source).Add(float64(j - i))
		i = j
	}
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
