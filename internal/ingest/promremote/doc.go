// Package promremote is the Prometheus remote_write 1.0 and 2.0 receiver:
//
//	POST /api/v1/write    snappy-compressed protobuf prometheus.WriteRequest (prompb)
//	                      or io.prometheus.write.v2.Request (remote-write 2.0, v2.go)
//
// so that a Prometheus server, Grafana Alloy, the OpenTelemetry Collector's
// prometheusremotewrite exporter or vmagent can point a remote_write block at
// Osprey unchanged.
//
// # What happens to a request
//
//  1. The body is read within server.max_body_bytes (413), its
//     Content-Type must be application/x-protobuf (remote-write 2.0's
//     proto=io.prometheus.write.v2.Request goes to v2.go, which turns it
//     into the request below; any other proto is refused with 415), its
//     Content-Encoding snappy or absent; the snappy block may decode to at
//     most remote_write.max_decoded_bytes (413). A body that is not a valid
//     snappy block or WriteRequest is 400, malformed, and nothing of it is
//     kept.
//  2. Each series is checked: it needs a valid __name__, label names of
//     Prometheus' classic syntax, no name twice, at most
//     remote_write.max_labels_per_series labels and no name or value longer
//     than remote_write.max_label_bytes. Labels with an empty value are
//     dropped, as Prometheus treats them as absent. A series that fails is
//     rejected with all its samples (invalid, label_limit).
//  3. Each sample is appended to the TSDB (internal/metricstore). As in the
//     Prometheus TSDB, samples are rejected one by one: out_of_order (older
//     than the series' latest sample, or than an earlier sample of the same
//     series in the request), duplicate (a timestamp seen already with
//     another value), too_old (before the range the TSDB's head block
//     appends to), too_far_in_future (beyond Osprey's clock plus
//     remote_write.max_future), cardinality_cap (a new series while
//     tsdb.max_series series are active), series_per_metric (a new series
//     while its metric name has tsdb.max_series_per_metric series). NaN and
//     ±Inf values are stored, as Prometheus does (NaN is its staleness
//     marker), and counted as the warning non_finite_value, the staleness
//     marker excepted. Native histograms are not supported yet
//     and are rejected as invalid; exemplars and metadata are ignored.
//  4. The accepted samples are committed in one TSDB transaction. If the
//     commit fails the reply is 503 and nothing was kept (Prometheus
//     retries 5xx replies).
//  5. The accepted samples are handed to the next stage (the detector) as
//     []osprey.Series, which it owns from then on. The hand-off must not
//     block ingest: the wiring (internal/app) publishes on the bus without
//     waiting, and a batch the detector has no room for is counted in
//     osprey_remote_write_handoff_failures_total and not scored, never
//     lost from the TSDB.
//
// The reply is 204 when every sample was stored, and 400 with
// {"error": "..."} naming the counts by reason and the first rejected series
// when some were not. The valid samples of such a request are stored all the
// same: this is remote-write 2.0's partial-write convention and how the
// Prometheus TSDB treats a scrape; Prometheus' own 1.0 receiver rejects the
// whole request at the first out-of-order sample instead. Senders do not
// retry 4xx replies, and retrying would only duplicate what was stored.
//
// # Cost per sample
//
// The body is decoded by a protobuf decoder of its own (wire.go) that
// accepts exactly what prompb's generated Unmarshal accepts (a differential
// test and fuzz target hold it to that) but allocates nothing per label or
// sample: label strings point into the decompressed body, whose buffers
// are pooled. Each series' label fields, as encoded, key a bounded cache
// (cache.go) of the series' checked labels, its TSDB reference and the
// labels handed to the next stage, so a series seen before skips label
// building, validation, hashing and the TSDB's series lookup, which is
// the common case: a sender writes the next sample of the same series in
// request after request.
//
// # Data quality
//
// Requests, samples and rejections by reason are counted in ingest.Stats as
// receiver prometheus_remote_write (osprey_ingest_*_total in /metrics, and
// GET /api/v1/status/ingest).
package promremote
