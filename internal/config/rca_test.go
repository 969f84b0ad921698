package config

import (
	"strings"
	"testing"

	"github.com/osprey-aiops/osprey/internal/correlate"
	"github.com/osprey-aiops/osprey/internal/rca"
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

func TestRCAConcurrentConfig(t *testing.T) {
	def := Default().RCA.Concurrent
	if !def.Enabled || def.Hops != 0 {
		t.Fatalf("default rca.concurrent = %+v, want enabled, any distance", def)
	}
	if _, ok := def.Ranker(rca.IncidentRanker{}).(rca.ConcurrentIncidentRanker); !ok {
		t.Errorf("enabled: ranker is %T, want rca.ConcurrentIncidentRanker", def.Ranker(rca.IncidentRanker{}))
	}
	cfg, err := Parse([]byte("rca:\n  concurrent:\n    enabled: false\n    hops: 2\n"))
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.RCA.Concurrent
	if c.Enabled || c.Hops != 2 {
		t.Errorf("rca.concurrent = %+v", c)
	}
	if _, ok := c.Ranker(rca.IncidentRanker{}).(correlate.ConcurrentRanker); ok {
		t.Error("disabled: the ranker still reads concurrent incidents")
	}
	c.Enabled = true
	if r, ok := c.Ranker(rca.IncidentRanker{}).(rca.ConcurrentIncidentRanker); !ok || r.Hops != 2 {
		t.Errorf("enabled with hops 2: ranker %#v", c.Ranker(rca.IncidentRanker{}))
	}
	_, err = Parse([]byte("rca:\n  concurrent:\n    hops: -1\n"))
	if err == nil || !strings.Contains(err.Error(), "rca.concurrent.hops: must not be negative") {
		t.Errorf("hops -1: error %v", err)
	}
}
