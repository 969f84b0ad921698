// Package inproc is the in-process implementation of bus.Bus, used when all of
// Osprey's stages run in one process (osprey serve).
//
// # Queues and delivery
//
// Every (topic, group) pair has one bounded queue of batches (Options.QueueSize)
// and the handlers subscribed under that group; each handler runs in its own
// worker goroutine and takes the next batch from the shared queue, so a batch
// goes to exactly one subscriber of each group. A group with one subscriber
// sees batches in publish order; with several, batches are handled in
// parallel and may finish in any order.
//
// PublishRaw puts the batch on the queue of every group of the topic, in the
// order the groups subscribed. When a queue is full the publisher waits
// (backpressure): the slowest group paces its publishers. It waits until there
// is room, until its ctx is done (the error wraps ctx.Err()), or until
// Options.PublishTimeout has passed since it began to wait; in the last case
// the batch is dropped for that group, counted in
// osprey_bus_dropped_batches_total, and the call returns an error wrapping
// bus.ErrFull. The timeout is one deadline per call: once it passed, other
// full groups of the same call are dropped without a further wait. Because
// groups are served one after the other, a failed call may still have
// delivered the batch to some groups; retrying it delivers it to those groups
// again. Publishing to a topic nobody subscribed to succeeds and is only
// counted.
//
// # Ownership across groups
//
// bus.Subscribe promises that the batch passed to a handler belongs to it, and
// stages are written on that promise: they keep batches, modify them, hand
// them on. A batch shared by two groups whose handlers run concurrently would
// break it, and the failure would appear only in wirings where a topic has
// several groups (a concurrent map write is a fatal error, not a panic that a
// worker could recover). So this bus keeps the promise and pays for it where
// it costs: with one group the published slice is passed on by reference, with
// no copy; with several, the first group (in subscription order) gets the
// published slice and every other group a deep copy, made in PublishRaw before
// any group can see the batch. The copy is made by reflection and duplicates
// slices, maps, pointers and interfaces reachable through exported fields;
// strings, time.Time and unexported fields are shared, as they are immutable
// or unreachable by the handler. The high-volume topics (series,
// logs, spans) normally have one group and pay nothing; a second group costs
// about 0.35µs and five allocations per series of four labels
// (BenchmarkPublishDeliver), against 1.5ns per series with one group.
// A payload may carry parts its publisher still shares under a stage
// contract of its own — an incident's Members array, its members and each
// member's Labels are shared with the correlator (osprey.IncidentConsumer)
// — and the group
// that receives the published slice must honour that contract: it may keep,
// append to or replace such parts, never change them in place.
//
// The alternative, passing the same slice to every group and asking handlers
// to treat it as read-only, is cheaper but turns a wiring change (adding a
// notifier to a topic) into a data race in an unrelated stage.
//
// # Coalescing
//
// A handler that pays a cost per call (a store transaction, ranking the
// incidents a batch changed) falls behind a flood of small batches, and
// its queue then holds many. For a topic named in Options.Coalesce a
// worker that takes a batch also takes the batches queued behind it, as
// long as some are there and the elements gathered are fewer than the
// limit, and calls the handler once with their concatenation, in queue
// order. A quiet topic is delivered batch by batch, as published; a busy
// one in bigger batches, so the cost per call is shared out exactly when
// it matters. Each gathered batch counts as delivered (and in
// osprey_bus_coalesced_batches_total when it was gathered behind
// another); a handler error counts once. The concatenation is a new
// slice: the published slices are not changed.
//
// A topic's handler may also hand over its work before it is done, to
// overlap it with the next call (the correlator's Options.Pipeline: the
// store commit runs while the next batch is grouped). For a topic named in
// Options.Idle a worker calls the topic's idle function after a delivery
// when no batch is queued behind it, before the delivery counts as done:
// the handler finishes its work there, so a quiet topic's batches are
// finished as soon as they are handled, and Shutdown's drain waits for
// them. A batch that arrives while the function runs cancels its context
// and is delivered as soon as it returned, so under a flood the handler's
// work overlaps the next calls; the function runs again when the queue is
// next empty. An idle function's error counts and is logged as a
// handler's (not the cancellation by a batch that arrived).
//
// # Handler errors
//
// A handler's error, or a panic (recovered and turned into an error), is
// counted in osprey_bus_handler_errors_total and logged at most once per ten
// seconds per group, with the number of errors not logged since. The
// batch is not redelivered: in-process, a retry would see the same input and
// the same code, and an infinite retry would block the group. A JetStream
// implementation would redeliver errors that are not osprey.Permanent, since
// there a restart or another instance may succeed.
//
// # Lifecycle
//
// Subscriptions are made before Start. Batches published before Start are
// queued and delivered once Start launches the workers.
//
// Shutdown stops accepting publishes (they fail with bus.ErrClosed), runs the
// handlers on everything accepted, and waits for the workers. Handlers get a
// context of the bus, not the publisher's, and a handler that publishes with
// that context while the bus drains (a stage handing its results on) is not
// refused: its batch is part of the flush, so a chain of stages on one bus
// drains end to end. Shutdown returns when no batch is queued or being
// handled and no publish is under way. (A chain that feeds itself would never
// drain; the pipeline has none.)
//
// If Shutdown's ctx is done first, the handlers' context is cancelled,
// waiting publishers fail with bus.ErrClosed, batches still queued are
// dropped and counted, and Shutdown returns ctx's error; the workers stop as
// soon as their handlers return, and a later Shutdown call waits for them. A
// bus that was never started delivers nothing: Shutdown drops and counts what
// was queued.
package inproc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/osprey-aiops/osprey/internal/bus"
)

// Defaults for the zero values of Options.
const (
	DefaultQueueSize      = 1024
	DefaultPublishTimeout = 5 * time.Second
)

// Options configures a Bus. The zero value is usable.
type Options struct {
	// QueueSize is the number of batches each (topic, group) may have queued.
	// Zero or less means DefaultQueueSize.
	QueueSize int
	// PublishTimeout bounds how long PublishRaw waits, in total, for queue
	// room before it drops the batch for the groups that have none. Zero or
	// less means DefaultPublishTimeout.
	PublishTimeout time.Duration
	// Registerer receives the bus's metrics. Nil means a fresh registry that
	// nobody gathers. New panics if the metrics are already registered (two
	// buses on one Registerer need prometheus.WrapRegistererWith).
	Registerer prometheus.Registerer
	// Logger receives handler errors. Nil means discard.
	Logger *slog.Logger
	// Coalesce names the topics whose queued batches a worker delivers as
	// one, and the most elements it gathers: a worker that takes a batch
	// also takes the batches queued behind it, while they are there and
	// the elements so far are fewer than the limit, and hands their
	// concatenation to the handler in one call (see "Coalescing" in the
	// package documentation). Only for topics whose handlers treat a batch
	// as a sequence of independent elements.
	Coalesce map[string]int
	// Idle names topics whose workers call the function after a
	// delivery that left nothing queued for their group (see "Coalescing"
	// in the package documentation), with the handlers' context.
	Idle map[string]func(context.Context) error
}

// state is where a Bus is in its life.
type state int

const (
	stateNew      state = iota
	stateStarted        // workers run
	stateDraining       // Shutdown began: only handlers may publish
	stateDone           // drained, queues closed: nobody may publish
)

// Bus is the in-process bus. Create it with New; it is safe for concurrent
// use.
type Bus struct {
	queueSize int
	timeout   time.Duration
	coalesce  map[string]int
	idleFn    map[string]func(context.Context) error
	log       *slog.Logger
	metrics   *metrics
	cloner    cloner

	mu     sync.RWMutex
	state  state
	topics map[string]*topic // set up before Start, read-only afterwards
	groups []*group          // all groups, in subscription order

	// pending counts publishes under way and batches queued or being
	// handled; the drain is over when it is zero. A publish holds one for
	// itself while it enqueues, so pending cannot touch zero while a batch is
	// on its way.
	pending  atomic.Int64
	draining atomic.Bool   // state >= stateDraining, for release
	idle     chan struct{} // poked when pending drops to zero while draining
	workers  sync.WaitGroup

	// handlerCtx is passed to handlers and marks their publishes; it is
	// cancelled when Shutdown gives up, or after the workers stopped.
	handlerCtx    context.Context
	cancelHandler context.CancelFunc

	abortOnce sync.Once
	aborted   chan struct{} // closed when Shutdown's ctx ended before the drain
	done      chan struct{} // closed when the drain finished
}

var _ bus.Bus = (*Bus)(nil)

// handlerKey marks the context given to handlers, so that their publishes are
// accepted while the bus drains. It carries no pipeline data.
type handlerKey struct{}

// topic is the set of groups subscribed to one topic.
type topic struct {
	published prometheus.Counter
	groups    []*group
}

// group is the queue and the subscribers of one (topic, group).
type group struct {
	topic, name string
	queue       chan *message
	handlers    []bus.RawHandler
	coalesce    int                         // Options.Coalesce of the topic, 0 for none
	idle        func(context.Context) error // Options.Idle of the topic, nil for none

	delivered     prometheus.Counter
	coalesced     prometheus.Counter
	dropped       prometheus.Counter
	handlerErrors prometheus.Counter

	logMu      sync.Mutex
	lastLog    time.Time // zero until the first error was logged
	suppressed int       // errors not logged since lastLog
}

// New returns a Bus configured by opts, ready for SubscribeRaw and Start.
func New(opts Options) *Bus {
	if opts.QueueSize <= 0 {
		opts.QueueSize = DefaultQueueSize
	}
	if opts.PublishTimeout <= 0 {
		opts.PublishTimeout = DefaultPublishTimeout
	}
	if opts.Registerer == nil {
		opts.Registerer = prometheus.NewRegistry()
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	b := &Bus{
		queueSize: opts.QueueSize,
		timeout:   opts.PublishTimeout,
		coalesce:  opts.Coalesce,
		idleFn:    opts.Idle,
		log:       opts.Logger,
		topics:    make(map[string]*topic),
		idle:      make(chan struct{}, 1),
		aborted:   make(chan struct{}),
		done:      make(chan struct{}),
	}
	ctx, cancel := context.WithCancel(context.Background())
	b.handlerCtx, b.cancelHandler = context.WithValue(ctx, handlerKey{}, b), cancel
	b.metrics = newMetrics(b)
	opts.Registerer.MustRegister(b.metrics)
	return b
}

// SubscribeRaw registers h for topic under group. Several handlers in one
// group share the group's queue. It must be called before Start; after
// Shutdown began it returns bus.ErrClosed.
func (b *Bus) SubscribeRaw(topicName, groupName string, h bus.RawHandler) error {
	if topicName == "" || groupName == "" || h == nil {
		return errors.New("inproc: subscribe needs a topic, a group and a handler")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case stateStarted:
		return fmt.Errorf("subscribe %s/%s: inproc bus already started", topicName, groupName)
	case stateDraining, stateDone:
		return fmt.Errorf("subscribe %s/%s: %w", topicName, groupName, bus.ErrClosed)
	}
	t, ok := b.topics[topicName]
	if !ok {
		t = &topic{published: b.metrics.published.WithLabelValues(topicName)}
		b.topics[topicName] = t
	}
	for _, g := range t.groups {
		if g.name == groupName {
			g.handlers = append(g.handlers, h)
			return nil
		}
	}
	g := &group{
		topic:         topicName,
		name:          groupName,
		queue:         make(chan *message, b.queueSize),
		handlers:      []bus.RawHandler{h},
		coalesce:      b.coalesce[topicName],
		idle:          b.idleFn[topicName],
		coalesced:     b.metrics.coalesced.WithLabelValues(topicName, groupName),
		delivered:     b.metrics.delivered.WithLabelValues(topicName, groupName),
		dropped:       b.metrics.dropped.WithLabelValues(topicName, groupName),
		handlerErrors: b.metrics.handlerErrors.WithLabelValues(topicName, groupName),
	}
	t.groups = append(t.groups, g)
	b.groups = append(b.groups, g)
	return nil
}

// PublishRaw enqueues payload for every group of topic; see the package
// documentation for backpressure, the timeout, copies across groups and
// publishing during Shutdown.
func (b *Bus) PublishRaw(ctx context.Context, topicName string, payload any) error {
	b.mu.RLock()
	if !b.acceptsLocked(ctx) {
		b.mu.RUnlock()
		return fmt.Errorf("publish %s: %w", topicName, bus.ErrClosed)
	}
	b.pending.Add(1)
	var (
		published prometheus.Counter
		groups    []*group
	)
	if t := b.topics[topicName]; t != nil {
		published, groups = t.published, t.groups
	}
	b.mu.RUnlock()
	defer b.release()

	if published == nil {
		// Nobody subscribed (topics are fixed before Start): count only.
		b.metrics.published.WithLabelValues(topicName).Inc()
		return nil
	}
	published.Inc()

	// Make every copy before the first group can see (and modify) payload.
	msgs := make([]message, len(groups))
	for i := range msgs {
		if i == 0 {
			msgs[i].value = payload
		} else {
			msgs[i].value = b.cloner.clone(payload)
		}
	}

	var (
		errs    []error
		timer   *time.Timer // started when the first full queue is met
		expired bool        // the timeout passed: full queues are not waited for
	)
	for i, g := range groups {
		m := &msgs[i]
		// Count the batch before a worker can take (and release) it.
		b.pending.Add(1)
		select {
		case g.queue <- m:
			continue
		default:
		}
		if timer == nil {
			timer = time.NewTimer(b.timeout)
			defer timer.Stop()
		}
		var err error
		if expired {
			err = fmt.Errorf("%w for %s", bus.ErrFull, b.timeout)
		} else {
			select {
			case g.queue <- m:
				continue
			case <-timer.C:
				expired = true
				err = fmt.Errorf("%w for %s", bus.ErrFull, b.timeout)
			case <-ctx.Done():
				err = ctx.Err()
			case <-b.aborted:
				err = bus.ErrClosed
			}
		}
		b.release()
		if errors.Is(err, bus.ErrFull) {
			g.dropped.Inc()
		}
		errs = append(errs, fmt.Errorf("publish %s to group %s: %w", topicName, g.name, err))
	}
	return errors.Join(errs...)
}

// acceptsLocked reports whether a publish with ctx may proceed: before
// Shutdown anyone's, while draining only a handler's. b.mu must be held.
func (b *Bus) acceptsLocked(ctx context.Context) bool {
	switch b.state {
	case stateNew, stateStarted:
		return true
	case stateDraining:
		select {
		case <-b.aborted:
			return false
		default:
		}
		return ctx.Value(handlerKey{}) == b
	default:
		return false
	}
}

// release ends one unit of pending work, and wakes the drain when it was the
// last.
func (b *Bus) release() {
	if b.pending.Add(-1) == 0 && b.draining.Load() {
		select {
		case b.idle <- struct{}{}:
		default: // a wake-up is already waiting
		}
	}
}
