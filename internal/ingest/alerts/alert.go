package alerts

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/config"
	"github.com/osprey-aiops/osprey/internal/ingest"
)

// alertFields are the fields every format's alert has: Alertmanager's
// model.Alert, which the v2 API posts and both webhooks embed. Times are
// strings so that a bad one is this alert's error, not the whole body's
// (encoding/json aborts on a time.Time it cannot parse).
type alertFields struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     string            `json:"startsAt"`
	EndsAt       string            `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
}

// annotation is one name/value pair that a format carries outside the
// alert's annotations (a link, a value) and that is kept as an annotation.
type annotation struct{ name, value string }

// converter turns the alerts of one request into events. It holds what is
// the same for every alert of the request.
type converter struct {
	lim *config.ServerConfig
	// now is when the request was received: the events' ReceivedAt, the
	// reference for "endsAt is in the past", and the default StartsAt.
	now    time.Time
	source string
}

// batch is what one request yields: the events to commit, and the alerts
// that were rejected.
type batch struct {
	events   []osprey.Event
	rejected []itemError
	// unknownSeverity counts accepted events whose severity word was not
	// recognised.
	unknownSeverity int
	// truncated counts alerts the sender said it left out of the payload.
	truncated int
}

// itemError is one rejected alert, as reported to the sender.
type itemError struct {
	Index  int           `json:"index"`
	Reason ingest.Reason `json:"reason"`
	Error  string        `json:"error"`
}

// requestError refuses a request as a whole.
type requestError struct {
	code   int
	reason ingest.Reason
	msg    string
}

func (e *requestError) Error() string { return e.msg }

func malformed(format string, args ...any) *requestError {
	return &requestError{code: http.StatusBadRequest, reason: ingest.ReasonMalformed, msg: fmt.Sprintf(format, args...)}
}

// reject records that alert i was not accepted.
func (b *batch) reject(i int, reason ingest.Reason, err error) {
	b.rejected = append(b.rejected, itemError{Index: i, Reason: reason, Error: fmt.Sprintf("alerts[%d]: %v", i, err)})
}

// add converts one alert and adds it to the batch, or records why not.
func (b *batch) add(c *converter, i int, a *alertFields, status string, extra []annotation) {
	ev, unknownSeverity, err := c.event(a, status, extra)
	if err != nil {
		reason := ingest.ReasonInvalid
		if errors.Is(err, ingest.ErrLabelLimit) {
			reason = ingest.ReasonLabelLimit
		}
		b.reject(i, reason, err)
		return
	}
	if unknownSeverity {
		b.unknownSeverity++
	}
	b.events = append(b.events, ev)
}

// event maps one alert to an event (see the package documentation for the
// rules). status is the alert's status field, "" in formats without one.
// unknownSeverity reports a severity word that was not recognised.
func (c *converter) event(a *alertFields, status string, extra []annotation) (ev osprey.Event, unknownSeverity bool, err error) {
	// Alertmanager drops empty labels before validating; so does Osprey,
	// and the fingerprint ignores them anyway.
	for k, v := range a.Labels {
		if v == "" {
			delete(a.Labels, k)
		}
	}
	name := a.Labels[osprey.LabelAlertName]
	if name == "" {
		return ev, false, errors.New("labels.alertname: missing; an alert is named by its alertname label")
	}
	ev = osprey.Event{
		Source:      c.source,
		Name:        name,
		Labels:      osprey.Labels(a.Labels),
		Annotations: a.Annotations,
	}
	if ev.Severity, err = osprey.ParseSeverity(a.Labels["severity"]); err != nil {
		ev.Severity, unknownSeverity, err = osprey.SeverityUnknown, true, nil
	}
	if ev.StartsAt, err = parseTime(a.StartsAt); err != nil {
		return ev, false, fmt.Errorf("startsAt: %w", err)
	}
	if ev.EndsAt, err = parseTime(a.EndsAt); err != nil {
		return ev, false, fmt.Errorf("endsAt: %w", err)
	}
	if ev.StartsAt.IsZero() {
		// Alertmanager's rule for posted alerts.
		ev.StartsAt = ev.EndsAt
		if ev.StartsAt.IsZero() {
			ev.StartsAt = c.now
		}
	}
	switch status {
	case "", string(osprey.StatusFiring):
		ev.Status = osprey.StatusFiring
		if !ev.EndsAt.IsZero() && !ev.EndsAt.After(c.now) {
			ev.Status = osprey.StatusResolved
		}
	case string(osprey.StatusResolved):
		ev.Status = osprey.StatusResolved
	default:
		return ev, false, fmt.Errorf("status: %q is not firing or resolved", ingest.Truncate(status, 64))
	}
	if err := ingest.PrepareEvent(&ev, c.lim, c.now); err != nil {
		return ev, false, err
	}
	c.annotate(&ev, a.GeneratorURL, extra)
	return ev, unknownSeverity, nil
}

// annotate adds generatorURL and the format's extra fields to ev's
// annotations where they fit the limits that PrepareEvent enforced; they are
// context, and never a reason to reject an alert.
func (c *converter) annotate(ev *osprey.Event, generatorURL string, extra []annotation) {
	add := func(name, value string) {
		if value == "" || len(value) > c.lim.MaxLabelValueBytes || strings.Contains(value, "\x00") {
			return
		}
		if _, taken := ev.Annotations[name]; taken || len(ev.Annotations) >= c.lim.MaxLabelsPerEvent {
			return
		}
		if ev.Annotations == nil {
			ev.Annotations = make(map[string]string, 1+len(extra))
		}
		ev.Annotations[name] = value
	}
	add("generatorURL", generatorURL)
	for _, e := range extra {
		add(e.name, e.value)
	}
}

// parseTime parses an RFC 3339 time. "" and Go's zero time
// ("0001-01-01T00:00:00Z", which Alertmanager sends as the endsAt of a firing
// alert) are the zero time.
func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time", ingest.Truncate(s, 64))
	}
	if t.IsZero() {
		return time.Time{}, nil
	}
	return t, nil
}

// decodeArray decodes the JSON array raw into a slice. A wrongly typed field
// (a number where a string belongs) spoils only its own element: bad lists
// those elements by index, and the others decode normally. Any other error (a
// syntax error, raw not an array) is returned as err and spoils the whole
// request. The common case, a well-typed array, is decoded in one pass.
func decodeArray[T any](raw []byte) (items []T, bad map[int]error, err error) {
	err = json.Unmarshal(raw, &items)
	var typeErr *json.UnmarshalTypeError
	if err == nil || !errors.As(err, &typeErr) {
		return items, nil, err
	}
	// Some element is wrongly typed (or raw is not an array at all, which
	// the next line reports). Decode element by element to find which.
	var raws []json.RawMessage
	if err := json.Unmarshal(raw, &raws); err != nil {
		return nil, nil, err
	}
	items = make([]T, len(raws))
	bad = make(map[int]error)
	for i, r := range raws {
		if err := json.Unmarshal(r, &items[i]); err != nil {
			bad[i] = jsonError(err)
		}
	}
	return items, bad, nil
}

// jsonError rewords an encoding/json error for a sender: the field and the
// JSON types, not Go's.
func jsonError(err error) error {
	var (
		typeErr *json.UnmarshalTypeError
		syntax  *json.SyntaxError
	)
	switch {
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			field = "value"
		}
		want := "a different type"
		if typeErr.Type != nil {
			want = jsonKind(typeErr.Type.Kind().String())
		}
		return fmt.Errorf("%s: got JSON %s, want %s", field, typeErr.Value, want)
	case errors.As(err, &syntax):
		return fmt.Errorf("invalid JSON at byte %d: %s", syntax.Offset, strings.TrimPrefix(syntax.Error(), "json: "))
	}
	return errors.New(strings.TrimPrefix(err.Error(), "json: "))
}

// jsonKind names the JSON type that decodes into a Go kind.
func jsonKind(kind string) string {
	switch kind {
	case "string":
		return "string"
	case "map", "struct":
		return "object"
	case "slice", "array":
		return "array"
	case "bool":
		return "boolean"
	}
	return "number"
}

// checkCount refuses a request with more alerts than the limit.
func checkCount(n int, lim *config.ServerConfig) *requestError {
	if n > lim.MaxEventsPerRequest {
		return &requestError{
			code:   http.StatusRequestEntityTooLarge,
			reason: ingest.ReasonTooMany,
			msg:    fmt.Sprintf("%d alerts in one request, at most %d allowed: send smaller batches", n, lim.MaxEventsPerRequest),
		}
	}
	return nil
}

// firstByte returns the first byte of raw that is not JSON white space, or 0.
func firstByte(raw []byte) byte {
	for _, c := range raw {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return c
	}
	return 0
}
