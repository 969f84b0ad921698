package api

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestMetrics(t *testing.T) {
	e := newEnv(t, withTokens)
	e.ingest(t, "a", "b")
	e.do(http.MethodPost, "/api/v1/events", `[{"name": "a", "source": "grafana"}, {"name": "b", "source": "grafana"}]`, bearer(operatorToken)...)
	e.do(http.MethodPost, "/api/v1/events", `[]`, bearer(operatorToken)...)
	e.do(http.MethodPost, "/api/v1/events", `[{"name": "a"}]`)
	e.do(http.MethodGet, "/nowhere", "")

	want := `
# HELP osprey_events_accepted_total Events stored through the API, by source (at most 64 sources; the rest count as "other").
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
osprey_auth_failures_total{reason="forbidden"} 0
osprey_auth_failures_total{reason="malformed"} 0
osprey_auth_failures_total{reason="missing"} 1
osprey_auth_failures_total{reason="unknown_token"} 0
`), "osprey_auth_failures_total"); err != nil {
		t.Error(err)
	}
}

func TestSourceLabelBound(t *testing.T) {
	m := newMetrics()
	for i := range maxSourceLabels + 10 {
		m.acceptedFor(fmt.Sprintf("source-%d", i)).Inc()
	}
	if n := testutil.CollectAndCount(m.accepted); n != maxSourceLabels+1 {
		t.Errorf("%d source series, want %d", n, maxSourceLabels+1)
	}
	if n := testutil.ToFloat64(m.accepted.WithLabelValues(otherSource)); n != 10 {
		t.Errorf("other = %v, want 10", n)
	}
}
