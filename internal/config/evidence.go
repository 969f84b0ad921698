package config

import (
	"time"

	"github.com/osprey-aiops/osprey/internal/evidence"
)

// RecentLogsConfig bounds the in-memory window of recent log lines
// (logs.recent): evidence for the lines around an anomaly, not a log store.
type RecentLogsConfig struct {
	// Enabled keeps the window; off, GET /api/v1/logs is not served.
	Enabled bool `yaml:"enabled"`
	// LinesPerStream is the most lines one stream (label set) keeps.
	LinesPerStream int `yaml:"lines_per_stream"`
	// MaxStreams is the most streams kept; a new one evicts the stream
	// written least recently.
	MaxStreams int `yaml:"max_streams"`
	// MaxBytes bounds the window's estimated memory; beyond it the
	// largest stream loses its oldest line.
	MaxBytes int64 `yaml:"max_bytes"`
	// MaxAge is how long a line is kept after it arrived.
	MaxAge time.Duration `yaml:"max_age"`
}

// DefaultRecentLogs returns logs.recent's defaults.
func DefaultRecentLogs() RecentLogsConfig {
	return RecentLogsConfig{Enabled: true, LinesPerStream: 1000, MaxStreams: 10_000, MaxBytes: 64 << 20, MaxAge: time.Hour}
}

// Validate checks that every limit is positive.
func (c RecentLogsConfig) Validate() error {
	var p problems
	positive(&p, "lines_per_stream", c.LinesPerStream)
	positive(&p, "max_streams", c.MaxStreams)
	positive(&p, "max_bytes", c.MaxBytes)
	positive(&p, "max_age", c.MaxAge)
	return p.err()
}

// Limits returns the window's limits.
func (c RecentLogsConfig) Limits() evidence.Limits {
	return evidence.Limits{PerKey: c.LinesPerStream, MaxKeys: c.MaxStreams, MaxBytes: c.MaxBytes, MaxAge: c.MaxAge}
}

// RecentSpansConfig bounds the in-memory window of recent spans
// (otlp.recent_spans): evidence, not a trace store.
type RecentSpansConfig struct {
	// Enabled keeps the window; off, GET /api/v1/spans is not served.
	Enabled bool `yaml:"enabled"`
	// SpansPerService is the most spans one service keeps.
	SpansPerService int `yaml:"spans_per_service"`
	// MaxServices is the most services kept; a new one evicts the
	// service written least recently.
	MaxServices int `yaml:"max_services"`
	// MaxBytes bounds the window's estimated memory; beyond it the
	// largest service loses its oldest span.
	MaxBytes int64 `yaml:"max_bytes"`
	// MaxAge is how long a span is kept after it arrived.
	MaxAge time.Duration `yaml:"max_age"`
}

// DefaultRecentSpans returns otlp.recent_spans' defaults.
func DefaultRecentSpans() RecentSpansConfig {
	return RecentSpansConfig{Enabled: true, SpansPerService: 2000, MaxServices: 1000, MaxBytes: 32 << 20, MaxAge: time.Hour}
}

// Validate checks that every limit is positive.
func (c RecentSpansConfig) Validate() error {
	var p problems
	positive(&p, "spans_per_service", c.SpansPerService)
	positive(&p, "max_services", c.MaxServices)
	positive(&p, "max_bytes", c.MaxBytes)
	positive(&p, "max_age", c.MaxAge)
	return p.err()
}

// Limits returns the window's limits.
func (c RecentSpansConfig) Limits() evidence.Limits {
	return evidence.Limits{PerKey: c.SpansPerService, MaxKeys: c.MaxServices, MaxBytes: c.MaxBytes, MaxAge: c.MaxAge}
}
