package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/detect/forecast"
	"github.com/osprey-aiops/osprey/internal/metricstore"
)

const gib = float64(1 << 30)

// forecastData is two hours, every 15s up to testNow, of a disk filling at
// 1 GiB/h from 8 GiB (full 6h after testNow) and a flat one, with the
// first's size series.
func forecastData() []osprey.Series {
	fill := osprey.Series{Labels: osprey.Labels{osprey.LabelMetric: "node_filesystem_avail_bytes", "instance": "db-1", "mountpoint": "/"}}
	flat := osprey.Series{Labels: osprey.Labels{osprey.LabelMetric: "node_filesystem_avail_bytes", "instance": "db-2", "mountpoint": "/"}}
	size1 := osprey.Series{Labels: osprey.Labels{osprey.LabelMetric: "node_filesystem_size_bytes", "instance": "db-1", "mountpoint": "/"}}
	start := testNow.Add(-2 * time.Hour)
	for i := 0; i <= 480; i++ {
		at := start.Add(time.Duration(i) * 15 * time.Second)
		h := at.Sub(start).Hours()
		ts := at.UnixMilli()
		fill.Samples = append(fill.Samples, osprey.Sample{TimestampMs: ts, Value: (8 - h) * gib})
		// A small deterministic wobble, no trend.
		flat.Samples = append(flat.Samples, osprey.Sample{TimestampMs: ts, Value: 50*gib + float64(i%5)*1e6})
		size1.Samples = append(size1.Samples, osprey.Sample{TimestampMs: ts, Value: 100 * gib})
	}
	return []osprey.Series{size1, fill, flat}
}

// newForecastEnv returns an API whose forecast route serves a live
// forecaster and a real metric store, both fed forecastData.
func newForecastEnv(t *testing.T, opts ...envOption) (*env, *[]osprey.Anomaly) {
	t.Helper()
	ms, err := metricstore.New(metricstore.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := ms.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ms.Shutdown(context.Background()) })
	data := forecastData()
	if res, err := ms.AppendSeries(context.Background(), data); err != nil || res.Rejected() != 0 {
		t.Fatalf("append: %v %v", res, err)
	}
	var got []osprey.Anomaly
	fc, err := forecast.New(forecast.DefaultConfig(), osprey.AnomalyConsumerFunc(func(_ context.Context, b []osprey.Anomaly) error {
		got = append(got, b...)
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	// Sample by sample, as remote_write delivers them.
	for i := range data[0].Samples {
		batch := make([]osprey.Series, len(data))
		for j, s := range data {
			batch[j] = osprey.Series{Labels: s.Labels, Samples: s.Samples[i : i+1]}
		}
		if err := fc.ConsumeSeries(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
	}
	src := &ForecastSource{Live: fc, Config: fc.Config(), Metrics: ms}
	e := newEnv(t, append([]envOption{func(o *Options) { o.Forecast = src }}, opts...)...)
	return e, &got
}

func decodeForecasts(t *testing.T, body string) forecastResponse {
	t.Helper()
	var resp forecastResponse
	dec := json.NewDecoder(strings.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&resp); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	return resp
}

func TestForecastLive(t *testing.T) {
	e, anomalies := newForecastEnv(t)
	rec := e.do(http.MethodGet, "/api/v1/forecast", "")
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	resp := decodeForecasts(t, rec.Body.String())
	if resp.Source != "live" || len(resp.Forecasts) != 1 {
		t.Fatalf("want one live forecast, got %+v", resp)
	}
	f := resp.Forecasts[0]
	want := testNow.Add(6 * time.Hour)
	if f.Labels["instance"] != "db-1" || f.Status != forecast.StatusForecast || f.CrossesAt.Sub(want).Abs() > time.Minute {
		t.Errorf("forecast %+v, want db-1 crossing at %s", f, want)
	}
	if f.TimeLeft != "6h" || f.Rule.Horizon != "24h" || f.Rule.Critical != "4h" || f.Capacity != 100*gib {
		t.Errorf("time left %q, rule %+v, capacity %g", f.TimeLeft, f.Rule, f.Capacity)
	}
	if len(*anomalies) != 1 || f.AnomalyID != (*anomalies)[0].ID || f.Severity != "warning" {
		t.Errorf("anomaly id %q severity %q, emitted %+v", f.AnomalyID, f.Severity, *anomalies)
	}
	for _, s := range []string{"falling 1 GiB/h", "of 100 GiB (6.0%)", "reaches 0 B in 6h, at 2025-06-01 18:00 UTC"} {
		if !strings.Contains(f.Reason, s) {
			t.Errorf("reason %q lacks %q", f.Reason, s)
		}
	}
	if f.SlopeLowPerHour > f.SlopePerHour || f.SlopeHighPerHour < f.SlopePerHour {
		t.Errorf("slope %g outside its bounds %g..%g", f.SlopePerHour, f.SlopeLowPerHour, f.SlopeHighPerHour)
	}

	rec = e.do(http.MethodGet, "/api/v1/forecast?all=true", "")
	resp = decodeForecasts(t, rec.Body.String())
	if len(resp.Forecasts) != 2 || resp.Forecasts[1].Status == forecast.StatusForecast {
		t.Errorf("all=true: %+v", resp.Forecasts)
	}
}

func TestForecastAdHoc(t *testing.T) {
	e, _ := newForecastEnv(t)
	get := func(params url.Values) (int, string) {
		rec := e.do(http.MethodGet, "/api/v1/forecast?"+params.Encode(), "")
		return rec.Code, rec.Body.String()
	}
	code, body := get(url.Values{"query": {`node_filesystem_avail_bytes{mountpoint="/"}`}, "threshold": {"0"}, "lookback": {"2h"}})
	if code != http.StatusOK {
		t.Fatalf("status %d: %s", code, body)
	}
	resp := decodeForecasts(t, body)
	if resp.Source != "query" || len(resp.Forecasts) != 2 {
		t.Fatalf("want two fitted series, got %s", body)
	}
	f := resp.Forecasts[0]
	if f.Labels["instance"] != "db-1" || f.Status != forecast.StatusForecast || f.CrossesAt.Sub(testNow.Add(6*time.Hour)).Abs() > time.Minute {
		t.Errorf("ad hoc fit: %+v", f)
	}
	// Two hours of 15s samples (both ends included).
	if f.Samples != 481 || f.Rule.Direction != "down" || f.AnomalyID != "" {
		t.Errorf("samples %d direction %s anomaly %q", f.Samples, f.Rule.Direction, f.AnomalyID)
	}
	if s := resp.Forecasts[1].Status; s == forecast.StatusForecast {
		t.Errorf("flat series forecast: %+v", resp.Forecasts[1])
	}

	// Without threshold, the metric's rule applies; a threshold above the
	// series and no direction forecasts upwards.
	code, body = get(url.Values{"query": {`node_filesystem_avail_bytes{instance="db-1"}`}})
	if resp := decodeForecasts(t, body); code != http.StatusOK || len(resp.Forecasts) != 1 || resp.Forecasts[0].Rule.Horizon != "24h" {
		t.Errorf("rule defaults: %d %s", code, body)
	}
	code, body = get(url.Values{"query": {`node_filesystem_avail_bytes{instance="db-1"}`}, "threshold": {"1e12"}, "horizon": {"2h"}})
	if resp := decodeForecasts(t, body); code != http.StatusOK || resp.Forecasts[0].Rule.Direction != "up" || resp.Forecasts[0].Status != forecast.StatusNotApproaching {
		t.Errorf("inferred direction: %d %s", code, body)
	}

	for _, c := range []struct {
		params url.Values
		want   string
	}{
		{url.Values{"query": {"node_filesystem_avail_bytes{"}, "threshold": {"0"}}, "query: "},
		{url.Values{"query": {"rate(x[5m])"}, "threshold": {"0"}}, "query: "},
		{url.Values{"query": {"x"}, "threshold": {"10%"}}, "a percentage needs a capacity series"},
		{url.Values{"query": {"x"}, "threshold": {"lots"}}, `threshold "lots"`},
		{url.Values{"query": {"x"}}, "threshold: required unless"},
		{url.Values{"query": {"x"}, "threshold": {"0"}, "lookback": {"-1h"}}, "lookback: "},
		{url.Values{"query": {"x"}, "threshold": {"0"}, "lookback": {"90d"}}, "lookback: "},
		{url.Values{"query": {"x"}, "threshold": {"0"}, "horizon": {"soon"}}, "horizon: "},
		{url.Values{"query": {"x"}, "threshold": {"0"}, "direction": {"sideways"}}, "direction: "},
		{url.Values{"query": {"x"}, "all": {"true"}}, "all: only without query"},
		{url.Values{"threshold": {"0"}}, "threshold: only with query"},
		{url.Values{"all": {"yes please"}}, "all: "},
		{url.Values{"series": {"x"}}, "unknown query parameter"},
	} {
		rec := e.do(http.MethodGet, "/api/v1/forecast?"+c.params.Encode(), "")
		if rec.Code != http.StatusBadRequest {
			t.Errorf("%v: status %d, want 400", c.params, rec.Code)
			continue
		}
		if msg := errorReply(t, rec).Error; !strings.Contains(msg, c.want) {
			t.Errorf("%v: error %q lacks %q", c.params, msg, c.want)
		}
	}
}

func TestForecastNeedsViewer(t *testing.T) {
	e, _ := newForecastEnv(t, withTokens)
	if rec := e.do(http.MethodGet, "/api/v1/forecast", ""); rec.Code != http.StatusUnauthorized {
		t.Errorf("without a token: %d, want 401", rec.Code)
	}
	if rec := e.do(http.MethodGet, "/api/v1/forecast", "", bearer(viewerToken)...); rec.Code != http.StatusOK {
		t.Errorf("viewer: %d, want 200", rec.Code)
	}
}

// FuzzForecastQuery: any parameters get a reply, never a panic, and a
// parsed request has a positive horizon and lookback within bounds.
func FuzzForecastQuery(f *testing.F) {
	for _, s := range []string{
		"query=node_filesystem_avail_bytes&threshold=0&horizon=6h&lookback=1h",
		"query=x%7Ba%3D%22b%22%7D&threshold=10%25",
		"query=x&direction=up&threshold=1e9", "query=&threshold=", "query=%7B&lookback=1y",
	} {
		f.Add(s)
	}
	rules := forecast.DefaultRules()
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		fq, rerr := parseForecastQuery(q, rules)
		if rerr != nil {
			if rerr.code != http.StatusBadRequest || rerr.msg == "" {
				t.Fatalf("%q: error %+v", raw, rerr)
			}
			return
		}
		if fq.rule.Horizon <= 0 || fq.lookback <= 0 || fq.lookback > maxForecastLookback || len(fq.matchers) == 0 {
			t.Fatalf("%q: parsed %+v", raw, fq)
		}
	})
}
