package correlate

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// extMetrics are the metrics of grouping rules, flapping detection and
// maintenance windows.
type extMetrics struct {
	ruleHeld, ruleReleased, ruleErrors, ruleOverflow *prometheus.CounterVec
	flapMarked, flapAbsorbed, flapDropped            prometheus.Counter
	windows                                          prometheus.Gauge
	badWindows, maintDropped                         prometheus.Counter
	maintReleased, maintCleared                      prometheus.Counter
}

func newExtMetrics(reg prometheus.Registerer) (*extMetrics, error) {
	byRule := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, []string{"rule"})
	}
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	}
	m := &extMetrics{
		ruleHeld: byRule("osprey_correlate_rule_held_total",
			"Firing signals a grouping rule held back until its min_signals alerts fired, by rule."),
		ruleReleased: byRule("osprey_correlate_rule_released_total",
			"Incidents opened when a grouping rule's min_signals was reached, by rule."),
		ruleErrors: byRule("osprey_correlate_rule_eval_errors_total",
			"Grouping rule evaluations that failed (other than a missing label), counted as no match, by rule."),
		ruleOverflow: byRule("osprey_correlate_rule_hold_overflow_total",
			"Signals that opened an incident at once because the held signals reached their bound, by rule."),
		flapMarked: counter("osprey_correlate_flapping_marked_total",
			"Incident members marked flapping (more status changes within correlate.flapping.window than allowed)."),
		flapAbsorbed: counter("osprey_correlate_flapping_signals_total",
			"Signals of flapping members recorded on the member without changing the incident."),
		flapDropped: counter("osprey_correlate_flapping_untracked_total",
			"Members whose flip history was dropped because the tracker was full."),
		windows: prometheus.NewGauge(prometheus.GaugeOpts{Name: "osprey_correlate_maintenance_windows_loaded",
			Help: "Maintenance windows loaded (configured and stored)."}),
		badWindows: counter("osprey_correlate_invalid_maintenance_windows_total",
			"Stored maintenance windows skipped on load because they are invalid."),
		maintDropped: counter("osprey_correlate_maintenance_untracked_total",
			"Alerts firing in a maintenance window not remembered for the window's end because the bound was reached."),
		maintReleased: counter("osprey_correlate_maintenance_released_total",
			"Alerts still firing when their maintenance window ended, applied then."),
		maintCleared: counter("osprey_correlate_maintenance_cleared_total",
			"Alerts that fired and resolved inside a maintenance window (no incident opened)."),
	}
	for _, c := range []prometheus.Collector{m.ruleHeld, m.ruleReleased, m.ruleErrors, m.ruleOverflow, m.flapMarked, m.flapAbsorbed,
		m.flapDropped, m.windows, m.badWindows, m.maintDropped, m.maintReleased, m.maintCleared} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register correlate metrics: %w", err)
		}
	}
	return m, nil
}

// initExtensions compiles the grouping rules, flapping and maintenance
// options into c.
func (c *Correlator) initExtensions(opts Options, reg prometheus.Registerer) error {
	xm, err := newExtMetrics(reg)
	if err != nil {
		return err
	}
	c.xm = xm
	rules, err := compileRules(opts.Rules)
	if err != nil {
		return fmt.Errorf("correlate: %w", err)
	}
	c.rules = newRuleSet(rules)
	c.rules.held = func(r string) { xm.ruleHeld.WithLabelValues(r).Inc() }
	c.rules.released = func(r string) { xm.ruleReleased.WithLabelValues(r).Inc() }
	c.rules.evalErrors = func(r string) { xm.ruleErrors.WithLabelValues(r).Inc() }
	c.rules.overflow = func(r string) { xm.ruleOverflow.WithLabelValues(r).Inc() }
	for _, r := range rules {
		xm.ruleHeld.WithLabelValues(r.Name)
		xm.ruleReleased.WithLabelValues(r.Name)
	}
	if err := opts.Flapping.Validate(); err != nil {
		return fmt.Errorf("correlate: flapping: %w", err)
	}
	if c.flaps = newFlapTracker(opts.Flapping); c.flaps != nil {
		c.flaps.marked, c.flaps.absorbed, c.flaps.dropped = xm.flapMarked.Inc, xm.flapAbsorbed.Inc, xm.flapDropped.Inc
	}
	if c.maint, err = newMaintenance(opts.Maintenance); err != nil {
		return err
	}
	c.m.suppressed.WithLabelValues("maintenance")
	return nil
}

// attach gives a (rebuilt) state the rules and the flip tracker. The flip
// histories start afresh from the reloaded members (their flapping marks
// are stored), so a replay after a failed write is counted once.
func (c *Correlator) attach(st *state) {
	st.rules = c.rules
	if c.flaps != nil {
		clear(c.flaps.byFP)
		c.flaps.nextSettle = time.Time{}
		c.flaps.rescan = true
	}
	st.flaps = c.flaps
}

// extExpireLocked does the time-driven work of the extensions at at:
// releasing alerts whose maintenance window ended, and unmarking members
// that stopped flapping.
func (c *Correlator) extExpireLocked(cs *changeSet, at time.Time) {
	c.releaseLocked(cs, at)
	settled := c.st.settleFlaps(at)
	for _, ch := range settled {
		if ch.autoResolved {
			c.m.resolved.Inc()
		}
		cs.add(ch)
	}
	if len(settled) > 0 {
		// An unmarked member that had resolved may end a grace by at.
		for _, ch := range c.st.expire(at) {
			c.m.resolved.Inc()
			cs.add(ch)
		}
	}
}
