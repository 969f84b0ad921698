// Package ingest holds what every receiver shares, so that an event means the
// same thing whichever door it came in by:
//
//   - validation of sender-provided events against the request limits of
//     config.ServerConfig, with the NUL rule (PrepareEvent, CheckLabels,
//     CheckAnnotations, CheckContentType);
//   - the one path from a receiver into the pipeline: commit the batch to the
//     store in one transaction, then hand it to the next stage (Committer);
//   - per-receiver data-quality counters, exported as Prometheus metrics and
//     as JSON on GET /api/v1/status/ingest (Stats, Receiver);
//   - Route, the description of an HTTP route a receiver serves, which the
//     HTTP API mounts behind its authentication.
//
// The receivers themselves live in subpackages, one per wire-format family
// (internal/ingest/alerts for Alertmanager and Grafana alerts). The JSON events
// API, POST /api/v1/events, stays in internal/api and uses this package too.
package ingest
