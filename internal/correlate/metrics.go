package correlate

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	processed     *prometheus.CounterVec
	ignored       prometheus.Counter
	opened        prometheus.Counter
	resolved      prometheus.Counter
	open          prometheus.Gauge
	replayed      prometheus.Counter
	gaps          prometheus.Counter
	saveErrors    prometheus.Counter
	handoffErrors prometheus.Counter
	rankings      prometheus.Counter
	suppressed    *prometheus.CounterVec
	actions       *prometheus.CounterVec
	silences      prometheus.Gauge
	badSilences   prometheus.Counter
	inhibitFull   prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		processed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "osprey_correlate_signals_total",
			Help: "Events and anomalies applied by the correlate stage, by kind.",
		}, []string{"kind"}),
		ignored: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "osprey_correlate_signals_ignored_total",
			Help: "Signals that changed no incident: replays, or resolutions of alerts no unresolved incident holds.",
		}),
		opened: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "osprey_correlate_incidents_opened_total",
			Help: "Incidents opened.",
		}),
		resolved: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "osprey_correlate_incidents_resolved_total",
			Help: "Incidents resolved because all their members resolved (and stayed clear for the grace period).",
		}),
		open: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "osprey_correlate_unresolved_incidents",
			Help: "Incidents open or acknowledged, held in memory for grouping.",
		}),
		replayed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "osprey_correlate_events_read_from_store_total",
			Help: "Events read back from the store by start-up replay or catch-up.",
		}),
		gaps: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "osprey_correlate_sequence_gaps_total",
			Help: "Bus batches that did not follow on from the checkpoint, so the stage caught up from the store.",
		}),
		saveErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "osprey_correlate_store_errors_total",
			Help: "Failed writes of incidents or the checkpoint.",
		}),
		handoffErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "osprey_correlate_handoff_errors_total",
			Help: "Incident changes the next stage did not accept.",
		}),
		rankings: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "osprey_correlate_cause_rankings_changed_total",
			Help: "Times an incident's root-cause ranking changed.",
		}),
		suppressed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "osprey_correlate_suppressed_total",
			Help: "Firing signals kept from opening, joining or escalating an incident, by reason (silence, inhibit).",
		}, []string{"reason"}),
		actions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "osprey_correlate_incident_actions_total",
			Help: "People's actions on incidents that changed one, by action (incident.ack, incident.resolve, ...).",
		}, []string{"action"}),
		silences: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "osprey_correlate_silences_loaded",
			Help: "Silences loaded by the correlate stage (active, pending, and ended within the replay lookback).",
		}),
		badSilences: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "osprey_correlate_invalid_silences_total",
			Help: "Stored silences skipped on load because their matchers are invalid or would match every signal.",
		}),
		inhibitFull: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "osprey_correlate_inhibit_sources_dropped_total",
			Help: "Firing inhibition sources not remembered because a rule already held its maximum.",
		}),
	}
	for _, r := range []string{"silence", "inhibit"} {
		m.suppressed.WithLabelValues(r)
	}
	for _, c := range []prometheus.Collector{m.processed, m.ignored, m.opened, m.resolved, m.open, m.replayed, m.gaps, m.saveErrors, m.handoffErrors, m.rankings,
		m.suppressed, m.actions, m.silences, m.badSilences, m.inhibitFull} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register correlate metrics: %w", err)
		}
	}
	return m, nil
}
