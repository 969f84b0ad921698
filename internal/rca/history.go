package rca

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/osprey-aiops/osprey"
)

// EvidenceSource gives evidence about an incident beyond its members' own
// (IncidentRanker.Extra). RankCauses calls it on every ranking, which the
// correlator does under its lock on every join: Evidence must return at
// once, from what it already knows, and must not modify inc.
type EvidenceSource interface {
	Evidence(inc *osprey.Incident) []Evidence
}

// History reads stored series for HistoryEvidence. Implementations must be
// safe for concurrent use.
type History interface {
	// Series returns the series matching q with their samples in
	// [q.From, q.To], at most q.Limit of them (in label order); more says
	// that more matched.
	Series(ctx context.Context, q HistoryQuery) (series []HistorySeries, more bool, err error)
}

// HistoryQuery selects series for History.Series.
type HistoryQuery struct {
	// Match holds label = value pairs a series must all have.
	Match osprey.Labels
	// SkipNamePrefix, if not empty, leaves out series whose metric name
	// starts with it (Osprey's own derived series: anomaly scores).
	SkipNamePrefix string
	From, To       time.Time
	Limit          int
}

// HistorySeries is one stored series: its labels and its samples in time
// order, T in Unix milliseconds.
type HistorySeries struct {
	Labels osprey.Labels
	T      []int64
	V      []float64
}

// HistoryOptions configure HistoryEvidence; zero fields take the defaults
// named.
type HistoryOptions struct {
	// History reads the series; required.
	History History
	// Graph, if set, returns the call graph: the callers and callees of
	// the incident's services are read too.
	Graph func() *Graph
	// ServiceLabel is the label naming a member's service and a series'
	// (osprey.LabelService if empty).
	ServiceLabel string
	// Lookback is the reference range: the normal period is the series
	// over Lookback before the incident. Default 7 days.
	Lookback time.Duration
	// Lead is how long before the incident's first member its compared
	// samples begin: an alert opens after its condition held for a while
	// (an alerting rule's "for"), and the samples of that while belong to
	// the incident, not to the normal period. Zero means none;
	// DefaultHistoryLead is the configuration's default.
	Lead time.Duration
	// CoarseStep and Warmup say which series the streaming detector could
	// not judge and are compared: a step of CoarseStep or longer, or fewer
	// than Warmup samples over Warmup·CoarseStep before the incident. All
	// compares every series (when no detector runs). Defaults 2 minutes
	// and 100 (the metric detector's warm-up).
	CoarseStep time.Duration
	Warmup     int
	All        bool
	// MaxSeries bounds the series one computation reads. Default 64.
	MaxSeries int
	// MinSurprise is the least surprise (−log10 p) that counts as
	// evidence. Default 3.
	MinSurprise float64
	// MaxLag bounds, in steps, how far after the last sample before the
	// incident a sample is compared. Default 12.
	MaxLag int
	// Refresh is how often an incident's evidence is computed again while
	// its series may still bring samples to compare. Default 1 minute.
	Refresh time.Duration
	// MaxIncidents bounds the incidents whose evidence is kept. Default
	// 1000.
	MaxIncidents int
	// Rerank is called, outside any lock of HistoryEvidence, when an
	// incident's evidence changed, so that its causes are ranked again
	// (correlate.Correlator.Rerank); an error wrapping osprey.ErrNotFound
	// says the incident is no longer unresolved.
	Rerank func(ctx context.Context, incidentID string) error
	// Now is the clock; default time.Now.
	Now        func() time.Time
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// Defaults of HistoryOptions.
const (
	DefaultHistoryLookback   = 7 * 24 * time.Hour
	DefaultHistoryLead       = 5 * time.Minute
	DefaultHistoryCoarseStep = 2 * time.Minute
	DefaultHistoryMaxSeries  = 64
)

// ownPrefix names Osprey's own series, never compared.
const ownPrefix = "osprey_"

// HistoryEvidence is an EvidenceSource that compares the series of an
// incident's services with their normal period before the incident
// (Reference.Compare), for series the streaming detector cannot judge:
// coarse (5-minute cloud metrics: a 20-minute incident is four samples)
// or short. Reading the metric store takes far longer than a ranking may
// hold the correlator's lock, so it is done by one worker goroutine:
// Evidence returns the evidence last computed for the incident and asks
// the worker to compute it when the incident's services changed; the
// worker reads the series, compares them, and when the evidence changed
// calls Rerank, which ranks the incident again with it. While an
// incident's series may still bring samples to compare, the worker
// computes it again every Refresh. It is an osprey.Component.
type HistoryEvidence struct {
	o   HistoryOptions
	log *slog.Logger
	m   historyMetrics

	mu      sync.Mutex
	entries map[string]*histEntry

	queue    chan string
	stop     chan struct{}
	done     chan struct{}
	started  bool
	stopOnce sync.Once
}

var (
	_ EvidenceSource   = (*HistoryEvidence)(nil)
	_ osprey.Component = (*HistoryEvidence)(nil)
)

type historyMetrics struct {
	seriesRead, comparisons, evidence, capped, dropped, errors prometheus.Counter
	seconds                                                    prometheus.Counter
}

// histRequest is what one computation needs of an incident.
type histRequest struct {
	services []string // members' services, in order of first appearance
	metric   string   // the symptom metric: the opening member's, if any
	onset    time.Time
}

func (r histRequest) key() string {
	return fmt.Sprintf("%s|%s|%d", strings.Join(r.services, ","), r.metric, r.onset.UnixNano())
}

// histEntry is the state of one incident.
type histEntry struct {
	key      string
	req      histRequest
	evidence []Evidence
	computed time.Time // zero until computed
	until    time.Time // refreshed while the clock is before it
	used     time.Time // last asked for
	queued   bool
	closed   bool // resolved: no more computations
}

// NewHistoryEvidence returns a HistoryEvidence; call Start to run its
// worker.
func NewHistoryEvidence(o HistoryOptions) (*HistoryEvidence, error) {
	if o.History == nil {
		return nil, errors.New("rca history: no history")
	}
	if o.ServiceLabel == "" {
		o.ServiceLabel = osprey.LabelService
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.Lookback, DefaultHistoryLookback)
	o.Lead = max(o.Lead, 0)
	def(&o.CoarseStep, DefaultHistoryCoarseStep)
	def(&o.Refresh, time.Minute)
	if o.Warmup <= 0 {
		o.Warmup = 100
	}
	if o.MaxSeries <= 0 {
		o.MaxSeries = DefaultHistoryMaxSeries
	}
	if o.MinSurprise <= 0 {
		o.MinSurprise = 3
	}
	if o.MaxLag <= 0 {
		o.MaxLag = 12
	}
	if o.MaxIncidents <= 0 {
		o.MaxIncidents = 1000
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	h := &HistoryEvidence{
		o: o, log: o.Logger,
		entries: map[string]*histEntry{},
		queue:   make(chan string, 256),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	c := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: "osprey_rca_history_" + name, Help: help})
	}
	h.m = historyMetrics{
		seriesRead:  c("series_read_total", "Series read from the metric store to compare incidents with their normal period."),
		comparisons: c("comparisons_total", "Series compared with their normal period (coarse or short series the detector cannot judge)."),
		evidence:    c("evidence_total", "Comparisons surprising enough to count as evidence."),
		capped:      c("capped_total", "Computations that matched more series than rca.history.max_series and read only that many."),
		dropped:     c("dropped_total", "Requests to compute an incident's evidence dropped because the queue was full (retried at the next ranking)."),
		errors:      c("errors_total", "Computations that failed to read the metric store."),
		seconds:     c("seconds_total", "Wall time spent reading and comparing series."),
	}
	if o.Registerer != nil {
		for _, col := range []prometheus.Collector{h.m.seriesRead, h.m.comparisons, h.m.evidence, h.m.capped, h.m.dropped, h.m.errors, h.m.seconds} {
			if err := o.Registerer.Register(col); err != nil {
				return nil, fmt.Errorf("rca history: register metrics: %w", err)
			}
		}
	}
	return h, nil
}

// Start runs the worker.
func (h *HistoryEvidence) Start(context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.started {
		return errors.New("rca history: already started")
	}
	h.started = true
	go h.loop()
	return nil
}

// Shutdown stops the worker; a computation in progress is abandoned at
// its next read. It is idempotent.
func (h *HistoryEvidence) Shutdown(ctx context.Context) error {
	h.mu.Lock()
	started := h.started
	h.mu.Unlock()
	h.stopOnce.Do(func() { close(h.stop) })
	if !started {
		return nil
	}
	select {
	case <-h.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("rca history: shutdown: %w", ctx.Err())
	}
}

// Evidence returns the evidence last computed for inc (nil before the
// first computation) and asks the worker for a computation when inc's
// services, symptom metric or onset changed. It never blocks.
func (h *HistoryEvidence) Evidence(inc *osprey.Incident) []Evidence {
	req := h.request(inc)
	if len(req.services) == 0 {
		return nil
	}
	now := h.o.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	e := h.entries[inc.ID]
	if e == nil {
		h.evictLocked()
		e = &histEntry{}
		h.entries[inc.ID] = e
	}
	e.used = now
	if inc.Status == osprey.IncidentResolved {
		e.closed = true
		return e.evidence
	}
	e.closed = false
	if k := req.key(); k != e.key {
		e.key, e.req = k, req
		h.enqueueLocked(inc.ID, e)
	}
	return e.evidence
}

// request reads what a computation needs from inc.
func (h *HistoryEvidence) request(inc *osprey.Incident) histRequest {
	var r histRequest
	first := -1
	seen := map[string]bool{}
	for i := range inc.Members {
		m := inc.Members[i]
		s := m.Labels.Get(h.o.ServiceLabel)
		if s == "" {
			continue
		}
		if !seen[s] {
			seen[s] = true
			r.services = append(r.services, s)
		}
		if first < 0 || m.FirstSeen.Before(inc.Members[first].FirstSeen) {
			first = i
		}
	}
	if first >= 0 {
		r.onset = inc.Members[first].FirstSeen
		r.metric = inc.Members[first].Labels.Get(osprey.LabelMetric)
	}
	return r
}

// evictLocked makes room for one more entry by forgetting the least
// recently used one.
func (h *HistoryEvidence) evictLocked() {
	if len(h.entries) < h.o.MaxIncidents {
		return
	}
	var oldest string
	var at time.Time
	for id, e := range h.entries {
		if oldest == "" || e.used.Before(at) {
			oldest, at = id, e.used
		}
	}
	delete(h.entries, oldest)
}

func (h *HistoryEvidence) enqueueLocked(id string, e *histEntry) {
	if e.queued {
		return // the worker reads e.req when it gets to it
	}
	select {
	case h.queue <- id:
		e.queued = true
	default:
		h.m.dropped.Inc()
	}
}

func (h *HistoryEvidence) loop() {
	defer close(h.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-h.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	tick := time.NewTicker(h.o.Refresh)
	defer tick.Stop()
	for {
		select {
		case <-h.stop:
			return
		case id := <-h.queue:
			h.run(ctx, id)
		case <-tick.C:
			h.refresh()
		}
	}
}

// RunPending does in the calling goroutine what the worker would do at
// the clock's current time (Now): it queues the incidents due for a
// refresh, then computes every queued incident, calling Rerank when its
// evidence changed, and returns how many computations ran. It is for
// drivers of a virtual clock that do not Start the worker and must have
// the comparison and its rerank done before they advance the clock
// (osprey bench rca --path serve, tests); with the worker started the two
// would take turns at the queue in no set order.
func (h *HistoryEvidence) RunPending(ctx context.Context) int {
	h.refresh()
	n := 0
	for {
		select {
		case id := <-h.queue:
			h.run(ctx, id)
			n++
		default:
			return n
		}
	}
}

// refresh queues the incidents whose series may have brought new samples
// to compare since their last computation.
func (h *HistoryEvidence) refresh() {
	now := h.o.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	for id, e := range h.entries {
		if !e.closed && !e.computed.IsZero() && now.Before(e.until) && now.Sub(e.computed) >= h.o.Refresh {
			h.enqueueLocked(id, e)
		}
	}
}

// run computes the evidence of incident id and asks for a new ranking
// when it changed.
func (h *HistoryEvidence) run(ctx context.Context, id string) {
	h.mu.Lock()
	e := h.entries[id]
	if e == nil {
		h.mu.Unlock()
		return
	}
	req, key := e.req, e.key
	e.queued = false
	h.mu.Unlock()

	start := time.Now()
	ev, until, err := h.compute(ctx, req)
	h.m.seconds.Add(time.Since(start).Seconds())
	if err != nil {
		if ctx.Err() == nil {
			h.m.errors.Inc()
			h.log.Warn("compare incident with its normal period", "incident", id, "err", err)
		}
		h.mu.Lock()
		if e := h.entries[id]; e != nil && e.key == key {
			e.key = "" // tried again at the next ranking
		}
		h.mu.Unlock()
		return
	}
	h.mu.Lock()
	e = h.entries[id]
	if e == nil {
		h.mu.Unlock()
		return
	}
	changed := !sameEvidence(e.evidence, ev)
	e.evidence, e.computed, e.until = ev, h.o.Now(), until
	if e.key != key {
		h.enqueueLocked(id, e) // its services changed meanwhile
	}
	h.mu.Unlock()
	if !changed || h.o.Rerank == nil {
		return
	}
	if err := h.o.Rerank(ctx, id); err != nil {
		if errors.Is(err, osprey.ErrNotFound) {
			h.mu.Lock()
			if e := h.entries[id]; e != nil {
				e.closed = true
			}
			h.mu.Unlock()
			return
		}
		h.log.Warn("rank incident again with its normal-period comparison", "incident", id, "err", err)
	}
}

func sameEvidence(a, b []Evidence) bool {
	return slices.EqualFunc(a, b, func(x, y Evidence) bool {
		return x.Service == y.Service && x.Signal == y.Signal && x.Score == y.Score && x.Onset.Equal(y.Onset)
	})
}

// historyServicesPerSeries bounds the services one computation queries
// at this many times MaxSeries: a service's query may match no series (no
// series of the symptom metric), so the series budget alone would not
// bound the reads on a large call graph.
const historyServicesPerSeries = 4

// compute reads the series of req's services and of the services the call
// graph connects them to, nearest first (readOrder) until MaxSeries
// series are read, compares those the detector cannot judge with their
// normal period, and returns the evidence and until when a computation
// again may find more.
func (h *HistoryEvidence) compute(ctx context.Context, req histRequest) ([]Evidence, time.Time, error) {
	services := req.services
	if h.o.Graph != nil {
		if g := h.o.Graph(); g != nil {
			services = readOrder(g, req.services, historyServicesPerSeries*h.o.MaxSeries)
		}
	}
	start := req.onset.Add(-h.o.Lead) // samples after it belong to the incident
	now := h.o.Now()
	budget := h.o.MaxSeries
	// First a short read, enough to tell which series the detector could
	// judge (a fine step and a warm-up's worth of samples): those are not
	// read over the whole reference range.
	probe := time.Duration(h.o.Warmup) * h.o.CoarseStep
	var picked []osprey.Labels
	var pickedSvc []string
	capped := false
	for _, svc := range services {
		if budget == 0 {
			capped = true
			break
		}
		q := HistoryQuery{Match: osprey.Labels{h.o.ServiceLabel: svc}, SkipNamePrefix: ownPrefix,
			From: start.Add(-min(probe, h.o.Lookback)), To: now, Limit: budget}
		if req.metric != "" {
			q.Match[osprey.LabelMetric] = req.metric
		}
		ss, more, err := h.o.History.Series(ctx, q)
		if err != nil {
			return nil, time.Time{}, fmt.Errorf("read series of service %s: %w", svc, err)
		}
		capped = capped || more
		budget -= len(ss)
		h.m.seriesRead.Add(float64(len(ss)))
		for _, s := range ss {
			if h.o.All || !h.judged(s, start) {
				picked = append(picked, s.Labels)
				pickedSvc = append(pickedSvc, svc)
			}
		}
	}
	if capped {
		h.m.capped.Inc()
	}
	var out []Evidence
	var until time.Time
	for i, lbls := range picked {
		ss, _, err := h.o.History.Series(ctx, HistoryQuery{Match: lbls, From: start.Add(-h.o.Lookback), To: now, Limit: 1})
		if err != nil {
			return nil, time.Time{}, fmt.Errorf("read series %s: %w", seriesName(lbls, h.o.ServiceLabel), err)
		}
		if len(ss) == 0 {
			continue
		}
		ev, u, ok := h.compare(&ss[0], pickedSvc[i], start)
		if u.After(until) {
			until = u
		}
		if ok {
			out = append(out, ev)
		}
	}
	slices.SortFunc(out, func(a, b Evidence) int {
		if stronger(&a, &b) {
			return -1
		}
		if stronger(&b, &a) {
			return 1
		}
		return 0
	})
	return out, until, nil
}

// judged reports whether the streaming detector could judge s at start: a
// step finer than CoarseStep and Warmup samples before start.
func (h *HistoryEvidence) judged(s HistorySeries, start time.Time) bool {
	if medianStepMs(s.T) >= h.o.CoarseStep.Milliseconds() {
		return false
	}
	before := 0
	for _, t := range s.T {
		if t <= start.UnixMilli() {
			before++
		}
	}
	return before >= h.o.Warmup
}

// medianStepMs is the median spacing of ts, 0 with fewer than two.
func medianStepMs(ts []int64) int64 {
	if len(ts) < 2 {
		return 0
	}
	d := make([]int64, 0, len(ts)-1)
	for i := 1; i < len(ts); i++ {
		d = append(d, ts[i]-ts[i-1])
	}
	slices.Sort(d)
	return d[len(d)/2]
}

// compare compares the samples of s after start with those before: the
// reference is every sample up to and including the last one before start
// (the base), in segments split at gaps of more than three steps, on a
// grid of the series' median step; the compared samples are those of the
// MaxLag steps after the base, as values and as changes from it
// (CompareBoth). It returns the evidence, whether it counts, and until
// when a later computation may see more of those samples.
func (h *HistoryEvidence) compare(s *HistorySeries, svc string, start time.Time) (Evidence, time.Time, bool) {
	step := medianStepMs(s.T)
	b := -1 // the base: the last sample at or before start
	for i, t := range s.T {
		if t <= start.UnixMilli() {
			b = i
		}
	}
	if step <= 0 || b < 0 {
		return Evidence{}, time.Time{}, false
	}
	until := time.UnixMilli(s.T[b] + int64(h.o.MaxLag)*step)
	var segs [][]float64
	var seg []float64
	for i := 0; i <= b; i++ {
		if i > 0 {
			gap := s.T[i] - s.T[i-1]
			if gap > 3*step {
				segs, seg = append(segs, seg), nil
			} else {
				for k := int64(1); k < (gap+step/2)/step; k++ {
					seg = append(seg, math.NaN())
				}
			}
		}
		seg = append(seg, s.V[i])
	}
	segs = append(segs, seg)
	post := make([]float64, h.o.MaxLag)
	for j := range post {
		post[j] = math.NaN()
	}
	last := -1
	for i := b + 1; i < len(s.T); i++ {
		k := int((s.T[i]-s.T[b]+step/2)/step) - 1
		if k < 0 || k >= len(post) {
			continue
		}
		post[k] = s.V[i]
		last = max(last, k)
	}
	if last < 0 {
		return Evidence{}, until, false
	}
	post = post[:last+1]
	// Changes are needed over the lags of the samples present only.
	ref := NewReference(segs, last+1)
	if ref == nil {
		return Evidence{}, until, false
	}
	h.m.comparisons.Inc()
	c := ref.Compare(s.V[b], 1, post, CompareBoth)
	if c.Surprise < h.o.MinSurprise {
		return Evidence{}, until, false
	}
	h.m.evidence.Inc()
	dir := "below"
	if c.Above {
		dir = "above"
	}
	at := time.UnixMilli(s.T[b] + int64(c.First+1)*step).UTC()
	sig := fmt.Sprintf("%s %.3g, %s its normal median %.3g (comparison with the %s before the incident, %d values at step %s: p = 10^-%.1f)",
		seriesName(s.Labels, h.o.ServiceLabel), c.Value, dir, ref.Median(), shortDuration(h.o.Lookback), ref.Len(),
		shortDuration(time.Duration(step)*time.Millisecond), c.Surprise)
	return Evidence{Service: svc, Kind: KindMetric, Signal: sig, Score: c.Surprise / (c.Surprise + 10), Onset: at}, until, true
}

// seriesName writes a series as name{label="value", ...}, without the
// service label (the cause names the service).
func seriesName(l osprey.Labels, serviceLabel string) string {
	keys := make([]string, 0, len(l))
	for k := range l {
		if k != osprey.LabelMetric && k != serviceLabel {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var b strings.Builder
	b.WriteString(l.Get(osprey.LabelMetric))
	if len(keys) > 0 {
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%s=%q", k, l[k])
		}
		b.WriteByte('}')
	}
	return b.String()
}

// shortDuration writes d without trailing zero units: 168h, 5m, 2m30s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
