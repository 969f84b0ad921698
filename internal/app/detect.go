package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/api"
	"github.com/osprey-aiops/osprey/internal/bus"
	"github.com/osprey-aiops/osprey/internal/detect/metric"
	"github.com/osprey-aiops/osprey/internal/metricstore"
	"github.com/osprey-aiops/osprey/internal/snapfile"
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
// at the anomaly's start when it opens, and 0 at its end when it closes
// (nothing when it ends in an escalation: its successor's score is written
// at that instant). The
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
		if a.Escalated() {
			// The anomaly that replaced it starts at the same instant
			// (metric.Tracker.Observe) and writes its score there.
			continue
		}
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
//
// The in-process bus hands the published batch itself to the first consumer
// group of a topic and deep copies to the others; "detect" is the only group
// on bus.Series, so the remote_write receiver's label maps (one per series,
// shared by its batches) reach metric.Engine.ConsumeSeries as they are, and
// the engine finds those series by their map instead of hashing their labels
// every batch. A group subscribed to bus.Series before "detect" would hand it
// copies and cost it that (about a fifth of the server's CPU under
// remote_write load: docs/receivers.md, "Measured").
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

// modelSaver keeps the metric detector's models across restarts: on Start
// it restores them from a snapshot file, then writes the file every
// interval and once more on Shutdown. It starts before the bus and so shuts
// down after the bus has drained, and the last snapshot holds everything
// the detector consumed.
type modelSaver struct {
	eng      modelSnapshotter
	path     string
	interval time.Duration
	log      *slog.Logger

	// mu serialises save and guards closed.
	mu     sync.Mutex
	closed bool

	stopOnce sync.Once
	stop     chan struct{}
	done     chan struct{}
}

var _ osprey.Component = (*modelSaver)(nil)

// modelSnapshotter is a detector whose models a modelSaver keeps: the
// metric engine and the log detector. Restore's errors for an invalid file
// wrap metric.ErrSnapshot or snapfile.ErrInvalid.
type modelSnapshotter interface {
	Snapshot(w io.Writer) error
	Restore(r io.Reader) error
	Series() int
}

// newModelSaver returns a saver of eng's models to path, every interval.
func newModelSaver(eng modelSnapshotter, path string, interval time.Duration, log *slog.Logger) *modelSaver {
	return &modelSaver{eng: eng, path: path, interval: interval, log: log,
		stop: make(chan struct{}), done: make(chan struct{})}
}

// Start restores the models from the snapshot file, if there is one, and
// starts the periodic snapshots. A file that is not a valid snapshot (torn,
// corrupted, foreign, of another version) is logged and renamed to
// <path>.corrupt, and the detector starts afresh; only an unreadable file is
// an error.
func (s *modelSaver) Start(context.Context) error {
	if err := s.restore(); err != nil {
		return err
	}
	go s.run()
	return nil
}

func (s *modelSaver) restore() error {
	f, err := os.Open(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open detector snapshot: %w", err)
	}
	err = s.eng.Restore(f)
	f.Close()
	switch {
	case err == nil:
		s.log.Info("restored detector models", "path", s.path, "series", s.eng.Series())
		return nil
	case errors.Is(err, metric.ErrSnapshot), errors.Is(err, snapfile.ErrInvalid):
		aside := s.path + ".corrupt"
		if rerr := os.Rename(s.path, aside); rerr != nil {
			return fmt.Errorf("move aside invalid detector snapshot: %w", rerr)
		}
		s.log.Warn("detector snapshot not loaded, starting afresh", "path", aside, "err", err)
		return nil
	default:
		return fmt.Errorf("restore detector snapshot %s: %w", s.path, err)
	}
}

func (s *modelSaver) run() {
	defer close(s.done)
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			if err := s.save(); err != nil {
				s.log.Warn("snapshot detector models", "path", s.path, "err", err)
			}
		}
	}
}

// save writes the snapshot atomically: to a temporary file in the same
// directory, synced, then renamed over the old one (and the directory
// synced), so a crash leaves the old snapshot or the new one, never half
// of one.
func (s *modelSaver) save() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	dir := filepath.Dir(s.path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("create snapshot dir: %w", err)
	}
	tmp, err := os.CreateTemp(dir, filepath.Base(s.path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("create snapshot: %w", err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly after the rename
	err = s.eng.Snapshot(tmp)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), s.path)
	}
	if err != nil {
		return fmt.Errorf("write snapshot: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // best effort: the rename itself is durable on most file systems
		d.Close()
	}
	return nil
}

// Shutdown stops the periodic snapshots and writes the last one. It is
// idempotent; a second call writes nothing.
func (s *modelSaver) Shutdown(ctx context.Context) error {
	s.stopOnce.Do(func() { close(s.stop) })
	select {
	case <-s.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := s.save(); err != nil {
		return fmt.Errorf("snapshot detector models: %w", err)
	}
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return nil
}
