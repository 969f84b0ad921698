package config

import (
	"time"

	tracedetect "github.com/osprey-aiops/osprey/internal/detect/trace"
)

// TraceDetectConfig configures the trace detect stage (detect.traces,
// internal/detect/trace): per service and operation, the calls a span
// normally makes and its usual self time, and anomalies of kind "trace"
// when a service's recent spans break that pattern.
type TraceDetectConfig struct {
	// Enabled runs the stage on every span received.
	Enabled bool `yaml:"enabled"`
	// Settle is how long a trace is held after its latest span arrived
	// before it is judged.
	Settle time.Duration `yaml:"settle"`
	// Window is how far back a service's spans are tallied.
	Window time.Duration `yaml:"window"`
	// LearnDelay is how long a broken or slow span waits before it is
	// learnt as normal.
	LearnDelay time.Duration `yaml:"learn_delay"`
	// MaxOperations bounds the (service, operation) profiles.
	MaxOperations int `yaml:"max_operations"`
	// MaxPendingSpans bounds the spans held until their trace settles.
	MaxPendingSpans int `yaml:"max_pending_spans"`
}

// DefaultTraceDetect returns detect.traces' defaults: the stage's own.
func DefaultTraceDetect() TraceDetectConfig {
	d := tracedetect.DefaultConfig()
	return TraceDetectConfig{Enabled: true, Settle: d.Settle, Window: d.Window, LearnDelay: d.LearnDelay,
		MaxOperations: d.MaxOperations, MaxPendingSpans: d.MaxPendingSpans}
}

// Validate checks that every value is positive.
func (c TraceDetectConfig) Validate() error {
	var p problems
	positive(&p, "settle", c.Settle)
	positive(&p, "window", c.Window)
	positive(&p, "learn_delay", c.LearnDelay)
	positive(&p, "max_operations", c.MaxOperations)
	positive(&p, "max_pending_spans", c.MaxPendingSpans)
	return p.err()
}

// Detector returns the stage's configuration: its defaults with this
// section's values.
func (c TraceDetectConfig) Detector() tracedetect.Config {
	d := tracedetect.DefaultConfig()
	d.Settle, d.Window, d.LearnDelay = c.Settle, c.Window, c.LearnDelay
	d.MaxOperations, d.MaxPendingSpans = c.MaxOperations, c.MaxPendingSpans
	return d
}
