package config

import (
	"strings"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey/internal/detect/forecast"
)

func TestForecastRules(t *testing.T) {
	cfg, err := ParseWithEnv([]byte(`
forecast:
  min_history: 2m
  rules:
    - metric: node_filesystem_avail_bytes
      threshold: 10%
      capacity: node_filesystem_size_bytes
      critical: 2h
    - metric: process_open_fds
      direction: up
      threshold: 1000
      horizon: 6h
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := cfg.Forecast.Model()
	if err != nil {
		t.Fatal(err)
	}
	if m.MinHistory != 2*time.Minute || len(m.Rules) != 3 {
		t.Fatalf("min_history %s, %d rules, want 2m and 3: %+v", m.MinHistory, len(m.Rules), m.Rules)
	}
	want := forecast.Rule{Metric: "node_filesystem_avail_bytes", Direction: forecast.Down, Threshold: 10, Percent: true,
		Capacity: "node_filesystem_size_bytes", Horizon: 24 * time.Hour, Critical: 2 * time.Hour}
	if m.Rules[0] != want {
		t.Errorf("rule replacing the built-in one: %+v, want %+v", m.Rules[0], want)
	}
	if m.Rules[1].Metric != "node_memory_MemAvailable_bytes" || m.Rules[2].Metric != "process_open_fds" || m.Rules[2].Threshold != 1000 {
		t.Errorf("rules: %+v", m.Rules)
	}
	cfg.Forecast.BuiltinRules = false
	if m, _ := cfg.Forecast.Model(); len(m.Rules) != 2 {
		t.Errorf("without built-in rules: %d rules, want 2", len(m.Rules))
	}
}

func TestForecastProblems(t *testing.T) {
	_, err := ParseWithEnv([]byte(`
forecast:
  half_life: 0s
  min_samples: 2
  max_extrapolation: 0
  rules:
    - metric: a_bytes
      direction: sideways
      threshold: lots
      critical: 48h
    - metric: a_bytes
      threshold: 10%
    - threshold: 1
    - metric: b
      capacity: node_filesystem_avail_bytes
`), nil)
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{
		"line 3: forecast.half_life: must be positive",
		"line 4: forecast.min_samples: must be at least 4, got 2",
		"line 5: forecast.max_extrapolation: must be positive",
		`forecast.rules[0].direction: "sideways" is neither down nor up`,
		`forecast.rules[0].threshold: threshold "lots": want a number or a percentage such as 10%`,
		"forecast.rules[0].critical: must be from 0 to the horizon (24h0m0s), got 48h0m0s",
		`forecast.rules[1].metric: "a_bytes" is already forecast by rules[0]`,
		"forecast.rules[1].capacity: a percentage threshold needs the capacity metric",
		"forecast.rules[2].metric: must not be empty",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	// A rule's capacity that another rule forecasts is caught once the
	// rules are otherwise valid.
	_, err = ParseWithEnv([]byte("forecast:\n  rules:\n    - metric: b\n      capacity: node_filesystem_avail_bytes\n"), nil)
	if err == nil || !strings.Contains(err.Error(), `forecast.rules: rules[2]: capacity "node_filesystem_avail_bytes" is forecast by rules[0]`) {
		t.Errorf("capacity that is forecast: %v", err)
	}
}
