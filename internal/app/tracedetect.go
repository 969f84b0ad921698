package app

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/bus"
	"github.com/osprey-aiops/osprey/internal/config"
	tracedetect "github.com/osprey-aiops/osprey/internal/detect/trace"
	"github.com/osprey-aiops/osprey/internal/logmine"
)

// traceDetectGroup is the bus consumer group of the trace detect stage.
const traceDetectGroup = "tracedetect"

// buildTraceDetect builds the trace detect stage (detect.traces): a
// consumer group of its own on bus.Spans, so it sees every span whatever
// the call graph and the span window do, handing its anomalies to sink as
// the metric and log detectors do (stored, then to the correlator). It is
// nil when the stage is off; the caller starts it after the bus.
func buildTraceDetect(cfg config.TraceDetectConfig, b bus.Bus, sink osprey.AnomalyConsumer, reg prometheus.Registerer,
	now func() time.Time, log *slog.Logger,
) (*tracedetect.Detector, error) {
	if !cfg.Enabled {
		return nil, nil
	}
	det, err := tracedetect.New(tracedetect.Options{Config: cfg.Detector(), Out: sink, Now: now, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("detect.traces: %w", err)
	}
	if err := bus.Subscribe(b, bus.Spans, traceDetectGroup, det.ConsumeSpans); err != nil {
		return nil, fmt.Errorf("subscribe the trace detector to spans: %w", err)
	}
	if err := registerTraceDetectMetrics(reg, det); err != nil {
		return nil, err
	}
	return det, nil
}

// spanLogObserver returns the log miner's per-line hook that joins each
// line carrying a trace and span id to its span in det
// (tracedetect.Detector.ObserveRecord). It is nil when det is.
func spanLogObserver(det *tracedetect.Detector) func(string, logmine.Match, *osprey.LogRecord) {
	if det == nil {
		return nil
	}
	return func(_ string, m logmine.Match, r *osprey.LogRecord) { det.ObserveRecord(m.ID, m.Content, r) }
}

// registerTraceDetectMetrics exports the trace detector's counts.
func registerTraceDetectMetrics(reg prometheus.Registerer, det *tracedetect.Detector) error {
	stat := func(f func(tracedetect.Stats) float64) func() float64 {
		return func() float64 { return f(det.Stats()) }
	}
	counter := func(name, help string, f func(tracedetect.Stats) float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, stat(f))
	}
	gauge := func(name, help string, f func(tracedetect.Stats) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, stat(f))
	}
	// One counter per label value, all under one help text: Prometheus
	// requires that.
	labelled := func(name, help, label string) func(value string, f func(tracedetect.Stats) float64) prometheus.Collector {
		return func(value string, f func(tracedetect.Stats) float64) prometheus.Collector {
			return prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: name, Help: help, ConstLabels: prometheus.Labels{label: value},
			}, stat(f))
		}
	}
	dropped := labelled("osprey_tracedetect_dropped_total",
		"Spans or profile entries the trace detector did not keep because of a cap: pending (detect.traces.max_pending_spans, which also holds the log lines' keys, or the services cap), profile (detect.traces.max_operations or an operation's calls cap), delayed (broken or slow spans waiting for detect.traces.learn_delay, never learnt).",
		"reason")
	cutTraces := labelled("osprey_tracedetect_cut_traces_total",
		"Traces judged as incomplete, whose missing calls (part spans: two or more spans without their parent) or missing log lines (part logs: spans without any line in two services, neither calling the other) were not taken as breaks.",
		"part")
	cs := []prometheus.Collector{
		counter("osprey_tracedetect_spans_total", "Spans the trace detector received (with a trace id, span id and service).",
			func(s tracedetect.Stats) float64 { return float64(s.Spans) }),
		counter("osprey_tracedetect_judged_spans_total", "Spans judged against their operation's profile once their trace settled.",
			func(s tracedetect.Stats) float64 { return float64(s.Judged) }),
		counter("osprey_tracedetect_broken_spans_total", "Judged spans without a call their operation normally makes.",
			func(s tracedetect.Stats) float64 { return float64(s.Broken) }),
		counter("osprey_tracedetect_slow_spans_total", "Judged spans with a self time far above their operation's learnt one.",
			func(s tracedetect.Stats) float64 { return float64(s.Slow) }),
		counter("osprey_tracedetect_anomalies_opened_total", "Trace anomalies opened.",
			func(s tracedetect.Stats) float64 { return float64(s.Opened) }),
		counter("osprey_tracedetect_anomalies_ended_total", "Trace anomalies ended.",
			func(s tracedetect.Stats) float64 { return float64(s.Closed) }),
		counter("osprey_tracedetect_anomalies_escalated_total", "Trace anomalies ended by an escalation (a finding at least twice as surprising opened a stronger one).",
			func(s tracedetect.Stats) float64 { return float64(s.Escalated) }),
		counter("osprey_tracedetect_log_lines_total", "Mined log lines with a trace and span id handed to the trace detector.",
			func(s tracedetect.Stats) float64 { return float64(s.Logs) }),
		counter("osprey_tracedetect_log_lines_joined_total", "Log lines whose key joined their span's companions when the trace settled.",
			func(s tracedetect.Stats) float64 { return float64(s.LogsJoined) }),
		counter("osprey_tracedetect_log_lines_unjoined_total", "Log lines whose span had not arrived (or was judged already, or is another service's) when their trace settled.",
			func(s tracedetect.Stats) float64 { return float64(s.LogsUnjoined) }),
		gauge("osprey_tracedetect_pending_spans", "Spans, and distinct log keys of their lines, held until their trace settles.",
			func(s tracedetect.Stats) float64 { return float64(s.Pending) }),
		gauge("osprey_tracedetect_operations", "(Service, operation) profiles learnt.",
			func(s tracedetect.Stats) float64 { return float64(s.Operations) }),
		gauge("osprey_tracedetect_services", "Services with judged spans in the window or an open anomaly.",
			func(s tracedetect.Stats) float64 { return float64(s.Services) }),
		cutTraces("spans",
			func(s tracedetect.Stats) float64 { return float64(s.CutSpans) }),
		cutTraces("logs",
			func(s tracedetect.Stats) float64 { return float64(s.CutLogs) }),
		dropped("pending",
			func(s tracedetect.Stats) float64 { return float64(s.DroppedPending) }),
		dropped("profile",
			func(s tracedetect.Stats) float64 { return float64(s.DroppedProfile) }),
		dropped("delayed",
			func(s tracedetect.Stats) float64 { return float64(s.DroppedDelayed) }),
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("register trace detect metrics: %w", err)
		}
	}
	return nil
}
