package app

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/config"
	"github.com/osprey-aiops/osprey/internal/ingest"
	"github.com/osprey-aiops/osprey/internal/ingest/scrape"
	"github.com/osprey-aiops/osprey/internal/metricstore"
)

// buildScrape returns the scraper of cfg.Scrape, or nil when no job is
// configured. Scraped samples take remote_write's path: the same TSDB,
// the same label limits (remote_write.*), the same non-blocking hand-off
// to the detector (next), and their data quality is counted in stats as
// receiver "scrape". The caller starts it after the bus and stops it
// before.
func buildScrape(cfg config.Config, metrics *metricstore.Store, next osprey.SeriesConsumer, stats *ingest.Stats,
	now func() time.Time, log *slog.Logger, reg prometheus.Registerer) (*scrape.Scraper, error) {
	if len(cfg.Scrape.Configs) == 0 {
		return nil, nil
	}
	targets, err := scrape.Targets(cfg.Scrape)
	if err != nil {
		return nil, err
	}
	// As Prometheus (proxy_from_environment: false), targets are reached
	// directly, whatever HTTP_PROXY says.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	return scrape.New(scrape.Options{
		Targets: targets,
		Store:   metrics,
		Next:    next,
		Stats:   stats,
		Limits: scrape.Limits{
			MaxBodyBytes:       cfg.Scrape.MaxBodyBytes,
			MaxLabelsPerSeries: cfg.RemoteWrite.MaxLabelsPerSeries,
			MaxLabelBytes:      cfg.RemoteWrite.MaxLabelBytes,
			MaxFuture:          cfg.RemoteWrite.MaxFuture,
		},
		Client:     &http.Client{Transport: tr},
		Now:        now,
		Logger:     log,
		Registerer: reg,
	})
}

// buildCollectors returns the collectors that pull data in themselves,
// in start order: the scraper (scrape.configs) and the file tailer
// (files). Each is left out when not configured. They start after the bus
// and stop before it, so that their last batches are handed on.
func buildCollectors(cfg config.Config, metrics *metricstore.Store, series osprey.SeriesConsumer, logs osprey.LogConsumer,
	stats *ingest.Stats, now func() time.Time, log *slog.Logger, reg prometheus.Registerer) ([]named, error) {
	var out []named
	scr, err := buildScrape(cfg, metrics, series, stats, now, log.With("component", "scrape"), reg)
	if err != nil {
		return nil, err
	}
	if scr != nil {
		out = append(out, named{"scrape", scr})
	}
	tail, err := buildFileTail(cfg, logs, stats, now, log.With("component", "filetail"), reg)
	if err != nil {
		return nil, err
	}
	if tail != nil {
		out = append(out, named{"filetail", tail})
	}
	return out, nil
}
