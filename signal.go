package osprey

import "time"

// Sample is one observation of a series.
type Sample struct {
	// TimestampMs is milliseconds since the Unix epoch, as in Prometheus.
	TimestampMs int64 `json:"t"`
	// Value is the observed value; NaN marks a stale series (Prometheus'
	// staleness marker).
	Value float64 `json:"v"`
}

// Series is a batch of samples of one metric series. Labels include the metric
// name under LabelMetric ("__name__").
type Series struct {
	Labels  Labels   `json:"labels"`
	Samples []Sample `json:"samples"`
}

// LogRecord is one log line or structured log entry.
type LogRecord struct {
	// Time is when the line was written, or when it was received if the line
	// carried no time.
	Time time.Time `json:"time"`
	// Labels identify the stream: source, service, host, file, and so on.
	Labels Labels `json:"labels"`
	// Level is the lowercase severity word ("error", "info", ...) or "".
	Level string `json:"level,omitempty"`
	// Body is the message without the header fields that were parsed out.
	Body string `json:"body"`
	// Attributes are structured fields that came with the record.
	Attributes map[string]string `json:"attributes,omitempty"`
}

// SpanKind says which side of a call a span describes, as in OpenTelemetry.
type SpanKind uint8

// Span kinds, numbered as OpenTelemetry numbers them.
const (
	SpanKindUnspecified SpanKind = iota
	SpanKindInternal
	SpanKindServer
	SpanKindClient
	SpanKindProducer
	SpanKindConsumer
)

// Span is one timed operation of a trace. The correlation stage learns the
// service call graph from parent/child spans of different services.
type Span struct {
	TraceID      string        `json:"traceId"`
	SpanID       string        `json:"spanId"`
	ParentSpanID string        `json:"parentSpanId,omitempty"`
	Service      string        `json:"service"`
	Name         string        `json:"name"`
	Kind         SpanKind      `json:"kind"`
	Start        time.Time     `json:"start"`
	Duration     time.Duration `json:"duration"`
	// Error is true when the span's status is ERROR.
	Error bool `json:"error,omitempty"`
	// Attributes carry the resource and span attributes that were kept.
	Attributes Labels `json:"attributes,omitempty"`
}
