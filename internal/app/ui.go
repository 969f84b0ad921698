package app

import (
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/osprey-aiops/osprey/internal/auth"
	"github.com/osprey-aiops/osprey/internal/ingest"
	"github.com/osprey-aiops/osprey/internal/metricstore"
	"github.com/osprey-aiops/osprey/internal/remediate"
	"github.com/osprey-aiops/osprey/internal/store"
	"github.com/osprey-aiops/osprey/internal/topology"
	"github.com/osprey-aiops/osprey/internal/ui"
)

// uiDeps are what the web UI reads.
type uiDeps struct {
	store   store.Store
	metrics *metricstore.Store
	graph   *topology.Graph
	remed   *remediate.Engine
	stats   *ingest.Stats
	auth    *auth.Authenticator
	now     func() time.Time
	log     *slog.Logger
}

// withUI serves the web UI at / and under /ui/ in front of the API handler,
// which gets every other request.
func withUI(d uiDeps, api http.Handler) (http.Handler, error) {
	u, err := ui.New(ui.Options{
		Store:       d.store,
		Metrics:     d.metrics,
		Topology:    d.graph,
		Remediation: d.remed,
		Stats:       d.stats,
		Auth:        d.auth,
		Now:         d.now,
		Logger:      d.log,
	})
	if err != nil {
		return nil, fmt.Errorf("build ui: %w", err)
	}
	return u.Mount(api), nil
}
