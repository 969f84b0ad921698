// Package evidence keeps bounded windows of the most recent raw signals, so
// that an operator looking at an anomaly or an incident can read the log
// lines and spans around it. Osprey is not a log or trace store: the windows
// live in memory, hold minutes to an hour, and forget on restart.
//
// A LogWindow keeps lines per stream (the label set a line arrived with:
// source, service, host, file, ...); a SpanWindow keeps spans per service.
// Both are bounded four ways (Limits): items per key, keys in total (a new
// key evicts the one written least recently), estimated bytes in total (the
// key holding the most bytes gives up its oldest item, so that a flood in
// one stream does not erase the last lines of the quiet ones), and age on
// the injected clock. Every eviction is counted by the limit that caused it
// (Collector exports the counts).
//
// The windows are fed from the bus (bus.Logs and bus.Spans, consumer group
// "evidence") by internal/app, and read by the API's GET /api/v1/logs and
// GET /api/v1/spans.
package evidence
