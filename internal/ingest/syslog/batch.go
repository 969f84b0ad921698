package syslog

import (
	"context"
	"log/slog"
	"sync"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/ingest"
)

// batcher collects records from every connection and hands them to the
// consumer in batches of up to size records, and on every flush. A full
// batch is delivered by the goroutine that filled it, so a slow consumer
// slows the TCP senders down (backpressure) rather than growing a queue.
type batcher struct {
	logs osprey.LogConsumer
	size int
	recv *ingest.Receiver
	log  *slog.Logger

	mu  sync.Mutex
	buf []osprey.LogRecord
}

func newBatcher(logs osprey.LogConsumer, size int, recv *ingest.Receiver, log *slog.Logger) *batcher {
	return &batcher{logs: logs, size: size, recv: recv, log: log, buf: make([]osprey.LogRecord, 0, size)}
}

// add appends rec and delivers the batch if it is full.
func (b *batcher) add(ctx context.Context, rec osprey.LogRecord) {
	b.mu.Lock()
	b.buf = append(b.buf, rec)
	if len(b.buf) < b.size {
		b.mu.Unlock()
		return
	}
	batch := b.take()
	b.mu.Unlock()
	b.deliver(ctx, batch)
}

// flush delivers what has been collected, if anything.
func (b *batcher) flush(ctx context.Context) {
	b.mu.Lock()
	batch := b.take()
	b.mu.Unlock()
	b.deliver(ctx, batch)
}

// take returns the collected records and starts a new buffer; b.mu is held.
func (b *batcher) take() []osprey.LogRecord {
	if len(b.buf) == 0 {
		return nil
	}
	batch := b.buf
	b.buf = make([]osprey.LogRecord, 0, b.size)
	return batch
}

// deliver hands batch to the consumer, which owns it from then on, and
// counts the outcome: a refused batch is lost (syslog has no way to ask the
// sender again) and counted as store_error.
func (b *batcher) deliver(ctx context.Context, batch []osprey.LogRecord) {
	n := len(batch)
	if n == 0 {
		return
	}
	if err := b.logs.ConsumeLogs(ctx, batch); err != nil {
		b.recv.Rejected(ingest.ReasonStore, n)
		b.recv.Done(0, n)
		b.log.Warn("hand off syslog messages", "messages", n, "err", err)
		return
	}
	b.recv.Done(n, 0)
}
