// Package retention keeps the store bounded: a Pruner deletes, every
// interval, the history older than the configured retention (events,
// ended anomalies, resolved incidents with their timeline, notification log
// and runbook runs, noise counters, audit entries, expired silences and
// maintenance windows). What a stage still needs is never deleted: open
// incidents and anomalies, and events past the correlator's checkpoint.
package retention

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/osprey-aiops/osprey/internal/store"
)

// Keep says how long each kind of history is kept; zero keeps it forever.
type Keep struct {
	Events, Anomalies, Incidents, Noise, Audit, Silences time.Duration
}

// Options configure a Pruner.
type Options struct {
	Store store.Store
	// Keep is the retention per kind.
	Keep Keep
	// Interval between prunes.
	Interval time.Duration
	// EventsCheckpoint names the store checkpoint of the stage that
	// consumes events (the correlator): events after it are never deleted.
	EventsCheckpoint string
	// Now is the clock; nil means time.Now.
	Now        func() time.Time
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// Pruner deletes aged-out history periodically. It is an osprey.Component.
type Pruner struct {
	opts   Options
	now    func() time.Time
	log    *slog.Logger
	rows   *prometheus.CounterVec
	errors prometheus.Counter
	last   prometheus.Gauge

	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
}

// New returns a Pruner; it registers its metrics with opts.Registerer.
func New(opts Options) (*Pruner, error) {
	if opts.Store == nil {
		return nil, errors.New("retention: no store")
	}
	if opts.Interval <= 0 {
		return nil, fmt.Errorf("retention: interval %s is not positive", opts.Interval)
	}
	p := &Pruner{
		opts: opts,
		now:  opts.Now,
		log:  opts.Logger,
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "osprey_store_pruned_rows_total",
			Help: "Rows the retention pruner deleted, by table (rows deleted by cascade are not counted).",
		}, []string{"table"}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "osprey_store_prune_errors_total",
			Help: "Prunes that failed; the next interval tries again.",
		}),
		last: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "osprey_store_prune_last_success_timestamp_seconds",
			Help: "When the last prune completed without error (Unix seconds).",
		}),
	}
	if p.now == nil {
		p.now = time.Now
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if opts.Registerer != nil {
		for _, c := range []prometheus.Collector{p.rows, p.errors, p.last} {
			if err := opts.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("retention: register metrics: %w", err)
			}
		}
	}
	return p, nil
}

// Start runs a prune now and then every interval, in the background,
// until Shutdown.
func (p *Pruner) Start(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done != nil {
		return errors.New("retention: already started")
	}
	// The loop outlives Start's context (which only bounds start-up);
	// Shutdown stops it.
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	p.cancel, p.done = cancel, make(chan struct{})
	go p.loop(runCtx)
	return nil
}

func (p *Pruner) loop(ctx context.Context) {
	defer close(p.done)
	t := time.NewTicker(p.opts.Interval)
	defer t.Stop()
	for {
		if _, err := p.PruneOnce(ctx); err != nil && ctx.Err() == nil {
			p.log.Warn("prune failed; trying again next interval", "err", err, "interval", p.opts.Interval)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Shutdown stops the loop, interrupting a prune in progress between two
// batches, and waits for it.
func (p *Pruner) Shutdown(ctx context.Context) error {
	p.mu.Lock()
	cancel, done := p.cancel, p.done
	p.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("retention: stop pruner: %w", ctx.Err())
	}
}

// PruneOnce deletes what has aged out as of now and returns what it
// deleted by table.
func (p *Pruner) PruneOnce(ctx context.Context) (store.PruneResult, error) {
	now := p.now()
	before := func(d time.Duration) time.Time {
		if d <= 0 {
			return time.Time{}
		}
		return now.Add(-d)
	}
	k := p.opts.Keep
	req := store.PruneRequest{
		EventsBefore:    before(k.Events),
		AnomaliesBefore: before(k.Anomalies),
		IncidentsBefore: before(k.Incidents),
		NoiseBefore:     before(k.Noise),
		AuditBefore:     before(k.Audit),
		SilencesBefore:  before(k.Silences),
	}
	if !req.EventsBefore.IsZero() {
		pos, err := p.opts.Store.Checkpoint(ctx, p.opts.EventsCheckpoint)
		if err != nil {
			p.errors.Inc()
			return nil, fmt.Errorf("prune: read checkpoint %s: %w", p.opts.EventsCheckpoint, err)
		}
		req.EventsMaxSeq = pos
	}
	start := time.Now()
	res, err := p.opts.Store.Prune(ctx, req)
	var total int64
	for table, n := range res {
		p.rows.WithLabelValues(table).Add(float64(n))
		total += n
	}
	if err != nil {
		p.errors.Inc()
		return res, err
	}
	p.last.Set(float64(p.now().Unix()))
	if total > 0 {
		attrs := []any{"rows", total, "took", time.Since(start).Round(time.Millisecond)}
		for _, table := range slices.Sorted(maps.Keys(res)) {
			attrs = append(attrs, table, res[table])
		}
		p.log.Info("pruned history past retention", attrs...)
	}
	return res, nil
}
