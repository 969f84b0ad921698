package scrape

import (
	"context"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/tsdb/chunkenc"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/config"
	"github.com/osprey-aiops/osprey/internal/ingest"
	"github.com/osprey-aiops/osprey/internal/metricstore"
	"github.com/osprey-aiops/osprey/internal/testenv"
)

// testNow is the scraper's clock.
var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type env struct {
	store *metricstore.Store
	stats *ingest.Stats
	reg   *prometheus.Registry

	mu        sync.Mutex
	handedOff []osprey.Series
}

func newEnv(t testing.TB) *env {
	t.Helper()
	st, err := metricstore.New(metricstore.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Shutdown(context.Background()) })
	return &env{store: st, stats: ingest.NewStats(), reg: prometheus.NewRegistry()}
}

// scraper builds a Scraper of the jobs in cfg (defaults applied) with
// the clock at *now.
func (e *env) scraper(t testing.TB, jobs []config.ScrapeJobConfig, now *time.Time, after func(time.Duration) <-chan time.Time) *Scraper {
	t.Helper()
	cfg := config.DefaultScrape()
	cfg.Configs = jobs
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	targets, err := Targets(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{
		Targets: targets,
		Store:   e.store,
		Stats:   e.stats,
		Next: osprey.SeriesConsumerFunc(func(_ context.Context, b []osprey.Series) error {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.handedOff = append(e.handedOff, b...)
			return nil
		}),
		Now:        func() time.Time { return *now },
		After:      after,
		Registerer: e.reg,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// point is one stored sample.
type point struct {
	t int64
	v float64
}

// query returns the samples of every series matching name and the
// label pairs, by series.
func (e *env) query(t *testing.T, name string, pairs ...string) map[string][]point {
	t.Helper()
	q, err := e.store.Querier(math.MinInt64, math.MaxInt64)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	ms := []*labels.Matcher{labels.MustNewMatcher(labels.MatchEqual, labels.MetricName, name)}
	for i := 0; i+1 < len(pairs); i += 2 {
		ms = append(ms, labels.MustNewMatcher(labels.MatchEqual, pairs[i], pairs[i+1]))
	}
	ss := q.Select(context.Background(), true, nil, ms...)
	out := map[string][]point{}
	for ss.Next() {
		s := ss.At()
		it := s.Iterator(nil)
		for it.Next() == chunkenc.ValFloat {
			ts, v := it.At()
			out[s.Labels().String()] = append(out[s.Labels().String()], point{ts, v})
		}
	}
	if err := ss.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// only returns the single series of got, failing otherwise.
func only(t *testing.T, got map[string][]point) (string, []point) {
	t.Helper()
	if len(got) != 1 {
		t.Fatalf("want one series, got %v", got)
	}
	for k, v := range got {
		return k, v
	}
	return "", nil
}

// appRegistry is a client_golang registry as an application exposes it:
// a counter, a gauge whose labels clash with the target labels, a
// histogram.
func appRegistry() (*prometheus.Registry, *prometheus.GaugeVec) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "app_requests_total", Help: "Requests."}, []string{"code"})
	c.WithLabelValues("200").Add(7)
	c.WithLabelValues("500").Add(2)
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "queue_depth", Help: "Depth."}, []string{"job", "instance"})
	g.WithLabelValues("exporter", "remote:1").Set(3)
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "latency_seconds", Help: "Latency.", Buckets: []float64{0.1, 1}})
	h.Observe(0.05)
	h.Observe(0.5)
	reg.MustRegister(c, g, h)
	return reg, g
}

func TestScrapeClientGolang(t *testing.T) {
	for _, tc := range []struct {
		name      string
		om        bool
		wantCType string
	}{
		{"text", false, "text/plain"},
		{"openmetrics", true, "application/openmetrics-text"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			reg, _ := appRegistry()
			var gotAccept, gotCType string
			h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{EnableOpenMetrics: tc.om})
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				gotAccept = r.Header.Get("Accept")
				h.ServeHTTP(w, r)
				gotCType = w.Header().Get("Content-Type")
			}))
			defer srv.Close()
			addr := strings.TrimPrefix(srv.URL, "http://")
			now := testNow
			s := e.scraper(t, []config.ScrapeJobConfig{{
				JobName:       "app",
				StaticConfigs: []config.StaticConfig{{Targets: []string{addr}, Labels: map[string]string{"team": "db"}}},
			}}, &now, nil)
			rep := s.loops[0].scrape(context.Background())
			if !rep.Up || rep.Err != nil {
				t.Fatalf("scrape failed: %+v", rep)
			}
			if gotAccept != AcceptHeader {
				t.Errorf("Accept = %q", gotAccept)
			}
			if !strings.HasPrefix(gotCType, tc.wantCType) {
				t.Errorf("target answered %q, want %s", gotCType, tc.wantCType)
			}
			ts := testNow.UnixMilli()
			k, pts := only(t, e.query(t, "app_requests_total", "code", "200"))
			if want := `{__name__="app_requests_total", code="200", instance="` + addr + `", job="app", team="db"}`; k != want {
				t.Errorf("series %s, want %s", k, want)
			}
			if len(pts) != 1 || pts[0] != (point{ts, 7}) {
				t.Errorf("app_requests_total = %v, want 7 at %d", pts, ts)
			}
			// honor_labels: false renames the clashing scraped labels.
			k, pts = only(t, e.query(t, "queue_depth"))
			if !strings.Contains(k, `exported_instance="remote:1", exported_job="exporter", instance="`+addr+`", job="app"`) {
				t.Errorf("clash not resolved as Prometheus does: %s", k)
			}
			if pts[0].v != 3 {
				t.Errorf("queue_depth = %v", pts)
			}
			if _, pts := only(t, e.query(t, "latency_seconds_bucket", "le", "1.0")); pts[0].v != 2 {
				t.Errorf("latency_seconds_bucket{le=1.0} = %v", pts)
			}
			if _, pts := only(t, e.query(t, "up", "job", "app")); len(pts) != 1 || pts[0] != (point{ts, 1}) {
				t.Errorf("up = %v", pts)
			}
			_, pts = only(t, e.query(t, "scrape_samples_scraped"))
			if int(pts[0].v) != rep.Scraped || rep.Scraped < 8 {
				t.Errorf("scrape_samples_scraped = %v, report %+v", pts, rep)
			}
			if _, pts := only(t, e.query(t, "scrape_duration_seconds", "instance", addr)); len(pts) != 1 {
				t.Errorf("scrape_duration_seconds = %v", pts)
			}
			snap := e.stats.Snapshot()[ReceiverName]
			if snap.Requests.Accepted != 1 || snap.Items.Accepted != uint64(rep.Stored) || rep.Stored != rep.Scraped {
				t.Errorf("stats %+v, report %+v", snap, rep)
			}
			e.mu.Lock()
			n := len(e.handedOff)
			e.mu.Unlock()
			if n != rep.Stored+1 { // the samples and up
				t.Errorf("handed off %d series, want %d", n, rep.Stored+1)
			}
		})
	}
}

func TestHonorLabels(t *testing.T) {
	e := newEnv(t)
	reg, _ := appRegistry()
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	now := testNow
	s := e.scraper(t, []config.ScrapeJobConfig{{
		JobName: "federate", HonorLabels: true, MetricsPath: "/federate", Params: map[string][]string{"match[]": {`{job="x"}`}},
		StaticConfigs: []config.StaticConfig{{Targets: []string{strings.TrimPrefix(srv.URL, "http://")}}},
	}}, &now, nil)
	if u, _ := url.Parse(s.loops[0].t.URL); u.Path != "/federate" || u.Query().Get("match[]") != `{job="x"}` {
		t.Errorf("URL %s", s.loops[0].t.URL)
	}
	if rep := s.loops[0].scrape(context.Background()); !rep.Up {
		t.Fatal(rep.Err)
	}
	k, _ := only(t, e.query(t, "queue_depth"))
	if want := `{__name__="queue_depth", instance="remote:1", job="exporter"}`; k != want {
		t.Errorf("honor_labels: %s, want %s", k, want)
	}
	if got := e.query(t, "app_requests_total", "job", "federate"); len(got) != 2 {
		t.Errorf("series without clash should get the target labels: %v", got)
	}
}

func TestStalenessAndDown(t *testing.T) {
	e := newEnv(t)
	reg, g := appRegistry()
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	var mu sync.Mutex
	down := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if down {
			http.Error(w, "gone", http.StatusServiceUnavailable)
			return
		}
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()
	now := testNow
	s := e.scraper(t, []config.ScrapeJobConfig{{JobName: "app",
		StaticConfigs: []config.StaticConfig{{Targets: []string{strings.TrimPrefix(srv.URL, "http://")}}}}}, &now, nil)
	l := s.loops[0]
	l.scrape(context.Background())
	g.Reset() // queue_depth vanishes from the exposition
	now = now.Add(15 * time.Second)
	if rep := l.scrape(context.Background()); !rep.Up {
		t.Fatal(rep.Err)
	}
	_, pts := only(t, e.query(t, "queue_depth"))
	if len(pts) != 2 || !value.IsStaleNaN(pts[1].v) || pts[1].t != now.UnixMilli() {
		t.Errorf("queue_depth should end in a staleness marker: %v", pts)
	}
	mu.Lock()
	down = true
	mu.Unlock()
	now = now.Add(15 * time.Second)
	rep := l.scrape(context.Background())
	if rep.Up || rep.Err == nil || !strings.Contains(rep.Err.Error(), "503") {
		t.Fatalf("want a failed scrape, got %+v", rep)
	}
	_, pts = only(t, e.query(t, "up"))
	if len(pts) != 3 || pts[2].v != 0 {
		t.Errorf("up = %v, want 1, 1, 0", pts)
	}
	_, pts = only(t, e.query(t, "app_requests_total", "code", "200"))
	if len(pts) != 3 || !value.IsStaleNaN(pts[2].v) {
		t.Errorf("a failed scrape marks every series stale: %v", pts)
	}
	if got := testutil.ToFloat64(s.failures.WithLabelValues("app", failStatus)); got != 1 {
		t.Errorf("failures{http_status} = %v", got)
	}
	srv.Close()
	now = now.Add(15 * time.Second)
	if rep := l.scrape(context.Background()); rep.Up {
		t.Fatal("scrape of a closed server succeeded")
	}
	if got := testutil.ToFloat64(s.failures.WithLabelValues("app", failConnect)); got != 1 {
		t.Errorf("failures{connect} = %v", got)
	}
}

func TestBadBodies(t *testing.T) {
	e := newEnv(t)
	body := "ok_metric 1\nbad metric{ 2\n"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		_, _ = w.Write([]byte(body))
	}))
	defer srv.Close()
	now := testNow
	s := e.scraper(t, []config.ScrapeJobConfig{{JobName: "bad",
		StaticConfigs: []config.StaticConfig{{Targets: []string{strings.TrimPrefix(srv.URL, "http://")}}}}}, &now, nil)
	l := s.loops[0]
	if rep := l.scrape(context.Background()); rep.Up {
		t.Fatal("a body that does not parse was accepted")
	}
	if got := e.query(t, "ok_metric"); len(got) != 0 {
		t.Errorf("a failed scrape stored samples: %v", got)
	}
	snap := e.stats.Snapshot()[ReceiverName]
	if snap.Requests.Rejected != 1 || snap.Rejected[ingest.ReasonMalformed] != 1 {
		t.Errorf("stats %+v", snap)
	}
	s.limits.MaxBodyBytes = 8
	body = "ok_metric 1\n"
	now = now.Add(time.Minute)
	if rep := l.scrape(context.Background()); rep.Up || !strings.Contains(rep.Err.Error(), "max_body_bytes") {
		t.Fatalf("a body over the limit: %+v", rep)
	}
	if snap := e.stats.Snapshot()[ReceiverName]; snap.Rejected[ingest.ReasonTooLarge] != 1 {
		t.Errorf("stats %+v", snap)
	}
	// Label limits and timestamps from the future: rejected one by one.
	s.limits = DefaultLimits()
	s.limits.MaxLabelsPerSeries = 4
	future := now.Add(time.Hour).UnixMilli()
	body = "ok_metric 1\nwide{a=\"1\",b=\"2\"} 1\nahead 1 " + strconv.FormatInt(future, 10) + "\n"
	now = now.Add(time.Minute)
	rep := l.scrape(context.Background())
	if !rep.Up || rep.Stored != 1 || rep.Rejected != 2 {
		t.Fatalf("report %+v", rep)
	}
	snap = e.stats.Snapshot()[ReceiverName]
	if snap.Requests.Partial != 1 || snap.Rejected[ingest.ReasonLabelLimit] != 1 || snap.Rejected[ingest.ReasonTooFarInFuture] != 1 {
		t.Errorf("stats %+v", snap)
	}
}

// TestLoop drives the loop with an injected clock: each tick is one
// scrape, and Shutdown stops the loop.
func TestLoop(t *testing.T) {
	e := newEnv(t)
	reg, _ := appRegistry()
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	var mu sync.Mutex
	now := testNow
	ticks := make(chan time.Time)
	var waits []time.Duration
	after := func(d time.Duration) <-chan time.Time {
		mu.Lock()
		defer mu.Unlock()
		waits = append(waits, d)
		now = now.Add(d)
		return ticks
	}
	cfg := []config.ScrapeJobConfig{{JobName: "app", ScrapeInterval: 10 * time.Second,
		StaticConfigs: []config.StaticConfig{{Targets: []string{strings.TrimPrefix(srv.URL, "http://")}}}}}
	clock := testNow
	s := e.scraper(t, cfg, &clock, after)
	s.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Each tick is taken after the previous scrape finished: four sends
	// see three scrapes through (the fourth may be cut by Shutdown).
	for range 4 {
		ticks <- time.Time{}
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal("second Shutdown:", err)
	}
	_, pts := only(t, e.query(t, "up"))
	if len(pts) < 3 {
		t.Fatalf("up has %d samples, want at least 3", len(pts))
	}
	for i := 1; i < len(pts); i++ {
		if pts[i].t-pts[i-1].t != 10_000 {
			t.Errorf("scrapes %d and %d are %dms apart, want the 10s interval", i-1, i, pts[i].t-pts[i-1].t)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if off := s.loops[0].t.offset(); waits[0] != off || off >= 10*time.Second {
		t.Errorf("first wait %s, want the target's offset %s", waits[0], off)
	}
}

// TestNodeExporter scrapes Debian's prometheus-node-exporter, a real
// exporter, end to end.
func TestNodeExporter(t *testing.T) {
	bin, err := exec.LookPath("prometheus-node-exporter")
	if err != nil {
		testenv.Unavailable(t, "prometheus-node-exporter (apt-get install prometheus-node-exporter)", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, "--web.listen-address="+addr, "--collector.disable-defaults",
		"--collector.loadavg", "--collector.meminfo", "--collector.cpu", "--collector.filesystem")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	e := newEnv(t)
	now := time.Now()
	s := e.scraper(t, []config.ScrapeJobConfig{{JobName: "node",
		StaticConfigs: []config.StaticConfig{{Targets: []string{addr}}}}}, &now, nil)
	var rep Report
	for range 100 { // until the exporter listens
		if rep = s.loops[0].scrape(context.Background()); rep.Up {
			break
		}
		time.Sleep(50 * time.Millisecond)
		now = time.Now()
	}
	if !rep.Up {
		t.Fatal(rep.Err)
	}
	_, pts := only(t, e.query(t, "node_load1", "job", "node", "instance", addr))
	if pts[len(pts)-1].v < 0 {
		t.Errorf("node_load1 = %v", pts)
	}
	if got := e.query(t, "node_memory_MemAvailable_bytes"); len(got) != 1 {
		t.Errorf("node_memory_MemAvailable_bytes: %v", got)
	}
	if got := e.query(t, "node_cpu_seconds_total", "mode", "idle"); len(got) == 0 {
		t.Error("no node_cpu_seconds_total{mode=idle}")
	}
	if rep.Rejected != 0 {
		t.Errorf("rejected %d samples of node_exporter", rep.Rejected)
	}
}

func TestTargetsDedupe(t *testing.T) {
	cfg := config.DefaultScrape()
	cfg.Configs = []config.ScrapeJobConfig{
		{JobName: "a", StaticConfigs: []config.StaticConfig{{Targets: []string{"x:1", "x:1", "y:1"}}, {Targets: []string{"x:1"}, Labels: map[string]string{"k": "v"}}}},
		{JobName: "b", StaticConfigs: []config.StaticConfig{{Targets: []string{"x:1"}}}},
	}
	ts, err := Targets(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tg := range ts {
		got = append(got, tg.Labels.String())
	}
	want := []string{`{instance="x:1", job="a"}`, `{instance="y:1", job="a"}`, `{instance="x:1", job="a", k="v"}`, `{instance="x:1", job="b"}`}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("targets %v, want %v", got, want)
	}
	if ts[0].URL != "http://x:1/metrics" || ts[0].Interval != 15*time.Second || ts[0].Timeout != 10*time.Second {
		t.Errorf("target %+v", ts[0])
	}
}
