package notify

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/match"
	"github.com/osprey-aiops/osprey/internal/store"
)

// Store is what the notifier needs from storage; every store.Store has it.
type Store interface {
	store.Notifications
	store.Audit
	ListSilences(ctx context.Context, at time.Time) ([]osprey.Silence, error)
	GetIncident(ctx context.Context, id string) (osprey.Incident, error)
	ListIncidents(ctx context.Context, q store.IncidentQuery) ([]osprey.Incident, error)
	AppendTimeline(ctx context.Context, incidentID string, entries ...osprey.TimelineEntry) error
}

// Bounds of the notifier's own state and queues.
const (
	// maxTracked bounds the incidents held in memory; the snapshots of
	// further incidents are counted and not notified.
	maxTracked = 10000
	// queueSize bounds each receiver's queue of due notifications; a full
	// queue leaves the rest for the next tick.
	queueSize = 256
	// storeTimeout bounds each store call the notifier makes on its own.
	storeTimeout = 30 * time.Second
	// silenceRecheck is how long a silenced notification waits before the
	// silences are read again (sooner when the silence ends sooner).
	silenceRecheck = time.Minute
	// storeRetry is how long a notification waits after a store error.
	storeRetry = 10 * time.Second
	// maxErrorBytes caps the last error kept in the log.
	maxErrorBytes = 1024
)

// Options configures a Notifier.
type Options struct {
	// Config is the validated notifications section.
	Config Config
	Store  Store
	// HTTPClient sends the HTTP receivers' requests; nil means a client
	// that does not follow redirects. Each attempt's timeout comes from
	// Config.Timeout through the request's context.
	HTTPClient HTTPDoer
	// TLSConfig is the base of the e-mail receivers' STARTTLS
	// configuration (tests set RootCAs); nil means the system's roots.
	TLSConfig *tls.Config
	// Instance identifies this process in the log's claims. It should be
	// stable across restarts of one process and differ between processes
	// sharing a store (host name and listen address); default: host name
	// and process id.
	Instance string
	// Now is the clock; Sleep waits (backoff, rate limit) and returns ctx's
	// error when ctx ends first; Rand returns a float in [0, 1) for the
	// backoff jitter. Defaults: time.Now, a timer, math/rand/v2.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	Rand  func() float64
	// Tick is how often due notifications are looked for (group_wait and
	// repeat deadlines); default 1s. A negative Tick runs no scheduler:
	// the caller drives it with Flush (tests).
	Tick time.Duration
	// Capture, when set, replaces every receiver's delivery: each
	// notification is rendered as its receiver would send it and handed
	// to Capture, and nothing leaves the process (HTTPClient is not used;
	// e-mail is not dialled). Replays set it.
	Capture    func(ctx context.Context, c Captured) error
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// Notifier is the notification stage: an osprey.IncidentConsumer and an
// osprey.Component. Its methods are safe for concurrent use.
type Notifier struct {
	cfg       Config
	store     Store
	instance  string
	now       func() time.Time
	sleep     func(ctx context.Context, d time.Duration) error
	rand      func() float64
	tick      time.Duration
	log       *slog.Logger
	m         *metrics
	routes    []route
	receivers map[string]*receiver
	order     []*receiver

	// runCtx is the parent of every delivery; cancelled when Shutdown's
	// deadline passes. sleepCtx is cancelled as Shutdown begins, which
	// interrupts backoff and rate-limit waits (nothing is lost: the claim
	// stays and is resumed after a restart).
	runCtx      context.Context
	runCancel   context.CancelFunc
	sleepCtx    context.Context
	sleepCancel context.CancelFunc
	kick        chan struct{}
	stop        chan struct{}
	stopOnce    sync.Once
	loops       sync.WaitGroup // scheduler and workers
	inflight    sync.WaitGroup // jobs queued or being delivered

	mu       sync.Mutex
	started  bool
	stopping bool
	tracked  map[string]*tracked
}

// receiver is a configured receiver with its sender, limit and queue.
type receiver struct {
	name    string
	kind    string
	send    sender
	limiter *limiter
	queue   chan *job
}

// route is a compiled Route.
type route struct {
	set       match.Set
	receivers []string
	cont      bool
	groupWait time.Duration
	repeat    time.Duration
}

var (
	_ osprey.IncidentConsumer = (*Notifier)(nil)
	_ osprey.Component        = (*Notifier)(nil)
)

// New compiles the configuration and returns a Notifier. Call Start before
// feeding it.
func New(opts Options) (*Notifier, error) {
	if opts.Store == nil {
		return nil, errors.New("notify: store is required")
	}
	if err := opts.Config.Validate(); err != nil {
		return nil, fmt.Errorf("notify: %w", err)
	}
	n := &Notifier{
		cfg:       opts.Config,
		store:     opts.Store,
		instance:  opts.Instance,
		now:       opts.Now,
		sleep:     opts.Sleep,
		rand:      opts.Rand,
		tick:      opts.Tick,
		log:       opts.Logger,
		receivers: make(map[string]*receiver),
		kick:      make(chan struct{}, 1),
		stop:      make(chan struct{}),
		tracked:   make(map[string]*tracked),
	}
	if n.now == nil {
		n.now = time.Now
	}
	if n.sleep == nil {
		n.sleep = sleepTimer
	}
	if n.rand == nil {
		n.rand = mrand.Float64
	}
	if n.tick == 0 {
		n.tick = time.Second
	}
	if n.log == nil {
		n.log = slog.New(slog.DiscardHandler)
	}
	if n.instance == "" {
		n.instance = defaultInstance()
	}
	reg := opts.Registerer
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	var err error
	if n.m, err = newMetrics(reg); err != nil {
		return nil, err
	}
	client := opts.HTTPClient
	if client == nil {
		client = newHTTPClient()
	}
	for _, rc := range n.cfg.Receivers {
		var s sender
		var err error
		if opts.Capture != nil {
			s, err = newCaptureSender(rc, opts.Capture)
		} else {
			s, err = newSender(rc, client, opts.TLSConfig)
		}
		if err != nil {
			return nil, fmt.Errorf("notify: %w", err)
		}
		rate := rc.RateLimitPerMinute
		if rate == 0 {
			rate = n.cfg.RateLimitPerMinute
		}
		r := &receiver{name: rc.Name, kind: rc.kinds()[0], send: s, limiter: newLimiter(rate), queue: make(chan *job, queueSize)}
		n.receivers[r.name] = r
		n.order = append(n.order, r)
	}
	for i, rc := range n.cfg.Routes {
		ms, err := match.ParseAll(rc.Matchers)
		if err != nil {
			return nil, fmt.Errorf("notify: routes[%d]: %w", i, err)
		}
		set, err := match.Compile(ms)
		if err != nil {
			return nil, fmt.Errorf("notify: routes[%d]: %w", i, err)
		}
		n.routes = append(n.routes, route{set: set, receivers: rc.Receivers, cont: rc.Continue,
			groupWait: n.groupWaitOf(rc), repeat: n.repeatOf(rc)})
	}
	n.runCtx, n.runCancel = context.WithCancel(context.Background())
	n.sleepCtx, n.sleepCancel = context.WithCancel(n.runCtx)
	return n, nil
}

func (n *Notifier) groupWaitOf(r Route) time.Duration {
	if r.GroupWait > 0 {
		return r.GroupWait
	}
	return n.cfg.GroupWait
}

func (n *Notifier) repeatOf(r Route) time.Duration {
	if r.RepeatInterval > 0 {
		return r.RepeatInterval
	}
	return n.cfg.RepeatInterval
}

// defaultInstance names this process: host name and process id.
func defaultInstance() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		b := make([]byte, 6)
		_, _ = rand.Read(b)
		host = hex.EncodeToString(b)
	}
	return host + "/" + strconv.Itoa(os.Getpid())
}

// sleepTimer waits for d or until ctx ends.
func sleepTimer(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Start picks up the incidents still open or acknowledged in the store (so
// that a restart keeps its pending and repeating notifications), then starts
// one worker per receiver and the scheduler.
func (n *Notifier) Start(ctx context.Context) error {
	n.mu.Lock()
	if n.started || n.stopping {
		n.mu.Unlock()
		return errors.New("notify: Start called twice or after Shutdown")
	}
	n.started = true
	n.mu.Unlock()
	list, err := n.store.ListIncidents(ctx, store.IncidentQuery{
		Statuses: []osprey.IncidentStatus{osprey.IncidentOpen, osprey.IncidentAcknowledged},
		Limit:    store.MaxLimit,
	})
	if err != nil {
		return fmt.Errorf("notify: list open incidents: %w", err)
	}
	if err := n.ConsumeIncidents(ctx, list); err != nil {
		return err
	}
	for _, r := range n.order {
		n.loops.Add(1)
		go n.worker(r)
	}
	if n.tick > 0 {
		n.loops.Add(1)
		go n.schedule()
	}
	n.log.Info("notifications started", "receivers", len(n.order), "routes", len(n.routes), "open_incidents", len(list))
	return nil
}

// Shutdown stops looking for due notifications, interrupts backoff and
// rate-limit waits, and waits for the deliveries in flight. When ctx ends
// first, deliveries are cancelled. A notification interrupted mid-way keeps
// its claim, which this instance resumes after a restart.
func (n *Notifier) Shutdown(ctx context.Context) error {
	n.stopOnce.Do(func() {
		n.mu.Lock()
		n.stopping = true
		n.mu.Unlock()
		close(n.stop)
		n.sleepCancel()
	})
	done := make(chan struct{})
	go func() {
		n.loops.Wait()
		close(done)
	}()
	select {
	case <-done:
		n.runCancel()
		return nil
	case <-ctx.Done():
		n.runCancel()
		<-done
		return ctx.Err()
	}
}

// schedule looks for due notifications every tick, and at once when an
// incident changed.
func (n *Notifier) schedule() {
	defer n.loops.Done()
	t := time.NewTicker(n.tick)
	defer t.Stop()
	for {
		select {
		case <-n.stop:
			return
		case <-t.C:
		case <-n.kick:
		}
		n.dispatch()
	}
}

// worker delivers a receiver's jobs one at a time, in order.
func (n *Notifier) worker(r *receiver) {
	defer n.loops.Done()
	for {
		select {
		case <-n.stop:
			// Jobs still queued are released; they are due again after a
			// restart.
			for {
				select {
				case j := <-r.queue:
					n.release(j, time.Time{})
					n.inflight.Done()
				default:
					return
				}
			}
		case j := <-r.queue:
			n.deliver(n.runCtx, j)
			n.inflight.Done()
		}
	}
}

// Flush dispatches every notification due now and waits until they, and
// those they make due at once (a resolve after its opening), are delivered.
// It is for callers that drive the notifier themselves (Tick < 0).
func (n *Notifier) Flush() {
	for n.dispatch() > 0 {
		n.inflight.Wait()
	}
}

// ConsumeIncidents takes incident snapshots: it routes each to its receivers
// and records its state; deliveries happen in the workers. It loads an
// incident's notification log the first time it sees the incident, so a
// restarted notifier knows what was sent.
func (n *Notifier) ConsumeIncidents(ctx context.Context, batch []osprey.Incident) error {
	if len(n.order) == 0 {
		return nil // no receivers
	}
	var errs []error
	for i := range batch {
		inc := batch[i]
		inc.Timeline = nil
		n.mu.Lock()
		tr := n.tracked[inc.ID]
		// A reopened incident is seen afresh: its generation is counted
		// from the log.
		fresh := tr == nil || tr.inc.Status == osprey.IncidentResolved && inc.Status != osprey.IncidentResolved
		n.mu.Unlock()
		var logged []store.Notification
		if fresh {
			if !n.routed(&inc) {
				continue
			}
			var err error
			logged, err = n.store.ListNotifications(ctx, store.NotificationQuery{IncidentID: inc.ID, Limit: store.MaxLimit})
			if err != nil {
				// This incident is picked up again by its next snapshot.
				errs = append(errs, fmt.Errorf("notify: read notification log of %s: %w", inc.ID, err))
				continue
			}
		}
		n.mu.Lock()
		n.observeLocked(inc, logged, fresh)
		n.mu.Unlock()
	}
	select {
	case n.kick <- struct{}{}:
	default:
	}
	return errors.Join(errs...)
}
