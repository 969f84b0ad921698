package inproc

import "github.com/prometheus/client_golang/prometheus"

// metrics are a Bus's Prometheus metrics. The counters are ordinary vectors;
// the queue gauges are read from the queues when gathered, so the hot path
// does not maintain them.
type metrics struct {
	b *Bus

	published     *prometheus.CounterVec
	delivered     *prometheus.CounterVec
	coalesced     *prometheus.CounterVec
	dropped       *prometheus.CounterVec
	handlerErrors *prometheus.CounterVec
	queueLength   *prometheus.Desc
	queueCapacity *prometheus.Desc
}

func newMetrics(b *Bus) *metrics {
	return &metrics{
		b: b,
		published: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "osprey_bus_published_batches_total",
			Help: "Batches published, whether or not any group took them.",
		}, []string{"topic"}),
		delivered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "osprey_bus_delivered_batches_total",
			Help: "Batches a handler of the group finished with, successfully or not.",
		}, []string{"topic", "group"}),
		coalesced: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "osprey_bus_coalesced_batches_total",
			Help: "Batches delivered gathered behind another batch of the group's queue, in one handler call (Options.Coalesce).",
		}, []string{"topic", "group"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "osprey_bus_dropped_batches_total",
			Help: "Batches dropped for the group: its queue stayed full for the publish timeout, or shutdown gave up before they were handled.",
		}, []string{"topic", "group"}),
		handlerErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "osprey_bus_handler_errors_total",
			Help: "Batches whose handler (or the topic's idle function after it, Options.Idle) returned an error or panicked; they are not redelivered.",
		}, []string{"topic", "group"}),
		queueLength: prometheus.NewDesc("osprey_bus_queue_length",
			"Batches waiting in the group's queue.", []string{"topic", "group"}, nil),
		queueCapacity: prometheus.NewDesc("osprey_bus_queue_capacity",
			"Batches each group's queue can hold.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	m.published.Describe(ch)
	m.delivered.Describe(ch)
	m.coalesced.Describe(ch)
	m.dropped.Describe(ch)
	m.handlerErrors.Describe(ch)
	ch <- m.queueLength
	ch <- m.queueCapacity
}

// Collect implements prometheus.Collector.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	m.published.Collect(ch)
	m.delivered.Collect(ch)
	m.coalesced.Collect(ch)
	m.dropped.Collect(ch)
	m.handlerErrors.Collect(ch)
	ch <- prometheus.MustNewConstMetric(m.queueCapacity, prometheus.GaugeValue, float64(m.b.queueSize))
	m.b.mu.RLock()
	groups := m.b.groups
	m.b.mu.RUnlock()
	for _, g := range groups {
		ch <- prometheus.MustNewConstMetric(m.queueLength, prometheus.GaugeValue,
			float64(len(g.queue)), g.topic, g.name)
	}
}
