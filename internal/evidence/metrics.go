package evidence

import "github.com/prometheus/client_golang/prometheus"

// collector exports one window's WindowStats.
type collector struct {
	stats                                           func() WindowStats
	reasons                                         [numReasons]string
	items, keys, bytes, added, evicted, evictedKeys *prometheus.Desc
}

// Collector returns the window's metrics: osprey_log_window_lines,
// _streams, _bytes, _lines_added_total, _lines_evicted_total{reason} (reason
// is the limit's configuration key: lines_per_stream, max_streams,
// max_bytes, max_age) and _streams_evicted_total.
func (lw *LogWindow) Collector() prometheus.Collector {
	return &collector{
		stats:   lw.Stats,
		reasons: [numReasons]string{"lines_per_stream", "max_streams", "max_bytes", "max_age"},
		items:   prometheus.NewDesc("osprey_log_window_lines", "Log lines held in the recent window (logs.recent).", nil, nil),
		keys:    prometheus.NewDesc("osprey_log_window_streams", "Log streams with lines in the recent window.", nil, nil),
		bytes:   prometheus.NewDesc("osprey_log_window_bytes", "Estimated memory of the recent log window; at most logs.recent.max_bytes.", nil, nil),
		added:   prometheus.NewDesc("osprey_log_window_lines_added_total", "Log lines added to the recent window.", nil, nil),
		evicted: prometheus.NewDesc("osprey_log_window_lines_evicted_total",
			"Log lines evicted from the recent window, by the logs.recent limit that evicted them.", []string{"reason"}, nil),
		evictedKeys: prometheus.NewDesc("osprey_log_window_streams_evicted_total",
			"Whole log streams evicted from the recent window because logs.recent.max_streams were held.", nil, nil),
	}
}

// Collector returns the window's metrics: osprey_span_window_spans,
// _services, _bytes, _spans_added_total, _spans_evicted_total{reason}
// (spans_per_service, max_services, max_bytes, max_age) and
// _services_evicted_total.
func (sw *SpanWindow) Collector() prometheus.Collector {
	return &collector{
		stats:   sw.Stats,
		reasons: [numReasons]string{"spans_per_service", "max_services", "max_bytes", "max_age"},
		items:   prometheus.NewDesc("osprey_span_window_spans", "Spans held in the recent window (otlp.recent_spans).", nil, nil),
		keys:    prometheus.NewDesc("osprey_span_window_services", "Services with spans in the recent window.", nil, nil),
		bytes:   prometheus.NewDesc("osprey_span_window_bytes", "Estimated memory of the recent span window; at most otlp.recent_spans.max_bytes.", nil, nil),
		added:   prometheus.NewDesc("osprey_span_window_spans_added_total", "Spans added to the recent window.", nil, nil),
		evicted: prometheus.NewDesc("osprey_span_window_spans_evicted_total",
			"Spans evicted from the recent window, by the otlp.recent_spans limit that evicted them.", []string{"reason"}, nil),
		evictedKeys: prometheus.NewDesc("osprey_span_window_services_evicted_total",
			"Whole services evicted from the recent span window because otlp.recent_spans.max_services were held.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.items, c.keys, c.bytes, c.added, c.evicted, c.evictedKeys} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s := c.stats()
	ch <- prometheus.MustNewConstMetric(c.items, prometheus.GaugeValue, float64(s.Items))
	ch <- prometheus.MustNewConstMetric(c.keys, prometheus.GaugeValue, float64(s.Keys))
	ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.GaugeValue, float64(s.Bytes))
	ch <- prometheus.MustNewConstMetric(c.added, prometheus.CounterValue, float64(s.Added))
	for r, n := range s.Evicted {
		ch <- prometheus.MustNewConstMetric(c.evicted, prometheus.CounterValue, float64(n), c.reasons[r])
	}
	ch <- prometheus.MustNewConstMetric(c.evictedKeys, prometheus.CounterValue, float64(s.EvictedKeys))
}
