package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/api"
	"github.com/osprey-aiops/osprey/internal/config"
	"github.com/osprey-aiops/osprey/internal/detect/forecast"
	"github.com/osprey-aiops/osprey/internal/detect/metric"
	"github.com/osprey-aiops/osprey/internal/metricstore"
	"github.com/osprey-aiops/osprey/internal/store"
)

// buildForecast returns the forecaster configured by cfg, handing its
// forecasts to sink (the metric detector's: they are stored, published to
// the correlator and served by GET /api/v1/anomalies), with its metrics
// registered on reg; nil when forecasting is disabled. The forecasts an
// earlier process left open in st are adopted, so that this one closes
// them; the trend models themselves are restored from their snapshot
// (forecastSnapshotPath) when the model saver starts.
func buildForecast(ctx context.Context, cfg config.ForecastConfig, st store.Anomalies, sink osprey.AnomalyConsumer,
	reg prometheus.Registerer, log *slog.Logger) (*forecast.Forecaster, error) {
	if !cfg.Enabled {
		return nil, nil
	}
	fcfg, err := cfg.Model()
	if err != nil {
		return nil, fmt.Errorf("forecast: %w", err)
	}
	fc, err := forecast.New(fcfg, sink)
	if err != nil {
		return nil, err
	}
	open, err := st.ListAnomalies(ctx, store.AnomalyQuery{ActiveOnly: true, Limit: store.MaxLimit})
	if err != nil {
		return nil, fmt.Errorf("forecast: list open forecasts: %w", err)
	}
	if n := fc.Adopt(open); n > 0 {
		log.Info("adopted open forecasts", "forecasts", n)
	}
	for _, c := range []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "osprey_forecast_series",
			Help: "Series the forecaster keeps a trend model for.",
		}, func() float64 { return float64(fc.Series()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "osprey_forecast_open",
			Help: "Forecasts open now: series forecast to cross their threshold within the horizon.",
		}, func() float64 { return float64(fc.Open()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "osprey_forecast_opened_total",
			Help: "Forecasts opened.",
		}, func() float64 { return float64(fc.Opened()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "osprey_forecast_dropped_samples_total",
			Help: "Samples not forecast because the forecaster already models forecast.max_series series.",
		}, func() float64 { return float64(fc.Dropped()) }),
	} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register forecast metrics: %w", err)
		}
	}
	return fc, nil
}

// chainSeries returns the bus handler of the "detect" consumer group: the
// forecaster (if any) and then the metric engine on the same batch. One
// group, not two, because the in-process bus copies a batch for every
// further group; the forecaster only reads the batch (and copies what it
// keeps), so it runs first and the engine, which hands labels on, second.
// The engine runs even when the forecaster's consumer fails.
func chainSeries(fc *forecast.Forecaster, eng *metric.Engine) func(context.Context, []osprey.Series) error {
	if fc == nil {
		return eng.ConsumeSeries
	}
	return func(ctx context.Context, batch []osprey.Series) error {
		ferr := fc.ConsumeSeries(ctx, batch)
		return errors.Join(ferr, eng.ConsumeSeries(ctx, batch))
	}
}

// forecastAPI returns what GET /api/v1/forecast serves: the live
// forecasts of fc (nil: forecasting disabled, the list is empty) and ad
// hoc fits over the TSDB.
func forecastAPI(fc *forecast.Forecaster, metrics *metricstore.Store, maxSamples int) *api.ForecastSource {
	src := &api.ForecastSource{Live: fc, Config: forecast.DefaultConfig(), Metrics: metrics, MaxSamples: maxSamples}
	if fc != nil {
		src.Config = fc.Config()
	}
	return src
}

// forecastSnapshotPath returns the file the forecaster's trend models are
// snapshotted to: detect/forecast.snap in DataDir, beside the metric
// detector's. They are written every detect.snapshot_interval and at
// shutdown, after the bus drained, by a modelSaver as the detector's are.
func forecastSnapshotPath(cfg config.Config) string {
	return filepath.Join(cfg.DataDir, "detect", "forecast.snap")
}
