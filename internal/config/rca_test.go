package config

import (
	"strings"
	"testing"
)

func TestRCAHistoryConfig(t *testing.T) {
	cfg, err := Parse([]byte("rca:\n  history:\n    enabled: false\n    lookback: 48h\n    lead: 0s\n"))
	if err != nil {
		t.Fatal(err)
	}
	h := cfg.RCA.History
	if h.Enabled || h.Lookback.Hours() != 48 || h.Lead != 0 || h.MaxSeries != 64 {
		t.Errorf("rca.history = %+v", h)
	}
	_, err = Parse([]byte("rca:\n  history:\n    lead: -1m\n    max_series: 0\n    coarse_step: 0s\n"))
	for _, want := range []string{"rca.history.lead: must not be negative", "rca.history.max_series", "rca.history.coarse_step"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
}
