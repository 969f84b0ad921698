package app

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/correlate"
	"github.com/osprey-aiops/osprey/internal/store/sqlite"
)

func TestSkipMaintenanceKeepsWindowSamplesFromTheDetector(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "osprey.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	start := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	corr, err := correlate.New(correlate.Options{Store: st, Window: time.Minute, Registerer: prometheus.NewRegistry(),
		Maintenance: []osprey.MaintenanceWindow{{ID: "w", StartsAt: start, EndsAt: start.Add(time.Hour),
			Matchers: []osprey.Matcher{{Name: "service", Type: osprey.MatchEqual, Value: "db"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := corr.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer corr.Shutdown(ctx)

	var got []osprey.Series
	reg := prometheus.NewRegistry()
	filter, err := skipMaintenance(corr, reg, func(_ context.Context, b []osprey.Series) error {
		got = append(got, b...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ms := func(d time.Duration) int64 { return start.Add(d).UnixMilli() }
	batch := []osprey.Series{
		{Labels: osprey.Labels{"__name__": "up", "service": "db"}, Samples: []osprey.Sample{
			{TimestampMs: ms(-time.Minute), Value: 1}, {TimestampMs: ms(time.Minute), Value: 0}, {TimestampMs: ms(time.Hour), Value: 1}}},
		{Labels: osprey.Labels{"__name__": "up", "service": "db", "pod": "b"}, Samples: []osprey.Sample{{TimestampMs: ms(time.Minute), Value: 0}}},
		{Labels: osprey.Labels{"__name__": "up", "service": "web"}, Samples: []osprey.Sample{{TimestampMs: ms(time.Minute), Value: 1}}},
	}
	if err := filter(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || len(got[0].Samples) != 2 || got[0].Samples[0].TimestampMs != ms(-time.Minute) ||
		got[0].Samples[1].TimestampMs != ms(time.Hour) || got[1].Labels.Get("service") != "web" {
		t.Fatalf("passed on %+v", got)
	}
	if len(batch[0].Samples) != 3 || len(batch) != 3 {
		t.Error("the caller's batch was modified")
	}
	mfs, err := reg.Gather()
	if err != nil || len(mfs) != 1 || mfs[0].GetName() != "osprey_detect_maintenance_samples_skipped_total" ||
		mfs[0].GetMetric()[0].GetCounter().GetValue() != 2 {
		t.Errorf("skipped counter: %v %v", mfs, err)
	}
	// A batch with nothing in a window is passed on as it is.
	got = nil
	if err := filter(ctx, batch[2:]); err != nil || len(got) != 1 {
		t.Errorf("untouched batch: %v %v", got, err)
	}
}
