package notify

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Reasons of osprey_notifications_suppressed_total and
// osprey_notifications_failed_total.
const (
	reasonSilenced        = "silenced"
	reasonDuplicate       = "duplicate"
	reasonResolvedEarly   = "resolved_before_sent"
	reasonPermanent       = "permanent"
	reasonExhausted       = "exhausted"
	reasonStore           = "store"
	reasonQueueFull       = "queue_full"
	reasonTooManyTracked  = "too_many_incidents"
	reasonClaimLost       = "claim_lost"
	reasonUnknownReceiver = "unknown_receiver"
)

type metrics struct {
	sent        *prometheus.CounterVec
	failed      *prometheus.CounterVec
	suppressed  *prometheus.CounterVec
	retries     *prometheus.CounterVec
	rateLimited *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	tracked     prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "osprey_notifications_sent_total",
			Help: "Notifications a receiver accepted, by receiver and kind (opened, escalated, acknowledged, resolved, repeat, runbook).",
		}, []string{"receiver", "kind"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "osprey_notifications_failed_total",
			Help: "Notifications recorded as failed or not delivered, by receiver and reason (permanent, exhausted, store, queue_full, claim_lost).",
		}, []string{"receiver", "reason"}),
		suppressed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "osprey_notifications_suppressed_total",
			Help: "Notifications not sent on purpose, by receiver and reason (silenced, duplicate: logged by another notifier, resolved_before_sent, too_many_incidents).",
		}, []string{"receiver", "reason"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "osprey_notification_retries_total",
			Help: "Delivery attempts after the first, by receiver.",
		}, []string{"receiver"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "osprey_notifications_rate_limited_total",
			Help: "Deliveries that waited for the receiver's rate limit, by receiver.",
		}, []string{"receiver"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "osprey_notification_delivery_duration_seconds",
			Help:    "Duration of one delivery attempt, by receiver and outcome (success, error).",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"receiver", "outcome"}),
		tracked: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "osprey_notifications_tracked_incidents",
			Help: "Incidents the notifier holds state for.",
		}),
	}
	for _, c := range []prometheus.Collector{m.sent, m.failed, m.suppressed, m.retries, m.rateLimited, m.latency, m.tracked} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return nil, fmt.Errorf("notify: metrics already registered: %w", err)
			}
			return nil, fmt.Errorf("notify: register metrics: %w", err)
		}
	}
	return m, nil
}
