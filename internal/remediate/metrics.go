package remediate

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	runs     *prometheus.CounterVec // by mode
	blocked  *prometheus.CounterVec // by reason
	steps    *prometheus.CounterVec // by type, status
	outcomes *prometheus.CounterVec // by status
	errors   *prometheus.CounterVec // by kind
	paused   prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "osprey_remediation_runs_total", Help: "Runbook runs created, by mode.",
		}, []string{"mode"}),
		blocked: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "osprey_remediation_blocked_total", Help: "Triggered runbooks a guardrail stopped, by reason.",
		}, []string{"reason"}),
		steps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "osprey_remediation_steps_total", Help: "Executed runbook steps, by action type and outcome.",
		}, []string{"type", "status"}),
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "osprey_remediation_run_outcomes_total", Help: "Finished runs, by final status.",
		}, []string{"status"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "osprey_remediation_errors_total", Help: "Trigger evaluation, store and timeline errors.",
		}, []string{"kind"}),
		paused: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "osprey_remediation_paused", Help: "1 while remediation is paused (the kill switch).",
		}),
	}
	for _, c := range []prometheus.Collector{m.runs, m.blocked, m.steps, m.outcomes, m.errors, m.paused} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register remediation metrics: %w", err)
		}
	}
	return m, nil
}
