package otlp

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/ingest"
)

// UnknownService is the service of spans whose resource has no
// service.name, as OpenTelemetry SDKs name it.
const UnknownService = "unknown_service"

// spanAttributes are the span attributes kept on osprey.Span (sanitised):
// those that name the other side of a call.
var spanAttributes = []string{"peer.service", "server.address", "db.system", "db.system.name", "rpc.service", "messaging.system", "http.route"}

// ExportTraces takes one OTLP traces request (from HTTP or gRPC) and hands
// its spans on in one batch. Rejected spans are reported in the response's
// partial_success. An error means nothing was accepted and the sender
// should retry.
func (r *Receiver) ExportTraces(ctx context.Context, req ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	var t tally
	spans := r.convertTraces(req.Traces(), &t)
	t.accepted = len(spans)
	if r.spans != nil && len(spans) > 0 {
		if err := r.spans.ConsumeSpans(ctx, spans); err != nil {
			t.handoffFailed(r.recvTraces)
			r.log.Error("hand off otlp spans", "spans", len(spans), "err", err)
			return ptraceotlp.NewExportResponse(), handoffError(err)
		}
	}
	t.done(r.recvTraces)
	resp := ptraceotlp.NewExportResponse()
	if t.n > 0 {
		resp.PartialSuccess().SetRejectedSpans(int64(t.n))
		resp.PartialSuccess().SetErrorMessage(t.message())
	}
	return resp, nil
}

// convertTraces turns td into spans, counting what it rejects.
func (r *Receiver) convertTraces(td ptrace.Traces, t *tally) []osprey.Span {
	out := make([]osprey.Span, 0, td.SpanCount())
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		res := resourceLabels(rs.Resource().Attributes())
		service := res[osprey.LabelService]
		if service == "" {
			service = UnknownService
		}
		if err := ingest.CheckLabels(res, &r.lim); err != nil {
			n := 0
			for j := 0; j < rs.ScopeSpans().Len(); j++ {
				n += rs.ScopeSpans().At(j).Spans().Len()
			}
			t.reject(reasonOf(err), n, "resource %s: %v", ingest.Truncate(res.String(), 256), err)
			continue
		}
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			ss := sss.At(j).Spans()
			for k := 0; k < ss.Len(); k++ {
				if sp, ok := r.span(res, service, ss.At(k), t); ok {
					out = append(out, sp)
				}
			}
		}
	}
	return out
}

// span converts one span.
func (r *Receiver) span(res osprey.Labels, service string, s ptrace.Span, t *tally) (osprey.Span, bool) {
	if s.TraceID().IsEmpty() || s.SpanID().IsEmpty() {
		t.reject(ingest.ReasonInvalid, 1, "span %q: empty trace or span id", ingest.Truncate(s.Name(), 128))
		return osprey.Span{}, false
	}
	start, end := s.StartTimestamp(), s.EndTimestamp()
	if start == 0 || int64(start) < 0 || end < start {
		t.reject(ingest.ReasonInvalid, 1, "span %q: start %d, end %d", ingest.Truncate(s.Name(), 128), start, end)
		return osprey.Span{}, false
	}
	if len(s.Name()) > r.lim.MaxLabelValueBytes {
		t.reject(ingest.ReasonLabelLimit, 1, "span name longer than %d bytes", r.lim.MaxLabelValueBytes)
		return osprey.Span{}, false
	}
	sp := osprey.Span{
		TraceID:  s.TraceID().String(),
		SpanID:   s.SpanID().String(),
		Service:  service,
		Name:     s.Name(),
		Kind:     osprey.SpanKind(s.Kind()),
		Start:    time.Unix(0, int64(start)).UTC(),
		Duration: time.Duration(end - start),
		Error:    s.Status().Code() == ptrace.StatusCodeError,
	}
	if !s.ParentSpanID().IsEmpty() {
		sp.ParentSpanID = s.ParentSpanID().String()
	}
	if sp.Kind > osprey.SpanKindConsumer {
		sp.Kind = osprey.SpanKindUnspecified
	}
	attrs := res.Clone()
	for _, k := range spanAttributes {
		if v, ok := s.Attributes().Get(k); ok {
			attrs[labelName(k)] = v.AsString()
		}
	}
	if err := ingest.CheckLabels(attrs, &r.lim); err != nil {
		t.reject(reasonOf(err), 1, "span %q: %v", ingest.Truncate(s.Name(), 128), err)
		return osprey.Span{}, false
	}
	if len(attrs) > 0 {
		sp.Attributes = attrs
	}
	return sp, true
}
