package replay

import (
	"container/heap"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/config"
	"github.com/osprey-aiops/osprey/internal/correlate"
	logdetect "github.com/osprey-aiops/osprey/internal/detect/logs"
	"github.com/osprey-aiops/osprey/internal/detect/metric"
	"github.com/osprey-aiops/osprey/internal/ingest"
	"github.com/osprey-aiops/osprey/internal/logmine"
	"github.com/osprey-aiops/osprey/internal/rca"
	"github.com/osprey-aiops/osprey/internal/remediate"
	"github.com/osprey-aiops/osprey/internal/store"
	"github.com/osprey-aiops/osprey/internal/topology"
)

// Stage names, as the report's timings name them.
const (
	StageRead      = "read"      // reading and merging the inputs
	StageDetect    = "detect"    // metric detector (Engine.ConsumeFingerprinted)
	StageLogs      = "logs"      // template mining and log anomaly detection
	StageEvents    = "events"    // event commit (ingest.Committer)
	StageCorrelate = "correlate" // correlator, with rca ranking
	StageRemediate = "remediate" // runbook triggers and plans
	StageStore     = "store"     // every store write and read of the stages
	StageNotify    = "notify"    // notifications (rendered, never sent)
	// StageWait is the time the first half (read, detect, logs) waited
	// for the second (events, store, correlate, remediate) to take its
	// work, when they run on two goroutines.
	StageWait = "wait"
)

// pipeDepth is how many batches of work the first half of the pipeline may
// be ahead of the second.
const pipeDepth = 64

// anomalyBatch is how many anomaly versions the second half collects
// before it writes them to the store in one transaction. Nothing reads
// anomalies back from the store during a replay, and the store keeps the
// latest version of each, so writing them late changes only the number of
// transactions.
const anomalyBatch = 2048

// neverCatchUp is the correlator's catch-up interval in a replay: events are
// handed to it synchronously, so its timer-driven catch-up from the store is
// not needed, and its real-time ticker must not interleave with the
// virtual clock. The rest of what the timer does (ending grace periods
// while no signal arrives) the second half does itself, in virtual time
// (sweepUntil).
const neverCatchUp = 100 * 365 * 24 * time.Hour

// Clock is the virtual clock of a replay: it reads the record time of the
// item being processed, and only moves forward. Safe for concurrent use.
type Clock struct{ ns atomic.Int64 }

// Now returns the virtual time.
func (c *Clock) Now() time.Time { return time.Unix(0, c.ns.Load()).UTC() }

// advance moves the clock to t if t is later; it reports whether it moved.
func (c *Clock) advance(t time.Time) bool {
	ns := t.UnixNano()
	if ns <= c.ns.Load() {
		return false
	}
	c.ns.Store(ns)
	return true
}

// stages accumulates the self time of each stage: time spent in a stage
// minus the time spent in the stages it called. Used by one goroutine: each
// half of the pipeline has its own.
type stages struct {
	self  map[string]time.Duration
	stack []frame
}

type frame struct {
	name  string
	start time.Time
	child time.Duration
}

func newStages() *stages { return &stages{self: make(map[string]time.Duration)} }

func (s *stages) enter(name string) {
	s.stack = append(s.stack, frame{name: name, start: time.Now()})
}

func (s *stages) exit() {
	n := len(s.stack) - 1
	f := s.stack[n]
	s.stack = s.stack[:n]
	el := time.Since(f.start)
	s.self[f.name] += el - f.child
	if n > 0 {
		s.stack[n-1].child += el
	}
}

// pipeline is the production stages of one configuration, wired to run
// on the virtual clock in two halves: the first (reading, metric
// detection, log mining and detection) hands its anomalies and the events
// it reads to the second (event commit, store, correlate, remediate) as
// jobs stamped with the first half's clock, and the second sets its own
// clock from each job before running it. The halves run on one goroutine
// (sequential: each job is run at once) or on two, with the same result.
type pipeline struct {
	cfg   config.Config
	clock *Clock // the first half's
	back  *Clock // the second half's
	st    *recStore
	times *stages // the first half's
	// backTimes is the second half's; times when sequential.
	backTimes *stages
	// detector is the metric detect stage; nil when detect is disabled.
	// It hands its anomalies to detected (renumbered by ids), which
	// deliver then submits.
	detector *metric.Engine
	ids      seqIDs
	detected []osprey.Anomaly
	// jobs, when not nil, carries the first half's work to the second,
	// running on its own goroutine (started by startBack; backDone is
	// closed when it has ended). backErr is its first error; failed is
	// set with it.
	jobs     chan job
	backDone chan struct{}
	backErr  error
	failed   atomic.Bool
	// unsaved holds the anomaly versions not yet written to the store (by
	// the second half; see anomalyBatch).
	unsaved []osprey.Anomaly
	logSet  *logmine.Set
	logDet  *logdetect.Detector
	corr    *correlate.Correlator
	remed   *remediate.Engine
	// notes is the notification stage; nil without receivers.
	notes  *notifyStage
	commit *ingest.Committer
	rec    *recorder
	// flushEvery is the log detector's flush period in virtual time.
	flushEvery time.Duration
	lastFlush  time.Time
	// lastSweep is the virtual time of the correlator's last sweep
	// (sweepUntil; second half).
	lastSweep time.Time
	// unscored counts samples not handed to a detector (detect disabled),
	// unmined log lines (logs disabled).
	unscored, unmined int64
}

// newPipeline builds the stages of cfg over st with the constructors serve
// uses (internal/app), with these differences: every runbook is forced to
// dry-run; anomaly scores and log count series are not written to a TSDB;
// the detector's models start empty (no snapshot is restored); log
// templates are saved to the store once, at the end; there is no call graph
// (no spans are replayed), so causes are ranked without one. The
// correlator takes serve's correlate settings (window, group_by, burst,
// resolve_grace, rules, flapping, inhibition, maintenance windows); its
// periodic sweep, which ends grace periods while no signal arrives, runs
// in virtual time (sweepUntil).
//
// Unless sequential, startBack must be called (and drain after the last
// job) to run the second half on its own goroutine.
func newPipeline(cfg config.Config, st store.Store, log *slog.Logger, sequential bool) (*pipeline, error) {
	p := &pipeline{cfg: cfg, clock: &Clock{}, back: &Clock{}, times: newStages(), rec: newRecorder()}
	p.backTimes = p.times
	if !sequential {
		p.backTimes = newStages()
		p.jobs = make(chan job, pipeDepth)
	}
	p.st = &recStore{Store: st, times: p.backTimes, rec: p.rec}
	reg := prometheus.NewRegistry()
	now := p.back.Now

	rcfg := cfg.Remediation
	rcfg.Runbooks = append([]remediate.Runbook(nil), rcfg.Runbooks...)
	for i := range rcfg.Runbooks {
		rcfg.Runbooks[i].Mode = remediate.ModeDryRun
	}
	remed, err := remediate.New(remediate.Options{
		Config:     rcfg,
		Store:      p.st,
		Now:        now,
		Logger:     log.With("component", "remediate"),
		Registerer: reg,
	})
	if err != nil {
		return nil, err
	}
	p.remed = remed

	if p.notes, err = newNotifyStage(p, reg, log); err != nil {
		return nil, err
	}

	opts, err := cfg.Correlate.Options()
	if err != nil {
		return nil, err
	}
	opts.Store = p.st
	ranker := rca.IncidentRanker{Config: rca.DefaultConfig()}
	if t := cfg.Topology; len(t.Dependencies)+len(t.Placement) > 0 {
		// No spans are replayed: the call graph is what the
		// configuration declares.
		graph := topology.New(topology.FromConfig(t, now))
		opts.Topology, ranker.Graph = graph, graph.RankGraph
	}
	opts.Causes = cfg.RCA.Concurrent.Ranker(ranker)
	opts.Out = osprey.IncidentConsumerFunc(func(ctx context.Context, batch []osprey.Incident) error {
		p.rec.incidents(batch)
		p.backTimes.enter(StageRemediate)
		err := p.remed.ConsumeIncidents(ctx, batch)
		p.backTimes.exit()
		if err != nil || p.notes == nil {
			return err
		}
		p.backTimes.enter(StageNotify)
		defer p.backTimes.exit()
		p.notes.changed = true
		return p.notes.n.ConsumeIncidents(ctx, batch)
	})
	opts.CatchUpInterval = neverCatchUp
	opts.Now = now
	opts.Logger = log.With("component", "correlate")
	opts.Registerer = reg
	corr, err := correlate.New(opts)
	if err != nil {
		return nil, err
	}
	p.corr = corr

	// The detectors' sink: a job for the second half, which stores,
	// records and correlates the anomalies (app's anomalySink without the
	// score series).
	sink := osprey.AnomalyConsumerFunc(func(ctx context.Context, batch []osprey.Anomaly) error {
		return p.submit(ctx, job{at: p.clock.Now(), anoms: batch})
	})
	if cfg.Detect.Enabled {
		p.detector, err = metric.NewEngine(metric.DefaultConfig(), osprey.AnomalyConsumerFunc(func(_ context.Context, batch []osprey.Anomaly) error {
			p.ids.renumber(batch)
			p.detected = append(p.detected, batch...)
			return nil
		}), cfg.Detect.MaxSeries)
		if err != nil {
			return nil, err
		}
	}
	if cfg.Logs.Enabled {
		opts := logmine.SetOptions{Config: logmine.Config{MaxTemplates: cfg.Logs.MaxTemplatesPerSource}}
		if cfg.Logs.Anomalies {
			dcfg := cfg.Logs.Detector()
			p.logDet, err = logdetect.New(logdetect.Options{
				Config: dcfg,
				Out:    sink,
				Lookup: func(source, id string) (osprey.LogTemplate, bool) { return p.logSet.Lookup(source, id) },
				Now:    p.clock.Now,
				Logger: log.With("component", "logdetect"),
			})
			if err != nil {
				return nil, err
			}
			opts.OnUpdate = p.logDet.OnUpdate
			opts.OnMatch = p.logDet.Observe
			// As logdetect.Options.FlushEvery's default, in record time.
			p.flushEvery = max(dcfg.Bucket/4, time.Second)
		}
		p.logSet = logmine.NewSet(opts)
	}
	p.commit, err = ingest.NewCommitter(ingest.CommitterOptions{
		Store: p.st,
		Next: osprey.EventConsumerFunc(func(ctx context.Context, batch []osprey.Event) error {
			p.backTimes.enter(StageCorrelate)
			defer p.backTimes.exit()
			return p.corr.ConsumeEvents(ctx, batch)
		}),
		Logger: log.With("component", "ingest"),
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// start starts the stages that have a lifecycle, consumers first.
func (p *pipeline) start(ctx context.Context) error {
	if err := p.corr.Start(ctx); err != nil {
		return err
	}
	if err := p.remed.Start(ctx); err != nil {
		return errors.Join(err, p.corr.Shutdown(ctx))
	}
	if p.notes != nil {
		if err := p.notes.n.Start(ctx); err != nil {
			return errors.Join(err, p.remed.Shutdown(ctx), p.corr.Shutdown(ctx))
		}
	}
	return nil
}

// stop shuts the stages down in reverse order.
func (p *pipeline) stop(ctx context.Context) error {
	var nerr error
	if p.notes != nil {
		nerr = p.notes.n.Shutdown(ctx)
	}
	return errors.Join(nerr, p.remed.Shutdown(ctx), p.corr.Shutdown(ctx))
}

// job is work for the second half of the pipeline: anomalies to store and
// correlate, or events to commit, at the first half's virtual time at.
type job struct {
	at     time.Time
	anoms  []osprey.Anomaly
	events []osprey.Event
}

// errBackFailed stops the first half when the second has failed; drain
// returns the second half's error.
var errBackFailed = errors.New("replay: the store/correlate half of the pipeline failed")

// submit hands j to the second half: runs it at once when sequential,
// else queues it (waiting while the queue is full).
func (p *pipeline) submit(ctx context.Context, j job) error {
	if p.jobs == nil {
		return p.process(ctx, j)
	}
	if p.failed.Load() {
		return errBackFailed
	}
	// The queued job outlives the caller's slice.
	j.anoms = append([]osprey.Anomaly(nil), j.anoms...)
	select {
	case p.jobs <- j:
		return nil
	default:
	}
	p.times.enter(StageWait)
	defer p.times.exit()
	select {
	case p.jobs <- j:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// process runs one job of the second half on its clock.
func (p *pipeline) process(ctx context.Context, j job) error {
	if err := p.sweepUntil(ctx, j.at); err != nil {
		return err
	}
	// The notifications due before this job's time go out first, at their
	// own times; those the job makes due at once, after it.
	p.runNotify(j.at)
	defer p.runNotify(j.at)
	p.back.advance(j.at)
	if len(j.events) > 0 {
		p.backTimes.enter(StageEvents)
		err := p.commit.ConsumeEvents(ctx, j.events)
		p.backTimes.exit()
		if err != nil {
			return err
		}
	}
	if len(j.anoms) == 0 {
		return nil
	}
	p.unsaved = append(p.unsaved, j.anoms...)
	if len(p.unsaved) >= anomalyBatch {
		if err := p.saveAnomalies(ctx); err != nil {
			return err
		}
	}
	p.rec.anomalies(j.anoms)
	p.backTimes.enter(StageCorrelate)
	defer p.backTimes.exit()
	return p.corr.ConsumeAnomalies(ctx, j.anoms)
}

// sweepUntil runs the correlator's periodic sweep as serve's timer does,
// every correlate.DefaultCatchUpInterval, but in virtual time and only at
// the ticks before t at which the correlator has something due: a grace
// period that ends while no signal arrives resolves the incident at the
// first tick after it ends (its ResolvedAt is the grace's end), and the
// resolution is handed on at that tick, not at the next signal. Ticks are
// multiples of the interval in Unix time; at t itself the job's own
// signals do the sweep's work (second half).
func (p *pipeline) sweepUntil(ctx context.Context, t time.Time) error {
	const every = correlate.DefaultCatchUpInterval
	for {
		due, ok := p.corr.NextDue()
		if !ok {
			return nil
		}
		if due.IsZero() { // at once
			due = p.back.Now()
		}
		tick := time.Unix(0, (due.UnixNano()+int64(every)-1)/int64(every)*int64(every)).UTC()
		if !tick.After(p.lastSweep) {
			// Due again at the tick just swept (an incident that leaves
			// the reopen window at that very instant): the next tick.
			tick = p.lastSweep.Add(every)
		}
		if !tick.Before(t) {
			return nil
		}
		p.runNotify(tick)
		p.back.advance(tick)
		p.lastSweep = tick
		p.backTimes.enter(StageCorrelate)
		err := p.corr.Sweep(ctx)
		p.backTimes.exit()
		if err != nil {
			return err
		}
		p.runNotify(tick)
	}
}

// runNotify runs the notification stage up to t (second half).
func (p *pipeline) runNotify(t time.Time) {
	if p.notes == nil {
		return
	}
	p.backTimes.enter(StageNotify)
	defer p.backTimes.exit()
	p.notes.runUntil(t)
}

// saveAnomalies writes the anomalies not yet saved to the store. It is
// called by the second half, or after drain.
func (p *pipeline) saveAnomalies(ctx context.Context) error {
	if len(p.unsaved) == 0 {
		return nil
	}
	if err := p.st.SaveAnomalies(ctx, p.unsaved); err != nil {
		return fmt.Errorf("detect: %w", err)
	}
	p.unsaved = p.unsaved[:0]
	return nil
}

// startBack starts the second half's goroutine (not when sequential).
func (p *pipeline) startBack(ctx context.Context) {
	if p.jobs == nil {
		return
	}
	p.backDone = make(chan struct{})
	go func() {
		defer close(p.backDone)
		for j := range p.jobs {
			if p.backErr != nil {
				continue // drain, so that the first half never blocks
			}
			if err := p.process(ctx, j); err != nil {
				p.backErr = err
				p.failed.Store(true)
			}
		}
	}()
}

// drain waits until the second half has run every job queued and returns
// its error. It must be called once after startBack, when no more jobs
// will be submitted.
func (p *pipeline) drain() error {
	if p.jobs == nil {
		return nil
	}
	close(p.jobs)
	<-p.backDone
	return p.backErr
}

// advance moves the virtual clock to t and, as the log detector's timer
// would, flushes it every flushEvery of record time.
func (p *pipeline) advance(ctx context.Context, t time.Time) error {
	if !p.clock.advance(t) || p.logDet == nil {
		return nil
	}
	now := p.clock.Now()
	if now.Sub(p.lastFlush) < p.flushEvery {
		return nil
	}
	p.lastFlush = now
	p.times.enter(StageLogs)
	defer p.times.exit()
	return p.logDet.Flush(ctx)
}

// deliver hands one item to its stage.
func (p *pipeline) deliver(ctx context.Context, it *Item) error {
	switch {
	case it.Series != nil:
		if p.detector == nil {
			p.unscored += int64(it.Samples)
			return nil
		}
		p.times.enter(StageDetect)
		var err error
		if it.Fingerprints != nil {
			err = p.detector.ConsumeFingerprinted(ctx, it.Series, it.Fingerprints)
		} else {
			err = p.detector.ConsumeSeries(ctx, it.Series)
		}
		p.times.exit()
		anoms := p.detected
		p.detected = nil
		if err != nil {
			return fmt.Errorf("detect: %w", err)
		}
		if len(anoms) == 0 {
			return nil
		}
		return p.submit(ctx, job{at: p.clock.Now(), anoms: anoms})
	case it.Log != nil:
		if p.logSet == nil {
			p.unmined++
			return nil
		}
		p.times.enter(StageLogs)
		defer p.times.exit()
		p.logSet.Mine(it.Log)
		if p.logDet != nil {
			return p.logDet.Emit(ctx)
		}
		return nil
	case it.Event != nil:
		return p.submit(ctx, job{at: p.clock.Now(), events: []osprey.Event{*it.Event}})
	}
	return nil
}

// flushLogs closes the log detector's open buckets (the data has ended,
// so they are complete) and hands on what is pending.
func (p *pipeline) flushLogs(ctx context.Context) error {
	if p.logDet == nil {
		return nil
	}
	p.clock.advance(p.clock.Now().Add(2 * p.cfg.Logs.Bucket))
	p.times.enter(StageLogs)
	defer p.times.exit()
	return p.logDet.Flush(ctx)
}

// saveRest saves what is left to the store after drain: the anomalies
// not saved yet and the mined templates.
func (p *pipeline) saveRest(ctx context.Context) error {
	if err := p.saveAnomalies(ctx); err != nil {
		return err
	}
	if p.logSet != nil {
		for _, src := range p.logSet.Sources() {
			if ts := p.logSet.Templates(src); len(ts) > 0 {
				p.times.enter(StageStore)
				err := p.st.Store.SaveTemplates(ctx, ts)
				p.times.exit()
				if err != nil {
					return fmt.Errorf("save log templates of %s: %w", src, err)
				}
			}
		}
	}
	return nil
}

// merger merges streams by item time (ties: input order, then order
// within the input).
type merger []*head

type head struct {
	item  Item
	input int
	seq   int64
}

func (m merger) Len() int { return len(m) }
func (m merger) Less(i, j int) bool {
	if c := m[i].item.At.Compare(m[j].item.At); c != 0 {
		return c < 0
	}
	if m[i].input != m[j].input {
		return m[i].input < m[j].input
	}
	return m[i].seq < m[j].seq
}
func (m merger) Swap(i, j int) { m[i], m[j] = m[j], m[i] }
func (m *merger) Push(x any)   { *m = append(*m, x.(*head)) }
func (m *merger) Pop() any {
	old := *m
	h := old[len(old)-1]
	*m = old[:len(old)-1]
	return h
}

var _ heap.Interface = (*merger)(nil)

// recStore is the store the stages write to: it times every call as the
// store stage and records runs, timeline entries and guardrail blocks for
// the report.
type recStore struct {
	store.Store
	times *stages
	rec   *recorder
}

func (s *recStore) AppendEvents(ctx context.Context, batch []osprey.Event) error {
	s.times.enter(StageStore)
	defer s.times.exit()
	return s.Store.AppendEvents(ctx, batch)
}

func (s *recStore) ListEvents(ctx context.Context, q store.EventQuery) ([]osprey.Event, error) {
	s.times.enter(StageStore)
	defer s.times.exit()
	return s.Store.ListEvents(ctx, q)
}

func (s *recStore) SaveAnomalies(ctx context.Context, batch []osprey.Anomaly) error {
	s.times.enter(StageStore)
	defer s.times.exit()
	return s.Store.SaveAnomalies(ctx, batch)
}

func (s *recStore) SaveIncident(ctx context.Context, inc osprey.Incident, entries ...osprey.TimelineEntry) error {
	s.times.enter(StageStore)
	defer s.times.exit()
	if err := s.Store.SaveIncident(ctx, inc, entries...); err != nil {
		return err
	}
	s.rec.timeline(inc.ID, entries)
	return nil
}

// SaveIncidents is how the correlate stage stores a batch of incident
// changes (one transaction per batch).
func (s *recStore) SaveIncidents(ctx context.Context, b store.IncidentBatch) error {
	s.times.enter(StageStore)
	defer s.times.exit()
	if err := s.Store.SaveIncidents(ctx, b); err != nil {
		return err
	}
	for _, ch := range b.Changes {
		s.rec.timeline(ch.Incident.ID, ch.Entries)
	}
	return nil
}

func (s *recStore) AppendTimeline(ctx context.Context, incidentID string, entries ...osprey.TimelineEntry) error {
	s.times.enter(StageStore)
	defer s.times.exit()
	if err := s.Store.AppendTimeline(ctx, incidentID, entries...); err != nil {
		return err
	}
	s.rec.timeline(incidentID, entries)
	return nil
}

func (s *recStore) GetIncident(ctx context.Context, id string) (osprey.Incident, error) {
	s.times.enter(StageStore)
	defer s.times.exit()
	return s.Store.GetIncident(ctx, id)
}

func (s *recStore) SetCheckpoint(ctx context.Context, name string, pos int64) error {
	s.times.enter(StageStore)
	defer s.times.exit()
	return s.Store.SetCheckpoint(ctx, name, pos)
}

func (s *recStore) SaveRun(ctx context.Context, r osprey.RunbookRun) error {
	s.times.enter(StageStore)
	defer s.times.exit()
	if err := s.Store.SaveRun(ctx, r); err != nil {
		return err
	}
	s.rec.run(r)
	return nil
}

func (s *recStore) ListRuns(ctx context.Context, incidentID string, limit int) ([]osprey.RunbookRun, error) {
	s.times.enter(StageStore)
	defer s.times.exit()
	return s.Store.ListRuns(ctx, incidentID, limit)
}

func (s *recStore) AppendAudit(ctx context.Context, entries ...osprey.AuditEntry) error {
	s.times.enter(StageStore)
	defer s.times.exit()
	if err := s.Store.AppendAudit(ctx, entries...); err != nil {
		return err
	}
	for _, e := range entries {
		if e.Action != "remediation.run.blocked" {
			continue
		}
		var d struct {
			Runbook  string `json:"runbook"`
			Incident string `json:"incident"`
			Reason   string `json:"reason"`
			Message  string `json:"message"`
		}
		if json.Unmarshal([]byte(e.Detail), &d) == nil {
			s.rec.blocked(d.Runbook, d.Incident, d.Reason, d.Message, e.At)
		}
	}
	return nil
}

// recorder keeps what the stages produced, for the report.
type recorder struct {
	anoms     map[string]osprey.Anomaly
	anomOrder []string
	incs      map[string]osprey.Incident
	incOrder  []string
	entries   map[string][]osprey.TimelineEntry
	runs      map[string]osprey.RunbookRun
	runOrder  []string
	blocks    []blockRecord
	// eventOrder holds the ids of the events replayed, in order.
	eventOrder []string
}

// blockRecord is a triggered runbook a guardrail stopped.
type blockRecord struct {
	runbook, incident, reason, message string
	at                                 time.Time
}

func newRecorder() *recorder {
	return &recorder{
		anoms:   make(map[string]osprey.Anomaly),
		incs:    make(map[string]osprey.Incident),
		entries: make(map[string][]osprey.TimelineEntry),
		runs:    make(map[string]osprey.RunbookRun),
	}
}

// anomalies records the latest version of each anomaly (an anomaly is
// emitted when it opens and again when it closes, with the same id).
func (r *recorder) anomalies(batch []osprey.Anomaly) {
	for _, a := range batch {
		if _, ok := r.anoms[a.ID]; !ok {
			r.anomOrder = append(r.anomOrder, a.ID)
		}
		r.anoms[a.ID] = a
	}
}

func (r *recorder) incidents(batch []osprey.Incident) {
	for _, inc := range batch {
		if _, ok := r.incs[inc.ID]; !ok {
			r.incOrder = append(r.incOrder, inc.ID)
		}
		inc.Timeline = nil
		inc.Members = append([]*osprey.Member(nil), inc.Members...)
		inc.Causes = append([]osprey.Cause(nil), inc.Causes...)
		r.incs[inc.ID] = inc
	}
}

func (r *recorder) timeline(id string, entries []osprey.TimelineEntry) {
	r.entries[id] = append(r.entries[id], entries...)
}

func (r *recorder) run(run osprey.RunbookRun) {
	if _, ok := r.runs[run.ID]; !ok {
		r.runOrder = append(r.runOrder, run.ID)
	}
	r.runs[run.ID] = run
}

func (r *recorder) blocked(runbook, incident, reason, message string, at time.Time) {
	r.blocks = append(r.blocks, blockRecord{runbook: runbook, incident: incident, reason: reason, message: message, at: at})
}
