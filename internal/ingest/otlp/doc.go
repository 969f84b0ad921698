// Package otlp is the OpenTelemetry Protocol receiver:
//
//	POST /v1/metrics    ExportMetricsServiceRequest
//	POST /v1/logs       ExportLogsServiceRequest
//	POST /v1/traces     ExportTraceServiceRequest
//
// over HTTP (binary protobuf, application/x-protobuf, or JSON,
// application/json; optionally gzip-compressed), and the same three services
// over gRPC on a port of their own (GRPCServer). Both transports decode with
// the OpenTelemetry Collector's pdata and run through the same Export*
// methods, so a request means the same thing whichever door it used.
//
// # Translation
//
// Resource attributes become labels: service.name → service, host.name →
// host, service.instance.id → instance, k8s.namespace.name → namespace,
// k8s.cluster.name → cluster; the other attributes under service., host.,
// k8s., cloud., container., deployment.environment and faas. keep their
// names, sanitised to Prometheus' label syntax (k8s.pod.name → k8s_pod_name).
// Other resource attributes (process.*, os.*, telemetry.sdk.*) are dropped:
// they would only multiply series.
//
// Metrics become osprey.Series named as Prometheus' own OTLP receiver names
// them (github.com/prometheus/otlptranslator, underscore escaping with unit
// and type suffixes): gauges and non-monotonic sums keep their name, monotonic
// cumulative sums get _total, histograms become _bucket (with le), _count and
// _sum, exponential histograms _count and _sum, summaries the quantile series
// plus _count and _sum. Data point attributes become labels. Delta
// temporality is rejected (invalid): Prometheus' data model is cumulative;
// the Collector's deltatocumulative processor converts. The samples are
// appended to the TSDB (rejections classified as for remote_write) and the
// accepted ones handed to the detect stage without waiting.
//
// Log records become osprey.LogRecord with the label source="otlp", Level
// from the severity text (or number), Body the body as a string, and the
// record's attributes (plus trace_id and span_id) as Attributes. Spans become
// osprey.Span, with the service from service.name. Both hand-offs wait for
// queue space; a failed hand-off is answered 503 (HTTP) or UNAVAILABLE
// (gRPC), which OTLP exporters retry.
//
// # Replies
//
// As the OTLP specification asks: 200 with an Export*ServiceResponse in the
// request's encoding, whose partial_success counts the data points, log
// records or spans that were rejected and names the first problem; 400 for
// a body that does not decode, 413 for one over server.max_body_bytes (or
// otlp.max_decoded_bytes once gunzipped), 415 for another Content-Type or
// Content-Encoding, each with a google.rpc.Status body (protobuf or JSON, as
// the request).
//
// # Data quality
//
// Requests and items are counted in ingest.Stats as the receivers
// otlp_metrics, otlp_logs and otlp_traces.
package otlp
