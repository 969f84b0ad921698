package app

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/api"
	"github.com/osprey-aiops/osprey/internal/bus"
	"github.com/osprey-aiops/osprey/internal/detect/metric"
	"github.com/osprey-aiops/osprey/internal/metricstore"
	"github.com/osprey-aiops/osprey/internal/store"
)

// ScoreMetric is the name of the series the detector's anomaly scores are
// written back as; the other labels are the scored series' own, with its
// metric name as the label ScoreMetricLabel.
const (
	ScoreMetric      = "osprey_anomaly_score"
	ScoreMetricLabel = "metric"
)

// anomalySink takes the detector's anomalies: it stores them, writes their
// scores to the TSDB, and hands them to the correlator.
type anomalySink struct {
	store  store.Anomalies
	scores *metricstore.Store
	next   osprey.AnomalyConsumer
	log    *slog.Logger

	scoreRejected prometheus.Counter
}

var _ osprey.AnomalyConsumer = (*anomalySink)(nil)

// The metric engine takes operators' verdicts from the API.
var _ api.AnomalyFeedback = (*metric.Engine)(nil)

// newAnomalySink returns the sink of the detectors (metric and log): it
// stores their anomalies in st, writes metric anomalies' scores to scores,
// and hands the anomalies to next.
func newAnomalySink(st store.Anomalies, scores *metricstore.Store, next osprey.AnomalyConsumer, log *slog.Logger) *anomalySink {
	return &anomalySink{
		store:  st,
		scores: scores,
		next:   next,
		log:    log,
		scoreRejected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "osprey_detect_score_samples_rejected_total",
			Help: "Anomaly score samples the TSDB did not store (out of order, cardinality cap, or a storage error).",
		}),
	}
}

// ConsumeAnomalies stores batch, writes its scores and hands it on (which
// owns it then). An error from the store is returned with nothing handed
// on: the bus counts and logs it.
func (s *anomalySink) ConsumeAnomalies(ctx context.Context, batch []osprey.Anomaly) error {
	if err := s.store.SaveAnomalies(ctx, batch); err != nil {
		return fmt.Errorf("detect: %w", err)
	}
	s.writeScores(ctx, batch)
	return s.next.ConsumeAnomalies(ctx, batch)
}

// writeScores writes each anomaly's score as a sample of
// osprey_anomaly_score{<the series' labels>, metric="<its name>"}: the score
// at the anomaly's start when it opens, and 0 at its end when it closes. The
// engine does not expose its per-point scores, so the series is a step per
// anomaly, not a score per sample. Failures are counted, never returned: the
// anomaly itself is stored.
func (s *anomalySink) writeScores(ctx context.Context, batch []osprey.Anomaly) {
	series := make([]osprey.Series, 0, len(batch))
	for i := range batch {
		a := &batch[i]
		if a.Kind != osprey.AnomalyMetric {
			continue
		}
		smp := osprey.Sample{TimestampMs: a.StartsAt.UnixMilli(), Value: a.Score}
		if !a.Active() {
			smp = osprey.Sample{TimestampMs: a.EndsAt.UnixMilli(), Value: 0}
		}
		series = append(series, osprey.Series{Labels: ScoreLabels(a.Labels), Samples: []osprey.Sample{smp}})
	}
	if len(series) == 0 {
		return
	}
	res, err := s.scores.AppendSeries(ctx, series)
	if err != nil {
		s.scoreRejected.Add(float64(len(series)))
		s.log.Warn("write anomaly scores", "series", len(series), "err", err)
		return
	}
	s.scoreRejected.Add(float64(res.Rejected()))
}

// ScoreLabels returns the labels of the score series of a series labelled l:
// l with __name__ set to osprey_anomaly_score and the original name as label
// "metric" (an original "metric" label moves to "exported_metric", as
// Prometheus renames clashing target labels).
func ScoreLabels(l osprey.Labels) osprey.Labels {
	out := make(osprey.Labels, len(l)+1)
	for k, v := range l {
		out[k] = v
	}
	if v, ok := l[ScoreMetricLabel]; ok {
		out["exported_"+ScoreMetricLabel] = v
	}
	out[ScoreMetricLabel] = l[osprey.LabelMetric]
	out[osprey.LabelMetric] = ScoreMetric
	return out
}

// seriesPublisher hands series batches to bus.Series without waiting: the
// publish runs with a context that is already done, so the in-process bus
// enqueues the batch when the detect queue has room and fails at once when it
// is full. Ingest is never slowed by the detector; the receiver counts what
// was not handed over (the samples are stored either way).
func seriesPublisher(b bus.Bus) osprey.SeriesConsumer {
	return osprey.SeriesConsumerFunc(func(ctx context.Context, batch []osprey.Series) error {
		ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		cancel()
		return bus.Publish(ctx, b, bus.Series, batch)
	})
}

// registerDetectMetrics exports the engine's and the sink's counts.
func registerDetectMetrics(reg prometheus.Registerer, eng *metric.Engine, sink *anomalySink) error {
	for _, c := range []prometheus.Collector{
		sink.scoreRejected,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "osprey_detect_series",
			Help: "Series the metric detector keeps a model for.",
		}, func() float64 { return float64(eng.Series()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "osprey_detect_dropped_samples_total",
			Help: "Samples not scored because the detector already models detect.max_series series.",
		}, func() float64 { return float64(eng.Dropped()) }),
	} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("register detect metrics: %w", err)
		}
	}
	return nil
}
