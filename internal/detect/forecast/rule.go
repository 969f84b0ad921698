package forecast

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Direction says which way a series moves towards its threshold.
type Direction string

// Directions.
const (
	// Down: the series falls to the threshold (free space, available
	// memory).
	Down Direction = "down"
	// Up: the series rises to the threshold (used space, open files).
	Up Direction = "up"
)

// sign is -1 for Down and +1 for Up: the sign of a movement towards the
// threshold.
func (d Direction) sign() float64 {
	if d == Down {
		return -1
	}
	return 1
}

// Rule says which series are forecast and against what threshold: every
// series named Metric.
type Rule struct {
	// Metric is the metric name (__name__) of the series forecast.
	Metric string `json:"metric"`
	// Direction is how the series approaches the threshold.
	Direction Direction `json:"direction"`
	// Threshold is the value whose crossing is forecast; when Percent is
	// set, a percentage of the capacity series.
	Threshold float64 `json:"threshold"`
	Percent   bool    `json:"percent,omitempty"`
	// Capacity names the metric whose series with the same other labels
	// holds the series' capacity (node_filesystem_size_bytes for
	// node_filesystem_avail_bytes). Needed by a percentage threshold; with
	// an absolute one it only adds the share to the explanation.
	Capacity string `json:"capacity,omitempty"`
	// Horizon: a crossing forecast within it opens a warning.
	Horizon time.Duration `json:"horizon"`
	// Critical: a crossing forecast within it makes the forecast
	// critical; 0 never does.
	Critical time.Duration `json:"critical"`
}

// String describes the rule: "node_filesystem_avail_bytes down to 0 within
// 24h (critical within 4h)".
func (r *Rule) String() string {
	thr := strconv.FormatFloat(r.Threshold, 'g', -1, 64)
	if r.Percent {
		thr += "% of " + r.Capacity
	}
	s := fmt.Sprintf("%s %s to %s within %s", r.Metric, r.Direction, thr, FormatDuration(r.Horizon))
	if r.Critical > 0 {
		s += fmt.Sprintf(" (critical within %s)", FormatDuration(r.Critical))
	}
	return s
}

// Validate checks the rule.
func (r *Rule) Validate() error {
	var errs []error
	if r.Metric == "" {
		errs = append(errs, errors.New("metric: must not be empty"))
	}
	if r.Direction != Down && r.Direction != Up {
		errs = append(errs, fmt.Errorf("direction: %q is neither down nor up", r.Direction))
	}
	if math.IsNaN(r.Threshold) || math.IsInf(r.Threshold, 0) {
		errs = append(errs, errors.New("threshold: must be a finite number"))
	}
	if r.Percent && r.Capacity == "" {
		errs = append(errs, errors.New("capacity: a percentage threshold needs the capacity metric"))
	}
	if r.Capacity != "" && r.Capacity == r.Metric {
		errs = append(errs, errors.New("capacity: must differ from metric"))
	}
	if r.Horizon <= 0 {
		errs = append(errs, errors.New("horizon: must be positive"))
	}
	if r.Critical < 0 || r.Critical > r.Horizon {
		errs = append(errs, errors.New("critical: must be from 0 to the horizon"))
	}
	return errors.Join(errs...)
}

// ParseThreshold parses a rule's threshold: a number ("0", "0.95",
// "1e9") or a percentage of the capacity series ("10%"). Surrounding
// spaces are allowed; NaN and infinities are not.
func ParseThreshold(s string) (value float64, percent bool, err error) {
	t := strings.TrimSpace(s)
	if rest, ok := strings.CutSuffix(t, "%"); ok {
		t, percent = strings.TrimSpace(rest), true
	}
	if t == "" {
		return 0, false, fmt.Errorf("threshold %q: want a number or a percentage such as 10%%", s)
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false, fmt.Errorf("threshold %q: want a number or a percentage such as 10%%", s)
	}
	if percent && (v < 0 || v > 100) {
		return 0, false, fmt.Errorf("threshold %q: a percentage must be from 0%% to 100%%", s)
	}
	return v, percent, nil
}

// DefaultRules are the built-in rules, for node_exporter's series:
//
//   - node_filesystem_avail_bytes down to 0 (the file system is full for
//     non-root users) within 24h, critical within 4h: the horizons of the
//     node-mixin's NodeFilesystemSpaceFillingUp alerts;
//     node_filesystem_size_bytes gives the share in the explanation.
//   - node_memory_MemAvailable_bytes down to 0 within 12h, critical within
//     2h: a memory leak, seen before the OOM killer runs.
//
// node_filesystem_free_bytes is not forecast by default: it is the same
// disk as avail (plus the root reserve), so it would double every forecast.
func DefaultRules() []Rule {
	return []Rule{
		{Metric: "node_filesystem_avail_bytes", Direction: Down, Threshold: 0, Capacity: "node_filesystem_size_bytes",
			Horizon: 24 * time.Hour, Critical: 4 * time.Hour},
		{Metric: "node_memory_MemAvailable_bytes", Direction: Down, Threshold: 0, Capacity: "node_memory_MemTotal_bytes",
			Horizon: 12 * time.Hour, Critical: 2 * time.Hour},
	}
}

// Config holds the forecaster's parameters.
type Config struct {
	// Rules say which series are forecast; a metric appears in one rule at
	// most.
	Rules []Rule
	// HalfLife is the sample time after which a sample's weight in the
	// trend fit has halved.
	HalfLife time.Duration
	// MinSamples and MinHistory: a fit needs this many samples spanning
	// this much time before it forecasts.
	MinSamples int
	MinHistory time.Duration
	// MaxExtrapolation bounds how far ahead a crossing is forecast, as a
	// multiple of the fit's window (the equivalent uniform window of its
	// weights): a trend fitted over an hour says little about next week.
	MaxExtrapolation float64
	// Z is the number of standard errors of the slope that make the
	// confidence bounds; a slope within Z standard errors of flat does not
	// forecast.
	Z float64
	// Jump is the residual, in residual standard deviations, beyond which
	// a sample is an outlier; jumpRun in a row on one side restart the fit.
	Jump float64
	// Huber is the residual, in residual standard deviations, beyond which
	// a sample's weight in the fit shrinks (Huber's weights); 0: never.
	Huber float64
	// OpenAfter is the number of consecutive samples that must forecast a
	// crossing within the horizon before a forecast opens; CloseAfter the
	// number that must not (even within CloseMargin × the horizon) before
	// it closes.
	OpenAfter, CloseAfter int
	CloseMargin           float64
	// MaxSeries bounds the series forecast; samples of further series are
	// dropped and counted.
	MaxSeries int
}

// DefaultConfig returns the measured defaults (docs/detection.md,
// "Forecasting").
func DefaultConfig() Config {
	return Config{
		Rules:            DefaultRules(),
		HalfLife:         time.Hour,
		MinSamples:       10,
		MinHistory:       time.Minute,
		MaxExtrapolation: 4,
		Z:                3,
		Jump:             6,
		Huber:            2,
		OpenAfter:        3,
		CloseAfter:       3,
		CloseMargin:      1.25,
		MaxSeries:        100_000,
	}
}

// Validate checks the parameters and every rule.
func (c *Config) Validate() error {
	var errs []error
	seen := make(map[string]int)
	for i := range c.Rules {
		r := &c.Rules[i]
		if err := r.Validate(); err != nil {
			parts := []error{err}
			if j, ok := err.(interface{ Unwrap() []error }); ok {
				parts = j.Unwrap()
			}
			for _, e := range parts {
				errs = append(errs, fmt.Errorf("rules[%d]: %w", i, e))
			}
		}
		if j, dup := seen[r.Metric]; dup && r.Metric != "" {
			errs = append(errs, fmt.Errorf("rules[%d]: metric %q is already forecast by rules[%d]", i, r.Metric, j))
		}
		seen[r.Metric] = i
	}
	for i := range c.Rules {
		if j, ok := seen[c.Rules[i].Capacity]; ok {
			errs = append(errs, fmt.Errorf("rules[%d]: capacity %q is forecast by rules[%d]; a series cannot be both", i, c.Rules[i].Capacity, j))
		}
	}
	if c.HalfLife <= 0 {
		errs = append(errs, errors.New("half_life: must be positive"))
	}
	if c.MinSamples < jumpRun+1 {
		errs = append(errs, fmt.Errorf("min_samples: must be at least %d", jumpRun+1))
	}
	if c.MinHistory < 0 {
		errs = append(errs, errors.New("min_history: must not be negative"))
	}
	if !(c.MaxExtrapolation > 0) {
		errs = append(errs, errors.New("max_extrapolation: must be positive"))
	}
	if !(c.Z > 0) || !(c.Jump > 0) || !(c.CloseMargin >= 1) {
		errs = append(errs, errors.New("z and jump must be positive, close margin at least 1"))
	}
	if c.OpenAfter < 1 || c.CloseAfter < 1 {
		errs = append(errs, errors.New("open_after and close_after: must be at least 1"))
	}
	if c.MaxSeries < 1 {
		errs = append(errs, errors.New("max_series: must be positive"))
	}
	return errors.Join(errs...)
}

func (c *Config) params() Params {
	return Params{HalfLifeMs: c.HalfLife.Milliseconds(), Jump: c.Jump, MinSamples: c.MinSamples, Huber: c.Huber}
}
