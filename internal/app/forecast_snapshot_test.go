package app

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/config"
	"github.com/osprey-aiops/osprey/internal/detect/forecast"
	"github.com/osprey-aiops/osprey/internal/store/sqlite"
)

// TestForecastModelsSurviveRestart: the forecaster's trend models are
// snapshotted at shutdown and restored at start, so that after a restart a
// filling disk is forecast from the first sample, not after a new warm-up.
func TestForecastModelsSurviveRestart(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "osprey.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	discard := osprey.AnomalyConsumerFunc(func(context.Context, []osprey.Anomaly) error { return nil })
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	path := forecastSnapshotPath(cfg)
	log := slog.New(slog.DiscardHandler)

	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	avail := osprey.Labels{"__name__": "node_filesystem_avail_bytes", "instance": "db-1:9100", "mountpoint": "/data"}
	size := osprey.Labels{"__name__": "node_filesystem_size_bytes", "instance": "db-1:9100", "mountpoint": "/data"}
	const total = 100 << 30
	// 80 % free, falling 2 % an hour, a sample a minute.
	sample := func(fc *forecast.Forecaster, i int) {
		t.Helper()
		ts := t0.Add(time.Duration(i) * time.Minute).UnixMilli()
		free := total * (0.8 - 0.02*float64(i)/60)
		if err := fc.ConsumeSeries(ctx, []osprey.Series{
			{Labels: avail, Samples: []osprey.Sample{{TimestampMs: ts, Value: free}}},
			{Labels: size, Samples: []osprey.Sample{{TimestampMs: ts, Value: total}}},
		}); err != nil {
			t.Fatal(err)
		}
	}

	fc, err := buildForecast(ctx, cfg.Forecast, st, discard, prometheus.NewRegistry(), log)
	if err != nil {
		t.Fatal(err)
	}
	s := newModelSaver(fc, path, time.Hour, log)
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 4 * 60 {
		sample(fc, i)
	}
	before := fc.Forecasts(true)
	if len(before) != 1 || before[0].Status == forecast.StatusWarmingUp {
		t.Fatalf("after 4 h: %+v, want one series past warm-up", before)
	}
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("no snapshot written at shutdown: %v", err)
	}

	fc2, err := buildForecast(ctx, cfg.Forecast, st, discard, prometheus.NewRegistry(), log)
	if err != nil {
		t.Fatal(err)
	}
	s2 := newModelSaver(fc2, path, time.Hour, log)
	if err := s2.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer s2.Shutdown(ctx)
	if fc2.Series() != 1 {
		t.Fatalf("restored %d series, want 1", fc2.Series())
	}
	sample(fc2, 4*60)
	after := fc2.Forecasts(true)
	if len(after) != 1 || after[0].Status != before[0].Status || after[0].Samples != before[0].Samples+1 {
		t.Errorf("one sample after the restart: %+v\nwant the status %s and %d samples in the fit", after, before[0].Status, before[0].Samples+1)
	}
}
