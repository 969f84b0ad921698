// Package loki receives log lines in Loki's push API, POST
// /loki/api/v1/push, so that Promtail, Grafana Alloy, the Docker driver and
// anything else that ships to Loki can ship to Osprey unchanged.
//
// # Formats
//
// Both bodies Loki takes are read:
//
//   - Protobuf (Content-Type application/x-protobuf, or none): a
//     snappy-compressed push.PushRequest, as Promtail and Alloy send. It is
//     decoded with protowire (see proto.go for the field numbers), not with
//     the gogo-generated types of Loki's push package (the tests use those
//     as the reference encoder and decoder): decoding straight into records
//     is faster and keeps gogo/protobuf out of the binary. Each stream's
//     labels arrive as a selector,
//     {app="api", env="prod"}, parsed by a small fuzzed parser.
//   - JSON (Content-Type application/json):
//     {"streams": [{"stream": {labels}, "values": [["<unix ns>", "line", {structured metadata}]]}]}.
//
// Either may also be compressed with Content-Encoding gzip or deflate, as
// Loki allows; "snappy" is accepted as a name for the protobuf body's own
// compression.
//
// # Records
//
// Every entry becomes an osprey.LogRecord:
//
//   - Time is the entry's timestamp, in UTC.
//   - Labels are the stream's labels plus source="loki" (a stream's own
//     source label is kept as exported_source). The records of one stream
//     share one Labels map: a consumer that changes a record's labels must
//     clone them first.
//   - Body is the line, whole: the receiver parses no header out of it.
//   - Attributes are the entry's structured metadata.
//   - Level is, in this order, the stream's level or detected_level label,
//     the entry's level or detected_level structured metadata (normalised by
//     logparse.NormaliseLevel, an unknown word kept in lower case), or what
//     logparse.DetectLevel finds in the line.
//
// # Validation and partial pushes
//
// A body that is not a push request at all (bad JSON, a corrupt protobuf or
// snappy block) is refused whole with 400; one over the size limits with 413
// (server.max_body_bytes as sent, MaxDecodedBytes after decompression); an
// unknown Content-Type or Content-Encoding with 415. Otherwise each stream and
// entry is checked, and Loki's own convention is followed: the valid entries
// are accepted, and if any were rejected the reply is 400 naming the first
// problem (senders do not retry a 4xx). Rejected are streams whose labels do
// not parse (malformed), are empty or break Prometheus' label syntax or the
// NUL rule (invalid), or exceed the label limits (label_limit); entries whose
// line is longer than MaxLineBytes (too_large, with Loki's own message), whose
// timestamp is outside 1970 to 2262 (invalid), or whose structured metadata
// breaks the limits. Success is 204 with no body, as Loki replies. When the
// consumer fails, nothing is kept and the reply is 503 (500 when retrying
// cannot help); Promtail and Alloy retry 5xx replies.
//
// # Data quality
//
// The receiver counts requests, entries and rejections by reason in
// ingest.Stats as receiver "loki".
package loki
