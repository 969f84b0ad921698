// Package api serves Osprey's HTTP API: event ingestion, event and incident
// queries, health checks and the process' Prometheus metrics.
//
// Routes:
//
//	GET  /healthz                   liveness, no auth: 200 "ok"
//	GET  /readyz                    readiness (store ping), no auth: 200 "ok" or 503
//	GET  /metrics                   Prometheus exposition, no auth
//	POST /api/v1/events             operator: ingest a JSON array of events, 202 {"ids": [...]}
//	GET  /api/v1/events             viewer: {"events": [...]}, newest first
//	GET  /api/v1/incidents          viewer: {"incidents": [...]}, most recently updated first
//	GET  /api/v1/incidents/{id}     viewer: one incident with its timeline
//	GET  /api/v1/status/ingest      viewer: data-quality counts of every receiver (ingest.Stats)
//	GET  /api/v1/log-templates      viewer: {"templates": [...]}, mined log templates, most frequent first
//	GET  /api/v1/log-templates/{source}/{id}  viewer: one log template (the templateUrl of log anomalies)
//	GET  /api/v1/runbook-runs       viewer: {"runs": [...]}, ?incident=&limit=, newest first
//	GET  /api/v1/runbook-runs/{id}  viewer: one runbook run with its actions
//	POST /api/v1/runbook-runs/{id}/approve  operator: {"reason": "..."} optional; the updated run
//	POST /api/v1/runbook-runs/{id}/reject   operator: as approve
//	GET  /api/v1/remediation        viewer: {"paused": bool, "runbooks": [names]}
//	POST /api/v1/remediation/pause  operator: the kill switch; {"reason": "..."} optional
//	POST /api/v1/remediation/resume operator: lift it
//	POST /api/v1/remediation/reload operator: re-read the config file's remediation section
//	GET  /api/v1/audit              viewer: {"entries": [...]}, ?since=&limit=, newest first
//	GET  /api/v1/anomalies          viewer: {"anomalies": [...]}, ?since=&active=&limit=, newest first
//	GET  /api/v1/anomalies/{id}     viewer: one anomaly with the operator's verdict, if any
//	POST /api/v1/anomalies/{id}/feedback  operator: {"verdict": "false_positive"|"true_positive", "reason": "..."}
//	POST /api/v1/incidents/{id}/ack|resolve|reopen  operator: {"comment": "..."} optional; the incident (Options.Incidents)
//	POST /api/v1/incidents/{id}/assign    operator: {"assignee": "alice"}; the incident
//	POST /api/v1/incidents/{id}/comments  operator: {"text": "..."}; 201 the timeline entry
//	POST /api/v1/incidents/{id}/merge     operator: {"from": "<id>"}; the incident with from's members
//	GET  /api/v1/silences           viewer: [silences with "state"], ?state=active|pending|expired|all
//	POST /api/v1/silences           operator: {"matchers": [...], "endsAt"|"duration", "startsAt", "comment"}; 201
//	DELETE /api/v1/silences/{id}    operator: expire it now; 200 the silence
//
// Options.Routes adds the routes of the receivers of other wire formats
// (internal/ingest/alerts: POST /api/v2/alerts, /api/v1/alerts/...), each
// behind the same authentication, metrics and JSON errors.
//
// Every error, including unknown routes (404) and wrong methods (405), is a JSON
// object {"error": "reason"}; an error about one element of an ingested array
// also carries its position, {"error": "...", "index": 3}.
//
// # Ingestion
//
// POST /api/v1/events takes a JSON array of objects with the fields source,
// name, labels, annotations, severity, status, startsAt and endsAt; any other
// field (id, fingerprint, ...) is rejected, because Osprey assigns those. The
// whole array is decoded and validated before anything is stored: one bad
// element rejects the request and nothing of it is kept, so a client can fix
// and resend the whole batch. A 202 reply means the batch is committed to the
// store; the batch is then handed to the pipeline, and if that hand-off fails
// the correlator still picks the events up from the store. Validation and the
// commit-then-hand-off path are internal/ingest's, which every receiver
// shares.
//
// Limits (config.ServerConfig): a body over MaxBodyBytes or an array of more
// than MaxEventsPerRequest events gets 413; more than MaxLabelsPerEvent labels
// (or annotations), a value over MaxLabelValueBytes (reason label_limit), or a
// label name outside [a-zA-Z_][a-zA-Z0-9_]* (reason invalid) gets 400 with the
// element's index.
//
// The Content-Type must be application/json (a charset parameter, if any,
// must be utf-8). A request without a Content-Type header is accepted as JSON,
// because simple senders (shell scripts, webhooks) often omit it; any other
// type, including curl's default application/x-www-form-urlencoded, gets 415
// so that a form post is not misread.
//
// # Metrics
//
// The API registers osprey_http_requests_total{route,code},
// osprey_http_request_duration_seconds{route} and
// osprey_events_rejected_total{reason}; the ingest.Committer's
// osprey_events_accepted_total{source} and
// osprey_events_handoff_failures_total; the ingest.Stats' osprey_ingest_*;
// and the Authenticator's osprey_auth_failures_total{reason}. The route label
// is the matched route pattern ("POST /api/v1/events") or "unmatched", so its
// values are bounded.
package api
