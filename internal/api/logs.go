package api

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/auth"
	"github.com/osprey-aiops/osprey/internal/evidence"
)

// Routes of the recent-evidence windows.
const (
	routeLogs  = "GET /api/v1/logs"
	routeSpans = "GET /api/v1/spans"
)

// Bounds of the evidence queries.
const (
	defaultEvidenceLimit = 100
	maxEvidenceLimit     = 5000
	// maxSelectors bounds the match[] parameters of one request.
	maxSelectors = 16
	// maxEvidenceParamBytes bounds each text parameter.
	maxEvidenceParamBytes = 4096
	// incidentMargin widens an incident's time range on either side when
	// its lines are asked for: the lines just before it opened are often
	// the cause.
	incidentMargin = 5 * time.Minute
	// streamLabelSource is the label naming the receiver (or the mining
	// source) of a log stream.
	streamLabelSource = "source"
)

// mountEvidence adds GET /api/v1/logs and GET /api/v1/spans for the
// windows that are set.
func (a *API) mountEvidence(logs *evidence.LogWindow, spans *evidence.SpanWindow) {
	if logs != nil {
		a.mux.Handle(routeLogs, a.auth.Require(auth.RoleViewer, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			a.listLogs(w, r, logs)
		})))
	}
	if spans != nil {
		a.mux.Handle(routeSpans, a.auth.Require(auth.RoleViewer, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			a.listSpans(w, r, spans)
		})))
	}
}

// logsResponse is the reply to GET /api/v1/logs.
type logsResponse struct {
	Lines []evidence.Line `json:"lines"`
	// Matched counts the lines that matched; Truncated is true when the
	// limit left some of them out.
	Matched   int  `json:"matched"`
	Truncated bool `json:"truncated"`
	// Start and End are the time range read, when one was given or
	// derived from an incident.
	Start time.Time `json:"start,omitzero"`
	End   time.Time `json:"end,omitzero"`
}

// listLogs serves GET /api/v1/logs?stream=&match[]=&incident=&anomaly=&start=&end=&q=&limit=&direction=:
// the recent lines of the streams selected, from the window of
// logs.recent. stream is an exact label set ({source="loki",app="api"});
// match[] are Prometheus selectors, any of which may match; incident=ID
// reads the incident's time range (5 minutes either side) and, unless
// stream or match[] says otherwise, the streams of its services;
// anomaly=ID likewise the anomaly's range and streams (anomalyStreams). start and
// end are RFC 3339 times or durations before now; q keeps lines containing
// it; direction=backward (default) returns the newest lines first,
// forward the oldest first.
func (a *API) listLogs(w http.ResponseWriter, r *http.Request, win *evidence.LogWindow) {
	q := r.URL.Query()
	if rerr := checkEvidenceParams(q, []string{"match[]"}, "stream", "incident", "anomaly", "start", "end", "q", "limit", "direction"); rerr != nil {
		writeRequestError(w, rerr)
		return
	}
	lq := evidence.LogQuery{Contains: q.Get("q")}
	var err error
	if lq.Limit, err = evidenceLimit(q.Get("limit")); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	switch d := q.Get("direction"); d {
	case "", "backward":
	case "forward":
		lq.Forward = true
	default:
		writeError(w, http.StatusBadRequest, fmt.Sprintf("direction: %q is not forward or backward", truncate(d, 64)))
		return
	}
	p := parser.NewParser(parser.Options{})
	if s := q.Get("stream"); s != "" {
		ms, err := p.ParseMetricSelector(s)
		if err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("stream: %v", err))
			return
		}
		lq.Stream = osprey.Labels{}
		for _, m := range ms {
			if m.Type != labels.MatchEqual {
				writeError(w, http.StatusBadRequest, fmt.Sprintf("stream: %s: a stream is named by = matchers only; use match[] to select", m))
				return
			}
			lq.Stream[m.Name] = m.Value
		}
	}
	for _, s := range q["match[]"] {
		ms, err := p.ParseMetricSelector(s)
		if err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("match[]: %v", err))
			return
		}
		lq.Selectors = append(lq.Selectors, ms)
	}
	now := a.now()
	if lq.Start, lq.End, err = timeRange(q, now); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if id := q.Get("anomaly"); id != "" {
		an, err := a.store.GetAnomaly(r.Context(), id)
		if a.failed(w, err, "get", "anomaly", id) {
			return
		}
		around(&lq, an.StartsAt, an.EndsAt)
		if lq.Stream == nil && len(lq.Selectors) == 0 {
			lq.Selectors = anomalyStreams(&an)
		}
	}
	if id := q.Get("incident"); id != "" {
		inc, err := a.store.GetIncident(r.Context(), id)
		if a.failed(w, err, "get", "incident", id) {
			return
		}
		around(&lq, inc.OpenedAt, inc.ResolvedAt)
		if lq.Stream == nil && len(lq.Selectors) == 0 {
			if svcs := incidentServices(&inc); len(svcs) > 0 {
				lq.Selectors = [][]*labels.Matcher{{serviceMatcher(svcs)}}
			}
		}
	}
	res := win.Query(lq)
	if res.Lines == nil {
		res.Lines = []evidence.Line{}
	}
	writeJSON(w, http.StatusOK, logsResponse{Lines: res.Lines, Matched: res.Matched, Truncated: res.Matched > len(res.Lines),
		Start: lq.Start, End: lq.End})
}

// spansResponse is the reply to GET /api/v1/spans.
type spansResponse struct {
	Spans     []evidence.SpanRecord `json:"spans"`
	Matched   int                   `json:"matched"`
	Truncated bool                  `json:"truncated"`
}

// listSpans serves GET /api/v1/spans?service=&trace_id=&error=&min_duration=&start=&end=&limit=:
// the recent spans from the window of otlp.recent_spans, the latest
// started first.
func (a *API) listSpans(w http.ResponseWriter, r *http.Request, win *evidence.SpanWindow) {
	q := r.URL.Query()
	if rerr := checkEvidenceParams(q, nil, "service", "trace_id", "error", "min_duration", "start", "end", "limit"); rerr != nil {
		writeRequestError(w, rerr)
		return
	}
	sq := evidence.SpanQuery{Service: q.Get("service"), TraceID: q.Get("trace_id")}
	var err error
	if sq.Limit, err = evidenceLimit(q.Get("limit")); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	switch e := q.Get("error"); e {
	case "", "false":
	case "true":
		sq.ErrorsOnly = true
	default:
		writeError(w, http.StatusBadRequest, fmt.Sprintf("error: %q is not true or false", truncate(e, 64)))
		return
	}
	if s := q.Get("min_duration"); s != "" {
		if sq.MinDuration, err = time.ParseDuration(s); err != nil || sq.MinDuration < 0 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("min_duration: %q is not a duration such as 500ms", truncate(s, 64)))
			return
		}
	}
	if sq.Start, sq.End, err = timeRange(q, a.now()); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	res := win.Query(sq)
	if res.Spans == nil {
		res.Spans = []evidence.SpanRecord{}
	}
	writeJSON(w, http.StatusOK, spansResponse{Spans: res.Spans, Matched: res.Matched, Truncated: res.Matched > len(res.Spans)})
}

// checkEvidenceParams is checkParams, except that the parameters in multi
// may be given up to maxSelectors times; every value is bounded in size.
func checkEvidenceParams(q url.Values, multi []string, single ...string) *requestError {
	for k, vs := range q {
		if slices.Contains(multi, k) {
			if len(vs) > maxSelectors {
				return badRequest(reasonMalformed, "%s: given %d times, at most %d", k, len(vs), maxSelectors)
			}
		} else if !slices.Contains(single, k) {
			return badRequest(reasonMalformed, "unknown query parameter %q (allowed: %s)", k, strings.Join(append(slices.Clone(single), multi...), ", "))
		} else if len(vs) > 1 {
			return badRequest(reasonMalformed, "%s: given %d times, want once", k, len(vs))
		}
		for _, v := range vs {
			if len(v) > maxEvidenceParamBytes {
				return badRequest(reasonMalformed, "%s: at most %d bytes", k, maxEvidenceParamBytes)
			}
		}
	}
	return nil
}

// evidenceLimit parses limit: "" is defaultEvidenceLimit, larger values
// than maxEvidenceLimit are capped.
func evidenceLimit(s string) (int, error) {
	n, err := parseLimit(s)
	if err != nil {
		return 0, err
	}
	if n == 0 {
		return defaultEvidenceLimit, nil
	}
	return min(n, maxEvidenceLimit), nil
}

// timeRange parses the start and end parameters (RFC 3339 times, or
// durations before now); "" is unbounded.
func timeRange(q url.Values, now time.Time) (start, end time.Time, err error) {
	for _, p := range []struct {
		name string
		t    *time.Time
	}{{"start", &start}, {"end", &end}} {
		s := q.Get(p.name)
		if *p.t, err = parseSince(s, now); err != nil {
			return start, end, fmt.Errorf("%s: %q is neither an RFC 3339 time nor a positive duration such as 1h", p.name, truncate(s, 64))
		}
	}
	if !start.IsZero() && !end.IsZero() && end.Before(start) {
		return start, end, fmt.Errorf("end %s is before start %s", end.Format(time.RFC3339), start.Format(time.RFC3339))
	}
	return start, end, nil
}

// around sets the range of q that start and end do not set: from
// incidentMargin before from to incidentMargin after to (to zero: open).
func around(q *evidence.LogQuery, from, to time.Time) {
	if q.Start.IsZero() {
		q.Start = from.Add(-incidentMargin)
	}
	if q.End.IsZero() && !to.IsZero() {
		q.End = to.Add(incidentMargin)
	}
}

// anomalyStreams selects the streams an anomaly was found in: for a log
// anomaly its source (and service), otherwise its service; nil (every
// stream) when it names neither.
func anomalyStreams(an *osprey.Anomaly) [][]*labels.Matcher {
	var sel []*labels.Matcher
	if src := an.Labels[streamLabelSource]; an.Kind == osprey.AnomalyLog && src != "" {
		sel = append(sel, labels.MustNewMatcher(labels.MatchEqual, streamLabelSource, src))
	}
	if svc := an.Labels[osprey.LabelService]; svc != "" {
		sel = append(sel, labels.MustNewMatcher(labels.MatchEqual, osprey.LabelService, svc))
	}
	if len(sel) == 0 {
		return nil
	}
	return [][]*labels.Matcher{sel}
}

// incidentServices returns the services an incident and its members name.
func incidentServices(inc *osprey.Incident) []string {
	var out []string
	add := func(s string) {
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	add(inc.Labels[osprey.LabelService])
	for _, m := range inc.Members {
		add(m.Labels[osprey.LabelService])
	}
	slices.Sort(out)
	return out
}

// serviceMatcher matches the service label against any of svcs.
func serviceMatcher(svcs []string) *labels.Matcher {
	quoted := make([]string, len(svcs))
	for i, s := range svcs {
		quoted[i] = regexp.QuoteMeta(s)
	}
	return labels.MustNewMatcher(labels.MatchRegexp, osprey.LabelService, strings.Join(quoted, "|"))
}
