package api

import (
	"fmt"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/osprey-aiops/osprey/internal/ingest"
)

// responseWriter records the status code for the metrics, and replaces the
// plain-text bodies of the router's own 404 and 405 replies (those for
// requests that matched no route) with JSON errors.
type responseWriter struct {
	http.ResponseWriter
	// req is the request as the router saw it: the router sets its Pattern
	// before calling a handler, and leaves it empty when nothing matched.
	req     *http.Request
	code    int
	discard bool
}

// WriteHeader records code and, for an unmatched request, writes the JSON
// error in place of the router's.
func (w *responseWriter) WriteHeader(code int) {
	if w.code != 0 {
		return // net/http would only log a superfluous call
	}
	w.code = code
	if w.req.Pattern == "" && (code == http.StatusNotFound || code == http.StatusMethodNotAllowed) {
		w.discard = true
		msg := fmt.Sprintf("no route for %s %s", w.req.Method, w.req.URL.Path)
		if code == http.StatusMethodNotAllowed {
			msg = fmt.Sprintf("method %s not allowed on %s (allowed: %s)", w.req.Method, w.req.URL.Path, w.Header().Get("Allow"))
		}
		writeError(w.ResponseWriter, code, msg)
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write writes b, unless it is the router's plain-text body being replaced.
func (w *responseWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if w.discard {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// finish runs after every request: it turns a handler panic into a 500 (the
// process must not crash on one bad request) and records the metrics.
func (a *API) finish(rw *responseWriter, r *http.Request, start time.Time) {
	if v := recover(); v != nil {
		if v == http.ErrAbortHandler { //nolint:errorlint // sentinel panic value, compared as net/http does
			panic(v)
		}
		a.log.Error("panic serving request", "route", r.Pattern, "panic", v, "stack", string(debug.Stack()))
		if rw.code != 0 {
			// Part of a reply is out: abort the connection so that the
			// client cannot take it for a whole one.
			a.record(r, http.StatusInternalServerError, start)
			panic(http.ErrAbortHandler)
		}
		writeError(rw, http.StatusInternalServerError, "internal error")
	}
	a.record(r, rw.code, start)
}

// record updates the request metrics.
func (a *API) record(r *http.Request, code int, start time.Time) {
	route := r.Pattern
	if route == "" {
		route = routeUnmatched
	}
	if code == 0 {
		code = http.StatusOK
	}
	a.metrics.requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
	a.metrics.duration.WithLabelValues(route).Observe(time.Since(start).Seconds())
}

// countAuthRejects counts the ingestion requests that next (the auth check)
// refused: on recv, when set, and in osprey_events_rejected_total when
// eventsMetric is true, so that the ingestion metrics account for every
// refused batch.
func (a *API) countAuthRejects(next http.Handler, recv *ingest.Receiver, eventsMetric bool) http.Handler {
	if recv == nil && !eventsMetric {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r)
		rw, ok := w.(*responseWriter)
		if !ok {
			return
		}
		var reason string
		switch rw.code {
		case http.StatusUnauthorized:
			reason = reasonUnauthorized
		case http.StatusForbidden:
			reason = reasonForbidden
		default:
			return
		}
		if eventsMetric {
			a.metrics.rejected.WithLabelValues(reason).Inc()
		}
		if recv != nil {
			recv.RejectRequest(ingest.Reason(reason))
		}
	})
}
