package ingest

import (
	"context"
	"errors"
	"log/slog"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/osprey-aiops/osprey"
)

// EventAppender is the part of the store a Committer writes to
// (store.Store implements it).
type EventAppender interface {
	// AppendEvents stores the batch atomically and sets each event's Seq.
	AppendEvents(ctx context.Context, batch []osprey.Event) error
}

// maxSourceLabels bounds the distinct values of the source label of
// osprey_events_accepted_total: sources are chosen by senders, and each value
// is a series for ever. Sources seen after the first maxSourceLabels are
// counted as otherSource.
const (
	maxSourceLabels = 64
	otherSource     = "other"
)

// CommitterOptions configure a Committer. Store is required.
type CommitterOptions struct {
	// Store receives every batch first, in one transaction.
	Store EventAppender
	// Next receives each batch once it is committed (the bus, in a running
	// Osprey). May be nil: the events then reach the pipeline only through
	// the store, which the correlator reads on start-up and on a timer.
	Next osprey.EventConsumer
	// Logger receives hand-off failures; default discards.
	Logger *slog.Logger
}

// Committer is the one path from every receiver into the pipeline: it commits
// a batch to the store in one transaction and only then hands it to the next
// consumer. A receiver that replies 2xx after ConsumeEvents returned nil has
// made the batch durable: kill -9 straight after the reply loses nothing.
//
// Committer is an osprey.EventConsumer, safe for concurrent use, and a
// prometheus.Collector exporting osprey_events_accepted_total{source} and
// osprey_events_handoff_failures_total; register it once on the process'
// registry.
type Committer struct {
	store EventAppender
	next  osprey.EventConsumer
	log   *slog.Logger

	accepted        *prometheus.CounterVec
	handoffFailures prometheus.Counter

	mu      sync.RWMutex
	sources map[string]prometheus.Counter // accepted, by source label
}

var (
	_ osprey.EventConsumer = (*Committer)(nil)
	_ prometheus.Collector = (*Committer)(nil)
)

// NewCommitter returns a Committer writing to opts.Store.
func NewCommitter(opts CommitterOptions) (*Committer, error) {
	if opts.Store == nil {
		return nil, errors.New("ingest: committer has no store")
	}
	c := &Committer{
		store: opts.Store,
		next:  opts.Next,
		log:   opts.Logger,
		accepted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "osprey_events_accepted_total",
			Help: "Events stored, by source (at most 64 sources; the rest count as \"other\").",
		}, []string{"source"}),
		handoffFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "osprey_events_handoff_failures_total",
			Help: "Stored event batches that could not be handed to the pipeline; the correlator catches up from the store.",
		}),
		sources: make(map[string]prometheus.Counter),
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// ConsumeEvents commits batch to the store, then hands it to the next
// consumer, which owns it from then on (the caller must not touch batch after
// the call, as for every osprey.EventConsumer). A non-nil error is the
// store's: nothing of the batch was stored; it is osprey.Permanent when
// retrying the same batch cannot help. A failed hand-off is counted and
// logged but not returned: the events are durable, so the pipeline is only
// delayed (the correlator catches up from the store), and the sender must not
// resend them.
func (c *Committer) ConsumeEvents(ctx context.Context, batch []osprey.Event) error {
	if len(batch) == 0 {
		return nil
	}
	if err := c.store.AppendEvents(ctx, batch); err != nil {
		return err
	}
	c.countAccepted(batch)
	if c.next == nil {
		return nil
	}
	n := len(batch)
	if err := c.next.ConsumeEvents(ctx, batch); err != nil {
		c.handoffFailures.Inc()
		c.log.Warn("hand off stored events", "events", n, "err", err)
	}
	return nil
}

// countAccepted adds events to the accepted counter of their source, one
// counter update per run of equal sources (a batch usually has one source).
func (c *Committer) countAccepted(events []osprey.Event) {
	for i := 0; i < len(events); {
		j := i + 1
		for j < len(events) && events[j].Source == events[i].Source {
			j++
		}
		c.acceptedFor(events[i].Source).Add(float64(j - i))
		i = j
	}
}

// acceptedFor returns the accepted-events counter of source.
func (c *Committer) acceptedFor(source string) prometheus.Counter {
	c.mu.RLock()
	ctr, ok := c.sources[source]
	c.mu.RUnlock()
	if ok {
		return ctr
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if ctr, ok := c.sources[source]; ok {
		return ctr
	}
	label := source
	if len(c.sources) >= maxSourceLabels {
		label = otherSource
	}
	ctr = c.accepted.WithLabelValues(label)
	if label == source {
		c.sources[source] = ctr
	}
	return ctr
}

// Describe implements prometheus.Collector.
func (c *Committer) Describe(ch chan<- *prometheus.Desc) {
	c.accepted.Describe(ch)
	c.handoffFailures.Describe(ch)
}

// Collect implements prometheus.Collector.
func (c *Committer) Collect(ch chan<- prometheus.Metric) {
	c.accepted.Collect(ch)
	c.handoffFailures.Collect(ch)
}
