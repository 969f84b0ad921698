package correlate

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/store"
)

// The commit pipeline (Options.Pipeline). A batch's store commit (the
// statements and the WAL's fsync, more than half of a new alert's cost)
// and its grouping and ranking used to run one after the other under the
// lock, and the next call waited for both. With the pipeline, applyLocked
// groups and ranks, builds the whole store.IncidentBatch (the snapshots,
// the changed members, the noise counts, the checkpoint) and advances the
// in-memory view of what is stored (storedMembers, storedCauses, the
// checkpoint) as if the commit had happened, then queues the batch for
// the writer and releases the lock: the next call groups while the
// writer commits. The writer commits the queued batches one at a time in
// the order they were queued and hands each one's snapshots on after its
// commit, so
//
//   - commits happen in apply order, and the stored checkpoint only moves
//     with its commit (it is part of the batch's transaction);
//   - an incident change is handed on only after it is stored;
//   - the queue holds at most pipelineDepth batches besides the one being
//     written: an apply that finds it full waits (backpressure).
//
// Snapshots make this safe: a batch holds the incidents' snapshots, whose
// member arrays and members the state copies before it changes them
// (members.go), so the writer reads what the apply saw.
//
// A failed commit fails the batches queued behind it too (they are built
// on it; none is stored or handed on) and leaves the state ahead of the
// store. The next call under the lock settles first (settleLocked): it
// waits for the writer, then rebuilds the state from the store as a
// failed synchronous commit does (recoverLocked), and the stored events
// after the stored checkpoint are applied again by the catch-up (a call
// whose first event is past the rewound checkpoint sees a gap). Every
// section under the lock that reads or changes incidents settles first,
// and every synchronous commit (people's actions, Sweep, the periodic
// catch-up's sweep) waits for the writer before it writes, so they see
// and follow what was queued.
//
// ConsumeEvents returns once its batch is queued: events are stored before
// they are handed to the stage, and a batch that is lost with a failed
// commit (or a crash) is applied again from the store. ConsumeAnomalies
// waits for its own commit: anomalies are not stored anywhere else, and a
// bus that redelivers (JetStream) acknowledges a batch when its handler
// returns. A caller that needs the incidents stored and handed on calls
// Flush; serve's in-process bus does when the events topic has nothing
// queued (inproc.Options.Idle; a batch that arrives meanwhile cuts the wait
// short, ctx), so a quiet topic's events are stored and handed on before
// the bus takes the next, and the bus's drain on shutdown waits for the
// commits.

// pipelineDepth is how many batches may wait for the writer besides the
// one being written.
const pipelineDepth = 1

// errDropped marks a queued commit that was not written because an earlier
// one failed.
var errDropped = errors.New("an earlier incident commit failed")

// pendingCommit is one batch's store write: what commitLocked and the
// writer store, and the snapshots to hand on after it.
type pendingCommit struct {
	ctx   context.Context
	batch store.IncidentBatch
	out   []osprey.Incident // Timeline set from the batch's entries once stored
	what  string            // for errors: "save incidents", "save incident ID"
	done  chan error        // receives the outcome; buffered
}

// committer is the pipeline's writer: a queue of pending commits, written
// one at a time in order by one goroutine, started when a commit is queued
// on an idle writer and ended when the queue is empty. It never takes the
// Correlator's lock.
type committer struct {
	write func(*pendingCommit) error // stores and hands on one commit

	mu      sync.Mutex
	changed sync.Cond // signalled when a commit was taken from the queue
	queue   []*pendingCommit
	busy    bool          // the writer goroutine runs
	idle    chan struct{} // closed when the writer is idle
	failed  error         // the first failure not yet settled
}

func newCommitter(write func(*pendingCommit) error) *committer {
	w := &committer{write: write, idle: make(chan struct{})}
	close(w.idle)
	w.changed.L = &w.mu
	return w
}

// push queues p, waiting while the queue is full. After a failure that is
// not yet settled, p fails at once.
func (w *committer) push(p *pendingCommit) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for len(w.queue) >= pipelineDepth {
		w.changed.Wait()
	}
	if w.failed != nil {
		p.done <- fmt.Errorf("%w: %w", errDropped, w.failed)
		return
	}
	w.queue = append(w.queue, p)
	if !w.busy {
		w.busy = true
		w.idle = make(chan struct{})
		go w.run()
	}
}

// run writes the queued commits in order until the queue is empty.
func (w *committer) run() {
	w.mu.Lock()
	for len(w.queue) > 0 {
		p := w.queue[0]
		w.queue[0] = nil
		w.queue = w.queue[1:]
		w.changed.Broadcast()
		failed := w.failed
		w.mu.Unlock()
		var err error
		if failed != nil {
			err = fmt.Errorf("%w: %w", errDropped, failed)
		} else {
			err = w.write(p)
		}
		w.mu.Lock()
		if err != nil && w.failed == nil {
			w.failed = err
		}
		p.done <- err
	}
	w.busy = false
	close(w.idle)
	w.mu.Unlock()
}

// settle returns the first failure since the last settle, forgetting
// it, once the writer is idle. Without a failure, it waits for the writer
// only if drain is set. err is ctx's error if ctx ended first.
func (w *committer) settle(ctx context.Context, drain bool) (failed, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !drain && w.failed == nil {
		return nil, nil
	}
	for w.busy {
		idle := w.idle
		w.mu.Unlock()
		select {
		case <-idle:
		case <-ctx.Done():
			w.mu.Lock()
			return nil, fmt.Errorf("wait for the queued incident commits: %w", ctx.Err())
		}
		w.mu.Lock()
	}
	failed = w.failed
	w.failed = nil
	return failed, nil
}

// settleLocked rebuilds the state from the store if a queued commit
// failed, once the writer has dropped the commits queued behind it;
// failed is that commit's error, err the rebuild's. A rebuild that failed
// is tried again by the next settle. Without a failure it returns at
// once, so the next batch is applied while the writer commits.
func (c *Correlator) settleLocked(ctx context.Context) (failed, err error) {
	return c.settleOrDrainLocked(ctx, false)
}

// drainLocked is settleLocked after waiting for every queued commit: a
// synchronous commit, a person's action or Flush calls it, so that they
// follow what was queued.
func (c *Correlator) drainLocked(ctx context.Context) (failed, err error) {
	return c.settleOrDrainLocked(ctx, true)
}

func (c *Correlator) settleOrDrainLocked(ctx context.Context, drain bool) (failed, err error) {
	failed, err = c.w.settle(ctx, drain || c.stale)
	if err != nil {
		return nil, err
	}
	if failed != nil {
		c.stale = true
	}
	if c.stale {
		if err = c.reloadLocked(ctx); err != nil {
			return failed, err
		}
		c.stale = false
	}
	return failed, nil
}

// Flush waits until every commit queued by ConsumeEvents or
// ConsumeAnomalies (Options.Pipeline) is stored and its changes handed on,
// or ctx ends (the commits go on). If one failed, the state is rebuilt
// from the store (the events after the stored checkpoint are applied again
// by the next call or catch-up) and Flush returns that failure. Without
// Options.Pipeline it returns at once.
func (c *Correlator) Flush(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	failed, err := c.drainLocked(ctx)
	return errors.Join(failed, err)
}

// queueLocked queues cs's commit for the writer (as commitLocked commits
// it) and returns the channel that receives its outcome, or nil when
// there is nothing to store.
func (c *Correlator) queueLocked(ctx context.Context, cs *changeSet, seq int64) <-chan error {
	p := c.prepareLocked(context.WithoutCancel(ctx), cs, seq)
	if p == nil {
		return nil
	}
	c.w.push(p)
	return p.done
}

// writeQueued is the writer's work for one commit: store it, then hand its
// changes on. A failure is logged here, since the call that queued the
// commit may have returned.
func (c *Correlator) writeQueued(p *pendingCommit) error {
	if err := c.write(p); err != nil {
		c.log.Warn("correlate commit failed; the state is rebuilt from the store", "err", err)
		return err
	}
	c.publish(p.ctx, p.out)
	return nil
}
