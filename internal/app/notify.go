package app

import (
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/osprey-aiops/osprey/internal/bus"
	"github.com/osprey-aiops/osprey/internal/config"
	"github.com/osprey-aiops/osprey/internal/notify"
	"github.com/osprey-aiops/osprey/internal/remediate"
	"github.com/osprey-aiops/osprey/internal/store"
)

// buildNotify returns the notify stage configured by cfg.Notifications,
// subscribed to the correlator's incident snapshots in its own consumer
// group, so it sees every snapshot remediate sees. Like remediate it starts
// before the bus and stops after it, so the last incidents the bus delivers
// are notified.
//
// Its claims in the notification log name this process by host name and
// listen address: stable across a restart (so a restarted Osprey resumes
// the deliveries it had claimed) and distinct between replicas sharing a
// PostgreSQL store.
func buildNotify(cfg config.Config, b bus.Bus, st store.Store, now func() time.Time, reg prometheus.Registerer,
	log *slog.Logger) (*notify.Notifier, error) {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "osprey"
	}
	n, err := notify.New(notify.Options{
		Config:     cfg.Notifications,
		Store:      st,
		Instance:   host + "/" + cfg.Server.Listen,
		Now:        now,
		Logger:     log,
		Registerer: reg,
	})
	if err != nil {
		return nil, err
	}
	if err := bus.Subscribe(b, bus.Incidents, "notify", n.ConsumeIncidents); err != nil {
		return nil, fmt.Errorf("subscribe notify to incidents: %w", err)
	}
	return n, nil
}

// remediationNotifier returns what the remediate engine's notify steps send
// through: the notifier, or nil when no receiver is configured, so a notify
// step fails with the remediate side's "notifications not configured".
func remediationNotifier(cfg config.Config, n *notify.Notifier) remediate.Notifier {
	if n == nil || len(cfg.Notifications.Receivers) == 0 {
		return nil
	}
	return n
}
