package replay

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/config"
	"github.com/osprey-aiops/osprey/internal/ingest"
)

// EventsSource is a JSONL file of events, one JSON object per line with the
// fields POST /api/v1/events takes (source, name, labels, annotations,
// severity, status, startsAt, endsAt). Lines exported from GET
// /api/v1/events are accepted too: their id, seq and fingerprint are
// assigned afresh, and their receivedAt is the time the event is replayed
// at. Without receivedAt, an event is replayed at its endsAt when it is
// resolved and has one, else at its startsAt, which is then required.
type EventsSource struct{ Path string }

// Kind implements Source.
func (s EventsSource) Kind() string { return KindEvents }

// Name implements Source.
func (s EventsSource) Name() string { return s.Path }

// Open implements Source. The whole file is read (and checked) first.
func (s EventsSource) Open(_ context.Context, w Window) (Stream, error) {
	f, err := os.Open(s.Path)
	if err != nil {
		return nil, fmt.Errorf("events input: %w", err)
	}
	defer f.Close()
	events, err := ReadEvents(f, s.Path)
	if err != nil {
		return nil, err
	}
	kept := events[:0]
	for _, ev := range events {
		if w.in(ev.ReceivedAt) {
			kept = append(kept, ev)
		}
	}
	return &eventStream{events: kept}, nil
}

// eventLine is one line of an events file.
type eventLine struct {
	Source      string            `json:"source"`
	Name        string            `json:"name"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	Severity    string            `json:"severity"`
	Status      string            `json:"status"`
	StartsAt    string            `json:"startsAt"`
	EndsAt      string            `json:"endsAt"`
	// Assigned by Osprey; accepted from an export, and ignored but for
	// ReceivedAt.
	ID          string `json:"id"`
	Seq         int64  `json:"seq"`
	Fingerprint string `json:"fingerprint"`
	ReceivedAt  string `json:"receivedAt"`
}

// ReadEvents reads a JSONL events file; name is the file name for errors.
// Each event is prepared as the API prepares it (ingest.PrepareEvent, with
// the default request limits) at its replay time, which is its ReceivedAt.
// The events are returned sorted by ReceivedAt (stable).
func ReadEvents(r io.Reader, name string) ([]osprey.Event, error) {
	lim := config.Default().Server
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxLineBytes)
	var out []osprey.Event
	line := 0
	for sc.Scan() {
		line++
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		ev, field, err := parseEventLine(text, &lim)
		if err != nil {
			return nil, &InputError{File: name, Line: line, Field: field, Err: err}
		}
		out = append(out, ev)
	}
	if err := sc.Err(); err != nil {
		return nil, &InputError{File: name, Line: line + 1, Err: err}
	}
	slices.SortStableFunc(out, func(a, b osprey.Event) int { return a.ReceivedAt.Compare(b.ReceivedAt) })
	return out, nil
}

// parseEventLine decodes and prepares one event; field names the field at
// fault when the error is about one.
func parseEventLine(text []byte, lim *config.ServerConfig) (osprey.Event, string, error) {
	var l eventLine
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&l); err != nil {
		return osprey.Event{}, jsonField(err), jsonProblem(err)
	}
	if dec.More() {
		return osprey.Event{}, "", errors.New("more than one JSON value on the line")
	}
	ev := osprey.Event{
		Source:      l.Source,
		Name:        l.Name,
		Status:      osprey.EventStatus(l.Status),
		Labels:      osprey.Labels(l.Labels),
		Annotations: l.Annotations,
	}
	if ev.Source == "" {
		ev.Source = "api"
	}
	if ev.Status == "" {
		ev.Status = osprey.StatusFiring
	}
	var err error
	if ev.Severity, err = osprey.ParseSeverity(l.Severity); err != nil {
		return ev, "severity", err
	}
	if ev.StartsAt, err = parseEventTime(l.StartsAt); err != nil {
		return ev, "startsAt", err
	}
	if ev.EndsAt, err = parseEventTime(l.EndsAt); err != nil {
		return ev, "endsAt", err
	}
	at, err := parseEventTime(l.ReceivedAt)
	if err != nil {
		return ev, "receivedAt", err
	}
	if at.IsZero() {
		at = ev.StartsAt
		if ev.Status == osprey.StatusResolved && !ev.EndsAt.IsZero() {
			at = ev.EndsAt
		}
	}
	if at.IsZero() {
		return ev, "startsAt", errors.New("required in a replay: it is the time the event is replayed at")
	}
	if ev.StartsAt.IsZero() {
		ev.StartsAt = at
	}
	if err := ingest.PrepareEvent(&ev, lim, at.UTC()); err != nil {
		// PrepareEvent's errors start with the field's name.
		return ev, "", err
	}
	return ev, "", nil
}

func parseEventTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time", clipText(s))
	}
	return t, nil
}

// jsonField names the field a JSON decoding error is about, if it knows.
func jsonField(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return te.Field
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return strings.Trim(name, `"`)
	}
	return ""
}

// jsonProblem describes a JSON decoding error without repeating the field.
func jsonProblem(err error) error {
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &te):
		return fmt.Errorf("%s is not a %s", te.Value, te.Type)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return errors.New("unknown field")
	}
	return fmt.Errorf("not a JSON object: %w", err)
}

// eventStream delivers prepared events in time order.
type eventStream struct {
	events []osprey.Event
	i      int
}

// Next implements Stream.
func (s *eventStream) Next() (Item, bool, error) {
	if s.i >= len(s.events) {
		return Item{}, false, nil
	}
	ev := s.events[s.i]
	s.i++
	return Item{At: ev.ReceivedAt, Event: &ev}, true, nil
}

// Close implements Stream.
func (s *eventStream) Close() error { return nil }
