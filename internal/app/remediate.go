package app

import (
	"context"
	"log/slog"

	"github.com/osprey-aiops/osprey/internal/config"
	"github.com/osprey-aiops/osprey/internal/remediate"
)

// remediationSource returns the function the remediate engine's Reload
// re-reads its section with: the whole configuration file is loaded and
// validated again, and its remediation section returned. Without a file
// (no --config) there is nothing to re-read: nil.
func remediationSource(path string) func() (remediate.Config, error) {
	if path == "" {
		return nil
	}
	return func() (remediate.Config, error) {
		cfg, err := config.Load(path)
		if err != nil {
			return remediate.Config{}, err
		}
		return cfg.Remediation, nil
	}
}

// reloadOn reloads the remediation section each time reload delivers (the
// CLI sends SIGHUP there) until ctx ends.
func reloadOn(ctx context.Context, reload <-chan struct{}, eng *remediate.Engine, log *slog.Logger) {
	if reload == nil {
		return
	}
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-reload:
				res, err := eng.Reload(ctx, "sighup", "SIGHUP")
				if err != nil {
					log.Error("remediation reload on SIGHUP failed; the running runbooks stay", "err", err)
					continue
				}
				log.Info("remediation reloaded on SIGHUP", "runbooks", res.Runbooks, "notes", res.Notes)
			}
		}
	}()
}
