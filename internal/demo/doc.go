// Package demo is the simulated environment behind `osprey demo`: a small
// web shop (frontend, catalog, checkout, payment, inventory, postgres) whose
// services call each other, emit Prometheus-style metrics, log lines and
// OpenTelemetry traces, and suffer a fault every few minutes (latency,
// errors, CPU saturation, a crash loop, a disk filling up).
//
// The environment talks to a real Osprey engine (internal/app.Run, what
// `osprey serve` runs) only through Osprey's public receivers, over
// loopback, exactly as a user's own senders would:
//
//   - metrics through Prometheus remote_write 1.0 (POST /api/v1/write,
//     snappy-compressed prompb.WriteRequest);
//   - logs through Loki's push API (POST /loki/api/v1/push, JSON);
//   - traces through OTLP/HTTP (POST /v1/traces, protobuf);
//   - the crash loop's alert through Alertmanager's API v2 (POST
//     /api/v2/alerts), as Prometheus' rule evaluation would send it.
//
// A control endpoint on loopback (Control) lets Osprey's runbooks act on the
// simulated services: restart one, or clean up its old logs.
//
// The model (Sim) is deterministic for a seed and is stepped in sample time,
// so its data can be fed to the detectors in tests without any clock.
// Run wires the model, the senders, the control endpoint and the engine
// together and prints what happens.
package demo
