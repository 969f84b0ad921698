package config

import (
	"errors"
	"time"

	"github.com/osprey-aiops/osprey/internal/detect/forecast"
)

// ForecastConfig configures the forecaster (internal/detect/forecast,
// docs/detection.md "Forecasting"): which series are forecast against
// what threshold, and how much history a forecast needs.
type ForecastConfig struct {
	// Enabled runs the forecaster on the received series.
	Enabled bool `yaml:"enabled"`
	// BuiltinRules adds the built-in rules for node_exporter (file system
	// and memory available) to Rules; a rule in Rules for the same metric
	// replaces the built-in one.
	BuiltinRules bool `yaml:"builtin_rules"`
	// Rules say which metrics are forecast.
	Rules []ForecastRuleConfig `yaml:"rules"`
	// HalfLife is the sample time after which a sample's weight in the
	// trend fit has halved.
	HalfLife time.Duration `yaml:"half_life"`
	// MinSamples and MinHistory: a series needs this many samples over
	// this much time (since its first sample or its last jump) before it
	// is forecast.
	MinSamples int           `yaml:"min_samples"`
	MinHistory time.Duration `yaml:"min_history"`
	// MaxExtrapolation bounds how far ahead a crossing is forecast, as a
	// multiple of the window the trend was fitted over.
	MaxExtrapolation int `yaml:"max_extrapolation"`
	// MaxSeries bounds the series forecast.
	MaxSeries int `yaml:"max_series"`
}

// ForecastRuleConfig is one forecast rule.
type ForecastRuleConfig struct {
	// Metric is the metric name forecast.
	Metric string `yaml:"metric"`
	// Direction is down (falls to the threshold) or up; default down.
	Direction string `yaml:"direction"`
	// Threshold is a number or a percentage of Capacity ("10%");
	// default 0.
	Threshold string `yaml:"threshold"`
	// Capacity is the metric with the same other labels that holds the
	// capacity (node_filesystem_size_bytes).
	Capacity string `yaml:"capacity"`
	// Horizon: a crossing forecast within it opens a warning; default 24h.
	Horizon time.Duration `yaml:"horizon"`
	// Critical: a crossing forecast within it is critical; 0, the
	// default, never is.
	Critical time.Duration `yaml:"critical"`
}

// DefaultForecast returns the forecaster's defaults.
func DefaultForecast() ForecastConfig {
	d := forecast.DefaultConfig()
	return ForecastConfig{
		Enabled:          true,
		BuiltinRules:     true,
		HalfLife:         d.HalfLife,
		MinSamples:       d.MinSamples,
		MinHistory:       d.MinHistory,
		MaxExtrapolation: int(d.MaxExtrapolation),
		MaxSeries:        d.MaxSeries,
	}
}

// Rule returns the forecast rule r describes, with the defaults applied.
func (r ForecastRuleConfig) Rule() (forecast.Rule, error) {
	out := forecast.Rule{Metric: r.Metric, Direction: forecast.Direction(r.Direction), Capacity: r.Capacity,
		Horizon: r.Horizon, Critical: r.Critical}
	if out.Direction == "" {
		out.Direction = forecast.Down
	}
	if out.Horizon == 0 {
		out.Horizon = 24 * time.Hour
	}
	thr := r.Threshold
	if thr == "" {
		thr = "0"
	}
	var err error
	out.Threshold, out.Percent, err = forecast.ParseThreshold(thr)
	return out, err
}

// Model returns the forecaster's configuration: the built-in rules (unless
// turned off) with the configured ones replacing or added to them.
func (c ForecastConfig) Model() (forecast.Config, error) {
	out := forecast.DefaultConfig()
	out.HalfLife, out.MinSamples, out.MinHistory = c.HalfLife, c.MinSamples, c.MinHistory
	out.MaxExtrapolation, out.MaxSeries = float64(c.MaxExtrapolation), c.MaxSeries
	if !c.BuiltinRules {
		out.Rules = nil
	}
	var errs []error
	for _, rc := range c.Rules {
		r, err := rc.Rule()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		replaced := false
		for i := range out.Rules {
			if i < len(forecast.DefaultRules()) && c.BuiltinRules && out.Rules[i].Metric == r.Metric {
				out.Rules[i], replaced = r, true
				break
			}
		}
		if !replaced {
			out.Rules = append(out.Rules, r)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return out, err
	}
	return out, out.Validate()
}

// Validate checks the parameters and every rule.
func (c ForecastConfig) Validate() error {
	var p problems
	positive(&p, "half_life", c.HalfLife)
	if c.MinSamples < 4 {
		p.addf("min_samples", "must be at least 4, got %d", c.MinSamples)
	}
	if c.MinHistory < 0 {
		p.addf("min_history", "must not be negative, got %s", c.MinHistory)
	}
	positive(&p, "max_extrapolation", c.MaxExtrapolation)
	positive(&p, "max_series", c.MaxSeries)
	seen := make(map[string]int)
	for i, rc := range c.Rules {
		path := indexPath("rules", i)
		r, err := rc.Rule()
		if err != nil {
			p.addf(path+".threshold", "%v", err)
		}
		if rc.Metric == "" {
			p.addf(path+".metric", "must not be empty")
		} else if j, dup := seen[rc.Metric]; dup {
			p.addf(path+".metric", "%q is already forecast by rules[%d]", rc.Metric, j)
		} else {
			seen[rc.Metric] = i
		}
		if r.Direction != forecast.Down && r.Direction != forecast.Up {
			p.addf(path+".direction", "%q is neither down nor up", rc.Direction)
		}
		if r.Percent && r.Capacity == "" {
			p.addf(path+".capacity", "a percentage threshold needs the capacity metric (e.g. node_filesystem_size_bytes)")
		}
		if r.Capacity != "" && r.Capacity == r.Metric {
			p.addf(path+".capacity", "must differ from metric")
		}
		if r.Horizon < 0 {
			p.addf(path+".horizon", "must be positive, got %s", r.Horizon)
		}
		if r.Critical < 0 || r.Horizon > 0 && r.Critical > r.Horizon {
			p.addf(path+".critical", "must be from 0 to the horizon (%s), got %s", r.Horizon, r.Critical)
		}
	}
	if len(p.errs) == 0 {
		if _, err := c.Model(); err != nil {
			// What only the rules together get wrong: a metric that is
			// another rule's capacity.
			p.addf("rules", "%v", err)
		}
	}
	return p.err()
}
