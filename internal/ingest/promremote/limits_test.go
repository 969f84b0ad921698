package promremote

// The series caps of the metric store (tsdb.max_series_per_metric,
// tsdb.max_series) seen end to end: a real remote-write client, the receiver
// behind a real HTTP server, and the counts in /metrics and in
// GET /api/v1/status/ingest.

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	remoteapi "github.com/prometheus/client_golang/exp/api/remote"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"
	"github.com/prometheus/prometheus/tsdb/chunkenc"

	"github.com/osprey-aiops/osprey/internal/ingest"
	"github.com/osprey-aiops/osprey/internal/metricstore"
)

// limitsServer is Osprey's ingest surface for one receiver: the write route,
// the status route and /metrics, over a store with the given caps.
type limitsServer struct {
	store *metricstore.Store
	srv   *httptest.Server
	api   *remoteapi.API
}

func newLimitsServer(t *testing.T, opts metricstore.Options) *limitsServer {
	t.Helper()
	reg := prometheus.NewRegistry()
	opts.Dir, opts.Registerer = t.TempDir(), reg
	st, err := metricstore.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Shutdown(context.Background()) })
	stats := ingest.NewStats()
	reg.MustRegister(stats)
	recv, err := New(Options{Store: st, Stats: stats, Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(RouteWrite, recv.Routes()[0].Handler)
	mux.Handle("GET /api/v1/status/ingest", stats)
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	api, err := remoteapi.NewAPI(srv.URL, remoteapi.WithAPIPath("/api/v1/write"), remoteapi.WithAPIHTTPClient(srv.Client()))
	if err != nil {
		t.Fatal(err)
	}
	return &limitsServer{store: st, srv: srv, api: api}
}

// write sends the series with the remote-write 1.0 client.
func (s *limitsServer) write(t *testing.T, ts ...prompb.TimeSeries) error {
	t.Helper()
	_, err := s.api.Write(context.Background(), remoteapi.WriteV1MessageType, &prompb.WriteRequest{Timeseries: ts})
	return err
}

func (s *limitsServer) get(t *testing.T, path string) string {
	t.Helper()
	resp, err := s.srv.Client().Get(s.srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", path, resp.StatusCode, err)
	}
	return string(b)
}

// status returns the remote_write receiver's counts from the status route.
func (s *limitsServer) status(t *testing.T) ingest.ReceiverSnapshot {
	t.Helper()
	var body ingest.StatusResponse
	if err := json.Unmarshal([]byte(s.get(t, "/api/v1/status/ingest")), &body); err != nil {
		t.Fatal(err)
	}
	return body.Receivers[ReceiverName]
}

// stored returns the number of stored samples of each series of metric name.
func (s *limitsServer) stored(t *testing.T, name string) map[string]int {
	t.Helper()
	q, err := s.store.Querier(math.MinInt64, math.MaxInt64)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	set := q.Select(context.Background(), false, nil, labels.MustNewMatcher(labels.MatchEqual, labels.MetricName, name))
	out := map[string]int{}
	for set.Next() {
		it := set.At().Iterator(nil)
		for it.Next() == chunkenc.ValFloat {
			out[set.At().Labels().Get("i")]++
		}
	}
	return out
}

// limitsSeries is series name{i="<i>"} with two samples.
func limitsSeries(name string, i int) prompb.TimeSeries {
	return series([]prompb.Sample{{Timestamp: ms(-time.Second), Value: 1}, {Timestamp: ms(0), Value: 2}},
		"__name__", name, "i", strconv.Itoa(i))
}

// TestLimitsSeriesPerMetric: a metric name at tsdb.max_series_per_metric
// gets no new series; its rejected samples are refused one by one with a
// 400 naming the reason, and the rest of the request is stored.
func TestLimitsSeriesPerMetric(t *testing.T) {
	s := newLimitsServer(t, metricstore.Options{MaxSeries: 100, MaxSeriesPerMetric: 2})
	err := s.write(t, limitsSeries("a", 1), limitsSeries("a", 2), limitsSeries("a", 3), limitsSeries("b", 1))
	if err == nil || !strings.Contains(err.Error(), "400") || !strings.Contains(err.Error(), "series_per_metric") {
		t.Fatalf("write = %v, want a 400 naming series_per_metric", err)
	}
	if got := s.stored(t, "a"); len(got) != 2 || got["1"] != 2 || got["2"] != 2 {
		t.Errorf("stored of a: %v, want series 1 and 2 with 2 samples each", got)
	}
	if got := s.stored(t, "b"); got["1"] != 2 {
		t.Errorf("stored of b: %v, want series 1 with 2 samples", got)
	}
	// The existing series of a go on; a's third series is still refused.
	next := func(name string, i int) prompb.TimeSeries {
		return series([]prompb.Sample{{Timestamp: ms(time.Second), Value: 3}}, "__name__", name, "i", strconv.Itoa(i))
	}
	if err := s.write(t, next("a", 1), next("a", 2), next("b", 1)); err != nil {
		t.Errorf("existing series refused: %v", err)
	}
	if err := s.write(t, next("a", 3)); err == nil || !strings.Contains(err.Error(), "series_per_metric") {
		t.Errorf("a's third series again: %v", err)
	}
	if got := s.store.SeriesOfMetric("a"); got != 2 {
		t.Errorf("SeriesOfMetric(a) = %d, want 2", got)
	}

	st := s.status(t)
	if st.Items.Accepted != 9 || st.Items.Rejected != 3 || st.Requests.Partial != 1 || st.Requests.Accepted != 1 || st.Requests.Rejected != 1 {
		t.Errorf("status %+v", st)
	}
	perMetric, invalid := st.Rejected[ingest.ReasonSeriesPerMetric], st.Rejected[ingest.ReasonInvalid]
	if perMetric != 3 || invalid != 0 {
		t.Errorf("rejected %v, want series_per_metric 3", st.Rejected)
	}
	if _, ok := st.Rejected[ingest.ReasonSeriesPerMetric]; !ok {
		t.Error("status has no series_per_metric count")
	}
	metrics := s.get(t, "/metrics")
	for _, want := range []string{
		`osprey_ingest_rejected_total{reason="series_per_metric",receiver="prometheus_remote_write"} ` + strconv.Itoa(int(perMetric)),
		`osprey_ingest_items_total{outcome="rejected",receiver="prometheus_remote_write"} 3`,
		`osprey_tsdb_series_per_metric_highest 2`,
	} {
		if !strings.Contains(metrics, want+"\n") {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if !strings.Contains(metrics, "osprey_tsdb_series_per_metric_rejected_samples_total ") {
		t.Error("/metrics lacks osprey_tsdb_series_per_metric_rejected_samples_total")
	}
}

// TestLimitsBothCaps: with the total cap reached, a new series is refused as
// cardinality_cap even when its metric name has room, and the two caps are
// told apart in the counts.
func TestLimitsBothCaps(t *testing.T) {
	s := newLimitsServer(t, metricstore.Options{MaxSeries: 3, MaxSeriesPerMetric: 2})
	err := s.write(t, limitsSeries("a", 1), limitsSeries("a", 2), limitsSeries("a", 3), limitsSeries("b", 1), limitsSeries("c", 1))
	if err == nil || !strings.Contains(err.Error(), "cardinality_cap 2") {
		t.Fatalf("write = %v, want cardinality_cap 2", err)
	}
	st := s.status(t)
	if st.Items.Accepted != 6 || st.Items.Rejected != 4 || st.Rejected[ingest.ReasonCardinalityCap] != 2 {
		t.Errorf("status %+v", st)
	}
	if got := s.stored(t, "c"); len(got) != 0 {
		t.Errorf("c stored: %v", got)
	}
}

// TestLimitsNonFiniteValues: NaN, ±Inf and the staleness marker are samples
// like any other, as in Prometheus' own receiver (client_golang exposes a
// summary's quantiles as NaN before the first observation); none is a
// rejection.
func TestLimitsNonFiniteValues(t *testing.T) {
	s := newLimitsServer(t, metricstore.Options{})
	stale := math.Float64frombits(0x7ff0000000000002)
	values := []float64{math.NaN(), math.Inf(1), math.Inf(-1), stale}
	var ts []prompb.TimeSeries
	for i, v := range values {
		ts = append(ts, series([]prompb.Sample{{Timestamp: ms(0), Value: v}}, "__name__", "nf", "i", strconv.Itoa(i)))
	}
	if err := s.write(t, ts...); err != nil {
		t.Fatalf("write: %v", err)
	}
	if got := s.stored(t, "nf"); len(got) != len(values) {
		t.Errorf("stored %v, want %d series", got, len(values))
	}
	if st := s.status(t); st.Items.Accepted != uint64(len(values)) || st.Items.Rejected != 0 || st.Warnings[ingest.WarnNonFinite] != 3 {
		t.Errorf("status %+v", st)
	}
}
