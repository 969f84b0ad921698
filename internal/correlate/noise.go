package correlate

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/store"
)

// Noise outcomes: what became of a signal the stage received. Every signal
// gets exactly one, so the outcomes of a source or rule sum to the signals
// it sent.
const (
	// OutcomeOpened: the signal opened a new incident.
	OutcomeOpened = "opened"
	// OutcomeGrouped: a new alert joined an existing incident.
	OutcomeGrouped = "grouped"
	// OutcomeDeduplicated: a repeat or resolution of an alert an incident
	// already holds (same fingerprint) updated its member.
	OutcomeDeduplicated = "deduplicated"
	// OutcomeSilenced and OutcomeInhibited: a firing signal kept from
	// opening, joining or escalating an incident by a silence or an
	// inhibition rule; OutcomeMaintenance: by a maintenance window.
	OutcomeSilenced    = "silenced"
	OutcomeInhibited   = "inhibited"
	OutcomeMaintenance = "maintenance"
	// OutcomeIgnored: the signal changed no incident (a resolution of an
	// alert no incident holds, a repeat already applied, or an alert a
	// grouping rule holds until enough of its kind fire).
	OutcomeIgnored = "ignored"
)

// Outcomes lists every noise outcome.
var Outcomes = []string{OutcomeOpened, OutcomeGrouped, OutcomeDeduplicated,
	OutcomeSilenced, OutcomeInhibited, OutcomeMaintenance, OutcomeIgnored}

// AnomalyRule is the noise rule of anomalies (whose source is
// "detect/<kind>").
const AnomalyRule = "anomaly"

// noiseKey is one noise counter of the batch being applied.
type noiseKey struct {
	minute                int64 // Unix seconds of the minute
	source, rule, outcome string
}

// noiseCounter counts the outcomes of a batch until it is committed with
// the batch (persistent counters, store.Noise), then in Prometheus. Guarded
// by the Correlator's mu.
type noiseCounter struct {
	pending map[noiseKey]int64
	signals *prometheus.CounterVec
}

func newNoiseCounter(reg prometheus.Registerer) (*noiseCounter, error) {
	n := &noiseCounter{
		pending: make(map[noiseKey]int64),
		signals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "osprey_correlate_noise_signals_total",
			Help: "Signals the correlate stage received, by source and outcome (opened, grouped, deduplicated, silenced, inhibited, maintenance, ignored); counted when the batch is stored. Per rule and over a time window: GET /api/v1/stats/noise.",
		}, []string{"source", "outcome"}),
	}
	if err := reg.Register(n.signals); err != nil {
		return nil, fmt.Errorf("register correlate noise metrics: %w", err)
	}
	return n, nil
}

// count records the outcome of one signal of the batch.
func (n *noiseCounter) count(sig *signal, outcome string) {
	rule := sig.name
	if sig.kind != osprey.MemberEvent {
		rule = AnomalyRule
	}
	n.pending[noiseKey{sig.at.Unix() / 60 * 60, sig.source, rule, outcome}]++
}

// take returns the pending counts for the store and starts a new batch.
func (n *noiseCounter) take() []store.NoiseCount {
	if len(n.pending) == 0 {
		return nil
	}
	out := make([]store.NoiseCount, 0, len(n.pending))
	for k, v := range n.pending {
		out = append(out, store.NoiseCount{Minute: time.Unix(k.minute, 0).UTC(), Source: k.source, Rule: k.rule, Outcome: k.outcome, N: v})
	}
	clear(n.pending)
	return out
}

// committed adds stored counts to the Prometheus counters.
func (n *noiseCounter) committed(counts []store.NoiseCount) {
	for _, c := range counts {
		n.signals.WithLabelValues(c.Source, c.Outcome).Add(float64(c.N))
	}
}

// outcome classifies a change applied from a signal.
func (ch *change) outcome() string {
	switch {
	case ch == nil:
		return OutcomeIgnored
	case ch.opened:
		return OutcomeOpened
	case ch.joined:
		return OutcomeGrouped
	}
	return OutcomeDeduplicated
}

// suppressOutcome says whether a suppressed signal was silenced or
// inhibited (silences are checked first, as suppressLocked does).
func (c *Correlator) suppressOutcome(sils *silenceSet, sig *signal) string {
	if sils.match(sig.labels, sig.at) != nil {
		return OutcomeSilenced
	}
	return OutcomeInhibited
}
