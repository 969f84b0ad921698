package api

import (
	"context"
	"net/http"
)

// healthz reports that the process is up. It checks nothing else, so that an
// orchestrator does not restart a process that is merely waiting for its
// database (that is what readyz is for).
func (a *API) healthz(w http.ResponseWriter, _ *http.Request) {
	writeText(w, http.StatusOK, "ok\n")
}

// readyz reports whether the process can serve requests: 200 when Ready
// (by default a store ping) succeeds within readyCheckTimeout, else 503 with
// the reason.
func (a *API) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), readyCheckTimeout)
	defer cancel()
	if err := a.ready(ctx); err != nil {
		writeError(w, http.StatusServiceUnavailable, "not ready: "+err.Error())
		return
	}
	writeText(w, http.StatusOK, "ok\n")
}

// writeText replies with a plain-text body.
func writeText(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(body))
}
