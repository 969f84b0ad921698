package app

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/osprey-aiops/osprey/internal/config"
	"github.com/osprey-aiops/osprey/internal/correlate"
	"github.com/osprey-aiops/osprey/internal/retention"
	"github.com/osprey-aiops/osprey/internal/store"
)

// buildPruner returns the component that keeps the store bounded by
// storage.retention. Events are kept until the correlator has consumed
// them, whatever their age.
func buildPruner(c config.RetentionConfig, st store.Store, now func() time.Time, reg prometheus.Registerer, log *slog.Logger) (*retention.Pruner, error) {
	p, err := retention.New(retention.Options{
		Store: st,
		Keep: retention.Keep{
			Events: c.Events, Anomalies: c.Anomalies, Incidents: c.Incidents,
			Noise: c.Noise, Audit: c.Audit, Silences: c.Silences,
		},
		Interval:         c.Interval,
		EventsCheckpoint: correlate.CheckpointName,
		Now:              now,
		Logger:           log,
		Registerer:       reg,
	})
	if err != nil {
		return nil, fmt.Errorf("build retention pruner: %w", err)
	}
	return p, nil
}
