package config

import (
	"strings"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey/internal/evidence"
)

func TestRecentWindowsConfig(t *testing.T) {
	cfg, err := Parse([]byte(`
logs:
  recent:
    lines_per_stream: 50
    max_age: 10m
otlp:
  recent_spans:
    enabled: false
`))
	if err != nil {
		t.Fatal(err)
	}
	want := evidence.Limits{PerKey: 50, MaxKeys: 10_000, MaxBytes: 64 << 20, MaxAge: 10 * time.Minute}
	if got := cfg.Logs.Recent.Limits(); got != want || !cfg.Logs.Recent.Enabled {
		t.Errorf("logs.recent = %+v, limits %+v; want %+v", cfg.Logs.Recent, got, want)
	}
	if cfg.OTLP.RecentSpans.Enabled || cfg.OTLP.RecentSpans.SpansPerService != 2000 {
		t.Errorf("otlp.recent_spans = %+v", cfg.OTLP.RecentSpans)
	}

	// Parse validates, naming every problem with its key path.
	_, err = Parse([]byte(`
logs:
  recent: {lines_per_stream: 0, max_bytes: -1}
otlp:
  recent_spans: {max_services: 0, max_age: 0s}
`))
	for _, path := range []string{"logs.recent.lines_per_stream", "logs.recent.max_bytes",
		"otlp.recent_spans.max_services", "otlp.recent_spans.max_age"} {
		if err == nil || !strings.Contains(err.Error(), path+": must be positive") {
			t.Errorf("Validate() = %v, want a problem at %s", err, path)
		}
	}
}
