package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/bus"
	"github.com/osprey-aiops/osprey/internal/config"
	logdetect "github.com/osprey-aiops/osprey/internal/detect/logs"
	"github.com/osprey-aiops/osprey/internal/logmine"
	"github.com/osprey-aiops/osprey/internal/logparse"
	"github.com/osprey-aiops/osprey/internal/metricstore"
	"github.com/osprey-aiops/osprey/internal/store"
)

// logsPublisher hands the receivers' log batches to bus.Logs. Unlike
// series, a log batch waits for queue space (up to bus.publish_timeout):
// the Loki receiver answers 503 when the hand-off fails, so the sender
// retries, and the syslog server counts the batch as lost.
func logsPublisher(b bus.Bus) osprey.LogConsumer {
	return osprey.LogConsumerFunc(func(ctx context.Context, batch []osprey.LogRecord) error {
		return bus.Publish(ctx, b, bus.Logs, batch)
	})
}

// buildLogStage builds the log stage of cfg: the template miner behind
// bus.Logs, the saver that keeps its templates in st, and (with
// logs.anomalies) the log anomaly detector, fed by the miner line by line.
// The detector's anomalies go to sink, as the metric detector's do (stored,
// then bus.Anomalies), and its count series to the TSDB. The detector is
// nil when anomalies are off; the caller starts it after the bus.
// spanLogs, if not nil, is also told every mined line (the trace detect
// stage's join of lines to their spans, internal/app/tracedetect.go), so
// that lines are mined once.
func buildLogStage(cfg config.LogsConfig, b bus.Bus, st store.Store, sink osprey.AnomalyConsumer,
	metrics *metricstore.Store, now func() time.Time, log *slog.Logger, reg prometheus.Registerer,
	spanLogs func(source string, m logmine.Match, r *osprey.LogRecord),
) (*templateSaver, *logdetect.Detector, error) {
	saver := newTemplateSaver(st, cfg.SaveInterval, log.With("component", "logmine"))
	opts := logmine.SetOptions{
		Config:   logmine.Config{MaxTemplates: cfg.MaxTemplatesPerSource},
		Content:  mineContent,
		OnUpdate: saver.onUpdate,
		OnMatch:  spanLogs,
	}
	var det *logdetect.Detector
	if cfg.Anomalies {
		counts := &countWriter{metrics: metrics}
		var err error
		det, err = logdetect.New(logdetect.Options{
			Config: cfg.Detector(),
			Out:    sink,
			Counts: counts,
			Lookup: func(source, id string) (osprey.LogTemplate, bool) { return saver.set.Lookup(source, id) },
			Now:    now,
			Logger: log.With("component", "logdetect"),
		})
		if err != nil {
			return nil, nil, err
		}
		opts.OnUpdate = func(u logmine.Update) {
			saver.onUpdate(u)
			det.OnUpdate(u)
		}
		opts.OnMatch = det.Observe
		if spanLogs != nil {
			opts.OnMatch = func(source string, m logmine.Match, r *osprey.LogRecord) {
				det.Observe(source, m, r)
				spanLogs(source, m, r)
			}
		}
		saver.onRestore = det.MarkWarm
		if err := registerLogDetectMetrics(reg, det, counts); err != nil {
			return nil, nil, err
		}
	}
	saver.set = logmine.NewSet(opts)
	consume := saver.set.ConsumeLogs
	if det != nil {
		// What the detector found in a batch is handed on once the batch
		// is mined, outside the miner's locks.
		consume = func(ctx context.Context, batch []osprey.LogRecord) error {
			if err := saver.set.ConsumeLogs(ctx, batch); err != nil {
				return err
			}
			return det.Emit(ctx)
		}
	}
	if err := bus.Subscribe(b, bus.Logs, "logmine", consume); err != nil {
		return nil, nil, fmt.Errorf("subscribe logmine to logs: %w", err)
	}
	if err := saver.register(reg); err != nil {
		return nil, nil, err
	}
	return saver, det, nil
}

// logSnapshotPath returns the file the log detector's models (the rate
// baselines of every template and error series) are snapshotted to:
// detect/logs.snap in DataDir, beside the metric detector's. They are
// written every detect.snapshot_interval and at shutdown, after the bus
// drained, by the same modelSaver as the metric detector's models.
func logSnapshotPath(cfg config.Config) string {
	return filepath.Join(cfg.DataDir, "detect", "logs.snap")
}

// countWriter writes the log detector's count series to the TSDB, through
// the appender the anomaly sink writes scores with. Rejected samples (out
// of order after a restart, the series cap) are counted, not returned.
type countWriter struct {
	metrics  *metricstore.Store
	rejected atomic.Int64
}

// ConsumeSeries implements osprey.SeriesConsumer.
func (w *countWriter) ConsumeSeries(ctx context.Context, batch []osprey.Series) error {
	res, err := w.metrics.AppendSeries(ctx, batch)
	if err != nil {
		w.rejected.Add(int64(len(batch)))
		return err
	}
	w.rejected.Add(int64(res.Rejected()))
	return nil
}

// registerLogDetectMetrics exports the log detector's counters.
func registerLogDetectMetrics(reg prometheus.Registerer, det *logdetect.Detector, counts *countWriter) error {
	stat := func(f func(logdetect.Stats) float64) func() float64 {
		return func() float64 { return f(det.Stats()) }
	}
	for _, c := range []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "osprey_logdetect_new_templates_total",
			Help: "New-template log anomalies reported.",
		}, stat(func(s logdetect.Stats) float64 { return float64(s.NewTemplates) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "osprey_logdetect_new_templates_suppressed_total",
			Help: "New templates not reported because their source was within logs.new_template_warmup(_lines).",
		}, stat(func(s logdetect.Stats) float64 { return float64(s.Suppressed) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "osprey_logdetect_late_lines_total",
			Help: "Log lines older than their source's open count bucket, counted in the open bucket.",
		}, stat(func(s logdetect.Stats) float64 { return float64(s.Late) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "osprey_logdetect_series",
			Help: "Log count series (templates, error lines) with an anomaly model.",
		}, stat(func(s logdetect.Stats) float64 { return float64(s.Series) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "osprey_logdetect_dropped_counts_total",
			Help: "Bucket counts not scored because logs.max_template_series series have a model.",
		}, stat(func(s logdetect.Stats) float64 { return float64(s.Dropped) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "osprey_logdetect_count_samples_rejected_total",
			Help: "Log count samples the TSDB did not store (out of order, cardinality cap, or a storage error).",
		}, func() float64 { return float64(counts.rejected.Load()) }),
	} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("register log detect metrics: %w", err)
		}
	}
	return nil
}

// savedTemplate is what the store holds of a template, to write only what
// changed.
type savedTemplate struct {
	text    string
	count   int64
	aliasOf string
}

// templateSaver keeps the log-mining stage's templates in the store, so
// that they keep their ids and counts across restarts. Start restores every
// source's templates into the Set before any line is mined; afterwards the
// templates that changed are written, never per line: soon after the Set
// reports a new or merged template (kick, from OnUpdate), every interval (for
// counts and last-seen times), and once more on Shutdown, after the bus has
// drained into the Set. Memory is bounded by the Set's own template cap: one
// savedTemplate per template.
type templateSaver struct {
	set      *logmine.Set
	store    store.Templates
	interval time.Duration
	// newTicker returns the save ticks and a function that stops them;
	// tests inject their own.
	newTicker func(d time.Duration) (<-chan time.Time, func())
	log       *slog.Logger
	// onRestore, if set, is told each source whose templates were restored.
	onRestore func(source string)

	kick chan struct{}

	// mu serialises save and guards saved.
	mu    sync.Mutex
	saved map[string]savedTemplate

	stopOnce sync.Once
	stop     chan struct{}
	done     chan struct{}
	cancel   context.CancelFunc

	saves, saveFailures prometheus.Counter
}

var _ osprey.Component = (*templateSaver)(nil)

// newTemplateSaver returns a saver writing to st every interval; its set
// is assigned by the caller, whose Set calls onUpdate.
func newTemplateSaver(st store.Templates, interval time.Duration, log *slog.Logger) *templateSaver {
	return &templateSaver{
		store:    st,
		interval: interval,
		newTicker: func(d time.Duration) (<-chan time.Time, func()) {
			t := time.NewTicker(d)
			return t.C, t.Stop
		},
		log:   log,
		kick:  make(chan struct{}, 1),
		saved: make(map[string]savedTemplate),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
		saves: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "osprey_logmine_template_writes_total",
			Help: "Log templates written to the store (new, merged, or with new counts).",
		}),
		saveFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "osprey_logmine_save_failures_total",
			Help: "Failed writes of log templates to the store; the templates are written again on the next save.",
		}),
	}
}

// onUpdate is the Set's OnUpdate: it runs with a source's lock held, so it
// only asks the saver's goroutine to save soon, never waiting.
func (s *templateSaver) onUpdate(logmine.Update) {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Start restores the stored templates of every source into the Set and
// starts the periodic save.
func (s *templateSaver) Start(ctx context.Context) error {
	if err := s.restore(ctx); err != nil {
		return err
	}
	ticks, stopTicks := s.newTicker(s.interval)
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	go func() {
		defer close(s.done)
		defer stopTicks()
		for {
			select {
			case <-s.stop:
				return
			case <-ticks:
			case <-s.kick:
			}
			s.save(lctx)
		}
	}()
	return nil
}

// restore loads every source's templates. The store lists at most
// store.MaxLimit templates at a time, so each source is listed on its own:
// logs.max_templates_per_source beyond store.MaxLimit restores only the
// most frequent ones.
func (s *templateSaver) restore(ctx context.Context) error {
	all, err := s.store.ListTemplates(ctx, "", "", store.MaxLimit)
	if err != nil {
		return fmt.Errorf("restore log templates: %w", err)
	}
	sources := make(map[string]bool)
	for _, t := range all {
		sources[t.Source] = true
	}
	var ts []osprey.LogTemplate
	if len(all) < store.MaxLimit {
		ts = all
	} else {
		for src := range sources {
			list, err := s.store.ListTemplates(ctx, src, "", store.MaxLimit)
			if err != nil {
				return fmt.Errorf("restore log templates of %q: %w", src, err)
			}
			ts = append(ts, list...)
		}
	}
	s.set.Restore(ts)
	if s.onRestore != nil {
		for src := range sources {
			s.onRestore(src)
		}
	}
	s.mu.Lock()
	for _, t := range ts {
		s.saved[t.ID] = savedTemplate{text: t.Template, count: t.Count, aliasOf: t.AliasOf}
	}
	s.mu.Unlock()
	if len(ts) > 0 {
		s.log.Info("restored log templates", "templates", len(ts), "sources", len(sources))
	}
	return nil
}

// save writes the templates that changed since the last successful save, in
// one batch per source. A failure is logged and counted; the templates stay
// unsaved and are tried again next time.
func (s *templateSaver) save(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, src := range s.set.Sources() {
		var batch []osprey.LogTemplate
		for _, t := range s.set.Templates(src) {
			cur := savedTemplate{text: t.Template, count: t.Count, aliasOf: t.AliasOf}
			if prev, ok := s.saved[t.ID]; ok && prev == cur {
				continue
			}
			batch = append(batch, t)
		}
		if len(batch) == 0 {
			continue
		}
		if err := s.store.SaveTemplates(ctx, batch); err != nil {
			s.saveFailures.Inc()
			s.log.Warn("save log templates", "source", src, "templates", len(batch), "err", err)
			errs = append(errs, fmt.Errorf("save log templates of %q: %w", src, err))
			continue
		}
		s.saves.Add(float64(len(batch)))
		for _, t := range batch {
			s.saved[t.ID] = savedTemplate{text: t.Template, count: t.Count, aliasOf: t.AliasOf}
		}
	}
	return errors.Join(errs...)
}

// Shutdown stops the periodic save and writes what changed since, within
// ctx. It is idempotent.
func (s *templateSaver) Shutdown(ctx context.Context) error {
	s.stopOnce.Do(func() { close(s.stop) })
	if s.cancel != nil {
		select {
		case <-s.done:
		case <-ctx.Done():
			s.cancel()
			<-s.done
		}
		s.cancel()
	}
	return s.save(ctx)
}

// register exports the saver's counters and, per source, the Set's.
func (s *templateSaver) register(reg prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{s.saves, s.saveFailures, setCollector{s.set}} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("register log mining metrics: %w", err)
		}
	}
	return nil
}

// setCollector exports a logmine.Set's counters per source. Sources are the
// receivers' names (loki, syslog), so the label values are few.
type setCollector struct{ set *logmine.Set }

var (
	logLinesDesc = prometheus.NewDesc("osprey_logmine_lines_total",
		"Log lines mined, by source.", []string{"source"}, nil)
	logTemplatesDesc = prometheus.NewDesc("osprey_logmine_templates",
		"Log templates of a source, merged ones included.", []string{"source"}, nil)
	logOverflowDesc = prometheus.NewDesc("osprey_logmine_overflow_lines_total",
		"Log lines that got no template because their source has logs.max_templates_per_source templates.", []string{"source"}, nil)
)

// Describe implements prometheus.Collector.
func (c setCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- logLinesDesc
	ch <- logTemplatesDesc
	ch <- logOverflowDesc
}

// Collect implements prometheus.Collector.
func (c setCollector) Collect(ch chan<- prometheus.Metric) {
	for _, src := range c.set.Sources() {
		st := c.set.Stats(src)
		ch <- prometheus.MustNewConstMetric(logLinesDesc, prometheus.CounterValue, float64(st.Lines), src)
		ch <- prometheus.MustNewConstMetric(logTemplatesDesc, prometheus.GaugeValue, float64(st.Templates), src)
		ch <- prometheus.MustNewConstMetric(logOverflowDesc, prometheus.CounterValue, float64(st.Overflow), src)
	}
}

// mineContent is the text the miner mines of a record: the line without
// the header logparse.Detect recognises (an ISO-8601 or epoch time stamp,
// a level word, a syslog header, the message field of a JSON or logfmt
// line), so that the same message at another time or level is the same
// template, and a JSON line's template is its message rather than its keys.
// A line without a recognised header is mined as it is. Lines that arrive
// by syslog and OTLP were parsed by their receiver; Detect finds nothing
// more to strip in most of them.
func mineContent(r *osprey.LogRecord) string {
	if m := logparse.Detect(r.Body).Message; m != "" {
		return m
	}
	return r.Body
}
