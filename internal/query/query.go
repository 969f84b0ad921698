// Package query is Osprey's Prometheus-compatible query API, so that Grafana
// (or promtool, or anything that speaks Prometheus' HTTP API) can add Osprey
// as a Prometheus data source and chart the stored series next to the
// detector's anomaly scores:
//
//	GET|POST /api/v1/query                   instant query (query, time, timeout)
//	GET|POST /api/v1/query_range             range query (query, start, end, step, timeout)
//	GET|POST /api/v1/series                  series matching match[] (start, end, limit)
//	GET|POST /api/v1/labels                  label names (match[], start, end, limit)
//	GET      /api/v1/label/{name}/values     values of one label (match[], start, end, limit)
//	GET      /api/v1/metadata                metric metadata: always empty, Osprey keeps none
//	GET      /api/v1/status/buildinfo        version, for Grafana's data source check
//
// Queries are evaluated by Prometheus' own PromQL engine over the embedded
// TSDB (internal/metricstore). Parameters, time formats (RFC 3339 or Unix
// seconds), durations (Prometheus durations or seconds) and the JSON replies
// are Prometheus': {"status":"success","data":...} or
// {"status":"error","errorType":"bad_data","error":"..."}, with Prometheus'
// status codes (400 bad_data, 422 execution, 503 timeout, 499 canceled, 500
// internal).
package query

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/annotations"

	"github.com/osprey-aiops/osprey/internal/auth"
	"github.com/osprey-aiops/osprey/internal/buildinfo"
	"github.com/osprey-aiops/osprey/internal/ingest"
)

// Route patterns.
const (
	RouteQuery         = "GET /api/v1/query"
	RouteQueryPost     = "POST /api/v1/query"
	RouteQueryRange    = "GET /api/v1/query_range"
	RouteQueryRangePst = "POST /api/v1/query_range"
	RouteSeries        = "GET /api/v1/series"
	RouteSeriesPost    = "POST /api/v1/series"
	RouteLabels        = "GET /api/v1/labels"
	RouteLabelsPost    = "POST /api/v1/labels"
	RouteLabelValues   = "GET /api/v1/label/{name}/values"
	RouteMetadata      = "GET /api/v1/metadata"
	RouteBuildInfo     = "GET /api/v1/status/buildinfo"
)

// maxPoints is the most points per series a range query may return, as in
// Prometheus.
const maxPoints = 11000

// maxFormBytes bounds a POSTed form, which holds a query and a few times.
const maxFormBytes = 1 << 20

// Options configure an API. Queryable is required; zero limits take the
// defaults of config.Default.
type Options struct {
	// Queryable is the storage the queries read (the metric store).
	Queryable storage.Queryable
	// Timeout bounds one query's evaluation; a request's timeout parameter
	// may only shorten it.
	Timeout time.Duration
	// MaxSamples caps the samples one query holds in memory at once.
	MaxSamples int
	// LookbackDelta is how far back an instant selector looks.
	LookbackDelta time.Duration
	// MaxConcurrent caps the queries evaluated at once.
	MaxConcurrent int
	// Now is the default evaluation time of instant queries; default
	// time.Now.
	Now func() time.Time
	// Logger receives internal errors; default discards.
	Logger *slog.Logger
	// Registerer receives the PromQL engine's metrics
	// (prometheus_engine_*); nil leaves them unregistered.
	Registerer prometheus.Registerer
}

// API serves the query routes. It is safe for concurrent use.
type API struct {
	q       storage.Queryable
	parser  parser.Parser
	engine  *promql.Engine
	timeout time.Duration
	slots   chan struct{}
	now     func() time.Time
	log     *slog.Logger
}

// New returns an API over opts.Queryable.
func New(opts Options) (*API, error) {
	if opts.Queryable == nil {
		return nil, errors.New("query: no queryable")
	}
	if opts.Timeout < 0 || opts.MaxSamples < 0 || opts.LookbackDelta < 0 || opts.MaxConcurrent < 0 {
		return nil, fmt.Errorf("query: negative limit in %+v", opts)
	}
	if opts.Timeout == 0 {
		opts.Timeout = 20 * time.Second
	}
	if opts.MaxSamples == 0 {
		opts.MaxSamples = 50_000_000
	}
	if opts.LookbackDelta == 0 {
		opts.LookbackDelta = 5 * time.Minute
	}
	if opts.MaxConcurrent == 0 {
		opts.MaxConcurrent = 20
	}
	a := &API{
		q:       opts.Queryable,
		parser:  parser.NewParser(parser.Options{}),
		timeout: opts.Timeout,
		slots:   make(chan struct{}, opts.MaxConcurrent),
		now:     opts.Now,
		log:     opts.Logger,
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	a.engine = promql.NewEngine(promql.EngineOpts{
		Logger:               a.log,
		Reg:                  opts.Registerer,
		MaxSamples:           opts.MaxSamples,
		Timeout:              opts.Timeout,
		LookbackDelta:        opts.LookbackDelta,
		EnableAtModifier:     true,
		EnableNegativeOffset: true,
		// Evaluation interval for subqueries without a step, as
		// Prometheus' default global evaluation_interval.
		NoStepSubqueryIntervalFn: func(int64) int64 { return time.Minute.Milliseconds() },
		Parser:                   a.parser,
	})
	return a, nil
}

// Routes returns the routes to mount, each for the viewer role.
func (a *API) Routes() []ingest.Route {
	h := func(pattern string, f http.HandlerFunc) ingest.Route {
		return ingest.Route{Pattern: pattern, Role: auth.RoleViewer, Handler: f}
	}
	return []ingest.Route{
		h(RouteQuery, a.instantQuery), h(RouteQueryPost, a.instantQuery),
		h(RouteQueryRange, a.rangeQuery), h(RouteQueryRangePst, a.rangeQuery),
		h(RouteSeries, a.series), h(RouteSeriesPost, a.series),
		h(RouteLabels, a.labelNames), h(RouteLabelsPost, a.labelNames),
		h(RouteLabelValues, a.labelValues),
		h(RouteMetadata, a.metadata),
		h(RouteBuildInfo, a.buildInfo),
	}
}

// Error types of Prometheus' API.
const (
	errBadData  = "bad_data"
	errExec     = "execution"
	errTimeout  = "timeout"
	errCanceled = "canceled"
	errInternal = "internal"
)

// statusClientClosed is the non-standard status Prometheus replies with to a
// query whose client went away.
const statusClientClosed = 499

// apiError is an error reply.
type apiError struct {
	typ string
	err error
}

func badData(format string, args ...any) *apiError {
	return &apiError{typ: errBadData, err: fmt.Errorf(format, args...)}
}

// response is Prometheus' JSON envelope.
type response struct {
	Status    string   `json:"status"`
	Data      any      `json:"data,omitempty"`
	ErrorType string   `json:"errorType,omitempty"`
	Error     string   `json:"error,omitempty"`
	Warnings  []string `json:"warnings,omitempty"`
	Infos     []string `json:"infos,omitempty"`
}

// reply writes a success envelope with data and the query's annotations.
func reply(w http.ResponseWriter, data any, annos annotations.Annotations) {
	warnings, infos := annos.AsStrings("", 10, 10)
	writeJSON(w, http.StatusOK, response{Status: "success", Data: data, Warnings: warnings, Infos: infos})
}

// fail writes an error envelope with Prometheus' status code for its type.
func (a *API) fail(w http.ResponseWriter, e *apiError) {
	code := http.StatusInternalServerError
	switch e.typ {
	case errBadData:
		code = http.StatusBadRequest
	case errExec:
		code = http.StatusUnprocessableEntity
	case errTimeout:
		code = http.StatusServiceUnavailable
	case errCanceled:
		code = statusClientClosed
	default:
		a.log.Error("query failed", "err", e.err)
	}
	writeJSON(w, code, response{Status: "error", ErrorType: e.typ, Error: e.err.Error()})
}

// writeJSON writes v with the headers of every API reply.
func writeJSON(w http.ResponseWriter, code int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		code = http.StatusInternalServerError
		body, _ = json.Marshal(response{Status: "error", ErrorType: errInternal, Error: "encode response: " + err.Error()})
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

// queryData is the data of a query reply.
type queryData struct {
	ResultType parser.ValueType `json:"resultType"`
	Result     parser.Value     `json:"result"`
}

// instantQuery serves /api/v1/query.
func (a *API) instantQuery(w http.ResponseWriter, r *http.Request) {
	if e := parseForm(w, r); e != nil {
		a.fail(w, e)
		return
	}
	ts := a.now()
	if s := r.FormValue("time"); s != "" {
		var err error
		if ts, err = parseTime(s); err != nil {
			a.fail(w, badData("invalid parameter \"time\": %v", err))
			return
		}
	}
	ctx, cancel, e := a.queryContext(r)
	if e != nil {
		a.fail(w, e)
		return
	}
	defer cancel()
	qry, err := a.engine.NewInstantQuery(ctx, a.q, nil, r.FormValue("query"), ts)
	if err != nil {
		a.fail(w, badData("invalid parameter \"query\": %v", err))
		return
	}
	a.exec(ctx, w, qry)
}

// rangeQuery serves /api/v1/query_range.
func (a *API) rangeQuery(w http.ResponseWriter, r *http.Request) {
	if e := parseForm(w, r); e != nil {
		a.fail(w, e)
		return
	}
	start, err := parseTime(r.FormValue("start"))
	if err != nil {
		a.fail(w, badData("invalid parameter \"start\": %v", err))
		return
	}
	end, err := parseTime(r.FormValue("end"))
	if err != nil {
		a.fail(w, badData("invalid parameter \"end\": %v", err))
		return
	}
	if end.Before(start) {
		a.fail(w, badData("invalid parameter \"end\": end timestamp must not be before start time"))
		return
	}
	step, err := parseDuration(r.FormValue("step"))
	if err != nil {
		a.fail(w, badData("invalid parameter \"step\": %v", err))
		return
	}
	if step <= 0 {
		a.fail(w, badData("invalid parameter \"step\": zero or negative query resolution step widths are not accepted. Try a positive integer"))
		return
	}
	if end.Sub(start)/step > maxPoints {
		a.fail(w, badData("exceeded maximum resolution of %d points per timeseries. Try decreasing the query resolution (?step=XX)", maxPoints))
		return
	}
	ctx, cancel, e := a.queryContext(r)
	if e != nil {
		a.fail(w, e)
		return
	}
	defer cancel()
	qry, err := a.engine.NewRangeQuery(ctx, a.q, nil, r.FormValue("query"), start, end, step)
	if err != nil {
		a.fail(w, badData("invalid parameter \"query\": %v", err))
		return
	}
	a.exec(ctx, w, qry)
}

// queryContext applies the request's timeout parameter, which may only
// shorten the engine's.
func (a *API) queryContext(r *http.Request) (context.Context, context.CancelFunc, *apiError) {
	timeout := a.timeout
	if s := r.FormValue("timeout"); s != "" {
		d, err := parseDuration(s)
		if err != nil {
			return nil, nil, badData("invalid parameter \"timeout\": %v", err)
		}
		if d > 0 {
			timeout = min(timeout, d)
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	return ctx, cancel, nil
}

// exec evaluates qry within a concurrency slot and replies with its result.
func (a *API) exec(ctx context.Context, w http.ResponseWriter, qry promql.Query) {
	defer qry.Close()
	select {
	case a.slots <- struct{}{}:
		defer func() { <-a.slots }()
	case <-ctx.Done():
		a.fail(w, contextError(ctx.Err()))
		return
	}
	res := qry.Exec(ctx)
	if res.Err != nil {
		a.fail(w, execError(res.Err))
		return
	}
	val := res.Value
	// An empty matrix or vector is [] in Prometheus' replies, never null.
	switch v := val.(type) {
	case promql.Matrix:
		if v == nil {
			val = promql.Matrix{}
		}
	case promql.Vector:
		if v == nil {
			val = promql.Vector{}
		}
	}
	reply(w, queryData{ResultType: val.Type(), Result: val}, res.Warnings)
}

// execError classifies an evaluation error as Prometheus does.
func execError(err error) *apiError {
	var (
		canceled promql.ErrQueryCanceled
		timeout  promql.ErrQueryTimeout
		storErr  promql.ErrStorage
	)
	switch {
	case errors.As(err, &canceled):
		return &apiError{typ: errCanceled, err: err}
	case errors.As(err, &timeout), errors.Is(err, context.DeadlineExceeded):
		return &apiError{typ: errTimeout, err: err}
	case errors.Is(err, context.Canceled):
		return &apiError{typ: errCanceled, err: err}
	case errors.As(err, &storErr):
		return &apiError{typ: errInternal, err: err}
	}
	return &apiError{typ: errExec, err: err}
}

// contextError turns a done context's error into an API error.
func contextError(err error) *apiError {
	if errors.Is(err, context.DeadlineExceeded) {
		return &apiError{typ: errTimeout, err: errors.New("query timed out waiting for a free query slot")}
	}
	return &apiError{typ: errCanceled, err: err}
}

// parseForm parses the URL query and a POSTed form within maxFormBytes.
func parseForm(w http.ResponseWriter, r *http.Request) *apiError {
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	}
	if err := r.ParseForm(); err != nil {
		return badData("parse form: %v", err)
	}
	return nil
}

// Time bounds for "everything", as Prometheus' API defines them.
var (
	minTime = time.Unix(math.MinInt64/1000+62135596801, 0).UTC()
	maxTime = time.Unix(math.MaxInt64/1000-62135596801, 999999999).UTC()

	minTimeFormatted = minTime.Format(time.RFC3339Nano)
	maxTimeFormatted = maxTime.Format(time.RFC3339Nano)
)

// parseTime parses Unix seconds (with a fraction) or an RFC 3339 time.
func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, errors.New("missing value")
	}
	if t, err := strconv.ParseFloat(s, 64); err == nil {
		sec, frac := math.Modf(t)
		frac = math.Round(frac*1000) / 1000
		return time.Unix(int64(sec), int64(frac*float64(time.Second))).UTC(), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	switch s {
	case minTimeFormatted:
		return minTime, nil
	case maxTimeFormatted:
		return maxTime, nil
	}
	return time.Time{}, fmt.Errorf("cannot parse %q to a valid timestamp", s)
}

// parseTimeOr parses s, or returns def when s is empty.
func parseTimeOr(s string, def time.Time) (time.Time, error) {
	if s == "" {
		return def, nil
	}
	return parseTime(s)
}

// parseDuration parses seconds (with a fraction) or a Prometheus duration
// ("15s", "1h30m", "1d").
func parseDuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, errors.New("missing value")
	}
	if d, err := strconv.ParseFloat(s, 64); err == nil {
		ts := d * float64(time.Second)
		if ts > float64(math.MaxInt64) || ts < float64(math.MinInt64) {
			return 0, fmt.Errorf("cannot parse %q to a valid duration: it overflows int64", s)
		}
		return time.Duration(ts), nil
	}
	if d, err := model.ParseDuration(s); err == nil {
		return time.Duration(d), nil
	}
	return 0, fmt.Errorf("cannot parse %q to a valid duration", s)
}

// metadata serves /api/v1/metadata: Osprey keeps no metric metadata (TYPE
// and HELP lines), so the map is empty, which Grafana's metric browser
// handles.
func (a *API) metadata(w http.ResponseWriter, _ *http.Request) {
	reply(w, map[string]any{}, nil)
}

// buildInfoData is the data of /api/v1/status/buildinfo.
type buildInfoData struct {
	Version   string `json:"version"`
	Revision  string `json:"revision"`
	Branch    string `json:"branch"`
	BuildUser string `json:"buildUser"`
	BuildDate string `json:"buildDate"`
	GoVersion string `json:"goVersion"`
}

// buildInfo serves /api/v1/status/buildinfo, which Grafana reads to learn
// what the data source supports.
func (a *API) buildInfo(w http.ResponseWriter, _ *http.Request) {
	info := buildinfo.Get()
	reply(w, buildInfoData{Version: info.Version, Revision: info.Revision, GoVersion: info.GoVersion}, nil)
}

// sortedStrings returns the keys of set, sorted, as a non-nil slice.
func sortedStrings(set map[string]struct{}) []string {
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// matcherSets parses the match[] parameters.
func (a *API) matcherSets(r *http.Request) ([][]*labels.Matcher, *apiError) {
	var sets [][]*labels.Matcher
	for _, s := range r.Form["match[]"] {
		m, err := a.parser.ParseMetricSelector(s)
		if err != nil {
			return nil, badData("invalid parameter \"match[]\": %v", err)
		}
		sets = append(sets, m)
	}
	return sets, nil
}
