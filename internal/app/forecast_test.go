package app

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/api"
	"github.com/osprey-aiops/osprey/internal/auth"
	"github.com/osprey-aiops/osprey/internal/config"
	"github.com/osprey-aiops/osprey/internal/detect/forecast"
	"github.com/osprey-aiops/osprey/internal/detect/metric"
	"github.com/osprey-aiops/osprey/internal/metricstore"
	"github.com/osprey-aiops/osprey/internal/store/sqlite"
)

// TestForecastWiring: the forecaster and the metric engine read the same
// batches through one handler; a disk filling fast becomes a forecast
// anomaly that is stored, handed to the correlator, served by GET
// /api/v1/anomalies and GET /api/v1/forecast, and counted.
func TestForecastWiring(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "osprey.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ms, err := metricstore.New(metricstore.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := ms.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer ms.Shutdown(ctx)
	var handed []osprey.Anomaly
	sink := newAnomalySink(st, ms,
		osprey.AnomalyConsumerFunc(func(_ context.Context, b []osprey.Anomaly) error { handed = append(handed, b...); return nil }),
		slog.New(slog.DiscardHandler))
	reg := prometheus.NewRegistry()
	fc, err := buildForecast(ctx, config.DefaultForecast(), st, sink, reg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	eng, err := metric.NewEngine(metric.DefaultConfig(), sink, 0)
	if err != nil {
		t.Fatal(err)
	}
	consume := chainSeries(fc, eng)

	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	avail := osprey.Labels{"__name__": "node_filesystem_avail_bytes", "instance": "db-1:9100", "mountpoint": "/data", "service": "db"}
	size := osprey.Labels{"__name__": "node_filesystem_size_bytes", "instance": "db-1:9100", "mountpoint": "/data", "service": "db"}
	const total = 20 << 30
	// 40 % free, full in 10 minutes, a sample every 2 s.
	for i := 0; i <= 300; i++ {
		ts := t0.Add(time.Duration(i) * 2 * time.Second).UnixMilli()
		free := 0.4 * total * (1 - float64(i)/300)
		batch := []osprey.Series{
			{Labels: avail, Samples: []osprey.Sample{{TimestampMs: ts, Value: free}}},
			{Labels: size, Samples: []osprey.Sample{{TimestampMs: ts, Value: total}}},
		}
		if err := consume(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	if eng.Series() != 2 || fc.Series() != 1 {
		t.Errorf("engine models %d series, forecaster %d; want 2 and 1", eng.Series(), fc.Series())
	}
	var forecasts []osprey.Anomaly
	for _, a := range handed {
		if a.Kind == osprey.AnomalyForecast {
			forecasts = append(forecasts, a)
		}
	}
	if len(forecasts) == 0 {
		t.Fatal("no forecast handed to the correlator")
	}
	first := forecasts[0]
	if lead := t0.Add(10 * time.Minute).Sub(first.StartsAt); lead < 5*time.Minute {
		t.Errorf("forecast %s ahead, want at least 5m", lead)
	}
	if got := gathered(t, reg, "osprey_forecast_opened_total"); got != 1 {
		t.Errorf("osprey_forecast_opened_total = %g, want 1", got)
	}

	a, err := api.New(api.Options{Store: st, Auth: auth.New(nil), Now: func() time.Time { return t0.Add(9 * time.Minute) },
		Forecast: forecastAPI(fc, ms, 0)})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	a.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/anomalies", nil))
	var list struct{ Anomalies []osprey.Anomaly }
	if err := json.Unmarshal(rec.Body.Bytes(), &list); err != nil || rec.Code != http.StatusOK {
		t.Fatalf("GET /api/v1/anomalies: %d %v", rec.Code, err)
	}
	found := false
	for _, x := range list.Anomalies {
		found = found || x.ID == first.ID && x.Kind == osprey.AnomalyForecast && len(x.Evidence) > 0
	}
	if !found {
		t.Errorf("forecast %s not served by GET /api/v1/anomalies: %+v", first.ID, list.Anomalies)
	}
	rec = httptest.NewRecorder()
	a.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/forecast", nil))
	var fl struct {
		Forecasts []struct {
			AnomalyID string `json:"anomalyId"`
			TimeLeft  string `json:"timeLeft"`
		}
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &fl); err != nil || len(fl.Forecasts) != 1 || fl.Forecasts[0].AnomalyID != first.ID {
		t.Errorf("GET /api/v1/forecast: %d %s", rec.Code, rec.Body)
	}

	// A restart: a new forecaster adopts the forecast left open in the
	// store, and closes it (same ID) once the disk has stopped filling.
	fc2, err := buildForecast(ctx, config.DefaultForecast(), st, sink, prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if fc2.Open() != 1 {
		t.Fatalf("%d forecasts adopted, want 1", fc2.Open())
	}
	restart := t0.Add(20 * time.Minute)
	for i := 0; i <= 60; i++ {
		ts := restart.Add(time.Duration(i) * 2 * time.Second).UnixMilli()
		batch := []osprey.Series{
			{Labels: avail, Samples: []osprey.Sample{{TimestampMs: ts, Value: 5 << 30}}},
			{Labels: size, Samples: []osprey.Sample{{TimestampMs: ts, Value: total}}},
		}
		if err := fc2.ConsumeSeries(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	last := handed[len(handed)-1]
	if fc2.Open() != 0 || last.ID != first.ID || last.Active() || last.EndsAt.Before(restart) {
		t.Errorf("adopted forecast not closed: open %d, last handed %+v", fc2.Open(), last)
	}
	if got, err := st.GetAnomaly(ctx, first.ID); err != nil || got.Active() {
		t.Errorf("stored forecast after the close: %+v %v", got, err)
	}

	// Disabled: no forecaster, and the engine alone consumes.
	off := config.DefaultForecast()
	off.Enabled = false
	if fc, err := buildForecast(ctx, off, st, sink, prometheus.NewRegistry(), slog.New(slog.DiscardHandler)); fc != nil || err != nil {
		t.Errorf("disabled: %v %v", fc, err)
	}
}

// gathered returns the value of the counter name registered on reg.
func gathered(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("metric %s not registered", name)
	return 0
}

// BenchmarkDetectHandler measures the "detect" bus handler on batches of
// 100 node_exporter-like series of 10 samples: the metric engine alone,
// and chained with the forecaster when no series is forecast (the common
// case) and when every one is.
func BenchmarkDetectHandler(b *testing.B) {
	for _, c := range []struct {
		name     string
		forecast bool
		metric   string
	}{
		{"engine_only", false, "node_cpu_seconds_total"},
		{"chained_nonmatching", true, "node_cpu_seconds_total"},
		{"chained_matching", true, "node_filesystem_avail_bytes"},
	} {
		b.Run(c.name, func(b *testing.B) {
			discard := osprey.AnomalyConsumerFunc(func(context.Context, []osprey.Anomaly) error { return nil })
			eng, err := metric.NewEngine(metric.DefaultConfig(), discard, 0)
			if err != nil {
				b.Fatal(err)
			}
			h := eng.ConsumeSeries
			if c.forecast {
				fc, err := forecast.New(forecast.DefaultConfig(), discard)
				if err != nil {
					b.Fatal(err)
				}
				h = chainSeries(fc, eng)
			}
			batch := make([]osprey.Series, 100)
			for i := range batch {
				batch[i] = osprey.Series{Labels: osprey.Labels{"__name__": c.metric, "instance": "host-" + string(rune('a'+i%26)) + string(rune('a'+i/26)),
					"job": "node", "mountpoint": "/"}, Samples: make([]osprey.Sample, 10)}
			}
			ts := int64(1_700_000_000_000)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				for i := range batch {
					for j := range batch[i].Samples {
						batch[i].Samples[j] = osprey.Sample{TimestampMs: ts + int64(j)*15_000, Value: 5e10 + float64((ts/15_000+int64(j+i))%7)*1e6}
					}
				}
				ts += 150_000
				if err := h(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/sample")
		})
	}
}
