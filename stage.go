package osprey

import (
	"context"
	"errors"
)

// The Consume* interfaces are the contracts between pipeline stages. They share
// these rules, so each need not repeat them:
//
//   - Ownership: the batch slice and everything it references belong to the
//     callee once the call is made. The caller must not read or modify them
//     afterwards; the callee may keep, modify or hand them on. A caller that
//     needs the data after the call passes a copy.
//   - Concurrency: implementations must be safe for concurrent calls.
//   - Return: a nil error means the callee accepted the batch; it does not mean
//     the batch was fully processed downstream. A non-nil error means none of
//     the batch was accepted, unless the error is wrapped with Permanent, in
//     which case retrying the same batch cannot succeed.
//   - Context: a callee that waits (for queue space, a database) gives up when
//     ctx is done and returns ctx's error.

// EventConsumer takes batches of events (alerts, deploys, early warnings).
type EventConsumer interface {
	ConsumeEvents(ctx context.Context, batch []Event) error
}

// SeriesConsumer takes batches of metric samples.
type SeriesConsumer interface {
	ConsumeSeries(ctx context.Context, batch []Series) error
}

// LogConsumer takes batches of log records.
type LogConsumer interface {
	ConsumeLogs(ctx context.Context, batch []LogRecord) error
}

// SpanConsumer takes batches of trace spans.
type SpanConsumer interface {
	ConsumeSpans(ctx context.Context, batch []Span) error
}

// AnomalyConsumer takes batches of anomalies from the detect stage.
type AnomalyConsumer interface {
	ConsumeAnomalies(ctx context.Context, batch []Anomaly) error
}

// IncidentConsumer takes incidents that the correlate stage opened or changed,
// for remediation and notification. Each Incident is a snapshot; Timeline holds
// only the entries added by the change being reported. A snapshot's Members
// array and the members it points to (like each member's Labels) are shared
// with the correlate stage and with other snapshots of the incident, which
// never change them: a consumer may keep them, append to the array (its
// capacity is its length) or replace it, but must not change a member in
// place.
type IncidentConsumer interface {
	ConsumeIncidents(ctx context.Context, batch []Incident) error
}

// EventConsumerFunc adapts a function to EventConsumer.
type EventConsumerFunc func(ctx context.Context, batch []Event) error

// ConsumeEvents calls f.
func (f EventConsumerFunc) ConsumeEvents(ctx context.Context, batch []Event) error {
	return f(ctx, batch)
}

// SeriesConsumerFunc adapts a function to SeriesConsumer.
type SeriesConsumerFunc func(ctx context.Context, batch []Series) error

// ConsumeSeries calls f.
func (f SeriesConsumerFunc) ConsumeSeries(ctx context.Context, batch []Series) error {
	return f(ctx, batch)
}

// LogConsumerFunc adapts a function to LogConsumer.
type LogConsumerFunc func(ctx context.Context, batch []LogRecord) error

// ConsumeLogs calls f.
func (f LogConsumerFunc) ConsumeLogs(ctx context.Context, batch []LogRecord) error {
	return f(ctx, batch)
}

// SpanConsumerFunc adapts a function to SpanConsumer.
type SpanConsumerFunc func(ctx context.Context, batch []Span) error

// ConsumeSpans calls f.
func (f SpanConsumerFunc) ConsumeSpans(ctx context.Context, batch []Span) error {
	return f(ctx, batch)
}

// AnomalyConsumerFunc adapts a function to AnomalyConsumer.
type AnomalyConsumerFunc func(ctx context.Context, batch []Anomaly) error

// ConsumeAnomalies calls f.
func (f AnomalyConsumerFunc) ConsumeAnomalies(ctx context.Context, batch []Anomaly) error {
	return f(ctx, batch)
}

// IncidentConsumerFunc adapts a function to IncidentConsumer.
type IncidentConsumerFunc func(ctx context.Context, batch []Incident) error

// ConsumeIncidents calls f.
func (f IncidentConsumerFunc) ConsumeIncidents(ctx context.Context, batch []Incident) error {
	return f(ctx, batch)
}

// Component is the lifecycle contract of everything long-running: receivers,
// stages, the bus, the HTTP server.
//
// Start returns quickly; work it begins runs in goroutines it owns, stopped by
// Shutdown, not by Start's ctx (which only bounds start-up itself). Shutdown
// stops taking new work, finishes or flushes what was accepted, waits for its
// goroutines, and returns ctx's error if the deadline passes first. Shutdown is
// idempotent and may be called without a successful Start. The wiring package
// shuts components down in the reverse of their start order.
type Component interface {
	Start(ctx context.Context) error
	Shutdown(ctx context.Context) error
}

// permanentError marks an error that retrying cannot fix.
type permanentError struct{ err error }

func (p permanentError) Error() string { return p.err.Error() }
func (p permanentError) Unwrap() error { return p.err }

// Permanent wraps err to say that the same input will always fail: bad data,
// not a transient outage. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err: err}
}

// IsPermanent reports whether err or any error it wraps was marked Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

// ErrNotFound is returned (possibly wrapped) when a looked-up object does not
// exist.
var ErrNotFound = errors.New("not found")

// ErrConflict is returned (possibly wrapped) when a change conflicts with the
// current state, for example acknowledging a resolved incident.
var ErrConflict = errors.New("conflict")
