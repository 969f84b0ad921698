package app

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/osprey-aiops/osprey"
)

// maintenanceChecker says whether a series is inside a maintenance window
// (the correlate stage).
type maintenanceChecker interface {
	InMaintenance(labels osprey.Labels, at time.Time) bool
}

// skipMaintenance returns next behind a filter that drops the samples that
// fall inside a maintenance window of their series, so that the metric
// detector (and the forecaster) neither learns from nor scores them: a
// planned outage does not become the model's idea of normal. The samples
// are stored in the TSDB as usual (the filter sits only in front of the
// detect stage). Dropped samples are counted in
// osprey_detect_maintenance_samples_skipped_total.
func skipMaintenance(m maintenanceChecker, reg prometheus.Registerer, next func(context.Context, []osprey.Series) error) (func(context.Context, []osprey.Series) error, error) {
	skipped := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "osprey_detect_maintenance_samples_skipped_total",
		Help: "Samples kept from the metric detector and forecaster because their series was in a maintenance window.",
	})
	if err := reg.Register(skipped); err != nil {
		return nil, err
	}
	return func(ctx context.Context, batch []osprey.Series) error {
		out := batch
		copied := false
		for i := range batch {
			s := &batch[i]
			keep := s.Samples[:0:0]
			dropped := 0
			for j, smp := range s.Samples {
				if m.InMaintenance(s.Labels, time.UnixMilli(smp.TimestampMs)) {
					if dropped == 0 {
						keep = append(keep, s.Samples[:j]...)
					}
					dropped++
					continue
				}
				if dropped > 0 {
					keep = append(keep, smp)
				}
			}
			if dropped == 0 {
				continue
			}
			skipped.Add(float64(dropped))
			if !copied {
				out = append([]osprey.Series(nil), batch...)
				copied = true
			}
			out[i].Samples = keep
		}
		if !copied {
			return next(ctx, batch)
		}
		filtered := out[:0]
		for _, s := range out {
			if len(s.Samples) > 0 {
				filtered = append(filtered, s)
			}
		}
		if len(filtered) == 0 {
			return nil
		}
		return next(ctx, filtered)
	}, nil
}
