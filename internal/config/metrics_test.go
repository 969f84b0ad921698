package config

import (
	"path/filepath"
	"testing"
	"time"
)

func TestParseMetricSections(t *testing.T) {
	cfg, err := ParseWithEnv([]byte("data_dir: /d\ndetect: {enabled: false}\ntsdb: {retention: 48h}\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Detect.Enabled {
		t.Error("detect.enabled: false decoded as true")
	}
	if cfg.Detect.MaxSeries != Default().Detect.MaxSeries || cfg.TSDB.Retention != 48*time.Hour {
		t.Errorf("defaults not kept: %+v %+v", cfg.Detect, cfg.TSDB)
	}
	if got := cfg.TSDBPath(); got != filepath.Join("/d", "tsdb") {
		t.Errorf("TSDBPath() = %s", got)
	}
	cfg.TSDB.Path = "/abs/tsdb"
	if got := cfg.TSDBPath(); got != "/abs/tsdb" {
		t.Errorf("TSDBPath() = %s, want the absolute path as given", got)
	}
	cfg, err = ParseWithEnv([]byte("detect:\n  enabled: ${ON}\n"), func(string) (string, bool) { return "true", true })
	if err != nil || !cfg.Detect.Enabled {
		t.Errorf("enabled from the environment: %v, %v", cfg.Detect.Enabled, err)
	}
}
