package jetstream

import "github.com/prometheus/client_golang/prometheus"

// metrics are a Bus's Prometheus metrics, named as the in-process bus names
// its own where they mean the same. A group's backlog is JetStream's to
// report (the consumer's pending and ack-pending counts, in the server's
// monitoring), not this process's.
type metrics struct {
	published       *prometheus.CounterVec
	publishFailures *prometheus.CounterVec
	delivered       *prometheus.CounterVec
	coalesced       *prometheus.CounterVec
	handlerErrors   *prometheus.CounterVec
	redelivered     *prometheus.CounterVec
	terminated      *prometheus.CounterVec
}

func newMetrics() *metrics {
	return &metrics{
		published: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "osprey_bus_published_batches_total",
			Help: "Batches the stream stored (a batch split to fit the maximum payload counts once per part).",
		}, []string{"topic"}),
		publishFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "osprey_bus_publish_failures_total",
			Help: "Publish calls that failed: the stream was full, the server did not acknowledge in time, or the batch could not be encoded.",
		}, []string{"topic"}),
		delivered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "osprey_bus_delivered_batches_total",
			Help: "Deliveries a handler of the group in this process finished with, successfully or not; redeliveries count again.",
		}, []string{"topic", "group"}),
		coalesced: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "osprey_bus_coalesced_batches_total",
			Help: "Batches delivered gathered behind another batch the subscriber had fetched, in one handler call (Options.Coalesce).",
		}, []string{"topic", "group"}),
		handlerErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "osprey_bus_handler_errors_total",
			Help: "Deliveries whose handler returned an error or panicked.",
		}, []string{"topic", "group"}),
		redelivered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "osprey_bus_redelivered_batches_total",
			Help: "Deliveries of a batch that had been delivered before, after a handler error or an expired ack wait.",
		}, []string{"topic", "group"}),
		terminated: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "osprey_bus_terminated_batches_total",
			Help: "Batches given up: the handler's error was permanent, or it failed on the last allowed delivery.",
		}, []string{"topic", "group"}),
	}
}

// Describe implements prometheus.Collector.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, v := range m.vecs() {
		v.Describe(ch)
	}
}

// Collect implements prometheus.Collector.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	for _, v := range m.vecs() {
		v.Collect(ch)
	}
}

func (m *metrics) vecs() []*prometheus.CounterVec {
	return []*prometheus.CounterVec{m.published, m.publishFailures, m.delivered, m.coalesced, m.handlerErrors, m.redelivered, m.terminated}
}
