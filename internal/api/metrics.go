package api

import (
	"errors"
	"fmt"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Reasons of osprey_events_rejected_total.
const (
	reasonMalformed    = "malformed"              // not JSON, wrong shape, unknown field
	reasonInvalid      = "invalid"                // decodes but fails validation
	reasonEmpty        = "empty"                  // an empty array
	reasonTooLarge     = "too_large"              // body over MaxBodyBytes
	reasonTooMany      = "too_many"               // more than MaxEventsPerRequest
	reasonMediaType    = "unsupported_media_type" // Content-Type not JSON
	reasonUnauthorized = "unauthorized"           // missing or unknown token
	reasonForbidden    = "forbidden"              // role too low
	reasonStore        = "store_error"            // the store refused the batch
)

// maxSourceLabels bounds the distinct values of the source label of
// osprey_events_accepted_total: sources are chosen by senders, and each value
// is a series for ever. Sources seen after the first maxSourceLabels are
// counted as otherSource.
const (
	maxSourceLabels = 64
	otherSource     = "other"
)

// metrics holds the API's collectors.
type metrics struct {
	requests        *prometheus.CounterVec
	duration        *prometheus.HistogramVec
	accepted        *prometheus.CounterVec
	rejected        *prometheus.CounterVec
	handoffFailures prometheus.Counter

	mu      sync.RWMutex
	sources map[string]prometheus.Counter // accepted, by source label
}

func newMetrics() *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "osprey_http_requests_total",
			Help: "HTTP API requests served, by route pattern and status code.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "osprey_http_request_duration_seconds",
			Help:    "Time to serve HTTP API requests, by route pattern.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route"}),
		accepted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "osprey_events_accepted_total",
			Help: "Events stored through the API, by source (at most 64 sources; the rest count as \"other\").",
		}, []string{"source"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "osprey_events_rejected_total",
			Help: "Event ingestion requests rejected, by reason; a rejected request counts once, whatever its size.",
		}, []string{"reason"}),
		handoffFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "osprey_events_handoff_failures_total",
			Help: "Stored event batches that could not be handed to the pipeline; the correlator catches up from the store.",
		}),
		sources: make(map[string]prometheus.Counter),
	}
	for _, r := range []string{reasonMalformed, reasonInvalid, reasonEmpty, reasonTooLarge, reasonTooMany,
		reasonMediaType, reasonUnauthorized, reasonForbidden, reasonStore} {
		m.rejected.WithLabelValues(r)
	}
	return m
}

// register registers every collector on reg.
func (m *metrics) register(reg prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.accepted, m.rejected, m.handoffFailures} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("register api metrics: %w", err)
		}
	}
	return nil
}

// registerShared registers c, which other users may have registered on reg
// already (the Authenticator is shared by every server of the process).
func registerShared(reg prometheus.Registerer, c prometheus.Collector) error {
	err := reg.Register(c)
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) && are.ExistingCollector == c {
		return nil
	}
	return err
}

// acceptedFor returns the accepted-events counter of source.
func (m *metrics) acceptedFor(source string) prometheus.Counter {
	m.mu.RLock()
	c, ok := m.sources[source]
	m.mu.RUnlock()
	if ok {
		return c
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if c, ok := m.sources[source]; ok {
		return c
	}
	label := source
	if len(m.sources) >= maxSourceLabels {
		label = otherSource
	}
	c = m.accepted.WithLabelValues(label)
	if label == source {
		m.sources[source] = c
	}
	return c
}
