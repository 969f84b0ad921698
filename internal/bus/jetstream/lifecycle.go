package jetstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/bus"
)

const (
	// pullBatch is how many batches a subscriber has fetched and waiting at
	// most (fewer if MaxAckPending is smaller). With the default 1MB maximum
	// payload a subscriber's buffer stays at half nats.go's 64MB
	// slow-consumer limit or less.
	pullBatch = 32
	// retryBase and retryMax bound the delay before a failed batch is
	// delivered again: retryBase after the first failure, doubling, at most
	// retryMax.
	retryBase = 200 * time.Millisecond
	retryMax  = 30 * time.Second
	// apiTimeout bounds JetStream API requests made without a caller's ctx.
	apiTimeout = 10 * time.Second
	// checkMin and checkMax bound the interval at which the drain asks
	// JetStream whether the groups have acknowledged this Bus's batches: the
	// shorter while handlers are returning, growing to the longer while
	// nothing happens locally.
	checkMin = 10 * time.Millisecond
	checkMax = 250 * time.Millisecond
	// flushTimeout bounds the wait for the last acknowledgements to leave
	// before the connection is closed.
	flushTimeout = 5 * time.Second
	// errorLogInterval is the least time between two log lines about errors
	// of one group; the errors in between are only counted.
	errorLogInterval = 10 * time.Second
)

// Start begins fetching: every handler gets its own pull subscription on its
// group's durable. ctx is not used: consuming runs until Shutdown. Start after
// Shutdown returns bus.ErrClosed; a second Start is an error. If Start fails,
// Shutdown still stops what it began.
func (b *Bus) Start(context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case stateStarted:
		return errors.New("jetstream: bus already started")
	case stateDraining, stateDone:
		return fmt.Errorf("start jetstream bus: %w", bus.ErrClosed)
	}
	b.state = stateStarted
	batch := min(pullBatch, b.opts.MaxAckPending)
	for _, g := range b.groups {
		for _, h := range g.handlers {
			onMsg := func(m natsjs.Msg) { b.deliver(g, h, []fetched{g.take(m)}) }
			var queue chan natsjs.Msg
			if g.coalesce > 0 {
				// The subscription hands its messages to a delivery
				// loop that can see which are waiting.
				queue = make(chan natsjs.Msg, batch)
				onMsg = func(m natsjs.Msg) { queue <- m }
			}
			cc, err := g.consumer.Consume(
				onMsg,
				natsjs.PullMaxMessages(batch),
				natsjs.ConsumeErrHandler(func(_ natsjs.ConsumeContext, err error) {
					g.logError(b.log, "bus consumer error", err)
				}),
			)
			if err != nil {
				return fmt.Errorf("start consuming %s/%s: %w", g.topic.name, g.name, err)
			}
			b.consumes = append(b.consumes, consumption{g: g, cc: cc, queue: queue})
			if queue != nil {
				b.workers.Add(1)
				go b.work(g, h, queue)
			}
		}
	}
	return nil
}

// consumption is one handler's subscription to its group's durable, and the
// queue to its delivery loop when the topic coalesces.
type consumption struct {
	g     *group
	cc    natsjs.ConsumeContext
	queue chan natsjs.Msg // nil unless the group coalesces
}

// Shutdown stops accepting publishes, drains and closes the connection; see
// the package documentation for what it waits for, and what happens when ctx
// ends first (Shutdown then returns ctx's error). Shutdown is idempotent and
// may be called without Start.
func (b *Bus) Shutdown(ctx context.Context) error {
	b.mu.Lock()
	prev := b.state
	if prev < stateDraining {
		b.state = stateDraining
		go b.drain(prev == stateStarted)
	}
	b.mu.Unlock()

	select {
	case <-b.done:
		return nil
	case <-ctx.Done():
		b.abort()
		return fmt.Errorf("shut down jetstream bus: %w", ctx.Err())
	}
}

// drain runs the shutdown: waits until the groups acknowledged this Bus's
// batches, stops the subscriptions (their fetched batches are still
// handled), refuses the last publishes, and closes the connection.
func (b *Bus) drain(started bool) {
	// Publishes accepted before Shutdown began are part of what it waits
	// for; none begins any more, so this wait ends.
	b.outsidePublishes.Wait()
	if started {
		b.awaitAcked()
		for _, c := range b.consumes {
			c.cc.Drain()
		}
		for _, c := range b.consumes {
			<-c.cc.Closed() // after the subscription's last callback returned
			if c.queue != nil {
				close(c.queue) // its delivery loop handles what is queued
			}
		}
		b.workers.Wait()
	}
	b.mu.Lock()
	b.state = stateDone
	b.mu.Unlock()
	b.handlerPublishes.Wait()
	b.cancelHandler()
	if err := b.nc.FlushTimeout(flushTimeout); err != nil && !b.nc.IsClosed() {
		b.log.Warn("bus flush before close failed; unsent acknowledgements mean redeliveries", "err", err)
	}
	b.nc.Close()
	close(b.done)
}

// awaitAcked returns when every batch this Bus published to a topic it
// subscribes has been acknowledged or terminated by each of its groups, or
// when Shutdown gave up. JetStream announces no such thing, so the consumers'
// state is asked for: soon after a local handler returned, less often while
// nothing happens here (the batches may be with other members, or waiting
// for a redelivery).
func (b *Bus) awaitAcked() {
	b.mu.RLock()
	groups := b.groups
	b.mu.RUnlock()
	wait := checkMin
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	for {
		handled := b.handled.Load()
		if b.acked(groups) {
			return
		}
		timer.Reset(wait)
		select {
		case <-timer.C:
		case <-b.abortCtx.Done():
			return
		}
		if b.handled.Load() != handled {
			wait = checkMin
		} else {
			wait = min(2*wait, checkMax)
		}
	}
}

// acked reports whether every group has acknowledged the batches this Bus
// published on its topic. The targets are read before and after the
// consumers' state: a handler acknowledges its batch only after the batches
// it published were stored (and counted in its topic's lastSeq), so a batch
// handed on by a handler whose own batch showed as acknowledged shows up as a
// changed target, and the check is repeated.
func (b *Bus) acked(groups []*group) bool {
	targets := make([]uint64, len(groups))
	for i, g := range groups {
		targets[i] = g.topic.lastSeq.Load()
	}
	for i, g := range groups {
		if targets[i] == 0 {
			continue // this Bus never published on the topic
		}
		ctx, cancel := context.WithTimeout(b.abortCtx, apiTimeout)
		info, err := g.consumer.Info(ctx)
		cancel()
		if err != nil {
			if b.abortCtx.Err() == nil {
				g.logError(b.log, "bus drain: consumer info failed", err)
			}
			return false
		}
		if !caughtUp(info, targets[i]) {
			return false
		}
	}
	for i, g := range groups {
		if g.topic.lastSeq.Load() != targets[i] {
			return false
		}
	}
	return true
}

// caughtUp reports whether the consumer described by info has acknowledged
// (or terminated) every message of its subject up to stream sequence seq:
// none of them is still undelivered, and none is delivered and unacknowledged.
// Deliveries go out in stream order (redeliveries aside, which are
// unacknowledged), so undelivered messages all lie above Delivered.Stream,
// and unacknowledged ones above AckFloor.Stream.
func caughtUp(info *natsjs.ConsumerInfo, seq uint64) bool {
	delivered := info.NumPending == 0 || info.Delivered.Stream >= seq
	acked := info.NumAckPending == 0 || info.AckFloor.Stream >= seq
	return delivered && acked
}

// deliver runs h once on taken's batches, joined into one JSON array when
// there are several, and settles each with JetStream: ack on success; on a
// permanent error, a batch handled alone is terminated and batches handled
// together are handled again one by one, so that only the bad one is given
// up; on another error each is terminated if this was its last allowed
// delivery, otherwise negatively acknowledged with a delay.
func (b *Bus) deliver(g *group, h bus.RawHandler, taken []fetched) {
	defer b.handled.Add(1)
	if b.abortCtx.Err() != nil {
		// Shutdown gave up: hand the batches back at once, for another
		// member of the group.
		for _, f := range taken {
			_ = f.msg.Nak()
		}
		return
	}
	m := message{data: taken[0].msg.Data()}
	if len(taken) > 1 {
		m.data = joined(taken)
		g.coalesced.Add(float64(len(taken) - 1))
	}
	err := b.handle(h, m)
	g.delivered.Add(float64(len(taken)))
	if err == nil {
		for _, f := range taken {
			if err := f.msg.Ack(); err != nil {
				g.logError(b.log, "bus ack failed; the batch will be delivered again", err)
			}
		}
		return
	}
	g.handlerErrors.Inc()
	if len(taken) > 1 && osprey.IsPermanent(err) && b.abortCtx.Err() == nil {
		g.logError(b.log, "bus handler failed permanently on coalesced batches; handling them one by one", err, "batches", len(taken))
		for _, f := range taken {
			b.deliver(g, h, []fetched{f})
		}
		return
	}
	for _, f := range taken {
		b.settleFailed(g, f, err, len(taken))
	}
}

// settleFailed settles f, one of n batches whose handler call failed with
// err.
func (b *Bus) settleFailed(g *group, f fetched, err error, n int) {
	var settle error
	switch {
	case osprey.IsPermanent(err):
		g.terminated.Inc()
		settle = f.msg.Term()
		g.logError(b.log, "bus handler failed permanently; batch dropped", err)
	case b.abortCtx.Err() != nil:
		settle = f.msg.Nak()
	case b.opts.MaxDeliver > 0 && f.attempt >= uint64(b.opts.MaxDeliver):
		g.terminated.Inc()
		settle = f.msg.Term()
		g.logError(b.log, "bus handler failed on the last delivery; batch dropped", err, "deliveries", f.attempt, "batches", n)
	default:
		settle = f.msg.NakWithDelay(retryDelay(f.attempt))
		g.logError(b.log, "bus handler failed; batch will be delivered again", err, "deliveries", f.attempt, "batches", n)
	}
	if settle != nil {
		g.logError(b.log, "bus settling a failed batch failed", settle)
	}
}

// retryDelay is how long a batch that failed on its attempt'th delivery waits
// before it is delivered again.
func retryDelay(attempt uint64) time.Duration {
	d := retryBase
	for i := uint64(1); i < attempt && d < retryMax; i++ {
		d *= 2
	}
	return min(d, retryMax)
}

// handle runs h on m with the handlers' context, turning a panic into an
// error.
func (b *Bus) handle(h bus.RawHandler, m message) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = newPanicError(r)
		}
	}()
	return h(b.handlerCtx, m)
}

// logError logs msg about g with err, unless another line about g was logged
// less than errorLogInterval ago, in which case it is only counted for the
// next.
func (g *group) logError(log *slog.Logger, msg string, err error, attrs ...any) {
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

	attrs = append(attrs, "topic", g.topic.name, "group", g.name, "err", err, "suppressed", suppressed)
	var pe *panicError
	if errors.As(err, &pe) {
		attrs = append(attrs, "stack", string(pe.stack))
	}
	log.Warn(msg, attrs...)
}
