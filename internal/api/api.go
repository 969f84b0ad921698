package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/auth"
	"github.com/osprey-aiops/osprey/internal/config"
	"github.com/osprey-aiops/osprey/internal/evidence"
	"github.com/osprey-aiops/osprey/internal/ingest"
	"github.com/osprey-aiops/osprey/internal/remediate"
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
	routeIngestStat = "GET /api/v1/status/ingest"
	routeTemplates  = "GET /api/v1/log-templates"
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
	// Ignored when Ingest is set.
	Events osprey.EventConsumer
	// Ingest commits posted events and hands them on; the receivers mounted
	// through Routes share it, so that every door into the pipeline is the
	// same. Nil means one built from Store and Events. Its metrics are
	// registered on Registerer.
	Ingest *ingest.Committer
	// Stats holds the data-quality counters of every receiver, served on
	// GET /api/v1/status/ingest and registered on Registerer; the events API
	// counts itself as receiver "events_api". Nil means a new Stats.
	Stats *ingest.Stats
	// Routes are further routes to serve behind authentication: the
	// receivers of other wire formats (internal/ingest/...). A pattern that
	// conflicts with another route makes New fail.
	Routes []ingest.Route
	// Remediation is the remediate stage that the approve, reject, pause,
	// resume and status routes act on; nil leaves those routes out (the
	// runbook runs and the audit log are served from Store either way).
	Remediation *remediate.Engine
	// Feedback receives operators' verdicts on anomalies (POST
	// /api/v1/anomalies/{id}/feedback) after they are stored: the metric
	// detector, which adjusts the series' model. Nil stores verdicts
	// without adjusting anything.
	Feedback AnomalyFeedback
	// Incidents performs people's actions on incidents (ack, resolve,
	// reopen, assign, comments, merge): the correlate stage. Nil leaves
	// those routes out.
	Incidents IncidentActions
	// Silences is told when a silence is created or expired through the
	// API (the correlate stage); nil tells no one. The silence routes are
	// served from Store either way.
	Silences SilenceObserver
	// Maintenance lists the configured maintenance windows and is told
	// when one is created or deleted through the API (the correlate
	// stage); nil lists only the stored ones and tells no one.
	Maintenance MaintenanceSource
	// Forecast is what GET /api/v1/forecast serves: the live forecasts and
	// ad hoc fits over the TSDB. Nil leaves the route out.
	Forecast *ForecastSource
	// Logs and Spans are the windows of recent log lines and spans that
	// GET /api/v1/logs and GET /api/v1/spans read; nil leaves the route
	// out.
	Logs  *evidence.LogWindow
	Spans *evidence.SpanWindow
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
	commit  *ingest.Committer
	stats   *ingest.Stats
	recv    *ingest.Receiver
	auth    *auth.Authenticator
	limits  config.ServerConfig
	now     func() time.Time
	log     *slog.Logger
	ready   func(ctx context.Context) error
	metrics *metrics
	mux     *http.ServeMux

	feedback   AnomalyFeedback
	feedbackMu sync.Mutex
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
	limits, err := ingest.WithDefaults(opts.Limits)
	if err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	a := &API{
		store:   opts.Store,
		commit:  opts.Ingest,
		stats:   opts.Stats,
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
	if a.commit == nil {
		if a.commit, err = ingest.NewCommitter(ingest.CommitterOptions{Store: opts.Store, Next: opts.Events, Logger: a.log}); err != nil {
			return nil, err
		}
	}
	if a.stats == nil {
		a.stats = ingest.NewStats()
	}
	a.recv = a.stats.Receiver(eventsReceiver)
	if opts.Registerer != nil {
		if err := a.metrics.register(opts.Registerer); err != nil {
			return nil, err
		}
		for name, c := range map[string]prometheus.Collector{"auth": opts.Auth, "ingest": a.commit, "ingest stats": a.stats} {
			if err := registerShared(opts.Registerer, c); err != nil {
				return nil, fmt.Errorf("register %s metrics: %w", name, err)
			}
		}
	}

	viewer := func(h http.HandlerFunc) http.Handler { return a.auth.Require(auth.RoleViewer, h) }
	a.mux.HandleFunc(routeHealthz, a.healthz)
	a.mux.HandleFunc(routeReadyz, a.readyz)
	if opts.Gatherer != nil {
		a.mux.Handle(routeMetrics, promhttp.HandlerFor(opts.Gatherer, promhttp.HandlerOpts{}))
	}
	a.mux.Handle(routePostEvents, a.countAuthRejects(a.auth.Require(auth.RoleOperator, http.HandlerFunc(a.postEvents)), a.recv, true))
	a.mux.Handle(routeListEvents, viewer(a.listEvents))
	a.mux.Handle(routeIncidents, viewer(a.listIncidents))
	a.mux.Handle(routeIncident, viewer(a.getIncident))
	a.mux.Handle(routeIngestStat, viewer(a.stats.ServeHTTP))
	a.mux.Handle(routeTemplates, viewer(a.listTemplates))
	a.mux.Handle(routeTemplate, viewer(a.getTemplate))
	a.mountRemediation(opts.Remediation)
	a.mountAnomalies(opts.Feedback)
	a.mountNotifications()
	a.mountIncidentActions(opts.Incidents)
	a.mountSilences(opts.Silences)
	a.mountMaintenance(opts.Maintenance)
	a.mountEvidence(opts.Logs, opts.Spans)
	a.mountForecast(opts.Forecast)
	a.mountNoise()
	for _, rt := range opts.Routes {
		if err := a.mount(rt); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// mount serves rt behind authentication. The router panics on a pattern that
// is malformed or conflicts with another; that becomes an error here.
func (a *API) mount(rt ingest.Route) (err error) {
	if rt.Pattern == "" || rt.Handler == nil {
		return fmt.Errorf("api: route %q has no pattern or no handler", rt.Pattern)
	}
	if !rt.Role.Valid() {
		return fmt.Errorf("api: route %q needs a role", rt.Pattern)
	}
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("api: route %q: %v", rt.Pattern, v)
		}
	}()
	a.mux.Handle(rt.Pattern, a.countAuthRejects(a.auth.Require(rt.Role, rt.Handler), rt.Receiver, false))
	return nil
}

// ServeHTTP routes the request, records its metrics, turns the router's own
// 404 and 405 replies into JSON, and turns a panic into a 500.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rw := &responseWriter{ResponseWriter: w, req: r}
	defer a.finish(rw, r, time.Now())
	a.mux.ServeHTTP(rw, r)
}
