package inproc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"time"

	"github.com/osprey-aiops/osprey/internal/bus"
)

// errorLogInterval is the least time between two log lines about handler
// errors of one group; the errors in between are only counted.
const errorLogInterval = 10 * time.Second

// Start launches one worker per subscriber. ctx is not used: the workers run
// until Shutdown. Start after Shutdown returns bus.ErrClosed; a second Start
// is an error.
func (b *Bus) Start(context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case stateStarted:
		return errors.New("inproc: bus already started")
	case stateDraining, stateDone:
		return fmt.Errorf("start inproc bus: %w", bus.ErrClosed)
	}
	b.state = stateStarted
	b.startWorkers()
	return nil
}

// startWorkers launches one worker per subscriber. The groups must no longer
// change.
func (b *Bus) startWorkers() {
	for _, g := range b.groups {
		for _, h := range g.handlers {
			b.workers.Add(1)
			go func() {
				defer b.workers.Done()
				b.work(g, h)
			}()
		}
	}
}

// Shutdown stops accepting publishes, runs the handlers on what was accepted
// and waits for the workers. It returns ctx's error if ctx is done first; see
// the package documentation for what happens then. Shutdown is idempotent and
// may be called without Start.
func (b *Bus) Shutdown(ctx context.Context) error {
	b.mu.Lock()
	prev := b.state
	if prev < stateDraining {
		b.state = stateDraining
		b.draining.Store(true)
	}
	b.mu.Unlock()

	switch prev {
	case stateNew:
		// Nothing will handle what is queued: workers with a cancelled
		// context drop it, and the drain proceeds as usual.
		b.abort()
		b.startWorkers()
		go b.drain()
	case stateStarted:
		go b.drain()
	}

	select {
	case <-b.done:
		return nil
	case <-ctx.Done():
		b.abort()
		return fmt.Errorf("shut down inproc bus: %w", ctx.Err())
	}
}

// drain waits until nothing is pending, closes the queues, waits for the
// workers and closes b.done.
func (b *Bus) drain() {
	for {
		if b.pending.Load() == 0 {
			// Only a handler's publish can still begin, and none is
			// running; the lock makes sure none began since the load.
			b.mu.Lock()
			quiet := b.pending.Load() == 0
			if quiet {
				b.state = stateDone
			}
			b.mu.Unlock()
			if quiet {
				break
			}
		}
		<-b.idle
	}
	for _, g := range b.groups {
		close(g.queue)
	}
	b.workers.Wait()
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

// work runs h on batches from g's queue until the queue is closed.
func (b *Bus) work(g *group, h bus.RawHandler) {
	var (
		taken []*message
		next  *message // a batch that arrived while the idle function ran
	)
	for {
		m := next
		next = nil
		if m == nil {
			var ok bool
			if m, ok = <-g.queue; !ok {
				return
			}
		}
		taken = append(taken[:0], m)
		var odd *message
		if g.coalesce > 0 {
			taken, odd = g.gather(taken)
		}
		b.deliver(g, h, taken)
		if odd != nil {
			b.deliver(g, h, []*message{odd})
		}
		if g.idle != nil && len(g.queue) == 0 && b.handlerCtx.Err() == nil {
			next = b.runIdle(g)
		}
		// Released after the idle function: the drain waits for it.
		for range taken {
			b.release()
		}
		if odd != nil {
			b.release()
		}
		clear(taken)
	}
}

// deliver runs h once on taken's batches, concatenated when there are
// several. The caller releases them.
func (b *Bus) deliver(g *group, h bus.RawHandler, taken []*message) {
	if b.handlerCtx.Err() != nil {
		// Shutdown gave up waiting: drop what is left.
		g.dropped.Add(float64(len(taken)))
		return
	}
	m := taken[0]
	if len(taken) > 1 {
		m = coalesced(taken)
		g.coalesced.Add(float64(len(taken) - 1))
	}
	if err := b.handle(h, m); err != nil {
		g.handlerErrors.Inc()
		g.logError(b.log, err)
	}
	g.delivered.Add(float64(len(taken)))
}

// runIdle runs g's idle function until it returns or a batch arrives for g,
// and returns that batch (nil if none). A batch that arrives cancels the
// function's context and is delivered once it returned: the function is
// cut short, not failed, and runs again when the queue is next empty.
func (b *Bus) runIdle(g *group) *message {
	ctx, cancel := context.WithCancel(b.handlerCtx)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- b.idleCall(ctx, g.idle) }()
	var (
		err  error
		next *message
	)
	select {
	case err = <-errc:
	case m, ok := <-g.queue:
		// The queue cannot close here: the batches being handled
		// keep the drain from finishing.
		if ok {
			next = m
			cancel()
		}
		err = <-errc
		if ok && errors.Is(err, context.Canceled) {
			err = nil
		}
	}
	if err != nil {
		g.handlerErrors.Inc()
		g.logError(b.log, err)
	}
	return next
}

// idleCall runs an idle function, turning a panic into an error.
func (b *Bus) idleCall(ctx context.Context, idle func(context.Context) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = newPanicError(r)
		}
	}()
	return idle(ctx)
}

// gather appends to taken the batches queued behind it, while some are
// there and taken holds fewer than g.coalesce elements. A batch of
// another type than the first (a topic has one element type, so only a
// misuse) cannot be joined; it is returned as odd, to be delivered on its
// own after the others.
func (g *group) gather(taken []*message) (all []*message, odd *message) {
	first := reflect.ValueOf(taken[0].value)
	if first.Kind() != reflect.Slice {
		return taken, nil
	}
	n := first.Len()
	for n < g.coalesce {
		select {
		case m, ok := <-g.queue:
			if !ok {
				return taken, nil
			}
			v := reflect.ValueOf(m.value)
			if v.Type() != first.Type() {
				return taken, m
			}
			taken = append(taken, m)
			n += v.Len()
		default:
			return taken, nil
		}
	}
	return taken, nil
}

// coalesced returns one message holding the concatenation of taken's
// batches, in order.
func coalesced(taken []*message) *message {
	first := reflect.ValueOf(taken[0].value)
	n := 0
	for _, m := range taken {
		n += reflect.ValueOf(m.value).Len()
	}
	all := reflect.MakeSlice(first.Type(), 0, n)
	for _, m := range taken {
		all = reflect.AppendSlice(all, reflect.ValueOf(m.value))
	}
	return &message{value: all.Interface()}
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
