package ingest

import (
	"encoding/json"
	"net/http"

	"github.com/osprey-aiops/osprey/internal/auth"
)

// Route is an HTTP route that a receiver serves. The HTTP API mounts it on
// its router behind bearer-token authentication, so that every receiver
// shares the API's address, tokens, request metrics and error shape.
type Route struct {
	// Pattern is a net/http ServeMux pattern with a method,
	// "POST /api/v2/alerts". It is also the route label of the HTTP metrics.
	Pattern string
	// Role is the least role a token needs; auth.RoleOperator for routes
	// that ingest.
	Role auth.Role
	// Handler serves the route once the request is authorised.
	Handler http.Handler
	// Receiver, if set, counts the requests that authentication refused
	// (ReasonUnauthorized, ReasonForbidden).
	Receiver *Receiver
}

// ErrorBody is the JSON shape of every error reply of Osprey's API:
// {"error": "reason"}, with the position of the offending element of a posted
// array when there is one.
type ErrorBody struct {
	Error string `json:"error"`
	// Index is the position of the offending element of an ingested array.
	Index *int `json:"index,omitempty"`
}

// WriteError replies with {"error": msg}, and "index": index when index >= 0.
func WriteError(w http.ResponseWriter, code int, msg string, index int) {
	body := ErrorBody{Error: msg}
	if index >= 0 {
		body.Index = &index
	}
	WriteJSON(w, code, body)
}

// WriteJSON replies with v encoded as JSON, with the headers every API reply
// carries. v is marshalled before the header is written, so an encoding
// failure can still become a 500.
func WriteJSON(w http.ResponseWriter, code int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		code = http.StatusInternalServerError
		body, _ = json.Marshal(ErrorBody{Error: "encode response: " + err.Error()})
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(append(body, '\n')) // the client went away; nothing to do
}
