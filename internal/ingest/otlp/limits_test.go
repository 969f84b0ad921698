package otlp

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"

	"github.com/osprey-aiops/osprey/internal/config"
	"github.com/osprey-aiops/osprey/internal/ingest"
	"github.com/osprey-aiops/osprey/internal/metricstore"
)

// TestMetricsSeriesPerMetric: data points of a new series of a metric name
// at tsdb.max_series_per_metric are rejected one by one, reported in the
// partial success and counted as series_per_metric; the others are stored.
func TestMetricsSeriesPerMetric(t *testing.T) {
	st, err := metricstore.New(metricstore.Options{Dir: t.TempDir(), MaxSeries: 100, MaxSeriesPerMetric: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer st.Shutdown(context.Background())
	stats := ingest.NewStats()
	r, err := New(Options{Store: st, Stats: stats, Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	md := pmetric.NewMetrics()
	ms := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics()
	for _, name := range []string{"queue.depth", "queue.age"} {
		g := ms.AppendEmpty()
		g.SetName(name)
		dps := g.SetEmptyGauge().DataPoints()
		for _, q := range []string{"a", "b", "c"} {
			dp := dps.AppendEmpty()
			dp.SetTimestamp(pcommon.NewTimestampFromTime(t0))
			dp.SetDoubleValue(1)
			dp.Attributes().PutStr("queue", q)
		}
	}
	body, err := pmetricotlp.NewExportRequestFromMetrics(md).MarshalProto()
	if err != nil {
		t.Fatal(err)
	}
	rec := post(t, r, "/v1/metrics", "application/x-protobuf", "", body)
	if rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	resp := pmetricotlp.NewExportResponse()
	if err := resp.UnmarshalProto(rec.Body.Bytes()); err != nil {
		t.Fatal(err)
	}
	if n, msg := resp.PartialSuccess().RejectedDataPoints(), resp.PartialSuccess().ErrorMessage(); n != 2 || !strings.Contains(msg, "series_per_metric") {
		t.Errorf("partial success = %d %q, want 2 naming series_per_metric", n, msg)
	}
	snap := stats.Snapshot()[ReceiverMetrics]
	if snap.Items.Accepted != 4 || snap.Items.Rejected != 2 || snap.Rejected[ingest.ReasonSeriesPerMetric] != 2 {
		t.Errorf("stats %+v", snap)
	}
	if a, b := st.SeriesOfMetric("queue_depth"), st.SeriesOfMetric("queue_age"); a != 2 || b != 2 {
		t.Errorf("series of queue_depth, queue_age = %d, %d; want 2, 2", a, b)
	}
}

// TestMetricsRejectionReasons provokes every reason a data point of
// POST /v1/metrics can be rejected for, one request each, and checks that
// NaN and ±Inf are stored as Prometheus stores them.
func TestMetricsRejectionReasons(t *testing.T) {
	st, err := metricstore.New(metricstore.Options{Dir: t.TempDir(), MaxSeries: 3})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer st.Shutdown(context.Background())
	stats := ingest.NewStats()
	r, err := New(Options{Store: st, Stats: stats, Now: func() time.Time { return t0 }, Limits: config.ServerConfig{MaxLabelValueBytes: 64}})
	if err != nil {
		t.Fatal(err)
	}
	// gauge is a request with one data point of gauge g{k=<k>}.
	gauge := func(k string, at time.Time, v float64) []byte {
		md := pmetric.NewMetrics()
		g := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
		g.SetName("g")
		dp := g.SetEmptyGauge().DataPoints().AppendEmpty()
		dp.SetTimestamp(pcommon.NewTimestampFromTime(at))
		dp.SetDoubleValue(v)
		dp.Attributes().PutStr("k", k)
		b, err := pmetricotlp.NewExportRequestFromMetrics(md).MarshalProto()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name string
		body []byte
		want ingest.Reason // "" for accepted
	}{
		{"first", gauge("a", t0, 1), ""},
		{"out of order", gauge("a", t0.Add(-time.Second), 1), ingest.ReasonOutOfOrder},
		{"duplicate", gauge("a", t0, 2), ingest.ReasonDuplicate},
		{"too old", gauge("b", t0.Add(-3*time.Hour), 1), ingest.ReasonTooOld},
		{"too far in the future", gauge("a", t0.Add(time.Hour), 1), ingest.ReasonTooFarInFuture},
		{"label value too long", gauge(strings.Repeat("x", 65), t0, 1), ingest.ReasonLabelLimit},
		{"NaN is stored", gauge("a", t0.Add(time.Second), math.NaN()), ""},
		{"+Inf is stored", gauge("a", t0.Add(2*time.Second), math.Inf(1)), ""},
		{"second series", gauge("c", t0, 1), ""},
		{"third series", gauge("d", t0, 1), ""},
		{"cardinality cap", gauge("e", t0, 1), ingest.ReasonCardinalityCap},
	}
	for _, tc := range tests {
		before := stats.Snapshot()[ReceiverMetrics]
		rec := post(t, r, "/v1/metrics", "application/x-protobuf", "", tc.body)
		if rec.Code != 200 {
			t.Fatalf("%s: %d %s", tc.name, rec.Code, rec.Body)
		}
		resp := pmetricotlp.NewExportResponse()
		if err := resp.UnmarshalProto(rec.Body.Bytes()); err != nil {
			t.Fatal(err)
		}
		after := stats.Snapshot()[ReceiverMetrics]
		rejected := resp.PartialSuccess().RejectedDataPoints()
		switch {
		case tc.want == "" && (rejected != 0 || after.Items.Accepted != before.Items.Accepted+1):
			t.Errorf("%s: rejected %d (%q), want accepted", tc.name, rejected, resp.PartialSuccess().ErrorMessage())
		case tc.want != "" && (rejected != 1 || after.Rejected[tc.want] != before.Rejected[tc.want]+1):
			t.Errorf("%s: rejected %d (%q), counts %v; want 1 %s", tc.name, rejected, resp.PartialSuccess().ErrorMessage(), after.Rejected, tc.want)
		}
	}
	if n := stats.Snapshot()[ReceiverMetrics].Warnings[ingest.WarnNonFinite]; n != 2 {
		t.Errorf("non_finite_value warnings = %d, want 2 (NaN, +Inf)", n)
	}
}
