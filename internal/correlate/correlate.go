// Package correlate is Osprey's correlate stage in its first, deliberately
// simple form: it deduplicates events and anomalies by fingerprint into
// incident members, groups members that share an identity label (service by
// default) within a time window into one incident, and resolves an incident
// when all of its members have resolved.
//
// The stored events are the log the stage follows: it records the highest event
// Seq it has applied as a checkpoint, replays newer events from the store at
// start-up, and catches up from the store whenever the bus skipped some (a
// dropped batch) or on a timer. Applying an event twice is harmless: each member
// remembers the last Seq applied to it. So an event acknowledged to its sender
// always reaches an incident, even across a crash.
package correlate

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/store"
)

// CheckpointName is the store checkpoint under which the stage records the
// highest event Seq it has applied.
const CheckpointName = "correlate/events"

// replayPage is how many events one catch-up query reads.
const replayPage = 1000

// Options configures a Correlator.
type Options struct {
	Store store.Store
	// Window is how close to an incident's last activity a new member of the
	// same group must arrive to join it.
	Window time.Duration
	// GroupBy lists identity labels; the first one a signal carries groups it.
	GroupBy []string
	// Out receives a snapshot of every incident the stage changed, with only
	// the new timeline entries. May be nil.
	Out osprey.IncidentConsumer
	// Topology, if set, lets a signal of one service join an unresolved
	// incident of a service it calls or is called by (within Window).
	Topology Topology
	// Causes, if set, ranks root-cause candidates whenever a member joins
	// an incident; the result is stored in Incident.Causes with an rca
	// timeline entry when it changes.
	Causes CauseRanker
	// CatchUpInterval is how often the stage reads events it may have missed
	// from the store. Zero means 10s.
	CatchUpInterval time.Duration
	Now             func() time.Time
	Logger          *slog.Logger
	Registerer      prometheus.Registerer
}

// Topology is the learned service call graph, as the correlate stage needs
// it. Implementations must be safe for concurrent use.
type Topology interface {
	// Neighbours returns the services that call service and those it calls.
	Neighbours(service string) (callers, callees []string)
}

// CauseRanker ranks the root-cause candidates of an incident, best first,
// each with an explanation and evidence ids. It must not modify inc and must
// be deterministic for the same incident and graph.
type CauseRanker interface {
	RankCauses(inc *osprey.Incident) []osprey.Cause
}

// Correlator is the correlate stage. It consumes events and anomalies, and is an
// osprey.Component.
type Correlator struct {
	store    store.Store
	out      osprey.IncidentConsumer
	topo     Topology
	causes   CauseRanker
	interval time.Duration
	now      func() time.Time
	log      *slog.Logger
	m        *metrics

	mu         sync.Mutex // serialises all state changes and store writes
	st         *state
	window     time.Duration
	groupBy    []string
	checkpoint int64

	stop     chan struct{}
	done     chan struct{}
	started  bool
	stopOnce sync.Once
}

var (
	_ osprey.EventConsumer   = (*Correlator)(nil)
	_ osprey.AnomalyConsumer = (*Correlator)(nil)
	_ osprey.Component       = (*Correlator)(nil)
)

// New returns a Correlator. Call Start before feeding it.
func New(opts Options) (*Correlator, error) {
	if opts.Store == nil {
		return nil, errors.New("correlate: store is required")
	}
	if opts.Window <= 0 {
		return nil, errors.New("correlate: window must be positive")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Registerer == nil {
		opts.Registerer = prometheus.NewRegistry()
	}
	if opts.CatchUpInterval <= 0 {
		opts.CatchUpInterval = 10 * time.Second
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	return &Correlator{
		store:    opts.Store,
		out:      opts.Out,
		topo:     opts.Topology,
		causes:   opts.Causes,
		interval: opts.CatchUpInterval,
		now:      opts.Now,
		log:      opts.Logger,
		m:        m,
		window:   opts.Window,
		groupBy:  slices.Clone(opts.GroupBy),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}, nil
}

// Start loads the unresolved incidents and the checkpoint from the store,
// applies every stored event newer than the checkpoint, and starts the periodic
// catch-up.
func (c *Correlator) Start(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.reloadLocked(ctx); err != nil {
		return err
	}
	if err := c.catchUpLocked(ctx); err != nil {
		return err
	}
	c.started = true
	go c.loop()
	return nil
}

// Shutdown stops the periodic catch-up and waits for it. Events are applied
// synchronously by ConsumeEvents, so there is nothing else to flush.
func (c *Correlator) Shutdown(ctx context.Context) error {
	c.stopOnce.Do(func() { close(c.stop) })
	c.mu.Lock()
	started := c.started
	c.mu.Unlock()
	if !started {
		return nil
	}
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("correlate shutdown: %w", ctx.Err())
	}
}

func (c *Correlator) loop() {
	defer close(c.done)
	t := time.NewTicker(c.interval)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), c.interval)
			c.mu.Lock()
			if err := c.catchUpLocked(ctx); err != nil {
				c.log.Warn("correlate catch-up failed", "err", err)
			}
			c.mu.Unlock()
			cancel()
		}
	}
}

// ConsumeEvents applies a batch of committed events (each with its Seq). A
// batch that does not follow on from the checkpoint means events were missed;
// the stage then reads everything after the checkpoint from the store instead.
func (c *Correlator) ConsumeEvents(ctx context.Context, batch []osprey.Event) error {
	slices.SortFunc(batch, func(a, b osprey.Event) int { return cmp.Compare(a.Seq, b.Seq) })
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(batch) > 0 && batch[0].Seq > c.checkpoint+1 {
		c.m.gaps.Inc()
		return c.catchUpLocked(ctx)
	}
	return c.applyEventsLocked(ctx, batch)
}

// ConsumeAnomalies applies a batch of anomalies: an active anomaly is a firing
// member, an ended one a resolved member.
func (c *Correlator) ConsumeAnomalies(ctx context.Context, batch []osprey.Anomaly) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	sigs := make([]signal, 0, len(batch))
	for i := range batch {
		sigs = append(sigs, anomalySignal(&batch[i], now))
	}
	return c.applyLocked(ctx, sigs, 0)
}

// catchUpLocked applies every stored event after the checkpoint.
func (c *Correlator) catchUpLocked(ctx context.Context) error {
	for {
		events, err := c.store.ListEvents(ctx, store.EventQuery{AfterSeq: c.checkpoint, OldestFirst: true, Limit: replayPage})
		if err != nil {
			return fmt.Errorf("correlate catch-up after seq %d: %w", c.checkpoint, err)
		}
		if len(events) == 0 {
			return nil
		}
		c.m.replayed.Add(float64(len(events)))
		if err := c.applyEventsLocked(ctx, events); err != nil {
			return err
		}
	}
}

func (c *Correlator) applyEventsLocked(ctx context.Context, batch []osprey.Event) error {
	sigs := make([]signal, 0, len(batch))
	var maxSeq int64
	for i := range batch {
		e := &batch[i]
		if e.Seq != 0 && e.Seq <= c.checkpoint {
			continue // applied before
		}
		sigs = append(sigs, eventSignal(e))
		maxSeq = max(maxSeq, e.Seq)
	}
	return c.applyLocked(ctx, sigs, maxSeq)
}

// applyLocked applies signals, persists every changed incident with its new
// timeline entries, advances the checkpoint to seq (when non-zero), and hands
// the changes on. If persisting fails, the in-memory state is rebuilt from the
// store so that it never runs ahead of what is stored; the next catch-up then
// applies the events again.
func (c *Correlator) applyLocked(ctx context.Context, sigs []signal, seq int64) error {
	changed := make(map[string]*change)
	var order []string
	for _, sig := range sigs {
		c.m.processed.WithLabelValues(string(sig.kind)).Inc()
		ch := c.st.apply(sig)
		if ch == nil {
			c.m.ignored.Inc()
			continue
		}
		if ch.opened {
			c.m.opened.Inc()
		}
		if ch.inc.Status == osprey.IncidentResolved {
			c.m.resolved.Inc()
		}
		if prev, ok := changed[ch.inc.ID]; ok {
			prev.entries = append(prev.entries, ch.entries...)
			prev.joined = prev.joined || ch.joined
			continue
		}
		changed[ch.inc.ID] = ch
		order = append(order, ch.inc.ID)
	}
	if c.causes != nil {
		for _, id := range order {
			if ch := changed[id]; ch.opened || ch.joined {
				c.rankLocked(ch, ch.inc.UpdatedAt)
			}
		}
	}
	out := make([]osprey.Incident, 0, len(order))
	for _, id := range order {
		ch := changed[id]
		snap := snapshot(ch.inc)
		if err := c.store.SaveIncident(ctx, snap, ch.entries...); err != nil {
			c.m.saveErrors.Inc()
			return c.recoverLocked(ctx, fmt.Errorf("save incident %s: %w", id, err))
		}
		snap.Timeline = ch.entries
		out = append(out, snap)
	}
	if seq > c.checkpoint {
		if err := c.store.SetCheckpoint(ctx, CheckpointName, seq); err != nil {
			c.m.saveErrors.Inc()
			return c.recoverLocked(ctx, fmt.Errorf("set checkpoint %d: %w", seq, err))
		}
		c.checkpoint = seq
	}
	c.m.open.Set(float64(len(c.st.open)))
	if c.out != nil && len(out) > 0 {
		if err := c.out.ConsumeIncidents(ctx, out); err != nil {
			c.m.handoffErrors.Inc()
			c.log.Warn("hand on incident changes", "incidents", len(out), "err", err)
		}
	}
	return nil
}

// rankLocked re-ranks the causes of a changed incident and records a
// timeline entry when the ranking (the order of candidates) changed.
func (c *Correlator) rankLocked(ch *change, now time.Time) {
	causes := c.causes.RankCauses(ch.inc)
	if sameRanking(ch.inc.Causes, causes) {
		ch.inc.Causes = causes // scores and explanations may have moved
		return
	}
	ch.inc.Causes = causes
	c.m.rankings.Inc()
	msg := "no root-cause candidate"
	if len(causes) > 0 {
		parts := make([]string, 0, 3)
		for _, cause := range causes[:min(3, len(causes))] {
			parts = append(parts, fmt.Sprintf("%s %s (%.2f)", cause.Kind, cause.Name, cause.Score))
		}
		msg = "root-cause candidates: " + strings.Join(parts, ", ")
	}
	ch.entries = append(ch.entries, osprey.TimelineEntry{At: now, Kind: osprey.TimelineRCA, Actor: "osprey", Message: msg})
}

// sameRanking reports whether a and b name the same candidates in the same
// order.
func sameRanking(a, b []osprey.Cause) bool {
	return slices.EqualFunc(a, b, func(x, y osprey.Cause) bool { return x.Kind == y.Kind && x.Name == y.Name })
}

// recoverLocked rebuilds the state from the store after a failed write and
// returns err (with the reload's error, if that failed too).
func (c *Correlator) recoverLocked(ctx context.Context, err error) error {
	if rerr := c.reloadLocked(ctx); rerr != nil {
		return errors.Join(err, rerr)
	}
	return err
}

// reloadLocked replaces the in-memory state with the store's unresolved
// incidents and checkpoint.
func (c *Correlator) reloadLocked(ctx context.Context) error {
	cp, err := c.store.Checkpoint(ctx, CheckpointName)
	if err != nil {
		return fmt.Errorf("load correlate checkpoint: %w", err)
	}
	st := newState(c.window, c.groupBy, c.topo, osprey.NewID)
	incs, err := c.store.ListIncidents(ctx, store.IncidentQuery{
		Statuses: []osprey.IncidentStatus{osprey.IncidentOpen, osprey.IncidentAcknowledged},
		Limit:    store.MaxLimit,
	})
	if err != nil {
		return fmt.Errorf("load unresolved incidents: %w", err)
	}
	for _, inc := range incs {
		st.load(inc)
	}
	if len(incs) == store.MaxLimit {
		// More unresolved incidents than this are a flood the real
		// correlation engine must handle; the oldest are not grouped into.
		c.log.Warn("unresolved incidents exceed one page", "loaded", len(incs))
	}
	c.st = st
	c.checkpoint = cp
	c.m.open.Set(float64(len(st.open)))
	return nil
}

// snapshot returns a copy of inc that shares no slices with the live state.
func snapshot(inc *osprey.Incident) osprey.Incident {
	s := *inc
	s.Members = slices.Clone(inc.Members)
	s.Causes = slices.Clone(inc.Causes)
	s.Labels = inc.Labels.Clone()
	s.Timeline = nil
	return s
}
