package topology

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/osprey-aiops/osprey"
)

// Options configure a Graph. Zero fields take the defaults.
type Options struct {
	// Window is the length of one statistics window; default 1m.
	Window time.Duration
	// Windows is how many windows an edge keeps; default 15. An edge with
	// no request in any of them leaves Edges and Neighbours, but is
	// remembered for Calls until Retain.
	Windows int
	// Retain is how long an idle edge is remembered for Calls (the call
	// graph root-cause ranking walks); default 24h, at least Windows ×
	// Window. Traffic that pauses for longer than the windows kept — a
	// quiet night, a batch job, a lull between load tests — does not take
	// the service's dependencies with it.
	Retain time.Duration
	// TTL is how long a span is remembered for its late children, and how
	// long a child waits for its parent; default 30s.
	TTL time.Duration
	// MaxSpans caps the remembered spans and, separately, the waiting
	// children; default 100000 each. The oldest go first.
	MaxSpans int
	// MaxEdges caps the edges, those remembered for Calls included; a new
	// edge beyond it takes the place of the edge idle longest, if one is
	// idle for every window, and is dropped (counted) if none is.
	// Default 10000.
	MaxEdges int
	// Declared are calls configured rather than seen
	// (topology.dependencies): a database or queue without tracing, a
	// service whose spans are sampled away or not exported. They are in
	// Neighbours, Edges and Calls whether or not spans show them.
	Declared []EdgeKey
	// Placed are the services configured to run on a host
	// (topology.placement; only Host and Service are read), besides those
	// whose spans name their host (the host.name resource attribute):
	// Hosts, Services, Placements. Learnt placements count towards
	// MaxEdges separately from edges.
	Placed []Placement
	// Now is the clock; default time.Now.
	Now func() time.Time
}

func (o *Options) defaults() {
	if o.Window <= 0 {
		o.Window = time.Minute
	}
	if o.Windows <= 0 {
		o.Windows = 15
	}
	if o.Retain < time.Duration(o.Windows)*o.Window {
		o.Retain = max(24*time.Hour, time.Duration(o.Windows)*o.Window)
	}
	if o.TTL <= 0 {
		o.TTL = 30 * time.Second
	}
	if o.MaxSpans <= 0 {
		o.MaxSpans = 100_000
	}
	if o.MaxEdges <= 0 {
		o.MaxEdges = 10_000
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// spanKey identifies a span: trace id and span id.
type spanKey struct{ trace, span string }

// seenSpan is what a remembered span tells its children.
type seenSpan struct {
	service string
	at      time.Time
}

// child is a span waiting for its parent.
type child struct {
	parent   spanKey
	service  string
	duration time.Duration
	err      bool
	at       time.Time
}

// queued is an entry of a FIFO expiry queue.
type queued struct {
	key spanKey
	at  time.Time
}

// EdgeKey names an edge.
type EdgeKey struct {
	Caller string `json:"caller"`
	Callee string `json:"callee"`
}

// Graph is the learned call graph. It is an osprey.SpanConsumer and safe
// for concurrent use; memory is bounded by Options.
type Graph struct {
	opts Options

	mu         sync.Mutex
	seen       map[spanKey]seenSpan
	seenQueue  []queued // insertion order, for expiry
	pending    map[spanKey][]child
	pendQueue  []queued
	nPending   int
	edges      map[EdgeKey]*edge
	services   map[string]time.Time   // last seen, bounded by MaxEdges
	placed     map[placeKey]time.Time // learnt placements, last seen, bounded by MaxEdges
	decl       declared
	lastPruned int64
	// noIdleIn is the window in which evictIdle last found no idle edge.
	noIdleIn int64

	dropped *prometheus.CounterVec
}

var _ osprey.SpanConsumer = (*Graph)(nil)

// New returns an empty Graph.
func New(opts Options) *Graph {
	opts.defaults()
	return &Graph{
		opts:     opts,
		seen:     make(map[spanKey]seenSpan),
		pending:  make(map[spanKey][]child),
		edges:    make(map[EdgeKey]*edge),
		services: make(map[string]time.Time),
		placed:   make(map[placeKey]time.Time),
		decl:     newDeclared(opts.Declared, opts.Placed),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "osprey_topology_dropped_total",
			Help: "What the call graph's bounds turned away, by reason: edge_cap (a new edge beyond the cap), placement_cap (a new host placement beyond the cap), span_cap (a remembered span evicted early), pending_cap (a waiting child evicted early), orphan (a child whose parent never came within the TTL).",
		}, []string{"reason"}),
	}
}

// Register registers the graph's metrics on reg.
func (g *Graph) Register(reg prometheus.Registerer) error {
	for _, r := range []string{"edge_cap", "placement_cap", "span_cap", "pending_cap", "orphan"} {
		g.dropped.WithLabelValues(r)
	}
	return reg.Register(g.dropped)
}

// ConsumeSpans adds a batch of spans to the graph. It never fails and does
// not keep the batch.
func (g *Graph) ConsumeSpans(_ context.Context, batch []osprey.Span) error {
	if len(batch) == 0 {
		return nil
	}
	now := g.opts.Now()
	g.mu.Lock()
	defer g.mu.Unlock()
	g.expire(now)
	// Remember the whole batch first, so a parent later in the same batch
	// is found at once.
	for i := range batch {
		s := &batch[i]
		if s.TraceID == "" || s.SpanID == "" {
			continue
		}
		g.remember(spanKey{s.TraceID, s.SpanID}, s.Service, now)
		g.touchService(s.Service, now)
		if h := s.Attributes.Get(hostLabel); h != "" && s.Service != "" {
			g.place(h, s.Service, now)
		}
	}
	for i := range batch {
		s := &batch[i]
		if s.TraceID == "" || s.SpanID == "" {
			continue
		}
		key := spanKey{s.TraceID, s.SpanID}
		// Children that arrived before this span.
		if kids, ok := g.pending[key]; ok {
			delete(g.pending, key)
			g.nPending -= len(kids)
			for _, c := range kids {
				if c.service != s.Service {
					g.record(EdgeKey{s.Service, c.service}, c.duration, c.err, now)
				}
			}
		}
		if s.ParentSpanID == "" {
			continue
		}
		pk := spanKey{s.TraceID, s.ParentSpanID}
		if p, ok := g.seen[pk]; ok {
			if p.service != s.Service {
				g.record(EdgeKey{p.service, s.Service}, s.Duration, s.Error, now)
			}
			continue
		}
		g.wait(child{parent: pk, service: s.Service, duration: s.Duration, err: s.Error, at: now})
	}
	return nil
}

// remember records a span for its children; the oldest is evicted at the
// cap.
func (g *Graph) remember(key spanKey, service string, now time.Time) {
	if _, ok := g.seen[key]; !ok {
		if len(g.seen) >= g.opts.MaxSpans {
			g.evictSeen()
		}
		g.seenQueue = append(g.seenQueue, queued{key, now})
	}
	g.seen[key] = seenSpan{service: service, at: now}
}

// evictSeen drops the oldest remembered span.
func (g *Graph) evictSeen() {
	for len(g.seenQueue) > 0 {
		q := g.seenQueue[0]
		g.seenQueue = g.seenQueue[1:]
		if _, ok := g.seen[q.key]; ok {
			delete(g.seen, q.key)
			g.dropped.WithLabelValues("span_cap").Inc()
			return
		}
	}
}

// wait parks a child until its parent arrives.
func (g *Graph) wait(c child) {
	if g.nPending >= g.opts.MaxSpans {
		g.evictPending()
	}
	if _, ok := g.pending[c.parent]; !ok {
		g.pendQueue = append(g.pendQueue, queued{c.parent, c.at})
	}
	g.pending[c.parent] = append(g.pending[c.parent], c)
	g.nPending++
}

// evictPending drops the children waiting longest.
func (g *Graph) evictPending() {
	for len(g.pendQueue) > 0 {
		q := g.pendQueue[0]
		g.pendQueue = g.pendQueue[1:]
		if kids, ok := g.pending[q.key]; ok {
			delete(g.pending, q.key)
			g.nPending -= len(kids)
			g.dropped.WithLabelValues("pending_cap").Add(float64(len(kids)))
			return
		}
	}
}

// expire forgets remembered spans and waiting children older than the TTL.
func (g *Graph) expire(now time.Time) {
	cutoff := now.Add(-g.opts.TTL)
	i := 0
	for ; i < len(g.seenQueue) && g.seenQueue[i].at.Before(cutoff); i++ {
		q := g.seenQueue[i]
		if s, ok := g.seen[q.key]; ok && !s.at.After(q.at) {
			delete(g.seen, q.key)
		}
	}
	g.seenQueue = compact(g.seenQueue, i)
	i = 0
	for ; i < len(g.pendQueue) && g.pendQueue[i].at.Before(cutoff); i++ {
		if kids, ok := g.pending[g.pendQueue[i].key]; ok {
			delete(g.pending, g.pendQueue[i].key)
			g.nPending -= len(kids)
			g.dropped.WithLabelValues("orphan").Add(float64(len(kids)))
		}
	}
	g.pendQueue = compact(g.pendQueue, i)
	// Edges idle for longer than Retain and services idle for every
	// window are forgotten, once per window.
	if w := g.windowOf(now); w != g.lastPruned {
		g.lastPruned = w
		oldest := w - int64(g.opts.Retain/g.opts.Window)
		for k, e := range g.edges {
			if e.last < oldest {
				delete(g.edges, k)
			}
		}
		horizon := now.Add(-time.Duration(g.opts.Windows) * g.opts.Window)
		for s, at := range g.services {
			if at.Before(horizon) {
				delete(g.services, s)
			}
		}
		for k, at := range g.placed {
			if at.Before(horizon) {
				delete(g.placed, k)
			}
		}
	}
}

// compact drops the first n entries of q, reusing its array when most of
// it is free.
func compact(q []queued, n int) []queued {
	q = q[n:]
	if cap(q) > 1024 && len(q) < cap(q)/4 {
		q = slices.Clone(q)
	}
	return q
}

// touchService records that service sent a span.
func (g *Graph) touchService(service string, now time.Time) {
	if _, ok := g.services[service]; ok || len(g.services) < g.opts.MaxEdges {
		g.services[service] = now
	}
}

// windowOf is the index of the window holding t.
func (g *Graph) windowOf(t time.Time) int64 {
	return t.UnixNano() / int64(g.opts.Window)
}

// record counts one call on an edge.
func (g *Graph) record(k EdgeKey, d time.Duration, isErr bool, now time.Time) {
	e, ok := g.edges[k]
	if !ok {
		if len(g.edges) >= g.opts.MaxEdges && !g.evictIdle(now) {
			g.dropped.WithLabelValues("edge_cap").Inc()
			return
		}
		e = newEdge(g.opts.Windows)
		g.edges[k] = e
	}
	e.add(g.windowOf(now), d, isErr, g.opts.Windows)
}

// evictIdle makes room for a new edge at the cap by forgetting the edge
// idle longest (ties: the first by caller and callee), if it is idle for
// every window kept, remembered only for Calls; it reports whether it
// did. An edge with traffic in the windows kept is never evicted: the new
// edge is dropped instead.
func (g *Graph) evictIdle(now time.Time) bool {
	w := g.windowOf(now)
	if w == g.noIdleIn {
		// None was idle in this window, and none becomes idle before
		// the next: do not scan every edge again for each new one.
		return false
	}
	oldest := w - int64(g.opts.Windows) + 1
	var victim *EdgeKey
	var last int64
	for k, e := range g.edges {
		if e.last >= oldest {
			continue
		}
		if victim == nil || e.last < last || e.last == last && byCallerCallee(k, *victim) < 0 {
			k := k
			victim, last = &k, e.last
		}
	}
	if victim == nil {
		g.noIdleIn = w
		return false
	}
	delete(g.edges, *victim)
	return true
}

// byCallerCallee orders edge keys by caller, then callee.
func byCallerCallee(a, b EdgeKey) int {
	return cmp.Or(cmp.Compare(a.Caller, b.Caller), cmp.Compare(a.Callee, b.Callee))
}
