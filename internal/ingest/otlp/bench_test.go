package otlp

import (
	"context"
	"fmt"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/config"
)

// benchMetrics is 1000 gauge data points of 10 resources.
func benchMetrics() pmetric.Metrics {
	md := pmetric.NewMetrics()
	for r := range 10 {
		rm := md.ResourceMetrics().AppendEmpty()
		rm.Resource().Attributes().PutStr("service.name", fmt.Sprintf("svc-%d", r))
		rm.Resource().Attributes().PutStr("host.name", "node-1")
		ms := rm.ScopeMetrics().AppendEmpty().Metrics()
		m := ms.AppendEmpty()
		m.SetName("process.cpu.utilization")
		m.SetUnit("1")
		dps := m.SetEmptyGauge().DataPoints()
		for i := range 100 {
			dp := dps.AppendEmpty()
			dp.SetTimestamp(pcommon.NewTimestampFromTime(t0))
			dp.SetDoubleValue(float64(i))
			dp.Attributes().PutStr("cpu", fmt.Sprint(i))
		}
	}
	return md
}

// benchTraces is 1000 spans of 10 services.
func benchTraces() ptrace.Traces {
	td := ptrace.NewTraces()
	for r := range 10 {
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", fmt.Sprintf("svc-%d", r))
		ss := rs.ScopeSpans().AppendEmpty().Spans()
		for i := range 100 {
			sp := ss.AppendEmpty()
			sp.SetTraceID(pcommon.TraceID{byte(r), byte(i), 1})
			sp.SetSpanID(pcommon.SpanID{byte(r), byte(i), 2})
			sp.SetParentSpanID(pcommon.SpanID{byte(r), byte(i), 3})
			sp.SetName("GET /api/items")
			sp.SetKind(ptrace.SpanKindServer)
			sp.SetStartTimestamp(pcommon.NewTimestampFromTime(t0))
			sp.SetEndTimestamp(pcommon.NewTimestampFromTime(t0) + 1e6)
			sp.Attributes().PutStr("http.route", "/api/items")
		}
	}
	return td
}

func benchReceiver(b *testing.B) *Receiver {
	r, err := New(Options{
		Series: osprey.SeriesConsumerFunc(func(context.Context, []osprey.Series) error { return nil }),
		Spans:  osprey.SpanConsumerFunc(func(context.Context, []osprey.Span) error { return nil }),
		Limits: config.ServerConfig{MaxBodyBytes: 64 << 20},
	})
	if err != nil {
		b.Fatal(err)
	}
	return r
}

func benchPost(b *testing.B, path, ct string, body []byte, items int) {
	r := benchReceiver(b)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if rec := post(b, r, path, ct, "", body); rec.Code != 200 {
			b.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
	b.ReportMetric(float64(b.N*items)/b.Elapsed().Seconds(), "items/s")
}

func BenchmarkMetricsProto(b *testing.B) {
	body, _ := pmetricotlp.NewExportRequestFromMetrics(benchMetrics()).MarshalProto()
	benchPost(b, "/v1/metrics", "application/x-protobuf", body, 1000)
}

func BenchmarkMetricsJSON(b *testing.B) {
	body, _ := pmetricotlp.NewExportRequestFromMetrics(benchMetrics()).MarshalJSON()
	benchPost(b, "/v1/metrics", "application/json", body, 1000)
}

func BenchmarkTracesProto(b *testing.B) {
	body, _ := ptraceotlp.NewExportRequestFromTraces(benchTraces()).MarshalProto()
	benchPost(b, "/v1/traces", "application/x-protobuf", body, 1000)
}

func BenchmarkTracesJSON(b *testing.B) {
	body, _ := ptraceotlp.NewExportRequestFromTraces(benchTraces()).MarshalJSON()
	benchPost(b, "/v1/traces", "application/json", body, 1000)
}
