package remediate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/remediate/action"
	"github.com/osprey-aiops/osprey/internal/store"
)

// Store is what the engine needs from storage; every store.Store has it.
type Store interface {
	store.Runs
	store.Audit
	store.Checkpoints
	GetIncident(ctx context.Context, id string) (osprey.Incident, error)
	AppendTimeline(ctx context.Context, incidentID string, entries ...osprey.TimelineEntry) error
}

// PausedCheckpoint is the store checkpoint that keeps the kill switch across
// restarts (1 paused, 0 running).
const PausedCheckpoint = "remediate/paused"

// storeTimeout bounds each store call the engine makes on its own behalf
// (not for a caller's ctx), so a hung database cannot hold a run forever.
const storeTimeout = 30 * time.Second

// retrySaveAfter is how long a run whose step could not be recorded waits
// before trying again; a step never runs before its start is stored.
const retrySaveAfter = 30 * time.Second

// maxHistory bounds the guardrail history kept per runbook.
const maxHistory = 10000

// Options configures an Engine.
type Options struct {
	// Config is the validated remediation section.
	Config Config
	Store  Store
	// HTTPClient sends the http actions' requests; nil means a client that
	// does not follow redirects.
	HTTPClient action.HTTPDoer
	// Kube connects kubernetes steps to their clusters (package kube,
	// client-go); nil makes kubernetes steps fail when they run.
	Kube action.KubeConnector
	// Notifier is the notification stage notify steps hand their message
	// to; nil makes notify steps fail when they run ("notifications not
	// configured").
	Notifier Notifier
	// Source re-reads the remediation section for Reload (the
	// configuration file the process was started with); nil means there is
	// none, and Reload fails with ErrNoConfigSource.
	Source func() (Config, error)
	// Now is the clock. It must agree with the time package's timers,
	// which the engine uses for approval expiry, verification windows and
	// retries (tests run the engine in a testing/synctest bubble).
	Now        func() time.Time
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// Engine is the remediate stage. It consumes incident snapshots, plans and
// runs the runbooks they trigger behind the guardrails, verifies that the
// incident cleared, and records everything in the store's runs, audit log and
// incident timelines. It is an osprey.IncidentConsumer and an
// osprey.Component; all its methods are safe for concurrent use.
type Engine struct {
	store    Store
	cfg      Config
	runbooks []*runbook
	byName   map[string]*runbook
	aopts    action.Options // the actions' dependencies (HTTP client, kube, notify)
	source   func() (Config, error)
	now      func() time.Time
	log      *slog.Logger
	m        *metrics
	sem      chan struct{} // MaxConcurrency slots for runs executing steps

	// execCtx is the parent of every action's context; Shutdown cancels it
	// when its deadline passes, killing what still runs.
	execCtx    context.Context
	execCancel context.CancelFunc
	// stopCtx is cancelled as Shutdown begins; it interrupts waits and
	// retry delays, which have no effect to lose.
	stopCtx    context.Context
	stopCancel context.CancelFunc
	stop       chan struct{} // closed by Shutdown
	stopOnce   sync.Once
	wg         sync.WaitGroup // goroutines and timer callbacks at work

	mu       sync.Mutex
	started  bool
	stopping bool
	paused   bool
	resumed  chan struct{} // closed by Resume, for runs waiting out a pause
	active   map[string]*runState
	// known holds, per incident seen, the runbooks that already have a run
	// for it: the (incident, runbook) idempotency index. Loaded from the
	// store on an incident's first snapshot, dropped when it resolves.
	known      map[string]map[string]bool
	hist       map[string][]histEntry // runbook -> runs requested recently
	lastTarget map[string]time.Time   // target -> last run of any runbook
	blocked    map[string]string      // incident+runbook -> last block reason audited
}

// runState is a run that is not finished, held in memory.
type runState struct {
	run     osprey.RunbookRun
	rb      *runbook
	target  string
	timer   *time.Timer // approval expiry or verification deadline
	driving bool        // a goroutine is executing its actions
	// verifying is set while the engine watches the incident clear.
	verifying bool
}

var (
	_ osprey.IncidentConsumer = (*Engine)(nil)
	_ osprey.Component        = (*Engine)(nil)
)

// New compiles the runbooks of opts.Config and returns an Engine. Call Start
// before feeding it.
func New(opts Options) (*Engine, error) {
	if opts.Store == nil {
		return nil, errors.New("remediate: store is required")
	}
	if err := opts.Config.Validate(); err != nil {
		return nil, fmt.Errorf("remediate: %w", err)
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
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	env, err := newCELEnv()
	if err != nil {
		return nil, err
	}
	e := &Engine{
		store:      opts.Store,
		cfg:        opts.Config,
		byName:     make(map[string]*runbook),
		now:        opts.Now,
		log:        opts.Logger,
		m:          m,
		sem:        make(chan struct{}, opts.Config.MaxConcurrency),
		stop:       make(chan struct{}),
		resumed:    make(chan struct{}),
		active:     make(map[string]*runState),
		known:      make(map[string]map[string]bool),
		hist:       make(map[string][]histEntry),
		lastTarget: make(map[string]time.Time),
		blocked:    make(map[string]string),
	}
	e.execCtx, e.execCancel = context.WithCancel(context.Background())
	e.stopCtx, e.stopCancel = context.WithCancel(e.execCtx)
	e.source = opts.Source
	e.aopts = action.Options{HTTPClient: opts.HTTPClient, Kube: opts.Kube}
	if opts.Notifier != nil {
		e.aopts.Notify = e.notifyFunc(opts.Notifier)
	}
	rbs, err := e.compileAll(opts.Config, env)
	if err != nil {
		return nil, err
	}
	e.runbooks = rbs
	for _, rb := range rbs {
		e.byName[rb.spec.Name] = rb
	}
	e.warnPrograms(opts.Config)
	return e, nil
}

// compileAll compiles the runbooks of cfg with the engine's action
// dependencies.
func (e *Engine) compileAll(cfg Config, env *cel.Env) ([]*runbook, error) {
	aopts := cfg.actionOptions(e.aopts.HTTPClient)
	aopts.Kube, aopts.Notify = e.aopts.Kube, e.aopts.Notify
	var out []*runbook
	for _, spec := range cfg.Runbooks {
		rb, err := compileRunbook(spec, env, aopts, true)
		if err != nil {
			return nil, fmt.Errorf("remediate: runbook %s: %w", spec.Name, err)
		}
		out = append(out, rb)
	}
	return out, nil
}

// warnPrograms logs the programs on exec_allow that are not executable.
func (e *Engine) warnPrograms(cfg Config) {
	for _, prog := range cfg.ExecAllow {
		if fi, err := os.Stat(prog); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			e.log.Warn("program on remediation.exec_allow is not an executable file", "program", prog)
		}
	}
}

// Start restores the kill switch and the guardrail history from the store,
// and resumes the runs a previous process left unfinished: approvals wait on
// (or expire), verification windows re-arm, planned steps run. A step that was
// started but has no recorded outcome is not run again: it is marked unknown
// and its run escalated.
func (e *Engine) Start(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.started || e.stopping {
		return errors.New("remediate: Start called twice or after Shutdown")
	}
	pos, err := e.store.Checkpoint(ctx, PausedCheckpoint)
	if err != nil {
		return fmt.Errorf("remediate: read pause switch: %w", err)
	}
	e.setPausedLocked(pos == 1)
	if err := e.recoverLocked(ctx); err != nil {
		return fmt.Errorf("remediate: recover runs: %w", err)
	}
	e.started = true
	e.log.Info("remediation started", "runbooks", len(e.runbooks), "paused", e.paused, "unfinished_runs", len(e.active))
	return nil
}

// Shutdown stops taking incidents, approvals and new steps, and waits for
// the steps in flight to finish. When ctx ends first, it kills them (their
// outcome is recorded as unknown) and returns ctx's error. Runs that were
// not finished resume at the next Start.
func (e *Engine) Shutdown(ctx context.Context) error {
	e.mu.Lock()
	e.stopping = true
	for _, rs := range e.active {
		if rs.timer != nil {
			rs.timer.Stop()
		}
	}
	e.mu.Unlock()
	e.stopOnce.Do(func() {
		close(e.stop)
		e.stopCancel()
	})
	done := make(chan struct{})
	go func() {
		e.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		e.execCancel()
		return nil
	case <-ctx.Done():
		e.execCancel()
		<-done
		return fmt.Errorf("remediation shutdown: %w", ctx.Err())
	}
}

// goLocked runs f in a goroutine that Shutdown waits for, unless the engine
// is stopping. e.mu must be held.
func (e *Engine) goLocked(f func()) bool {
	if e.stopping {
		return false
	}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		f()
	}()
	return true
}

// afterFuncLocked calls f with e.mu held after d, unless the engine is
// stopping by then. e.mu must be held.
func (e *Engine) afterFuncLocked(d time.Duration, f func()) *time.Timer {
	return time.AfterFunc(d, func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		if e.stopping {
			return
		}
		// Shutdown sets stopping under e.mu before it waits, so this Add
		// never races with the Wait.
		e.wg.Add(1)
		defer e.wg.Done()
		f()
	})
}

// storeCtx returns a context for one store call the engine makes on its own.
func storeCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), storeTimeout)
}

// ConsumeIncidents checks each incident snapshot against the runs being
// verified (a resolved incident clears them), cancels approvals its
// resolution made moot, and evaluates every runbook's trigger against it. A
// runbook runs at most once per incident.
func (e *Engine) ConsumeIncidents(ctx context.Context, batch []osprey.Incident) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopping || !e.started {
		return ErrStopped
	}
	var errs []error
	now := e.now()
	for i := range batch {
		inc := &batch[i]
		e.observeLocked(inc, now)
		if inc.Status == osprey.IncidentResolved {
			e.forgetLocked(inc.ID)
			continue
		}
		if err := e.triggerLocked(ctx, inc, now); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// forgetLocked drops the per-incident state of a resolved incident once no
// run of it is in flight.
func (e *Engine) forgetLocked(incidentID string) {
	for _, rs := range e.active {
		if rs.run.IncidentID == incidentID {
			return
		}
	}
	delete(e.known, incidentID)
	for _, rb := range e.runbooks {
		delete(e.blocked, incidentID+"\x00"+rb.spec.Name)
	}
}

// Runbooks returns the configured runbook definitions, in evaluation order.
func (e *Engine) Runbooks() []Runbook {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Runbook, len(e.runbooks))
	for i, rb := range e.runbooks {
		out[i] = rb.spec
	}
	return out
}
