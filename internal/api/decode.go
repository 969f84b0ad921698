package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/config"
	"github.com/osprey-aiops/osprey/internal/ingest"
)

// eventRequest is one element of the POST /api/v1/events body: the fields a
// sender may set. It is kept apart from osprey.Event so that the wire format
// stays stable while the domain type evolves, and so that the fields Osprey
// assigns (id, seq, fingerprint, receivedAt) are rejected as unknown rather
// than trusted. Times and the severity are strings so that their errors can
// name the field.
type eventRequest struct {
	Source      string            `json:"source"`
	Name        string            `json:"name"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	Severity    string            `json:"severity"`
	Status      string            `json:"status"`
	StartsAt    string            `json:"startsAt"`
	EndsAt      string            `json:"endsAt"`
}

// checkContentType accepts application/json with no charset or utf-8, and a
// missing header (see the package documentation for why).
func checkContentType(ct string) *requestError {
	if err := ingest.CheckContentType(ct); err != nil {
		return &requestError{code: http.StatusUnsupportedMediaType, reason: reasonMediaType, msg: err.Error(), index: -1}
	}
	return nil
}

// decodeEvents reads a JSON array of events from body, validates each one
// against lim, and returns them ready to store: with an ID, Fingerprint and
// ReceivedAt, and the defaults (source "api", status firing, startsAt now)
// filled in. It stops at the first problem; on error no events are returned.
// The array is read element by element, so a request over the event limit
// is refused without decoding the rest.
func decodeEvents(body io.Reader, lim *config.ServerConfig, now time.Time) ([]osprey.Event, *requestError) {
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()

	tok, err := dec.Token()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, badRequest(reasonMalformed, "empty body: send a JSON array of events")
		}
		return nil, jsonError(err, -1)
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return nil, badRequest(reasonMalformed, "body must be a JSON array of events")
	}
	var events []osprey.Event
	for i := 0; dec.More(); i++ {
		if i >= lim.MaxEventsPerRequest {
			return nil, &requestError{
				code:   http.StatusRequestEntityTooLarge,
				reason: reasonTooMany,
				msg:    fmt.Sprintf("more than %d events in one request: split the batch", lim.MaxEventsPerRequest),
				index:  i,
			}
		}
		var req eventRequest
		if err := dec.Decode(&req); err != nil {
			return nil, jsonError(err, i)
		}
		ev, err := req.event(lim, now)
		if err != nil {
			reason := reasonInvalid
			if errors.Is(err, ingest.ErrLabelLimit) {
				reason = reasonLabelLimit
			}
			return nil, elementError(reason, i, err)
		}
		events = append(events, ev)
	}
	if _, err := dec.Token(); err != nil { // the closing bracket
		return nil, jsonError(err, -1)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, jsonError(err, -1)
		}
		return nil, badRequest(reasonMalformed, "unexpected data after the array of events")
	}
	if len(events) == 0 {
		return nil, badRequest(reasonEmpty, "no events in the array")
	}
	return events, nil
}

// jsonError turns an error from the JSON decoder into a request error, about
// element i when i >= 0. A body over the size limit is 413; anything else is
// a malformed request.
func jsonError(err error, i int) *requestError {
	var (
		tooLarge  *http.MaxBytesError
		syntax    *json.SyntaxError
		typeError *json.UnmarshalTypeError
		msg       string
	)
	switch {
	case errors.As(err, &tooLarge):
		return &requestError{
			code:   http.StatusRequestEntityTooLarge,
			reason: reasonTooLarge,
			msg:    fmt.Sprintf("request body larger than %d bytes: split the batch", tooLarge.Limit),
			index:  -1,
		}
	case errors.As(err, &syntax):
		msg = fmt.Sprintf("invalid JSON at byte %d: %s", syntax.Offset, strings.TrimPrefix(syntax.Error(), "json: "))
	case errors.As(err, &typeError):
		field := typeError.Field
		if field == "" {
			field = "element"
		}
		msg = fmt.Sprintf("%s: got JSON %s, want %s", field, typeError.Value, jsonKind(typeError.Type))
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		msg = "body ends before the array does"
	default:
		// Unknown fields ("json: unknown field \"x\"") and read errors.
		msg = strings.TrimPrefix(err.Error(), "json: ")
	}
	if i < 0 {
		return badRequest(reasonMalformed, "%s", msg)
	}
	return elementError(reasonMalformed, i, errors.New(msg))
}

// jsonKind names the JSON type that decodes into t, for error messages that
// should not mention Go types.
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "a different type"
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Map, reflect.Struct:
		return "object"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Bool:
		return "boolean"
	default:
		return "number"
	}
}
