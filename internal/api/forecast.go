package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/auth"
	"github.com/osprey-aiops/osprey/internal/detect/forecast"
)

// routeForecast is the forecast route.
const routeForecast = "GET /api/v1/forecast"

// Limits of an ad hoc forecast.
const (
	defaultForecastLookback = 6 * time.Hour
	maxForecastLookback     = 31 * 24 * time.Hour
	defaultForecastHorizon  = 24 * time.Hour
	maxForecastSeries       = 1000
	defaultForecastSamples  = 5_000_000
)

// ForecastSource is what GET /api/v1/forecast serves.
type ForecastSource struct {
	// Live is the streaming forecaster whose forecasts are listed; nil
	// (forecasting disabled) lists none.
	Live *forecast.Forecaster
	// Config is the model configuration of ad hoc fits: the forecaster's.
	Config forecast.Config
	// Metrics is the TSDB ad hoc fits read; nil refuses them.
	Metrics storage.Queryable
	// MaxSamples bounds the samples one ad hoc fit reads (0: 5,000,000).
	MaxSamples int
}

// forecastResponse is the reply to GET /api/v1/forecast.
type forecastResponse struct {
	// Source is "live" (the streaming forecaster's) or "query" (fitted
	// for this request).
	Source    string         `json:"source"`
	Forecasts []forecastView `json:"forecasts"`
}

// forecastRuleView is a rule with its durations written as people do.
type forecastRuleView struct {
	Metric    string  `json:"metric"`
	Direction string  `json:"direction"`
	Threshold float64 `json:"threshold"`
	Percent   bool    `json:"percent,omitempty"`
	Capacity  string  `json:"capacity,omitempty"`
	Horizon   string  `json:"horizon"`
	Critical  string  `json:"critical,omitempty"`
}

// forecastView is one series' forecast.
type forecastView struct {
	Labels osprey.Labels    `json:"labels"`
	Rule   forecastRuleView `json:"rule"`
	Status forecast.Status  `json:"status"`
	// AnomalyID and Severity are the open forecast anomaly's (live only).
	AnomalyID string `json:"anomalyId,omitempty"`
	Severity  string `json:"severity,omitempty"`
	// At is the time of the last sample; Current its value, Level the
	// fitted value then; Threshold the value forecast.
	At        time.Time `json:"at"`
	Current   float64   `json:"current"`
	Level     float64   `json:"level"`
	Threshold float64   `json:"threshold"`
	Capacity  float64   `json:"capacity,omitempty"`
	// Slope per hour, with its confidence bounds.
	SlopePerHour     float64 `json:"slopePerHour"`
	SlopeLowPerHour  float64 `json:"slopeLowPerHour"`
	SlopeHighPerHour float64 `json:"slopeHighPerHour"`
	ResidualSD       float64 `json:"residualSd"`
	Samples          int64   `json:"samples"`
	// Since is the start of the fit; Window its equivalent window.
	Since         time.Time `json:"since"`
	Window        string    `json:"window"`
	WindowSeconds float64   `json:"windowSeconds"`
	// CrossesAt is the forecast crossing; Earliest and Latest its bounds.
	CrossesAt time.Time `json:"crossesAt,omitzero"`
	Earliest  time.Time `json:"earliest,omitzero"`
	Latest    time.Time `json:"latest,omitzero"`
	// TimeLeft is from the request's time to CrossesAt.
	TimeLeft        string  `json:"timeLeft,omitempty"`
	TimeLeftSeconds float64 `json:"timeLeftSeconds,omitempty"`
	// The fitted value at the horizon, with its bounds.
	ExpectedAtHorizon float64 `json:"expectedAtHorizon"`
	LowerAtHorizon    float64 `json:"lowerAtHorizon"`
	UpperAtHorizon    float64 `json:"upperAtHorizon"`
	Reason            string  `json:"reason"`
}

func newForecastView(f *forecast.Forecast, now time.Time) forecastView {
	p := &f.Prediction
	v := forecastView{
		Labels: f.Labels,
		Rule: forecastRuleView{Metric: f.Rule.Metric, Direction: string(f.Rule.Direction), Threshold: f.Rule.Threshold,
			Percent: f.Rule.Percent, Capacity: f.Rule.Capacity, Horizon: forecast.FormatDuration(f.Rule.Horizon)},
		Status: p.Status, AnomalyID: f.AnomalyID, Severity: f.Severity,
		At: p.At, Current: p.Current, Level: p.Level, Threshold: p.Threshold, Capacity: p.Capacity,
		SlopePerHour: p.SlopePerHour, SlopeLowPerHour: p.SlopeLowPerHour, SlopeHighPerHour: p.SlopeHighPerHour,
		ResidualSD: p.ResidualSD, Samples: p.Samples, Since: p.Since,
		Window: forecast.FormatDuration(p.Window), WindowSeconds: p.Window.Seconds(),
		CrossesAt: p.CrossesAt, Earliest: p.Earliest, Latest: p.Latest,
		ExpectedAtHorizon: p.ExpectedAtHorizon, LowerAtHorizon: p.LowerAtHorizon, UpperAtHorizon: p.UpperAtHorizon,
		Reason: f.Reason,
	}
	if f.Rule.Critical > 0 {
		v.Rule.Critical = forecast.FormatDuration(f.Rule.Critical)
	}
	if !p.CrossesAt.IsZero() {
		left := max(0, p.CrossesAt.Sub(now))
		v.TimeLeft, v.TimeLeftSeconds = forecast.FormatDuration(left), left.Seconds()
	}
	return v
}

// mountForecast adds GET /api/v1/forecast; src nil leaves it out.
func (a *API) mountForecast(src *ForecastSource) {
	if src == nil {
		return
	}
	a.mux.Handle(routeForecast, a.auth.Require(auth.RoleViewer, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.getForecast(w, r, src)
	})))
}

// getForecast serves GET /api/v1/forecast. Without query it lists the
// live forecasts (all=true: every series forecast, whatever its status);
// with query=<selector>&threshold=&horizon=&lookback=&direction= it fits
// the model to the TSDB's samples of the selected series.
func (a *API) getForecast(w http.ResponseWriter, r *http.Request, src *ForecastSource) {
	q := r.URL.Query()
	if rerr := checkParams(q, "all", "query", "threshold", "horizon", "lookback", "direction"); rerr != nil {
		writeRequestError(w, rerr)
		return
	}
	now := a.now()
	if q.Get("query") == "" {
		for _, k := range []string{"threshold", "horizon", "lookback", "direction"} {
			if q.Has(k) {
				writeRequestError(w, badRequest(reasonMalformed, "%s: only with query", k))
				return
			}
		}
		all, err := parseBoolParam(q, "all")
		if err != nil {
			writeRequestError(w, badRequest(reasonMalformed, "%v", err))
			return
		}
		resp := forecastResponse{Source: "live", Forecasts: []forecastView{}}
		if src.Live != nil {
			for _, f := range src.Live.Forecasts(all) {
				resp.Forecasts = append(resp.Forecasts, newForecastView(&f, now))
			}
		}
		writeJSON(w, http.StatusOK, resp)
		return
	}
	if q.Has("all") {
		writeRequestError(w, badRequest(reasonMalformed, "all: only without query"))
		return
	}
	req, rerr := parseForecastQuery(q, src.Config.Rules)
	if rerr != nil {
		writeRequestError(w, rerr)
		return
	}
	if src.Metrics == nil {
		writeError(w, http.StatusNotImplemented, "ad hoc forecasts need the TSDB, which this server does not have")
		return
	}
	fs, err := fitRange(r.Context(), src, req, now)
	if err != nil {
		var rerr *requestError
		if errors.As(err, &rerr) {
			writeRequestError(w, rerr)
			return
		}
		a.log.Error("ad hoc forecast", "query", req.query, "err", err)
		writeError(w, http.StatusInternalServerError, "read samples: "+err.Error())
		return
	}
	resp := forecastResponse{Source: "query", Forecasts: make([]forecastView, 0, len(fs))}
	for i := range fs {
		resp.Forecasts = append(resp.Forecasts, newForecastView(&fs[i], now))
	}
	writeJSON(w, http.StatusOK, resp)
}

func parseBoolParam(q url.Values, k string) (bool, error) {
	s := q.Get(k)
	if s == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, fmt.Errorf("%s: %q is not true or false", k, s)
	}
	return b, nil
}

// forecastQuery is a parsed ad hoc forecast request.
type forecastQuery struct {
	query    string
	matchers []*labels.Matcher
	// rule is the rule the fit is judged by; its Direction is empty when
	// it is to be inferred per series (down when the series is above the
	// threshold).
	rule     forecast.Rule
	lookback time.Duration
}

// parseForecastQuery parses the parameters of an ad hoc forecast. Without
// threshold, the selector must name (__name__="...") a metric with a rule
// (of rules) and an absolute threshold; its threshold, direction and
// horizon are the defaults.
func parseForecastQuery(q url.Values, rules []forecast.Rule) (forecastQuery, *requestError) {
	fq := forecastQuery{query: q.Get("query"), lookback: defaultForecastLookback}
	m, err := parser.NewParser(parser.Options{}).ParseMetricSelector(fq.query)
	if err != nil {
		return fq, badRequest(reasonMalformed, "query: %v", err)
	}
	fq.matchers = m
	fq.rule.Horizon = defaultForecastHorizon
	var name string
	for _, mt := range m {
		if mt.Name == model.MetricNameLabel && mt.Type == labels.MatchEqual {
			name = mt.Value
		}
	}
	fq.rule.Metric = name
	if s := q.Get("threshold"); s != "" {
		v, pc, err := forecast.ParseThreshold(s)
		if err != nil {
			return fq, badRequest(reasonMalformed, "%v", err)
		}
		if pc {
			return fq, badRequest(reasonMalformed, "threshold %q: a percentage needs a capacity series; give the value itself", s)
		}
		fq.rule.Threshold = v
	} else {
		var found bool
		for _, r := range rules {
			if r.Metric == name && name != "" && !r.Percent {
				fq.rule, found = r, true
				fq.rule.Capacity = ""
			}
		}
		if !found {
			return fq, badRequest(reasonMalformed, "threshold: required unless the query selects a metric with a forecast rule and an absolute threshold")
		}
	}
	if s := q.Get("direction"); s != "" {
		d := forecast.Direction(s)
		if d != forecast.Down && d != forecast.Up {
			return fq, badRequest(reasonMalformed, "direction: %q is neither down nor up", s)
		}
		fq.rule.Direction = d
	} else if q.Has("threshold") {
		fq.rule.Direction = ""
	}
	for _, p := range []struct {
		key string
		dst *time.Duration
		max time.Duration
	}{{"horizon", &fq.rule.Horizon, 366 * 24 * time.Hour}, {"lookback", &fq.lookback, maxForecastLookback}} {
		s := q.Get(p.key)
		if s == "" {
			continue
		}
		d, err := model.ParseDuration(s)
		if err != nil || d <= 0 || time.Duration(d) > p.max {
			return fq, badRequest(reasonMalformed, "%s: %q is not a duration from 1ms to %s (such as 6h or 7d)", p.key, s, forecast.FormatDuration(p.max))
		}
		*p.dst = time.Duration(d)
	}
	if fq.rule.Critical > fq.rule.Horizon {
		fq.rule.Critical = fq.rule.Horizon
	}
	return fq, nil
}

// fitRange reads the selected series over the lookback and fits each.
func fitRange(ctx context.Context, src *ForecastSource, fq forecastQuery, now time.Time) ([]forecast.Forecast, error) {
	maxSamples := src.MaxSamples
	if maxSamples <= 0 {
		maxSamples = defaultForecastSamples
	}
	mint, maxt := now.Add(-fq.lookback).UnixMilli(), now.UnixMilli()
	qr, err := src.Metrics.Querier(mint, maxt)
	if err != nil {
		return nil, err
	}
	defer qr.Close()
	ss := qr.Select(ctx, true, nil, fq.matchers...)
	var out []forecast.Forecast
	total := 0
	var it chunkenc.Iterator
	for ss.Next() {
		if len(out) >= maxForecastSeries {
			return nil, badRequest(reasonTooMany, "query selects more than %d series; narrow it", maxForecastSeries)
		}
		s := ss.At()
		ls := make(osprey.Labels, s.Labels().Len())
		s.Labels().Range(func(l labels.Label) { ls[l.Name] = l.Value })
		var samples []osprey.Sample
		it = s.Iterator(it)
		for vt := it.Next(); vt != chunkenc.ValNone; vt = it.Next() {
			if vt != chunkenc.ValFloat {
				continue
			}
			t, v := it.At()
			samples = append(samples, osprey.Sample{TimestampMs: t, Value: v})
		}
		if err := it.Err(); err != nil {
			return nil, err
		}
		total += len(samples)
		if total > maxSamples {
			return nil, badRequest(reasonTooMany, "query reads more than %d samples; narrow it or shorten the lookback", maxSamples)
		}
		if len(samples) == 0 {
			continue
		}
		rule := fq.rule
		rule.Metric = ls[osprey.LabelMetric]
		if rule.Direction == "" {
			rule.Direction = forecast.Up
			if samples[len(samples)-1].Value > rule.Threshold {
				rule.Direction = forecast.Down
			}
		}
		p := src.Config.Fit(samples, &rule, rule.Threshold, 0)
		out = append(out, forecast.Forecast{Labels: ls, Rule: rule, Prediction: p, Reason: p.Reason(&rule)})
	}
	if err := ss.Err(); err != nil {
		return nil, err
	}
	forecast.SortForecasts(out)
	return out, nil
}
