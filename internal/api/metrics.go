package api

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/osprey-aiops/osprey/internal/ingest"
)

// Reasons of osprey_events_rejected_total. They are the ingest.Reason values
// of the same names, so that the events API's rejections are counted the same
// way in osprey_ingest_rejected_total{receiver="events_api"}.
const (
	reasonMalformed    = string(ingest.ReasonMalformed)    // not JSON, wrong shape, unknown field
	reasonInvalid      = string(ingest.ReasonInvalid)      // decodes but fails validation
	reasonLabelLimit   = string(ingest.ReasonLabelLimit)   // too many labels or annotations, a value too long
	reasonEmpty        = string(ingest.ReasonEmpty)        // an empty array
	reasonTooLarge     = string(ingest.ReasonTooLarge)     // body over MaxBodyBytes
	reasonTooMany      = string(ingest.ReasonTooMany)      // more than MaxEventsPerRequest
	reasonMediaType    = string(ingest.ReasonMediaType)    // Content-Type not JSON
	reasonUnauthorized = string(ingest.ReasonUnauthorized) // missing or unknown token
	reasonForbidden    = string(ingest.ReasonForbidden)    // role too low
	reasonStore        = string(ingest.ReasonStore)        // the store refused the batch
)

// eventsReceiver is the name of the events API in the ingest data-quality
// counters (osprey_ingest_*{receiver="events_api"}, GET /api/v1/status/ingest).
const eventsReceiver = "events_api"

// metrics holds the API's collectors. The accepted-events and hand-off
// counters belong to the ingest.Committer, which every receiver shares.
type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	rejected *prometheus.CounterVec
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
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "osprey_events_rejected_total",
			Help: "Event ingestion requests rejected, by reason; a rejected request counts once, whatever its size.",
		}, []string{"reason"}),
	}
	for _, r := range []string{reasonMalformed, reasonInvalid, reasonLabelLimit, reasonEmpty, reasonTooLarge, reasonTooMany,
		reasonMediaType, reasonUnauthorized, reasonForbidden, reasonStore} {
		m.rejected.WithLabelValues(r)
	}
	return m
}

// register registers every collector on reg.
func (m *metrics) register(reg prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.rejected} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("register api metrics: %w", err)
		}
	}
	return nil
}

// registerShared registers c, which other users may have registered on reg
// already (the Authenticator, the Committer and the ingest Stats are shared by
// every server of the process).
func registerShared(reg prometheus.Registerer, c prometheus.Collector) error {
	err := reg.Register(c)
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) && are.ExistingCollector == c {
		return nil
	}
	return err
}
