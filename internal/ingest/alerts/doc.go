// Package alerts receives alerts in the wire formats of the Prometheus
// alerting ecosystem and turns them into osprey.Events:
//
//	POST /api/v2/alerts                 Alertmanager API v2: a JSON array of postable alerts,
//	                                    as Prometheus, Loki, Mimir and vmalert rulers send them
//	POST /api/v1/alerts/alertmanager    Alertmanager's webhook receiver payload, version 4
//	POST /api/v1/alerts/grafana         Grafana Alerting's webhook contact point (PUT too)
//
// The three are one package because they are one data model: Grafana's
// webhook payload is Alertmanager's version 4 payload with fields added, and
// the v2 API's postable alert is the alert inside both. They share one
// mapping, so that the same alert gets the same fingerprint whichever path it
// took: Prometheus sends an alert to Osprey's v2 API and to an Alertmanager
// whose webhook forwards it to Osprey, and the correlator counts both copies
// as one member.
//
// # Mapping
//
//   - Name is the alertname label (an alert without one is rejected).
//   - Labels are the alert's labels, alertname and severity included,
//     minus labels with an empty value (which Alertmanager drops too).
//   - Severity is osprey.ParseSeverity of the severity label; a word it does
//     not know gives SeverityUnknown and is counted as the warning
//     unknown_severity, not rejected.
//   - Status is resolved when the payload says "resolved" or when endsAt is
//     set and not after the time Osprey received the alert (Alertmanager v2
//     semantics: Prometheus resolves an alert by re-sending it with endsAt in
//     the past); otherwise firing.
//   - StartsAt and EndsAt are the alert's. Prometheus gives a firing alert an
//     endsAt in the future (its "valid until"); that is kept as sent.
//     A v2 alert without startsAt starts at its endsAt, or at the receive
//     time.
//   - Source is "alertmanager" and "grafana" for the webhooks; for the v2
//     API it is the sender named by the User-Agent (prometheus, loki,
//     vmalert, mimir, thanos, cortex, grafana), else "alertmanager-api".
//   - Annotations are the alert's, plus the links and values the format
//     carries outside them, under the format's own field names:
//     generatorURL, externalURL, senderFingerprint (the sender's fingerprint
//     of the alert, to find it there), and for Grafana silenceURL,
//     dashboardURL, panelURL, imageURL, valueString, values and orgId. These
//     are added only where they fit the annotation limits and never cause a
//     rejection; the alert's own annotation of the same name wins.
//
// # Validation and partial batches
//
// Every alert goes through ingest.PrepareEvent: the request limits of
// config.ServerConfig, Prometheus' label name syntax and the NUL rule, as for
// POST /api/v1/events. Unknown JSON fields are ignored (senders add fields in
// new releases). A body that is not the format's JSON, too large
// (server.max_body_bytes, 413) or with more alerts than
// server.max_events_per_request (413) is refused whole. Otherwise the batch
// follows Alertmanager's own v2 convention: the valid alerts are committed to
// the store in one transaction and handed to the pipeline, and if any alert
// was rejected the reply is 400 listing each rejected alert's index, reason
// and error, and the ids of those stored. Senders do not retry a 4xx, and the
// valid alerts must not be lost for one bad neighbour.
//
// Success is 200 with an empty body on the v2 API (as Alertmanager replies),
// and 202 {"ids": [...]} on the webhooks. A store failure is 503 (or 500 when
// retrying cannot help) and nothing is kept; Alertmanager and Grafana retry
// 5xx replies.
//
// # Data quality
//
// Each route counts its requests, alerts and rejections in ingest.Stats as
// receivers alertmanager_v2, alertmanager_webhook and grafana_webhook.
package alerts
