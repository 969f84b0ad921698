package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/osprey-aiops/osprey"
)

// errorBody is the JSON shape of every error reply.
type errorBody struct {
	Error string `json:"error"`
	// Index is the position of the offending element of an ingested array.
	Index *int `json:"index,omitempty"`
}

// requestError is a rejected request: the status to reply with, the reason
// for the osprey_events_rejected_total metric and the message for the client.
type requestError struct {
	code   int
	reason string
	msg    string
	// index is the position of the offending array element, or -1.
	index int
}

func (e *requestError) Error() string { return e.msg }

// badRequest returns a 400 error that is not about one element.
func badRequest(reason, format string, args ...any) *requestError {
	return &requestError{code: http.StatusBadRequest, reason: reason, msg: fmt.Sprintf(format, args...), index: -1}
}

// elementError returns a 400 error about element i of an ingested array; the
// message is prefixed with the element's position.
func elementError(reason string, i int, err error) *requestError {
	return &requestError{
		code:   http.StatusBadRequest,
		reason: reason,
		msg:    fmt.Sprintf("events[%d]: %v", i, err),
		index:  i,
	}
}

// writeRequestError replies with e.
func writeRequestError(w http.ResponseWriter, e *requestError) {
	body := errorBody{Error: e.msg}
	if e.index >= 0 {
		body.Index = &e.index
	}
	writeJSON(w, e.code, body)
}

// writeError replies with {"error": msg}.
func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, errorBody{Error: msg})
}

// writeJSON replies with v encoded as JSON. v is marshalled before the
// header is written, so an encoding failure can still become a 500.
func writeJSON(w http.ResponseWriter, code int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		code = http.StatusInternalServerError
		body, _ = json.Marshal(errorBody{Error: "encode response: " + err.Error()})
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(append(body, '\n')) // the client went away; nothing to do
}

// failed replies to a failed store operation op ("get", "set feedback of")
// on the object what ("incident") with id: 404 when it does not exist, else
// the store error. It reports whether err was non-nil, so a handler returns.
func (a *API) failed(w http.ResponseWriter, err error, op, what, id string) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, osprey.ErrNotFound):
		writeError(w, http.StatusNotFound, fmt.Sprintf("%s %q not found", what, truncate(id, 64)))
	default:
		a.storeError(w, op+" "+what, err)
	}
	return true
}
