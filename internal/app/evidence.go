package app

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/osprey-aiops/osprey/internal/bus"
	"github.com/osprey-aiops/osprey/internal/config"
	"github.com/osprey-aiops/osprey/internal/evidence"
)

// evidenceGroup is the bus consumer group of the recent-evidence windows.
const evidenceGroup = "evidence"

// recentEvidence are the windows of recent log lines (logs.recent) and
// spans (otlp.recent_spans) that GET /api/v1/logs and GET /api/v1/spans
// read; a window that is off is nil.
type recentEvidence struct {
	logs  *evidence.LogWindow
	spans *evidence.SpanWindow
}

// buildEvidence builds the windows cfg enables, subscribes them to bus.Logs
// and bus.Spans in a consumer group of their own (so they see every line
// and span whatever the miner and the call graph do, and need no hook in
// either), and registers their metrics. It runs before the bus starts.
func buildEvidence(cfg config.Config, b bus.Bus, reg prometheus.Registerer, now func() time.Time) (recentEvidence, error) {
	var ev recentEvidence
	var err error
	if c := cfg.Logs.Recent; c.Enabled {
		if ev.logs, err = evidence.NewLogWindow(c.Limits(), now); err != nil {
			return ev, fmt.Errorf("logs.recent: %w", err)
		}
		if err := bus.Subscribe(b, bus.Logs, evidenceGroup, ev.logs.ConsumeLogs); err != nil {
			return ev, fmt.Errorf("subscribe the log window to logs: %w", err)
		}
		if err := reg.Register(ev.logs.Collector()); err != nil {
			return ev, fmt.Errorf("register log window metrics: %w", err)
		}
	}
	if c := cfg.OTLP.RecentSpans; c.Enabled {
		if ev.spans, err = evidence.NewSpanWindow(c.Limits(), now); err != nil {
			return ev, fmt.Errorf("otlp.recent_spans: %w", err)
		}
		if err := bus.Subscribe(b, bus.Spans, evidenceGroup, ev.spans.ConsumeSpans); err != nil {
			return ev, fmt.Errorf("subscribe the span window to spans: %w", err)
		}
		if err := reg.Register(ev.spans.Collector()); err != nil {
			return ev, fmt.Errorf("register span window metrics: %w", err)
		}
	}
	return ev, nil
}
