// Package correlate is Osprey's correlate stage: it deduplicates events and
// anomalies by fingerprint into incident members, groups members that share an
// identity label (service by default) while that group's members are active
// within a time window into one incident, or that are at most two calls apart
// in the learned call graph while the incident is young
// (state.neighbourIncident), or that started within a short burst of an
// incident's opening where the call graph has no say (state.burstIncident),
// and resolves an incident when all of its members have stayed clear for a
// grace period (see state for the lifecycle rules).
//
// It owns the in-memory state of unresolved incidents, so people's actions on
// incidents (Ack, Resolve, Reopen, Assign, Comment, Merge) go through it too:
// each takes the same lock as the signals, stores the incident with a timeline
// entry, appends an audit entry and hands the new snapshot on.
//
// Suppression: a firing signal that matches an active silence (from the store)
// or the target of an inhibition rule whose source is firing does not open,
// join or escalate an incident. It is not lost: the event stays stored, it is
// counted in osprey_correlate_suppressed_total, and when it belongs to an
// incident (its member, or the incident of its group within the window) that
// incident's timeline records the suppression once per alert and silence.
// Resolutions are never suppressed.
//
// The stored events are the log the stage follows: it records the highest event
// Seq it has applied as a checkpoint, replays newer events from the store at
// start-up, and catches up from the store whenever the bus skipped some (a
// dropped batch) or on a timer. Applying an event twice is harmless: each member
// remembers the last Seq applied to it. So an event acknowledged to its sender
// always reaches an incident, even across a crash.
//
// Each call stores its changes in one transaction and hands them on after
// it. By default a call returns after its commit. With Options.Pipeline
// (serve) ConsumeEvents returns once its changes are applied in memory and
// their commit is queued: one writer stores the queued commits in order and
// hands each one's changes on after its commit, while the next call groups
// (pipeline.go). Anomalies, people's actions, Sweep and Shutdown still wait
// for their commits, and Flush waits for the queued ones.
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
	"sync/atomic"
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

// DefaultCatchUpInterval is Options.CatchUpInterval's default.
const DefaultCatchUpInterval = 10 * time.Second

// Options configures a Correlator.
type Options struct {
	Store store.Store
	// Window is how close to the last activity of its group's members in an
	// incident a new member of the same group must arrive to join it.
	Window time.Duration
	// GroupBy lists identity labels; the first one a signal carries groups it.
	GroupBy []string
	// Out receives a snapshot of every incident the stage changed, with only
	// the new timeline entries. May be nil.
	Out osprey.IncidentConsumer
	// Topology, if set, lets a new signal of one service join an
	// unresolved incident of a service one call away (or two, when none is
	// one away) that was active and opened within Window.
	Topology Topology
	// Burst, if positive, lets a new signal that neither its group nor the
	// call graph places join an unresolved incident opened at most Burst
	// before it, unless the call graph knows both and they are more than
	// two calls apart (state.burstIncident). Zero disables it.
	Burst time.Duration
	// Similarity, if positive, lets a new log anomaly that neither its
	// group, the call graph nor placement places join an unresolved
	// incident holding a log anomaly whose template text is at least this
	// similar (Jaccard over words, state.similarIncident), opened within
	// Window and still spreading. Alerts are not compared (similar.go
	// says why). Zero disables it.
	Similarity float64
	// Causes, if set, ranks root-cause candidates whenever a member joins
	// an incident; the result is stored in Incident.Causes with an rca
	// timeline entry when it changes.
	Causes CauseRanker
	// ResolveGrace is how long every member of an incident must stay clear
	// before the incident resolves; a member firing again within it keeps
	// the incident open. Zero resolves as soon as the last member clears.
	ResolveGrace time.Duration
	// Inhibit are the inhibition rules: a firing signal matching a rule's
	// target is suppressed while a signal matching its source fires with
	// the same values of the rule's Equal labels.
	Inhibit []InhibitRule
	// CatchUpInterval is how often the stage reads events it may have missed
	// from the store, reloads the silences (so that silences created through
	// another replica's API take effect) and resolves incidents whose grace
	// ended while no signal arrived. Zero means DefaultCatchUpInterval.
	// A driver of a virtual clock (osprey replay) sets it beyond its data
	// and calls Sweep itself at the times NextDue names.
	CatchUpInterval time.Duration
	// Pipeline, if true, overlaps a batch's store commit with the
	// grouping of the next: ConsumeEvents returns once its changes are
	// applied in memory and their commit is queued, and one writer
	// stores the queued commits in order and hands each one's changes
	// on after it is stored (pipeline.go). ConsumeAnomalies still
	// returns after its own commit. The caller must call Flush when it
	// needs the incidents stored, at least whenever it has no more
	// events to hand over (serve's in-process bus does, through
	// inproc.Options.Idle); Shutdown flushes too.
	Pipeline bool
	// Rules are the user-defined grouping rules (rules.go), first match
	// wins; Flapping configures flapping detection (flap.go); Maintenance
	// are the configured maintenance windows (maintenance.go).
	Rules       []Rule
	Flapping    FlapConfig
	Maintenance []osprey.MaintenanceWindow
	Now         func() time.Time
	Logger      *slog.Logger
	Registerer  prometheus.Registerer
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
	grace    time.Duration
	now      func() time.Time
	log      *slog.Logger
	m        *metrics

	// silences are the compiled silences, replaced whole by reloads
	// (serialised by silMu) and read without c.mu.
	silences atomic.Pointer[silenceSet]
	silMu    sync.Mutex
	// inhib tracks the firing sources of the inhibition rules; guarded by mu.
	inhib *inhibitor
	// rules, flaps and maint are the grouping rules, the flip tracker and
	// the maintenance windows (rules_ext.go); xm are their metrics.
	rules *ruleSet
	flaps *flapTracker
	maint *maintenance
	xm    *extMetrics

	mu         sync.Mutex // serialises all state changes and store writes
	st         *state
	stored     storedMembers // members as last stored (persist.go)
	lastCauses storedCauses  // causes as last stored (persist.go)
	noise      *noiseCounter // the batch's noise counts (noise.go)
	window     time.Duration
	burst      time.Duration
	similarity float64
	groupBy    []string
	checkpoint int64 // the highest event Seq applied (stored, or queued for the writer)
	// w is the commit pipeline's writer (Options.Pipeline); stale says
	// that a failed commit left the state ahead of the store and it
	// still has to be rebuilt (settleLocked).
	pipeline bool
	w        *committer
	stale    bool

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
		opts.CatchUpInterval = DefaultCatchUpInterval
	}
	if opts.ResolveGrace < 0 {
		return nil, errors.New("correlate: resolve grace must not be negative")
	}
	if opts.Burst < 0 {
		return nil, errors.New("correlate: burst must not be negative")
	}
	if opts.Similarity < 0 || opts.Similarity > 1 {
		return nil, fmt.Errorf("correlate: similarity must be in [0, 1], got %v", opts.Similarity)
	}
	inhib, err := newInhibitor(opts.Inhibit)
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	c := &Correlator{
		store:      opts.Store,
		out:        opts.Out,
		topo:       opts.Topology,
		causes:     opts.Causes,
		interval:   opts.CatchUpInterval,
		grace:      opts.ResolveGrace,
		inhib:      inhib,
		now:        opts.Now,
		log:        opts.Logger,
		m:          m,
		window:     opts.Window,
		burst:      opts.Burst,
		similarity: opts.Similarity,
		groupBy:    slices.Clone(opts.GroupBy),
		pipeline:   opts.Pipeline,
		stop:       make(chan struct{}),
		done:       make(chan struct{}),
	}
	c.w = newCommitter(c.writeQueued)
	c.silences.Store(&silenceSet{})
	inhib.overflow = m.inhibitFull.Inc
	if err := c.initExtensions(opts, opts.Registerer); err != nil {
		return nil, err
	}
	if c.noise, err = newNoiseCounter(opts.Registerer); err != nil {
		return nil, err
	}
	return c, nil
}

// Start loads the silences, the unresolved and recently resolved incidents
// and the checkpoint from the store, applies every stored event newer than
// the checkpoint, resolves the incidents whose grace ended while the stage was
// down, and starts the periodic catch-up.
func (c *Correlator) Start(ctx context.Context) error {
	if err := c.reloadSilences(ctx); err != nil {
		return err
	}
	if err := c.reloadMaintenance(ctx); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.reloadLocked(ctx); err != nil {
		return err
	}
	if err := c.catchUpLocked(ctx); err != nil {
		return err
	}
	if err := c.sweepLocked(ctx); err != nil {
		return err
	}
	c.started = true
	go c.loop()
	return nil
}

// Shutdown stops the periodic catch-up, waits for it, and flushes the
// commits queued by the pipeline (Options.Pipeline; without it every call
// commits before it returns and there is nothing to flush).
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
	case <-ctx.Done():
		return fmt.Errorf("correlate shutdown: %w", ctx.Err())
	}
	flushed := make(chan error, 1)
	go func() { flushed <- c.Flush(ctx) }()
	select {
	case err := <-flushed:
		if err != nil {
			return fmt.Errorf("correlate shutdown: %w", err)
		}
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
			if err := c.reloadSilences(ctx); err != nil {
				c.log.Warn("correlate silence reload failed", "err", err)
			}
			if err := c.reloadMaintenance(ctx); err != nil {
				c.log.Warn("correlate maintenance reload failed", "err", err)
			}
			c.mu.Lock()
			if _, err := c.settleLocked(ctx); err != nil {
				c.log.Warn("correlate rebuild after a failed commit failed", "err", err)
			} else {
				if err := c.catchUpLocked(ctx); err != nil {
					c.log.Warn("correlate catch-up failed", "err", err)
				}
				if err := c.sweepLocked(ctx); err != nil {
					c.log.Warn("correlate sweep failed", "err", err)
				}
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
	// A commit that failed since the last call rewinds the checkpoint to
	// the stored one; the batch then shows a gap and the catch-up applies
	// the lost events again. (The failure was logged by the writer.)
	if _, err := c.settleLocked(ctx); err != nil {
		return err
	}
	if len(batch) > 0 && batch[0].Seq > c.checkpoint+1 {
		c.m.gaps.Inc()
		return c.catchUpLocked(ctx)
	}
	_, err := c.applyEventsLocked(ctx, batch)
	return err
}

// ConsumeAnomalies applies a batch of anomalies: an active anomaly is a firing
// member, an ended one a resolved member. The batch is applied in
// fingerprint order (stable), so its order does not change the incidents.
// It returns after the batch's commit, with Options.Pipeline too (the
// anomalies are stored nowhere else): if the commit was dropped because an
// earlier queued one failed, the batch is applied again on the state
// rebuilt from the store, up to twice.
func (c *Correlator) ConsumeAnomalies(ctx context.Context, batch []osprey.Anomaly) error {
	for try := 0; ; try++ {
		done, err := c.applyAnomalies(ctx, batch)
		if err != nil || done == nil {
			return err
		}
		select {
		case err = <-done:
		case <-ctx.Done():
			return fmt.Errorf("wait for the anomalies' commit: %w", ctx.Err())
		}
		if err == nil {
			return nil
		}
		c.mu.Lock()
		_, rerr := c.drainLocked(ctx)
		c.mu.Unlock()
		if !errors.Is(err, errDropped) || rerr != nil || try == 2 {
			return errors.Join(err, rerr)
		}
	}
}

// applyAnomalies applies batch under the lock; done, when not nil,
// receives the outcome of its queued commit.
func (c *Correlator) applyAnomalies(ctx context.Context, batch []osprey.Anomaly) (done <-chan error, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := c.settleLocked(ctx); err != nil {
		return nil, err
	}
	now := c.now()
	sigs := make([]signal, 0, len(batch))
	for i := range batch {
		sigs = append(sigs, anomalySignal(&batch[i], now))
	}
	// The anomalies of a batch are simultaneous (they share the clock's
	// time), and a detector emits them in the order of its input series,
	// which the sender chooses freely. Grouping is order-dependent (the
	// first of two simultaneous new signals opens the incident the second
	// may join), so apply them in fingerprint order: the same anomalies
	// group the same way whatever order they came in. The sort is stable,
	// so signals of one series keep their order.
	slices.SortStableFunc(sigs, func(a, b signal) int { return cmp.Compare(a.fingerprint, b.fingerprint) })
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
		if _, err := c.applyEventsLocked(ctx, events); err != nil {
			return err
		}
	}
}

func (c *Correlator) applyEventsLocked(ctx context.Context, batch []osprey.Event) (<-chan error, error) {
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

// changeSet collects the changes of one batch, one per incident, in the
// order the incidents were first changed.
type changeSet struct {
	byID  map[string]*change
	order []string
}

func (cs *changeSet) add(ch *change) {
	if cs.byID == nil {
		cs.byID = make(map[string]*change)
	}
	if prev, ok := cs.byID[ch.inc.ID]; ok {
		prev.entries = append(prev.entries, ch.entries...)
		prev.joined = prev.joined || ch.joined
		prev.rerank = prev.rerank || ch.rerank
		prev.opened = prev.opened || ch.opened
		return
	}
	cs.byID[ch.inc.ID] = ch
	cs.order = append(cs.order, ch.inc.ID)
}

// applyLocked applies signals, persists every changed incident with its new
// timeline entries, advances the checkpoint to seq (when non-zero), and hands
// the changes on. If persisting fails, the in-memory state is rebuilt from the
// store so that it never runs ahead of what is stored; the next catch-up then
// applies the events again. With Options.Pipeline the commit and the
// hand-on are queued for the writer instead (pipeline.go) and done
// receives their outcome; the rebuild after a failure is then the next
// settle's.
func (c *Correlator) applyLocked(ctx context.Context, sigs []signal, seq int64) (done <-chan error, err error) {
	var cs changeSet
	sils := c.silences.Load()
	for _, sig := range sigs {
		c.m.processed.WithLabelValues(string(sig.kind)).Inc()
		c.expireLocked(&cs, sig.at)
		if c.maintainLocked(&cs, sig) {
			c.noise.count(&sig, OutcomeMaintenance)
			continue
		}
		if sig.firing {
			if ch, suppressed := c.suppressLocked(sils, sig); suppressed {
				c.noise.count(&sig, c.suppressOutcome(sils, &sig))
				c.inhib.observe(sig)
				if ch != nil {
					cs.add(ch)
				}
				continue
			}
		}
		c.inhib.observe(sig)
		ch := c.st.apply(sig)
		c.noise.count(&sig, ch.outcome())
		if ch == nil {
			c.m.ignored.Inc()
			continue
		}
		if ch.opened {
			c.m.opened.Inc()
		}
		if ch.autoResolved {
			c.m.resolved.Inc()
		}
		cs.add(ch)
	}
	if c.causes != nil {
		stale := func(id string) bool { ch := cs.byID[id]; return ch.opened || ch.joined || ch.rerank }
		// The rankings below change no incident's opening and no
		// incident's status, so one index by opening serves them all
		// (built only when the batch ranks: most batches repeat alerts).
		var idx *openings
		if _, ok := c.causes.(ConcurrentRanker); ok && slices.ContainsFunc(cs.order, stale) {
			idx = c.openingsLocked()
		}
		for _, id := range cs.order {
			if stale(id) {
				ch := cs.byID[id]
				c.rankAmongLocked(ch, ch.inc.UpdatedAt, idx)
			}
		}
		c.rankConcurrentLocked(&cs, idx)
	}
	if c.pipeline {
		return c.queueLocked(ctx, &cs, seq), nil
	}
	out, err := c.commitLocked(ctx, &cs, seq)
	if err != nil {
		return nil, err
	}
	c.publish(ctx, out)
	return nil, nil
}

// expireLocked adds to cs the incidents whose grace ended by at.
func (c *Correlator) expireLocked(cs *changeSet, at time.Time) {
	for _, ch := range c.st.expire(at) {
		c.m.resolved.Inc()
		cs.add(ch)
	}
	c.extExpireLocked(cs, at)
}

// Sweep does at the clock's time what the periodic catch-up does besides
// reading the store: it resolves the incidents whose grace ended while no
// signal arrived, settles flapping members that have been stable long
// enough, releases alerts held by maintenance windows that ended, and
// forgets incidents resolved longer than the window ago. A driver of a
// virtual clock calls it at the times NextDue names, as the timer would.
func (c *Correlator) Sweep(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := c.drainLocked(ctx); err != nil {
		return err
	}
	return c.sweepLocked(ctx)
}

// NextDue returns the earliest clock time at which Sweep may have something
// to do, and false when nothing waits for the clock. It is never later than
// the next real work, but may be earlier (a grace period that a member's
// firing again cancelled): a Sweep then does nothing, and NextDue moves
// on. Signals do the same work when they arrive, at their own time.
func (c *Correlator) NextDue() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var due time.Time
	ok := false
	add := func(t time.Time) {
		if !t.IsZero() && (!ok || t.Before(due)) {
			due, ok = t, true
		}
	}
	add(c.st.nextDue)
	if ft := c.st.flaps; ft != nil {
		if ft.rescan && len(c.st.open) > 0 {
			return time.Time{}, true // not yet scanned: at once
		}
		add(ft.nextSettle)
	}
	if c.maint != nil {
		add(c.maint.nextEnd)
	}
	return due, ok
}

// sweepLocked resolves, at the clock's time, the incidents whose grace ended
// while no signal arrived.
func (c *Correlator) sweepLocked(ctx context.Context) error {
	var cs changeSet
	c.expireLocked(&cs, c.now())
	out, err := c.saveLocked(ctx, &cs)
	if err != nil {
		return err
	}
	c.publish(ctx, out)
	return nil
}

// saveLocked stores every incident of cs with its new timeline entries
// (which get their Seq) and returns the snapshots to hand on. On a failure
// the state is rebuilt from the store.
func (c *Correlator) saveLocked(ctx context.Context, cs *changeSet) ([]osprey.Incident, error) {
	return c.commitLocked(ctx, cs, 0)
}

// publish hands stored changes to the next stages. It runs under the lock
// or in the pipeline's writer, never both at once: a synchronous commit
// waits for the writer first.
func (c *Correlator) publish(ctx context.Context, out []osprey.Incident) {
	if c.out == nil || len(out) == 0 {
		return
	}
	if err := c.out.ConsumeIncidents(ctx, out); err != nil {
		c.m.handoffErrors.Inc()
		c.log.Warn("hand on incident changes", "incidents", len(out), "err", err)
	}
}

// rankLocked re-ranks the causes of a changed incident and records a
// timeline entry when the ranking (the order of candidates) changed.
func (c *Correlator) rankLocked(ch *change, now time.Time) { c.rankAmongLocked(ch, now, nil) }

// rankAmongLocked is rankLocked with idx, when not nil, the index by
// opening of the incidents a ConcurrentRanker reads.
func (c *Correlator) rankAmongLocked(ch *change, now time.Time, idx *openings) {
	var causes []osprey.Cause
	if cr, ok := c.causes.(ConcurrentRanker); ok {
		causes = c.rankCausesAmongLocked(cr, ch.inc, idx)
	} else {
		causes = c.causes.RankCauses(ch.inc)
	}
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
// incidents, those resolved within the window, and the checkpoint.
func (c *Correlator) reloadLocked(ctx context.Context) error {
	cp, err := c.store.Checkpoint(ctx, CheckpointName)
	if err != nil {
		return fmt.Errorf("load correlate checkpoint: %w", err)
	}
	st := newState(c.window, c.grace, c.burst, c.groupBy, c.topo, osprey.NewID)
	st.similarity = c.similarity
	c.attach(st)
	since := c.now().Add(-c.window)
	recent, err := c.store.ListIncidents(ctx, store.IncidentQuery{
		Statuses:     []osprey.IncidentStatus{osprey.IncidentResolved},
		UpdatedSince: since,
		Limit:        store.MaxLimit,
	})
	if err != nil {
		return fmt.Errorf("load recently resolved incidents: %w", err)
	}
	for _, inc := range recent {
		if !inc.ResolvedAt.Before(since) {
			st.loadResolved(inc)
		}
	}
	incs, err := c.store.ListIncidents(ctx, store.IncidentQuery{
		Statuses: []osprey.IncidentStatus{osprey.IncidentOpen, osprey.IncidentAcknowledged},
		Limit:    store.MaxLimit,
	})
	if err != nil {
		return fmt.Errorf("load unresolved incidents: %w", err)
	}
	c.inhib.reset()
	for _, inc := range incs {
		held := false
		if allResolved(&inc) {
			if held, err = c.reopenedByPerson(ctx, inc.ID); err != nil {
				return err
			}
		}
		st.load(inc, held)
		for _, m := range inc.Members {
			if m.Status == osprey.StatusFiring {
				c.inhib.observe(signal{fingerprint: m.Fingerprint, labels: m.Labels, firing: true})
			}
		}
	}
	if len(incs) == store.MaxLimit {
		// More unresolved incidents than this are a flood the real
		// correlation engine must handle; the oldest are not grouped into.
		c.log.Warn("unresolved incidents exceed one page", "loaded", len(incs))
	}
	c.st = st
	c.stored = make(storedMembers, len(incs)+len(recent))
	c.lastCauses = make(storedCauses, len(incs)+len(recent))
	for _, inc := range st.open {
		c.stored.remember(inc)
		c.lastCauses.remember(inc)
	}
	for _, inc := range st.resolved {
		c.stored.remember(inc)
		c.lastCauses.remember(inc)
	}
	clear(c.noise.pending)
	c.checkpoint = cp
	c.m.open.Set(float64(len(st.open)))
	return nil
}
