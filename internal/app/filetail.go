package app

import (
	"log/slog"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/config"
	"github.com/osprey-aiops/osprey/internal/ingest"
	"github.com/osprey-aiops/osprey/internal/ingest/filetail"
)

// buildFileTail returns the tailer of cfg.Files, or nil when no file is
// configured. Its lines take the Loki receiver's path (logs: bus.Logs,
// then the template miner); its offsets are kept in
// <data_dir>/filetail/offsets.json.
func buildFileTail(cfg config.Config, logs osprey.LogConsumer, stats *ingest.Stats, now func() time.Time,
	log *slog.Logger, reg prometheus.Registerer) (*filetail.Tailer, error) {
	if len(cfg.Files) == 0 {
		return nil, nil
	}
	return filetail.New(filetail.Options{
		Files:        cfg.Files,
		Logs:         logs,
		StateFile:    filepath.Join(cfg.DataDir, "filetail", "offsets.json"),
		Stats:        stats,
		PollInterval: cfg.Tail.PollInterval,
		MaxLineBytes: cfg.Tail.MaxLineBytes,
		BatchSize:    cfg.Tail.BatchSize,
		Now:          now,
		Logger:       log,
		Registerer:   reg,
	})
}
