package scrape

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/osprey-aiops/osprey/internal/config"
	"github.com/osprey-aiops/osprey/internal/ingest"
	"github.com/osprey-aiops/osprey/internal/metricstore"
)

// TestScrapeSeriesPerMetric: the samples of a new series of a metric name at
// tsdb.max_series_per_metric are rejected one by one and counted as
// series_per_metric; the rest of the scrape is stored, a NaN value too (with
// a non_finite_value warning).
func TestScrapeSeriesPerMetric(t *testing.T) {
	st, err := metricstore.New(metricstore.Options{Dir: t.TempDir(), MaxSeries: 100, MaxSeriesPerMetric: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer st.Shutdown(context.Background())
	e := &env{store: st, stats: ingest.NewStats(), reg: prometheus.NewRegistry()}

	app := prometheus.NewRegistry()
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "app_requests_total", Help: "Requests."}, []string{"code"})
	for _, code := range []string{"200", "404", "500"} {
		c.WithLabelValues(code).Inc()
	}
	nan := prometheus.NewGauge(prometheus.GaugeOpts{Name: "app_ratio", Help: "Not yet known."})
	nan.Set(math.NaN())
	app.MustRegister(c, nan)
	srv := httptest.NewServer(promhttp.HandlerFor(app, promhttp.HandlerOpts{}))
	defer srv.Close()
	now := testNow
	s := e.scraper(t, []config.ScrapeJobConfig{{
		JobName:       "app",
		StaticConfigs: []config.StaticConfig{{Targets: []string{strings.TrimPrefix(srv.URL, "http://")}}},
	}}, &now, nil)
	rep := s.loops[0].scrape(context.Background())
	if !rep.Up || rep.Stored != 3 || rep.Rejected != 1 {
		t.Fatalf("report %+v, want 3 stored and 1 rejected", rep)
	}
	if got := e.query(t, "app_requests_total"); len(got) != 2 {
		t.Errorf("stored %v, want two series", got)
	}
	if _, pts := only(t, e.query(t, "up")); len(pts) != 1 || pts[0].v != 1 {
		t.Errorf("up = %v", pts)
	}
	snap := e.stats.Snapshot()[ReceiverName]
	if snap.Rejected[ingest.ReasonSeriesPerMetric] != 1 || snap.Items.Accepted != 3 || snap.Requests.Partial != 1 ||
		snap.Warnings[ingest.WarnNonFinite] != 1 {
		t.Errorf("stats %+v", snap)
	}
}

// TestScrapeTimestampReasons: samples with their own timestamps (in the
// exposition) are rejected one by one as the TSDB classifies them:
// out_of_order, duplicate and too_old.
func TestScrapeTimestampReasons(t *testing.T) {
	e := newEnv(t)
	var body string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		_, _ = w.Write([]byte(body))
	}))
	defer srv.Close()
	now := testNow
	s := e.scraper(t, []config.ScrapeJobConfig{{JobName: "ts",
		StaticConfigs: []config.StaticConfig{{Targets: []string{strings.TrimPrefix(srv.URL, "http://")}}}}}, &now, nil)
	ts := func(d time.Duration) string { return strconv.FormatInt(testNow.Add(d).UnixMilli(), 10) }
	body = "m 1 " + ts(0) + "\n"
	if rep := s.loops[0].scrape(context.Background()); !rep.Up || rep.Stored != 1 {
		t.Fatalf("first scrape: %+v", rep)
	}
	body = "m 2 " + ts(-time.Second) + "\nm2 1 " + ts(0) + "\n"
	now = now.Add(time.Minute)
	s.loops[0].scrape(context.Background())
	body = "m 3 " + ts(0) + "\nold 1 " + ts(-3*time.Hour) + "\n"
	now = now.Add(time.Minute)
	s.loops[0].scrape(context.Background())
	snap := e.stats.Snapshot()[ReceiverName]
	for reason, want := range map[ingest.Reason]uint64{ingest.ReasonOutOfOrder: 1, ingest.ReasonDuplicate: 1, ingest.ReasonTooOld: 1} {
		if snap.Rejected[reason] != want {
			t.Errorf("rejected[%s] = %d, want %d (all: %v)", reason, snap.Rejected[reason], want, snap.Rejected)
		}
	}
	if snap.Items.Accepted != 2 || snap.Items.Rejected != 3 {
		t.Errorf("stats %+v", snap)
	}
}
