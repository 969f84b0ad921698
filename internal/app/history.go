package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/storage"

	"github.com/osprey-aiops/osprey/internal/config"
	"github.com/osprey-aiops/osprey/internal/detect/metric"
	"github.com/osprey-aiops/osprey/internal/rca"
)

// buildHistory returns the ranker's comparison with the normal period
// over the metric store, or nil when rca.history is off. rerank is called
// when an incident's evidence changed (the correlator is built after the
// ranker that holds this, so it is looked up late).
func buildHistory(cfg config.Config, q storage.Queryable, graph func() *rca.Graph, rerank func(context.Context, string) error,
	now func() time.Time, reg prometheus.Registerer, log *slog.Logger) (*rca.HistoryEvidence, error) {
	hc := cfg.RCA.History
	if !hc.Enabled {
		return nil, nil
	}
	o := hc.Options(cfg.Detect.Enabled)
	o.History = rca.TSDBHistory{Queryable: q}
	o.Graph = graph
	o.Warmup = metric.DefaultConfig().Warmup
	o.Rerank, o.Now, o.Logger, o.Registerer = rerank, now, log, reg
	h, err := rca.NewHistoryEvidence(o)
	if err != nil {
		return nil, fmt.Errorf("rca.history: %w", err)
	}
	return h, nil
}
