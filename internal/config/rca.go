package config

import (
	"time"

	"github.com/osprey-aiops/osprey/internal/rca"
)

// RCAConfig configures root-cause ranking (docs/rca.md).
type RCAConfig struct {
	// History configures the comparison of an incident's coarse or short
	// series with their normal period.
	History RCAHistoryConfig `yaml:"history"`
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

// DefaultRCA returns the defaults of the rca section.
func DefaultRCA() RCAConfig {
	return RCAConfig{History: RCAHistoryConfig{
		Enabled:    true,
		Lookback:   rca.DefaultHistoryLookback,
		Lead:       rca.DefaultHistoryLead,
		CoarseStep: rca.DefaultHistoryCoarseStep,
		MaxSeries:  rca.DefaultHistoryMaxSeries,
	}}
}

// Validate checks the rca section.
func (c RCAConfig) Validate() error {
	var p problems
	h := c.History
	positive(&p, "history.lookback", h.Lookback)
	positive(&p, "history.coarse_step", h.CoarseStep)
	positive(&p, "history.max_series", h.MaxSeries)
	if h.Lead < 0 {
		p.addf("history.lead", "must not be negative, got %s", h.Lead)
	}
	return p.err()
}
