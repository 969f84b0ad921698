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
// is room, until its ctx is done, or until Options.PublishTimeout has passed
// since the call began; in the last case the batch is dropped for that group
// only, counted in osprey_bus_dropped_batches_total, and the call returns an
// error wrapping bus.ErrFull. Because groups are served one after the other, a
// failed call may still have delivered the batch to some groups; retrying it
// delivers it to those groups again. Publishing to a topic nobody subscribed
// to succeeds and is only counted.
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
// any group can see the batch. The copy is made by reflection (see deepCopy)
// and duplicates slices, maps, pointers and interfaces reachable through
// exported fields; strings, time.Time and unexported fields are shared, as they
// are immutable or unreachable by the handler. The high-volume topics (series,
// logs, spans) normally have one group and pay nothing; the benchmarks show
// what a second group costs.
//
// The alternative, passing the same slice to every group and asking handlers
// to treat it as read-only, is cheaper but turns a wiring change (adding a
// notifier to a topic) into a data race in an unrelated stage.
//
// # Handler errors
//
// A handler's error, or a panic (recovered and turned into an error), is
// counted in osprey_bus_handler_errors_total and logged at most once per
// errorLogInterval per group, with the number of errors not logged since. The
// batch is not redelivered: in-process, a retry would see the same input and
// the same code, and an infinite retry would block the group. A JetStream
// implementation redelivers errors that are not osprey.Permanent, since there
// a restart or another instance may succeed.
//
// # Lifecycle
//
// Subscriptions are made before Start. Batches published before Start are
// queued and delivered once Start launches the workers. Shutdown stops
// accepting publishes (they fail with bus.ErrClosed), lets publishers that are
// already waiting for room finish, runs the handlers on everything queued,
// and waits for the workers. If Shutdown's ctx is done first, the context
// passed to handlers is cancelled, waiting publishers fail with bus.ErrClosed,
// batches still queued are dropped and counted, and Shutdown returns ctx's
// error; the workers stop as soon as their handlers return, and a later
// Shutdown call waits for them. A bus that was never started delivers
// nothing: Shutdown drops and counts what was queued.
package inproc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/osprey-aiops/osprey/internal/bus"
)

// Defaults for the zero values of Options.
const (
	DefaultQueueSize      = 1024
	DefaultPublishTimeout = 5 * time.Second
)

// errorLogInterval is the least time between two log lines about handler
// errors of one group; the errors in between are only counted.
const errorLogInterval = 10 * time.Second

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
}

// state is where a Bus is in its life.
type state int

const (
	stateNew state = iota
	stateStarted
	stateClosed
)

// Bus is the in-process bus. Create it with New; it is safe for concurrent
// use.
type Bus struct {
	queueSize int
	timeout   time.Duration
	log       *slog.Logger
	metrics   *metrics

	mu     sync.RWMutex
	state  state
	topics map[string]*topic // set up before Start, read-only afterwards
	groups []*group          // all groups, in subscription order

	publishers sync.WaitGroup // PublishRaw calls past the closed check
	workers    sync.WaitGroup

	// handlerCtx is passed to handlers; cancelled when Shutdown gives up or
	// after the workers stopped.
	handlerCtx    context.Context
	cancelHandler context.CancelFunc

	abortOnce sync.Once
	aborted   chan struct{} // closed when Shutdown's ctx ended before the drain
	done      chan struct{} // closed when the drain finished
}

var _ bus.Bus = (*Bus)(nil)

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

	delivered     prometheus.Counter
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
		log:       opts.Logger,
		topics:    make(map[string]*topic),
		aborted:   make(chan struct{}),
		done:      make(chan struct{}),
	}
	b.handlerCtx, b.cancelHandler = context.WithCancel(context.Background())
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
	case stateClosed:
		return fmt.Errorf("subscribe %s/%s: %w", topicName, groupName, bus.ErrClosed)
	}
	t := b.topicLocked(topicName)
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
		delivered:     b.metrics.delivered.WithLabelValues(topicName, groupName),
		dropped:       b.metrics.dropped.WithLabelValues(topicName, groupName),
		handlerErrors: b.metrics.handlerErrors.WithLabelValues(topicName, groupName),
	}
	t.groups = append(t.groups, g)
	b.groups = append(b.groups, g)
	return nil
}

// topicLocked returns the topic named name, creating it. b.mu must be held
// for writing.
func (b *Bus) topicLocked(name string) *topic {
	t, ok := b.topics[name]
	if !ok {
		t = &topic{published: b.metrics.published.WithLabelValues(name)}
		b.topics[name] = t
	}
	return t
}

// Start launches one worker per subscriber. ctx is not used: the workers run
// until Shutdown. Start after Shutdown returns bus.ErrClosed; a second Start
// is an error.
func (b *Bus) Start(context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case stateStarted:
		return errors.New("inproc: bus already started")
	case stateClosed:
		return fmt.Errorf("start inproc bus: %w", bus.ErrClosed)
	}
	b.state = stateStarted
	for _, g := range b.groups {
		for _, h := range g.handlers {
			b.workers.Add(1)
			go func() {
				defer b.workers.Done()
				b.work(g, h)
			}()
		}
	}
	return nil
}

// PublishRaw enqueues payload for every group of topic; see the package
// documentation for backpressure, the timeout and copies across groups.
func (b *Bus) PublishRaw(ctx context.Context, topicName string, payload any) error {
	b.mu.RLock()
	if b.state == stateClosed {
		b.mu.RUnlock()
		return fmt.Errorf("publish %s: %w", topicName, bus.ErrClosed)
	}
	b.publishers.Add(1)
	t := b.topics[topicName]
	b.mu.RUnlock()
	defer b.publishers.Done()

	if t == nil {
		// Nobody subscribed (topics are fixed before Start): count only.
		b.metrics.published.WithLabelValues(topicName).Inc()
		return nil
	}
	t.published.Inc()

	// Make every copy before the first group can see (and modify) payload.
	msgs := make([]message, len(t.groups))
	for i := range msgs {
		if i == 0 {
			msgs[i].value = payload
		} else {
			msgs[i].value = deepCopy(payload)
		}
	}

	var (
		errs  []error
		timer *time.Timer // started when the first queue is full
		timeC <-chan time.Time
	)
	for i, g := range t.groups {
		m := &msgs[i]
		select {
		case g.queue <- m:
			continue
		default:
		}
		if timer == nil {
			timer = time.NewTimer(b.timeout)
			defer timer.Stop()
			timeC = timer.C
		}
		select {
		case g.queue <- m:
		case <-timeC:
			// The deadline is for the whole call: later full queues are
			// not waited for again.
			timeC = closedTimeC
			g.dropped.Inc()
			errs = append(errs, fmt.Errorf("publish %s to group %s: queue full for %s: %w", topicName, g.name, b.timeout, bus.ErrFull))
		case <-ctx.Done():
			errs = append(errs, fmt.Errorf("publish %s to group %s: %w", topicName, g.name, ctx.Err()))
		case <-b.aborted:
			errs = append(errs, fmt.Errorf("publish %s to group %s: %w", topicName, g.name, bus.ErrClosed))
		}
	}
	return errors.Join(errs...)
}

// closedTimeC is a channel that is always ready, for a publish whose deadline
// has passed.
var closedTimeC = func() <-chan time.Time {
	c := make(chan time.Time)
	close(c)
	return c
}()

// work runs h on batches from g's queue until the queue is closed and empty.
func (b *Bus) work(g *group, h bus.RawHandler) {
	for m := range g.queue {
		if b.handlerCtx.Err() != nil {
			// Shutdown gave up waiting: drop what is left.
			g.dropped.Inc()
			continue
		}
		if err := b.handle(h, m); err != nil {
			g.handlerErrors.Inc()
			g.logError(b.log, err)
		}
		g.delivered.Inc()
	}
}

// handle runs h on m, turning a panic into an error.
func (b *Bus) handle(h bus.RawHandler, m *message) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = newPanicError(r)
		}
	}()
	return h(b.handlerCtx, m)
}

// logError logs err unless another error of g was logged less than
// errorLogInterval ago, in which case it is only counted for the next line.
func (g *group) logError(log *slog.Logger, err error) {
	g.logMu.Lock()
	now := time.Now()
	if !g.lastLog.IsZero() && now.Sub(g.lastLog) < errorLogInterval {
		g.suppressed++
		g.logMu.Unlock()
		return
	}
	suppressed := g.suppressed
	g.lastLog, g.suppressed = now, 0
	g.logMu.Unlock()

	attrs := []any{"topic", g.topic, "group", g.name, "err", err, "suppressed", suppressed}
	var pe *panicError
	if errors.As(err, &pe) {
		attrs = append(attrs, "stack", string(pe.stack))
	}
	log.Warn("bus handler failed", attrs...)
}

// Shutdown stops accepting publishes, runs the handlers on what is queued and
// waits for the workers. It returns ctx's error if ctx is done first; see the
// package documentation for what happens then. Shutdown is idempotent and may
// be called without Start.
func (b *Bus) Shutdown(ctx context.Context) error {
	b.mu.Lock()
	prev := b.state
	b.state = stateClosed
	b.mu.Unlock()

	switch prev {
	case stateNew:
		// No worker will ever take what is queued.
		b.abort()
		go b.drain()
	case stateStarted:
		go b.drain()
		b.abort()
	}

	select {
	case <-b.aborted:
		return nil
	case <-ctx.Done():
		b.abort()
		return fmt.Errorf("shut down inproc bus: %w", ctx.Err())
	}
}

// drain closes the queues once no publisher can send to them any more, waits
// for the workers to empty them, and closes b.done.
func (b *Bus) drain() {
	b.publishers.Wait()
	for _, g := range b.groups {
		close(g.queue)
	}
	b.workers.Wait()
	// Without Start (or after an abort that came before a worker ran)
	// batches may be left: count them.
	for _, g := range b.groups {
		for range g.queue {
			g.dropped.Inc()
		}
	}
	b.cancelHandler()
	close(b.done)
}

// abort makes waiting publishers give up and handlers see a cancelled ctx.
func (b *Bus) abort() {
	b.abortOnce.Do(func() {
		close(b.aborted)
		b.cancelHandler()
	})
}
