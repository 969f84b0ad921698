package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/osprey-aiops/osprey/internal/auth"
	"github.com/osprey-aiops/osprey/internal/ingest"
)

func TestMetrics(t *testing.T) {
	e := newEnv(t, withTokens)
	e.ingest(t, "a", "b")
	e.do(http.MethodPost, "/api/v1/events", `[{"name": "a", "source": "grafana"}, {"name": "b", "source": "grafana"}]`, bearer(operatorToken)...)
	e.do(http.MethodPost, "/api/v1/events", `[]`, bearer(operatorToken)...)
	e.do(http.MethodPost, "/api/v1/events", `[{"name": "a"}]`)
	e.do(http.MethodGet, "/nowhere", "")

	want := `
# HELP osprey_events_accepted_total Events stored, by source (at most 64 sources; the rest count as "other").
# TYPE osprey_events_accepted_total counter
osprey_events_accepted_total{source="api"} 2
osprey_events_accepted_total{source="grafana"} 2
`
	if err := testutil.GatherAndCompare(e.reg, strings.NewReader(want), "osprey_events_accepted_total"); err != nil {
		t.Error(err)
	}
	counts := []struct {
		c    prometheus.Collector
		want float64
	}{
		{e.api.metrics.requests.WithLabelValues(routePostEvents, "202"), 3},
		{e.api.metrics.requests.WithLabelValues(routePostEvents, "400"), 1},
		{e.api.metrics.requests.WithLabelValues(routePostEvents, "401"), 1},
		{e.api.metrics.requests.WithLabelValues(routeUnmatched, "404"), 1},
		{e.api.metrics.rejected.WithLabelValues(reasonEmpty), 1},
		{e.api.metrics.rejected.WithLabelValues(reasonUnauthorized), 1},
	}
	for i, c := range counts {
		if got := testutil.ToFloat64(c.c); got != c.want {
			t.Errorf("count %d = %v, want %v", i, got, c.want)
		}
	}
	if n := testutil.CollectAndCount(e.api.metrics.duration, "osprey_http_request_duration_seconds"); n != 2 {
		t.Errorf("duration histograms = %d, want 2 (POST events, unmatched)", n)
	}
	if err := testutil.GatherAndCompare(e.reg, strings.NewReader(`
# HELP osprey_auth_failures_total API requests refused by authentication or authorisation, by reason.
# TYPE osprey_auth_failures_total counter
osprey_auth_failures_total{reason="cross_site"} 0
osprey_auth_failures_total{reason="forbidden"} 0
osprey_auth_failures_total{reason="malformed"} 0
osprey_auth_failures_total{reason="missing"} 1
osprey_auth_failures_total{reason="unknown_token"} 0
`), "osprey_auth_failures_total"); err != nil {
		t.Error(err)
	}
}

// gatheredValue returns the sum of the counter or gauge values of the metric
// family name in reg, failing the test when reg cannot be gathered.
func gatheredValue(tb testing.TB, reg prometheus.Gatherer, name string, labels ...string) float64 {
	tb.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		tb.Fatalf("gather: %v", err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue metric
				}
			}
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return sum
}

func TestIngestStatus(t *testing.T) {
	e := newEnv(t, withTokens)
	e.do(http.MethodPost, "/api/v1/events", `[{"name": "a"}, {"name": "b"}]`, bearer(operatorToken)...)
	e.do(http.MethodPost, "/api/v1/events", `[{"name": "a", "labels": {"a": "1", "b": "2", "c": "3"}}]`, bearer(operatorToken)...)
	e.do(http.MethodPost, "/api/v1/events", `[{"name": "a"}]`, bearer(viewerToken)...)

	rec := e.do(http.MethodGet, "/api/v1/status/ingest", "")
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("status without a token = %d, want 401", rec.Code)
	}
	rec = e.do(http.MethodGet, "/api/v1/status/ingest", "", bearer(viewerToken)...)
	if rec.Code != http.StatusOK {
		t.Fatalf("status = %d: %s", rec.Code, rec.Body)
	}
	var body ingest.StatusResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("decode %s: %v", rec.Body, err)
	}
	got := body.Receivers[eventsReceiver]
	if got.Requests != (ingest.RequestCounts{Accepted: 1, Rejected: 2}) || got.Items != (ingest.ItemCounts{Accepted: 2}) ||
		got.Rejected[ingest.ReasonLabelLimit] != 1 || got.Rejected[ingest.ReasonForbidden] != 1 {
		t.Errorf("events_api status = %+v", got)
	}
	if n := gatheredValue(t, e.reg, "osprey_ingest_rejected_total", "receiver", eventsReceiver, "reason", "label_limit"); n != 1 {
		t.Errorf("osprey_ingest_rejected_total{label_limit} = %v, want 1", n)
	}
	if n := gatheredValue(t, e.reg, "osprey_events_rejected_total", "reason", "label_limit"); n != 1 {
		t.Errorf("osprey_events_rejected_total{label_limit} = %v, want 1", n)
	}
}

func TestExtraRoutes(t *testing.T) {
	stats := ingest.NewStats()
	recv := stats.Receiver("test")
	hello := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	route := ingest.Route{Pattern: "POST /api/v1/hello", Role: auth.RoleOperator, Handler: hello, Receiver: recv}
	e := newEnv(t, withTokens, func(o *Options) { o.Stats = stats; o.Routes = []ingest.Route{route} })
	for _, tc := range []struct {
		token string
		want  int
	}{{"", 401}, {viewerToken, 403}, {operatorToken, 204}} {
		var h []string
		if tc.token != "" {
			h = bearer(tc.token)
		}
		if rec := e.do(http.MethodPost, "/api/v1/hello", "", h...); rec.Code != tc.want {
			t.Errorf("token %q: code = %d, want %d", tc.token, rec.Code, tc.want)
		}
	}
	snap := recv.Snapshot()
	if snap.Rejected[ingest.ReasonUnauthorized] != 1 || snap.Rejected[ingest.ReasonForbidden] != 1 {
		t.Errorf("auth refusals not counted on the receiver: %+v", snap)
	}
	if n := gatheredValue(t, e.reg, "osprey_http_requests_total", "route", "POST /api/v1/hello", "code", "204"); n != 1 {
		t.Errorf("route metric = %v, want 1", n)
	}

	for _, tc := range []struct {
		name  string
		route ingest.Route
		want  string
	}{
		{"conflict", ingest.Route{Pattern: "POST /api/v1/events", Role: auth.RoleOperator, Handler: hello}, "conflicts"},
		{"no handler", ingest.Route{Pattern: "POST /x", Role: auth.RoleOperator}, "no handler"},
		{"no role", ingest.Route{Pattern: "POST /x", Handler: hello}, "needs a role"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(Options{Store: e.store, Auth: auth.New(nil), Routes: []ingest.Route{tc.route}})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New() = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
