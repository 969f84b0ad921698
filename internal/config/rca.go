package config

import (
	"time"

	"github.com/osprey-aiops/osprey/internal/correlate"
	"github.com/osprey-aiops/osprey/internal/rca"
)

// RCAConfig configures root-cause ranking (docs/rca.md).
type RCAConfig struct {
	// History configures the comparison of an incident's coarse or short
	// series with their normal period.
	History RCAHistoryConfig `yaml:"history"`
	// Concurrent configures ranking an incident with the evidence of the
	// incidents that opened within correlate.window of it
	// (rca.ConcurrentIncidentRanker).
	Concurrent RCAConcurrentConfig `yaml:"concurrent"`
}

// RCAConcurrentConfig configures rca.ConcurrentIncidentRanker: a failure
// often shows its symptoms in one incident (callers and siblings that log
// errors) and its cause in another (the service whose own spans broke or
// whose CPU ran hot);
// the symptom incident then names the concurrent incident's service as a
// candidate, with that incident's id in the explanation.
type RCAConcurrentConfig struct {
	// Enabled turns it on; off, an incident is ranked on its own members.
	Enabled bool `yaml:"enabled"`
	// Hops, if above 0, takes a concurrent incident's service only when
	// it is within that many calls (either direction) of one of the
	// incident's services in the learnt call graph; 0 takes any. On a
	// system whose services share no gateway, a small limit keeps
	// unrelated concurrent failures out of each other's candidates.
	Hops int `yaml:"hops"`
}

// Ranker returns the correlate stage's cause ranker for base: base itself
// when concurrent ranking is off, else a ConcurrentIncidentRanker over it.
func (c RCAConcurrentConfig) Ranker(base rca.IncidentRanker) correlate.CauseRanker {
	if !c.Enabled {
		return base
	}
	return rca.ConcurrentIncidentRanker{IncidentRanker: base, Hops: c.Hops}
}

// RCAHistoryConfig configures rca.HistoryEvidence: when the correlator
// ranks an incident, the series of its services and their callers and
// callees are read from the metric store (outside the correlator's lock)
// and those the metric detector cannot judge are compared with the same
// series before the incident.
type RCAHistoryConfig struct {
	// Enabled turns the comparison on.
	Enabled bool `yaml:"enabled"`
	// Lookback is the normal period: how far before the incident the
	// series are read.
	Lookback time.Duration `yaml:"lookback"`
	// Lead is how long before the incident's first member its compared
	// samples begin.
	Lead time.Duration `yaml:"lead"`
	// CoarseStep: series sampled at this step or coarser are compared
	// (shorter ones too, when they lack the detector's warm-up).
	CoarseStep time.Duration `yaml:"coarse_step"`
	// MaxSeries bounds the series one computation reads.
	MaxSeries int `yaml:"max_series"`
}

// Options returns the comparison's options that the section sets. detect
// says whether the metric detector runs: without it no series is judged
// by it, so every series is compared (rca.HistoryOptions.All). The caller
// adds the metric store, the call graph, the warm-up, the clock and the
// rerank hook. Serve and the bench's serve path both build from it.
func (c RCAHistoryConfig) Options(detect bool) rca.HistoryOptions {
	return rca.HistoryOptions{
		Lookback:   c.Lookback,
		Lead:       c.Lead,
		CoarseStep: c.CoarseStep,
		MaxSeries:  c.MaxSeries,
		All:        !detect,
	}
}

// DefaultRCA returns the defaults of the rca section.
func DefaultRCA() RCAConfig {
	return RCAConfig{History: RCAHistoryConfig{
		Enabled:    true,
		Lookback:   rca.DefaultHistoryLookback,
		Lead:       rca.DefaultHistoryLead,
		CoarseStep: rca.DefaultHistoryCoarseStep,
		MaxSeries:  rca.DefaultHistoryMaxSeries,
	}, Concurrent: RCAConcurrentConfig{Enabled: true}}
}

// Validate checks the rca section.
func (c RCAConfig) Validate() error {
	var p problems
	h := c.History
	positive(&p, "history.lookback", h.Lookback)
	positive(&p, "history.coarse_step", h.CoarseStep)
	positive(&p, "history.max_series", h.MaxSeries)
	if c.Concurrent.Hops < 0 {
		p.addf("concurrent.hops", "must not be negative (0 takes any distance), got %d", c.Concurrent.Hops)
	}
	if h.Lead < 0 {
		p.addf("history.lead", "must not be negative, got %s", h.Lead)
	}
	return p.err()
}
