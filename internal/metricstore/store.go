// Package metricstore keeps Osprey's metric samples in an embedded Prometheus
// TSDB (github.com/prometheus/prometheus/tsdb): the same on-disk format,
// write-ahead log, compaction and retention as a Prometheus server, under
// <data_dir>/tsdb by default.
//
// Store is an osprey.Component (Start opens the database and replays its
// write-ahead log; Shutdown closes it) and a storage.Queryable, so the PromQL
// engine of internal/query reads from it directly.
//
// Samples are written through an Appender, one per request. Following the
// Prometheus TSDB, samples that cannot be stored are rejected one by one and
// classified (Outcome): out of order, a duplicate timestamp with another
// value, older than the head block accepts, or a new series beyond the
// active-series cap or the cap on series of one metric name. The other
// samples of the batch are committed.
package metricstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"

	"github.com/osprey-aiops/osprey"
)

// ErrNotOpen is returned by Querier and Appender before Start and after
// Shutdown.
var ErrNotOpen = errors.New("metric store is not open")

// Options configure a Store. Dir is required.
type Options struct {
	// Dir is the TSDB directory; created if missing.
	Dir string
	// Retention is how long samples are kept; zero means 15 days.
	Retention time.Duration
	// MaxSeries caps the active series (those in the in-memory head
	// block); samples of new series beyond it are rejected with
	// OutcomeCardinalityCap. Zero means no cap.
	MaxSeries int
	// MaxSeriesPerMetric caps the active series of one metric name
	// (__name__); samples of a new series beyond it are rejected with
	// OutcomeSeriesPerMetric. Zero means no cap.
	MaxSeriesPerMetric int
	// Logger receives the TSDB's own log lines; default discards.
	Logger *slog.Logger
	// Registerer receives the TSDB's metrics (prometheus_tsdb_*) and the
	// store's own; nil leaves them unregistered.
	Registerer prometheus.Registerer
}

// DefaultRetention is the retention when Options.Retention is zero, as in
// Prometheus.
const DefaultRetention = 15 * 24 * time.Hour

// Store is the embedded TSDB. It is safe for concurrent use.
type Store struct {
	opts Options
	log  *slog.Logger

	capHits, perMetricHits prometheus.Counter

	mu     sync.RWMutex
	db     *tsdb.DB
	limits *seriesLimits // the caps of db
	closed bool
	// gen counts the databases opened, so that a cache of series refs
	// can tell that they belong to another database.
	gen uint64
}

var (
	_ osprey.Component  = (*Store)(nil)
	_ storage.Queryable = (*Store)(nil)
)

// New returns a Store that opens opts.Dir when started.
func New(opts Options) (*Store, error) {
	if opts.Dir == "" {
		return nil, errors.New("metricstore: no directory")
	}
	if opts.Retention < 0 || opts.MaxSeries < 0 || opts.MaxSeriesPerMetric < 0 {
		return nil, fmt.Errorf("metricstore: negative retention %s, max series %d or max series per metric %d",
			opts.Retention, opts.MaxSeries, opts.MaxSeriesPerMetric)
	}
	if opts.Retention == 0 {
		opts.Retention = DefaultRetention
	}
	s := &Store{
		opts: opts,
		log:  opts.Logger,
		capHits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "osprey_tsdb_cardinality_cap_rejected_samples_total",
			Help: "Samples of new series rejected because the active-series cap (tsdb.max_series) was reached.",
		}),
		perMetricHits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "osprey_tsdb_series_per_metric_rejected_samples_total",
			Help: "Samples of new series rejected because their metric name had tsdb.max_series_per_metric active series.",
		}),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if opts.Registerer != nil {
		highest := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "osprey_tsdb_series_per_metric_highest",
			Help: "The most active series any one metric name has, to compare with tsdb.max_series_per_metric (0 when that cap is off).",
		}, func() float64 { return float64(s.highestSeriesPerMetric()) })
		for _, c := range []prometheus.Collector{s.capHits, s.perMetricHits, highest} {
			if err := opts.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("metricstore: register metrics: %w", err)
			}
		}
	}
	return s, nil
}

// Start opens the TSDB, replaying its write-ahead log (which can take a while
// after a crash with many series; Start's ctx does not interrupt it).
func (s *Store) Start(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db != nil || s.closed {
		return errors.New("metricstore: already started")
	}
	o := tsdb.DefaultOptions()
	o.RetentionDuration = s.opts.Retention.Milliseconds()
	// As Prometheus does: blocks grow to a tenth of the retention, at most
	// 31 days, so that retention deletes whole blocks in small steps.
	o.MaxBlockDuration = max(o.MinBlockDuration, min(o.RetentionDuration/10, (31*24*time.Hour).Milliseconds()))
	// The head asks limits before it creates a series, and tells it which
	// it created and dropped: the caps cost nothing on the samples of
	// series it holds. Replay is not held to them (enforce is still off).
	limits := newSeriesLimits(s.opts.MaxSeries, s.opts.MaxSeriesPerMetric)
	o.SeriesLifecycleCallback = limits
	db, err := tsdb.Open(s.opts.Dir, s.log, s.opts.Registerer, o, nil)
	if err != nil {
		return fmt.Errorf("open tsdb %s: %w", s.opts.Dir, err)
	}
	limits.enforce.Store(true)
	s.db, s.limits = db, limits
	s.gen++
	return nil
}

// Shutdown closes the TSDB: the write-ahead log is synced, so every committed
// sample is there after a restart. It is idempotent; ctx is not consulted,
// since a half-closed database is worse than a late one.
func (s *Store) Shutdown(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.db == nil {
		return nil
	}
	db := s.db
	s.db = nil
	if err := db.Close(); err != nil {
		return fmt.Errorf("close tsdb: %w", err)
	}
	return nil
}

// Querier implements storage.Queryable for the PromQL engine and the label
// and series APIs.
func (s *Store) Querier(mint, maxt int64) (storage.Querier, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.db == nil {
		return nil, ErrNotOpen
	}
	return s.db.Querier(mint, maxt)
}

// NumSeries returns the number of active series (in the head block).
func (s *Store) NumSeries() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.db == nil {
		return 0
	}
	return s.db.Head().NumSeries()
}

// SeriesOfMetric returns the number of active series of metric name, as the
// per-metric cap counts them; 0 when that cap is off.
func (s *Store) SeriesOfMetric(name string) int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.limits == nil {
		return 0
	}
	return s.limits.seriesOf(name)
}

// highestSeriesPerMetric returns the most active series of one metric name.
func (s *Store) highestSeriesPerMetric() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.limits == nil {
		return 0
	}
	return s.limits.highest()
}

// Appender returns an Appender for one batch. It holds a read lock on the
// store until Commit or Rollback, so Shutdown waits for batches in flight.
func (s *Store) Appender(ctx context.Context) (*Appender, error) {
	s.mu.RLock()
	if s.db == nil {
		s.mu.RUnlock()
		return nil, ErrNotOpen
	}
	app := s.db.Appender(ctx)
	a := &Appender{s: s, app: app, gen: s.gen}
	a.getRef, _ = app.(storage.GetRef)
	return a, nil
}

// AppendSeries appends every sample of batch in one transaction and reports
// what was rejected. It reads batch and does not keep it. An error means
// nothing was stored.
func (s *Store) AppendSeries(ctx context.Context, batch []osprey.Series) (Result, error) {
	a, err := s.Appender(ctx)
	if err != nil {
		return Result{}, err
	}
	b := labels.NewScratchBuilder(8)
	for i := range batch {
		lset := LabelsFrom(&b, batch[i].Labels)
		var ref storage.SeriesRef
		for _, smp := range batch[i].Samples {
			if _, err := a.Append(&ref, lset, smp.TimestampMs, smp.Value); err != nil {
				a.Rollback()
				return Result{}, err
			}
		}
	}
	return a.Commit()
}

// LabelsFrom converts osprey labels to Prometheus labels, sorted, leaving out
// empty values. b is reused between calls.
func LabelsFrom(b *labels.ScratchBuilder, l osprey.Labels) labels.Labels {
	b.Reset()
	for k, v := range l {
		if v != "" {
			b.Add(k, v)
		}
	}
	b.Sort()
	return b.Labels()
}

// Outcome is what became of one sample.
type Outcome uint8

// Outcomes. Everything but OutcomeAppended is a rejection of that sample
// alone. Their values are not stored anywhere; OutcomeSeriesPerMetric comes
// before OutcomeCardinalityCap, the last one before it was added, so that a
// caller's table indexed up to OutcomeCardinalityCap has a slot for it too.
const (
	OutcomeAppended        Outcome = iota
	OutcomeOutOfOrder              // older than the series' latest sample
	OutcomeDuplicate               // the series' latest timestamp with another value
	OutcomeTooOld                  // before the time range the head block appends to
	OutcomeSeriesPerMetric         // a new series while its metric name has MaxSeriesPerMetric series
	OutcomeCardinalityCap          // a new series while MaxSeries series are active
	numOutcomes
)

var outcomeNames = [numOutcomes]string{"appended", "out_of_order", "duplicate", "too_old", "series_per_metric", "cardinality_cap"}

// String returns the outcome's name, as used for ingest rejection reasons.
func (o Outcome) String() string {
	if o < numOutcomes {
		return outcomeNames[o]
	}
	return fmt.Sprintf("outcome(%d)", uint8(o))
}

// Result counts the outcomes of a batch's samples.
type Result [numOutcomes]int

// Appended returns the number of samples appended.
func (r *Result) Appended() int { return r[OutcomeAppended] }

// Rejected returns the number of samples rejected.
func (r *Result) Rejected() int {
	n := 0
	for o := OutcomeAppended + 1; o < numOutcomes; o++ {
		n += r[o]
	}
	return n
}

// Appender appends one batch of samples. It is not safe for concurrent use.
// Every Appender must end with Commit or Rollback.
type Appender struct {
	s      *Store
	app    storage.Appender
	getRef storage.GetRef
	gen    uint64
	res    Result
	done   bool
	// nonFinite counts the appended samples whose value is NaN (but not
	// the staleness marker) or ±Inf.
	nonFinite int
}

// Generation identifies the database the Appender writes to. Series refs
// (from Append) are valid only in appenders of the same generation: a
// caller that keeps refs across batches must drop them when it changes.
func (a *Appender) Generation() uint64 { return a.gen }

// Append appends one sample of the series lset. *ref caches the series
// between calls for the same series: start each series with a zero ref and
// pass the same pointer for its samples. A ref the head no longer knows (its
// series was dropped by a head compaction) is harmless: the series is created
// again from lset, held to the caps like any new series. The sample is
// rejected (and counted) when its Outcome is not OutcomeAppended; an error is
// a storage failure that fails the whole batch (call Rollback).
func (a *Appender) Append(ref *storage.SeriesRef, lset labels.Labels, t int64, v float64) (Outcome, error) {
	if *ref == 0 && a.getRef != nil {
		// The head's own lookup by labels is cheaper than what its
		// Append does for a zero ref (it checks the labels first).
		if r, _ := a.getRef.GetRef(lset, lset.Hash()); r != 0 {
			*ref = r
		}
	}
	r, err := a.app.Append(*ref, lset, t, v)
	o := OutcomeAppended
	switch {
	case err == nil:
		*ref = r
		// v-v is 0 for every finite v, NaN for NaN and ±Inf.
		if v-v != 0 && !value.IsStaleNaN(v) {
			a.nonFinite++
		}
	case errors.Is(err, storage.ErrOutOfOrderSample):
		o = OutcomeOutOfOrder
	case errors.Is(err, storage.ErrDuplicateSampleForTimestamp):
		o = OutcomeDuplicate
	case errors.Is(err, storage.ErrOutOfBounds), errors.Is(err, storage.ErrTooOldSample):
		o = OutcomeTooOld
	case errors.Is(err, errSeriesPerMetricCap):
		o = OutcomeSeriesPerMetric
		a.s.perMetricHits.Inc()
	case errors.Is(err, errSeriesCap):
		o = OutcomeCardinalityCap
		a.s.capHits.Inc()
	default:
		return 0, fmt.Errorf("append sample: %w", err)
	}
	a.res[o]++
	return o, nil
}

// NonFinite returns the number of samples appended so far whose value is
// NaN or ±Inf, leaving out the staleness marker. They are stored, as
// Prometheus stores them; receivers count them as a data-quality warning.
func (a *Appender) NonFinite() int { return a.nonFinite }

// Reject counts n samples that the caller rejected itself as outcome o
// (for example out-of-order samples within one request), so that Result
// covers them too.
func (a *Appender) Reject(o Outcome, n int) {
	if o > OutcomeAppended && o < numOutcomes {
		a.res[o] += n
	}
}

// Commit stores the appended samples and returns the outcome counts. An error
// means none of them was stored.
func (a *Appender) Commit() (Result, error) {
	if a.done {
		return a.res, errors.New("appender already finished")
	}
	a.done = true
	defer a.s.mu.RUnlock()
	if err := a.app.Commit(); err != nil {
		return Result{}, fmt.Errorf("commit samples: %w", err)
	}
	return a.res, nil
}

// Rollback discards the batch.
func (a *Appender) Rollback() {
	if a.done {
		return
	}
	a.done = true
	defer a.s.mu.RUnlock()
	_ = a.app.Rollback()
}
