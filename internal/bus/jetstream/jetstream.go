// Package jetstream is the NATS JetStream implementation of bus.Bus, the bus of
// a scale-out deployment: stages on several machines publish to and consume
// from one JetStream stream, and the members of a consumer group share its
// work.
//
// # Stream and subjects
//
// New connects and creates the stream Options.Stream, or updates it to the
// options, with the subjects "<SubjectPrefix>.>"; topic T travels on subject
// "<SubjectPrefix>.T". The stream is file-backed and replicated
// Options.Replicas times. Its retention is interest-based: a batch is kept
// until every consumer group whose subscription covers it has acknowledged it
// (or Options.MaxAge has passed), so storage holds the backlog, not a day of
// history. When the backlog reaches Options.MaxBytes the stream refuses new
// batches (discard policy "new"): PublishRaw then fails with an error wrapping
// bus.ErrFull, counted in osprey_bus_publish_failures_total. That is the bus's
// backpressure: it ends at the publisher, as with the in-process bus, instead
// of silently dropping what a slow group has not read yet (discard "old").
//
// # Consumer groups
//
// SubscribeRaw creates (or updates) a durable pull consumer per (topic, group),
// named "<topic>_<group>", with characters that NATS does not allow in a name
// replaced by "_" and a hash of the group appended when anything was replaced.
// Every process that subscribes the same group to the same topic binds to the
// same durable, so a batch goes to one member of the group; different groups
// have different durables and each gets every batch (fan-out). Several
// handlers of one group in one process share the durable the same way.
//
// A new durable starts with the batches published after it was created
// (deliver policy "new"), which is bus.Bus's promise ("every group receives
// every batch published after it subscribed"): a newly added group does not
// replay the stream's backlog. The deliver policy applies only when the
// durable is created; a process that restarts, or another member of the
// group, resumes where the durable left off, and gets what was published
// while the group had no running member. Durables outlive the processes:
// delete a group that is gone for good with "nats consumer rm", or, with
// interest retention, the stream keeps its batches until MaxAge (and with
// MaxBytes may fill up with them).
//
// # Delivery
//
// Batches are JSON, one message each; Message.Value reports false and
// Message.Data returns the bytes. A batch larger than the server's maximum
// payload is split in halves until each part fits, so subscribers may see it
// as several consecutive batches; a single element too large for a message is
// a permanent error.
//
// Delivery is at least once. A batch is acknowledged after its handler
// returned nil. A handler error marked osprey.Permanent terminates the batch:
// JetStream will not deliver it again (osprey_bus_terminated_batches_total).
// Any other error, or a panic (recovered), is negatively acknowledged with a
// delay that starts at 200ms and doubles up to 30s, so the batch comes back to
// some member of the group, until it was delivered Options.MaxDeliver times;
// the last failure terminates it too. A handler that does not return within
// Options.AckWait is presumed dead and its batch is delivered again, possibly
// to another member; so is a batch whose acknowledgement was lost with the
// connection. Handlers must therefore tolerate duplicates (correlate does:
// re-applying an event is harmless).
//
// A group with one subscriber sees batches in publish order, except that a
// batch whose handler failed comes back after later batches. Each subscriber
// handles one batch at a time (or one call, see Coalescing) and has up to 32
// more fetched and waiting (64 on a coalescing topic: 32 with nats.go and 32
// handed to its delivery loop); the
// group as a whole has at most Options.MaxAckPending batches delivered and not
// yet acknowledged, across all its processes. A slow handler therefore slows
// its group's fetching, its backlog grows in the stream, and when the stream is
// full the publishers are refused (above). AckWait must exceed the time a
// batch can spend waiting behind the others plus its handling.
//
// # Coalescing
//
// A handler that pays a cost per call (a store transaction, ranking the
// incidents a batch changed) falls behind a flood of small batches. For a
// topic named in Options.Coalesce, each subscription hands the messages it
// fetched to a delivery loop; the loop takes a batch and also the batches
// fetched and waiting behind it, as long as some are there and the
// elements gathered are fewer than the limit, and calls the handler once
// with one message whose Data is the JSON array of all their elements, in
// order ("[a,b]" and "[c]" give "[a,b,c]"; an empty batch adds nothing).
// The limit counts elements: the top-level elements of each batch's array,
// found by a scan of the bytes that follows strings and nesting, without
// decoding. What one call can gather is also bounded by what the
// subscriber has fetched (64 batches at most, above), so the batches
// waiting locally, and the time they wait, stay as without coalescing.
// A payload that is not a JSON array is delivered on its own.
//
// Each gathered batch counts as delivered, and in
// osprey_bus_coalesced_batches_total when it was joined behind another; a
// handler error counts once. When the call succeeds every gathered batch is
// acknowledged. When it fails, each is settled as above with its own
// delivery count: negatively acknowledged with its own delay, or, on an
// abort, at once. A permanent error does not say which batch was bad, so
// the batches are handled again one by one (the handler sees them twice,
// as with any redelivery), and only the one that fails alone is
// terminated. A batch on its last allowed delivery is never joined to
// others: a batch is only given up for a failure of a call that held it
// alone, never for a neighbour's.
//
// # Lifecycle
//
// Subscriptions are made before Start (they create the durables, so batches
// published between SubscribeRaw and Start are delivered after Start). Start
// begins fetching.
//
// Shutdown stops accepting publishes (bus.ErrClosed), except those that
// handlers make with the ctx they were given, as bus.Bus asks. It keeps
// consuming until every batch this Bus published to a topic it subscribes —
// before Shutdown, and by handlers during the drain — has been acknowledged
// or terminated by each of its groups (by this process or another member;
// batches negatively acknowledged meanwhile are waited for too). JetStream
// does not announce that, so the drain asks for the consumers' state, every
// 10ms while handlers return and less often, up to every 250ms, while nothing
// happens here. It then stops fetching, lets the handlers finish the batches
// already fetched (a coalescing topic's delivery loop included), and closes
// the connection. Batches other processes
// published are not waited for: they stay with the durable for the group's
// other members or its next start, so a member that only consumes (or
// publishes only to topics it does not subscribe) stops as soon as its
// handlers are done. In a single process this is the in-process bus's drain:
// everything accepted is handled, and chains of stages flush end to end.
//
// If Shutdown's ctx ends first, Shutdown returns ctx's error at once; the
// handlers' ctx is cancelled, their failed batches and those still waiting
// are handed back to JetStream at once for another member, and the
// connection is closed when the handlers have returned (a later Shutdown call
// waits for that). A bus that was never started fetches nothing: its batches
// wait in JetStream.
package jetstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/bus"
)

// state is where a Bus is in its life.
type state int

const (
	stateNew      state = iota
	stateStarted        // consuming
	stateDraining       // Shutdown began: only handlers may publish
	stateDone           // consumers stopped: nobody may publish
)

// Bus is the JetStream bus. Create it with New; it is safe for concurrent
// use.
type Bus struct {
	opts       Options // with defaults
	log        *slog.Logger
	nc         *nats.Conn
	js         natsjs.JetStream
	stream     natsjs.Stream
	metrics    *metrics
	maxPayload int

	subMu sync.Mutex // serialises SubscribeRaw, which makes API requests

	mu       sync.RWMutex
	state    state
	topics   map[string]*topic // grows on first publish or subscribe
	groups   []*group          // in subscription order; fixed after Start
	consumes []consumption
	workers  sync.WaitGroup // coalescing subscriptions' delivery loops

	// Accepted publishes under way: outside ones (not from a handler's ctx)
	// are no longer accepted once Shutdown began, so the drain can wait for
	// them to be stored before it looks at what the groups acknowledged;
	// handlers' ones are waited for before the connection is closed.
	outsidePublishes sync.WaitGroup
	handlerPublishes sync.WaitGroup
	handled          atomic.Uint64 // handler calls that returned, for the drain

	// handlerCtx is passed to handlers and marks their publishes; it is a
	// child of abortCtx, which is cancelled when Shutdown gives up, and is
	// cancelled itself after the consumers stopped.
	handlerCtx    context.Context
	cancelHandler context.CancelFunc
	abortCtx      context.Context
	abort         context.CancelFunc
	done          chan struct{} // closed when the connection was closed
}

var _ bus.Bus = (*Bus)(nil)

// handlerKey marks the context given to handlers, so that their publishes are
// accepted while the bus drains. It carries no pipeline data.
type handlerKey struct{}

// topic is one topic's subject and publishing state.
type topic struct {
	name, subject string
	published     prometheus.Counter
	failures      prometheus.Counter
	// lastSeq is the highest stream sequence of a batch this Bus published
	// on the topic: what the drain waits for.
	lastSeq atomic.Uint64
}

// noteSeq raises t.lastSeq to seq.
func (t *topic) noteSeq(seq uint64) {
	for {
		cur := t.lastSeq.Load()
		if seq <= cur || t.lastSeq.CompareAndSwap(cur, seq) {
			return
		}
	}
}

// group is this process's part of one (topic, group): the durable and the
// handlers that consume from it.
type group struct {
	topic    *topic
	name     string
	consumer natsjs.Consumer
	handlers []bus.RawHandler
	coalesce int // Options.Coalesce of the topic, 0 for none

	delivered     prometheus.Counter
	coalesced     prometheus.Counter
	handlerErrors prometheus.Counter
	redelivered   prometheus.Counter
	terminated    prometheus.Counter

	logMu      sync.Mutex
	lastLog    time.Time // zero until the first error was logged
	suppressed int       // errors not logged since lastLog
}

// New connects to NATS, creates or updates the stream, and returns a Bus ready
// for SubscribeRaw and Start. ctx bounds the connection and the stream
// request.
func New(ctx context.Context, opts Options) (*Bus, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	log := opts.Logger
	connOpts := []nats.Option{
		nats.Name("osprey"),
		nats.MaxReconnects(-1), // a long-running service waits for the server
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("nats reconnected", "url", nc.ConnectedUrlRedacted())
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			attrs := []any{"err", err}
			if sub != nil {
				attrs = append(attrs, "subject", sub.Subject)
			}
			log.Warn("nats async error", attrs...)
		}),
	}
	if deadline, ok := ctx.Deadline(); ok {
		connOpts = append(connOpts, nats.Timeout(time.Until(deadline)))
	}
	nc, err := nats.Connect(opts.URL, connOpts...)
	if err != nil {
		return nil, fmt.Errorf("connect to nats %s: %w", redactURLs(opts.URL), err)
	}
	b, err := newBus(ctx, nc, opts)
	if err != nil {
		nc.Close()
		return nil, err
	}
	return b, nil
}

// newBus sets up a Bus on the connection nc.
func newBus(ctx context.Context, nc *nats.Conn, opts Options) (*Bus, error) {
	js, err := natsjs.New(nc, natsjs.WithDefaultTimeout(apiTimeout))
	if err != nil {
		return nil, fmt.Errorf("jetstream context: %w", err)
	}
	maxAge := opts.MaxAge
	if maxAge < 0 {
		maxAge = 0 // JetStream's "no limit"
	}
	maxBytes := opts.MaxBytes
	if maxBytes < 0 {
		maxBytes = -1
	}
	stream, err := js.CreateOrUpdateStream(ctx, natsjs.StreamConfig{
		Name:        opts.Stream,
		Description: "Osprey pipeline bus",
		Subjects:    []string{opts.SubjectPrefix + ".>"},
		Retention:   natsjs.InterestPolicy,
		Discard:     natsjs.DiscardNew,
		MaxAge:      maxAge,
		MaxBytes:    maxBytes,
		Storage:     natsjs.FileStorage,
		Replicas:    opts.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("create or update stream %s: %w", opts.Stream, err)
	}
	b := &Bus{
		opts:       opts,
		log:        opts.Logger,
		nc:         nc,
		js:         js,
		stream:     stream,
		maxPayload: int(nc.MaxPayload()),
		topics:     make(map[string]*topic),
		done:       make(chan struct{}),
	}
	b.abortCtx, b.abort = context.WithCancel(context.Background())
	b.handlerCtx, b.cancelHandler = context.WithCancel(context.WithValue(b.abortCtx, handlerKey{}, b))
	b.metrics = newMetrics()
	if err := opts.Registerer.Register(b.metrics); err != nil {
		return nil, fmt.Errorf("register jetstream bus metrics: %w", err)
	}
	return b, nil
}

// SubscribeRaw registers h for topic under group, creating the group's
// durable consumer if it does not exist. Several handlers in one group share
// the durable. It must be called before Start; after Shutdown began it
// returns bus.ErrClosed.
func (b *Bus) SubscribeRaw(topicName, groupName string, h bus.RawHandler) error {
	if err := validTopic(topicName); err != nil {
		return fmt.Errorf("subscribe %q/%q: %w", topicName, groupName, err)
	}
	if groupName == "" || h == nil {
		return errors.New("jetstream: subscribe needs a topic, a group and a handler")
	}
	b.subMu.Lock()
	defer b.subMu.Unlock()
	if err := b.subscribable(topicName, groupName); err != nil {
		return err
	}
	t := b.topic(topicName)

	b.mu.Lock()
	for _, g := range b.groups {
		if g.topic == t && g.name == groupName {
			g.handlers = append(g.handlers, h)
			b.mu.Unlock()
			return nil
		}
	}
	b.mu.Unlock()

	name := consumerName(topicName, groupName)
	ctx, cancel := context.WithTimeout(context.Background(), apiTimeout)
	defer cancel()
	cons, err := b.stream.CreateOrUpdateConsumer(ctx, natsjs.ConsumerConfig{
		Durable:       name,
		Description:   fmt.Sprintf("osprey group %q on topic %s", groupName, topicName),
		FilterSubject: t.subject,
		DeliverPolicy: natsjs.DeliverNewPolicy,
		AckPolicy:     natsjs.AckExplicitPolicy,
		AckWait:       b.opts.AckWait,
		MaxDeliver:    b.opts.MaxDeliver,
		MaxAckPending: b.opts.MaxAckPending,
	})
	if err != nil {
		return fmt.Errorf("subscribe %s/%s: create or update consumer %s: %w", topicName, groupName, name, err)
	}

	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.subscribableLocked(topicName, groupName); err != nil {
		return err // Start or Shutdown came first; the durable stays, harmless
	}
	m := b.metrics
	b.groups = append(b.groups, &group{
		topic:         t,
		name:          groupName,
		consumer:      cons,
		handlers:      []bus.RawHandler{h},
		coalesce:      b.opts.Coalesce[topicName],
		delivered:     m.delivered.WithLabelValues(topicName, groupName),
		coalesced:     m.coalesced.WithLabelValues(topicName, groupName),
		handlerErrors: m.handlerErrors.WithLabelValues(topicName, groupName),
		redelivered:   m.redelivered.WithLabelValues(topicName, groupName),
		terminated:    m.terminated.WithLabelValues(topicName, groupName),
	})
	return nil
}

// subscribable reports whether a subscription may be added now.
func (b *Bus) subscribable(topicName, groupName string) error {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.subscribableLocked(topicName, groupName)
}

// subscribableLocked is subscribable with b.mu held.
func (b *Bus) subscribableLocked(topicName, groupName string) error {
	switch b.state {
	case stateStarted:
		return fmt.Errorf("subscribe %s/%s: jetstream bus already started", topicName, groupName)
	case stateDraining, stateDone:
		return fmt.Errorf("subscribe %s/%s: %w", topicName, groupName, bus.ErrClosed)
	}
	return nil
}

// topic returns the state of the named topic, which must be valid, creating
// it on first use.
func (b *Bus) topic(name string) *topic {
	b.mu.RLock()
	t := b.topics[name]
	b.mu.RUnlock()
	if t != nil {
		return t
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if t := b.topics[name]; t != nil {
		return t
	}
	t = &topic{
		name:      name,
		subject:   b.opts.SubjectPrefix + "." + name,
		published: b.metrics.published.WithLabelValues(name),
		failures:  b.metrics.publishFailures.WithLabelValues(name),
	}
	b.topics[name] = t
	return t
}

// PublishRaw encodes payload as JSON and stores it in the stream; when it
// returns nil, JetStream has persisted the batch. It fails with an error
// wrapping bus.ErrFull when the stream is full, with ctx's error when ctx ends
// first (without a deadline, after 10s), and with bus.ErrClosed once Shutdown
// began unless ctx is a handler's. A batch too large for one message is split
// (see the package documentation); if a later part fails, the earlier parts
// were published.
func (b *Bus) PublishRaw(ctx context.Context, topicName string, payload any) error {
	if err := validTopic(topicName); err != nil {
		return fmt.Errorf("publish %q: %w", topicName, err)
	}
	under := b.beginPublish(ctx)
	if under == nil {
		return fmt.Errorf("publish %s: %w", topicName, bus.ErrClosed)
	}
	defer under.Done()
	t := b.topic(topicName)
	data, err := json.Marshal(payload)
	if err == nil {
		err = b.publish(ctx, t, payload, data)
	} else {
		err = osprey.Permanent(fmt.Errorf("encode batch: %w", err))
	}
	if err != nil {
		t.failures.Inc()
		return fmt.Errorf("publish %s: %w", topicName, err)
	}
	return nil
}

// beginPublish decides whether a publish with ctx may proceed (before
// Shutdown anyone's, while draining only a handler's). If so it counts the
// publish as under way and returns the WaitGroup to mark it done on;
// otherwise it returns nil.
func (b *Bus) beginPublish(ctx context.Context) *sync.WaitGroup {
	fromHandler := ctx.Value(handlerKey{}) == b
	b.mu.RLock()
	defer b.mu.RUnlock()
	switch b.state {
	case stateNew, stateStarted:
	case stateDraining:
		if !fromHandler || b.abortCtx.Err() != nil {
			return nil
		}
	default:
		return nil
	}
	wg := &b.outsidePublishes
	if fromHandler {
		wg = &b.handlerPublishes
	}
	wg.Add(1)
	return wg
}

// publish stores data, the encoding of payload, on t's subject, splitting
// payload when data is too large for one message.
func (b *Bus) publish(ctx context.Context, t *topic, payload any, data []byte) error {
	if len(data) <= b.maxPayload {
		ack, err := b.js.Publish(ctx, t.subject, data)
		if err != nil {
			return classifyPublishError(err)
		}
		t.published.Inc()
		t.noteSeq(ack.Sequence)
		return nil
	}
	v := reflect.ValueOf(payload)
	if v.Kind() != reflect.Slice || v.Len() < 2 {
		return osprey.Permanent(fmt.Errorf("batch of %d bytes exceeds the server's maximum payload of %d bytes", len(data), b.maxPayload))
	}
	half := v.Len() / 2
	for _, part := range []reflect.Value{v.Slice(0, half), v.Slice(half, v.Len())} {
		p := part.Interface()
		d, err := json.Marshal(p)
		if err != nil {
			return osprey.Permanent(fmt.Errorf("encode batch: %w", err))
		}
		if err := b.publish(ctx, t, p, d); err != nil {
			return err
		}
	}
	return nil
}

// errCodeStoreFailed is the JetStream error code of a store that refused a
// message; with the description "maximum ... exceeded" the stream is full.
const errCodeStoreFailed natsjs.ErrorCode = 10077

// classifyPublishError marks a full stream's refusal as bus.ErrFull.
func classifyPublishError(err error) error {
	var apiErr *natsjs.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode == errCodeStoreFailed &&
		strings.Contains(apiErr.Description, "maximum") {
		return fmt.Errorf("%w: %w", bus.ErrFull, err)
	}
	return err
}
