package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/auth"
	"github.com/osprey-aiops/osprey/internal/config"
	"github.com/osprey-aiops/osprey/internal/store"
)

// Route patterns, also the values of the route metric label.
const (
	routeHealthz    = "GET /healthz"
	routeReadyz     = "GET /readyz"
	routeMetrics    = "GET /metrics"
	routePostEvents = "POST /api/v1/events"
	routeListEvents = "GET /api/v1/events"
	routeIncidents  = "GET /api/v1/incidents"
	routeIncident   = "GET /api/v1/incidents/{id}"
	routeUnmatched  = "unmatched"
)

// readyCheckTimeout bounds the Ready check of GET /readyz, so a hung database
// makes the probe fail rather than hang.
const readyCheckTimeout = 5 * time.Second

// Options configure an API. Store and Auth are required.
type Options struct {
	// Store holds events and incidents.
	Store store.Store
	// Events receives each batch of ingested events after it is committed
	// (the bus, in a running Osprey). It owns the batch it is given. May be
	// nil, in which case events only reach the pipeline through the store.
	Events osprey.EventConsumer
	// Auth authenticates and authorises requests; auth.New(nil) disables
	// authentication. Its failure metric is registered on Registerer.
	Auth *auth.Authenticator
	// Limits bound request sizes; zero fields take config.Default's values.
	Limits config.ServerConfig
	// Now is the clock for the times Osprey assigns (ReceivedAt, default
	// StartsAt, IDs, "since" durations). Default time.Now. Request
	// durations are measured with the real clock.
	Now func() time.Time
	// Logger receives errors; default discards.
	Logger *slog.Logger
	// Registerer receives the API's metrics; nil leaves them unregistered.
	Registerer prometheus.Registerer
	// Gatherer is exposed on GET /metrics; nil leaves the route out.
	Gatherer prometheus.Gatherer
	// Ready reports whether the process can serve (GET /readyz); default
	// Store.Ping.
	Ready func(ctx context.Context) error
}

// API is Osprey's HTTP API, an http.Handler. It is safe for concurrent use.
type API struct {
	store   store.Store
	events  osprey.EventConsumer
	auth    *auth.Authenticator
	limits  config.ServerConfig
	now     func() time.Time
	log     *slog.Logger
	ready   func(ctx context.Context) error
	metrics *metrics
	mux     *http.ServeMux
}

var _ http.Handler = (*API)(nil)

// New returns an API serving opts.Store. It fails when a required option is
// missing, a limit is negative, or metrics cannot be registered.
func New(opts Options) (*API, error) {
	if opts.Store == nil {
		return nil, errors.New("api: no store")
	}
	if opts.Auth == nil {
		// Refuse rather than default to no authentication: an open API
		// must be asked for with auth.New(nil).
		return nil, errors.New("api: no authenticator")
	}
	limits, err := withDefaults(opts.Limits)
	if err != nil {
		return nil, err
	}
	a := &API{
		store:   opts.Store,
		events:  opts.Events,
		auth:    opts.Auth,
		limits:  limits,
		now:     opts.Now,
		log:     opts.Logger,
		ready:   opts.Ready,
		metrics: newMetrics(),
		mux:     http.NewServeMux(),
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.ready == nil {
		a.ready = opts.Store.Ping
	}
	if opts.Registerer != nil {
		if err := a.metrics.register(opts.Registerer); err != nil {
			return nil, err
		}
		if err := registerShared(opts.Registerer, opts.Auth); err != nil {
			return nil, fmt.Errorf("register auth metrics: %w", err)
		}
	}

	viewer := func(h http.HandlerFunc) http.Handler { return a.auth.Require(auth.RoleViewer, h) }
	a.mux.HandleFunc(routeHealthz, a.healthz)
	a.mux.HandleFunc(routeReadyz, a.readyz)
	if opts.Gatherer != nil {
		a.mux.Handle(routeMetrics, promhttp.HandlerFor(opts.Gatherer, promhttp.HandlerOpts{}))
	}
	a.mux.Handle(routePostEvents, a.countAuthRejects(a.auth.Require(auth.RoleOperator, http.HandlerFunc(a.postEvents))))
	a.mux.Handle(routeListEvents, viewer(a.listEvents))
	a.mux.Handle(routeIncidents, viewer(a.listIncidents))
	a.mux.Handle(routeIncident, viewer(a.getIncident))
	return a, nil
}

// withDefaults fills the zero limits from config.Default and rejects negative
// ones.
func withDefaults(l config.ServerConfig) (config.ServerConfig, error) {
	d := config.Default().Server
	if l.MaxBodyBytes < 0 || l.MaxEventsPerRequest < 0 || l.MaxLabelsPerEvent < 0 || l.MaxLabelValueBytes < 0 {
		return l, fmt.Errorf("api: negative request limit in %+v", l)
	}
	if l.MaxBodyBytes == 0 {
		l.MaxBodyBytes = d.MaxBodyBytes
	}
	if l.MaxEventsPerRequest == 0 {
		l.MaxEventsPerRequest = d.MaxEventsPerRequest
	}
	if l.MaxLabelsPerEvent == 0 {
		l.MaxLabelsPerEvent = d.MaxLabelsPerEvent
	}
	if l.MaxLabelValueBytes == 0 {
		l.MaxLabelValueBytes = d.MaxLabelValueBytes
	}
	return l, nil
}

// ServeHTTP routes the request, records its metrics, turns the router's own
// 404 and 405 replies into JSON, and turns a panic into a 500.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rw := &responseWriter{ResponseWriter: w, req: r}
	defer a.finish(rw, r, time.Now())
	a.mux.ServeHTTP(rw, r)
}
