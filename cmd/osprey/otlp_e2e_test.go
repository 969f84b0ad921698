package main_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	metricapi "go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
)

// topologyReply is the part of GET /api/v1/topology the test reads.
type topologyReply struct {
	Nodes []struct {
		Service string `json:"service"`
	} `json:"nodes"`
	Edges []struct {
		Caller   string `json:"caller"`
		Callee   string `json:"callee"`
		Requests int    `json:"requests"`
		Errors   int    `json:"errors"`
		Latency  struct {
			P50 float64 `json:"p50"`
		} `json:"latency"`
	} `json:"edges"`
}

// TestOpenTelemetrySDKToTopology points the OpenTelemetry Go SDK's own OTLP
// exporters at the osprey binary: service frontend exports its spans over
// OTLP/HTTP, service checkout over OTLP/gRPC, and the trace context crosses
// from one to the other in W3C traceparent headers, as between two
// processes. The call graph must show frontend → checkout with the request
// and error counts, and a counter sent over OTLP/HTTP must be queryable
// with PromQL.
func TestOpenTelemetrySDKToTopology(t *testing.T) {
	dir := t.TempDir()
	grpcAddr := freeAddr(t)
	cfg := filepath.Join(dir, "osprey.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf("otlp:\n  grpc_listen: %q\n", grpcAddr)), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	s := startServer(t, filepath.Join(dir, "data"), addr, "--config", cfg)
	ctx := context.Background()

	res := func(service string) *resource.Resource {
		return resource.NewWithAttributes(semconv.SchemaURL, semconv.ServiceName(service), semconv.HostName("node-1"))
	}
	httpExp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(addr), otlptracehttp.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	grpcExp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(grpcAddr), otlptracegrpc.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	// Syncers export each span when it ends: checkout's server span
	// reaches Osprey before its parent, frontend's client span.
	frontend := sdktrace.NewTracerProvider(sdktrace.WithSyncer(httpExp), sdktrace.WithResource(res("frontend")))
	checkout := sdktrace.NewTracerProvider(sdktrace.WithSyncer(grpcExp), sdktrace.WithResource(res("checkout")))
	prop := propagation.TraceContext{}

	// checkoutHandle is checkout's server side of one call.
	checkoutHandle := func(h http.Header, fail bool) {
		cctx := prop.Extract(ctx, propagation.HeaderCarrier(h))
		_, span := checkout.Tracer("checkout").Start(cctx, "POST /checkout", trace.WithSpanKind(trace.SpanKindServer))
		time.Sleep(2 * time.Millisecond)
		if fail {
			span.SetStatus(codes.Error, "payment declined")
		}
		span.End()
	}
	const calls = 5
	for i := range calls {
		sctx, server := frontend.Tracer("frontend").Start(ctx, "GET /cart", trace.WithSpanKind(trace.SpanKindServer))
		cctx, client := frontend.Tracer("frontend").Start(sctx, "POST checkout", trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(attribute.String("peer.service", "checkout")))
		h := http.Header{}
		prop.Inject(cctx, propagation.HeaderCarrier(h))
		checkoutHandle(h, i == 0)
		client.End()
		server.End()
	}
	for _, tp := range []*sdktrace.TracerProvider{frontend, checkout} {
		if err := tp.Shutdown(ctx); err != nil {
			t.Fatalf("trace exporter: %v", err)
		}
	}

	// A counter over OTLP/HTTP.
	metricExp, err := otlpmetrichttp.New(ctx, otlpmetrichttp.WithEndpoint(addr), otlpmetrichttp.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewPeriodicReader(metricExp)), sdkmetric.WithResource(res("checkout")))
	orders, err := mp.Meter("checkout").Int64Counter("checkout.orders")
	if err != nil {
		t.Fatal(err)
	}
	orders.Add(ctx, 3, metricAttr("payment", "card"))
	if err := mp.Shutdown(ctx); err != nil { // collects and exports
		t.Fatalf("metric exporter: %v", err)
	}

	// The spans reach the graph through the bus: poll, bounded.
	var topo topologyReply
	for range 200 {
		s.getJSON("/api/v1/topology", &topo)
		if len(topo.Edges) > 0 && topo.Edges[0].Requests == calls {
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	if len(topo.Edges) != 1 {
		t.Fatalf("topology edges = %+v, want frontend → checkout\n%s", topo, s.stderr)
	}
	e := topo.Edges[0]
	if e.Caller != "frontend" || e.Callee != "checkout" || e.Requests != calls || e.Errors != 1 || e.Latency.P50 <= 0 {
		t.Errorf("edge = %+v, want frontend → checkout with %d requests, 1 error", e, calls)
	}
	if len(topo.Nodes) != 2 {
		t.Errorf("nodes = %+v", topo.Nodes)
	}

	q := promQuery(t, s.base, "/api/v1/query", "", url.Values{"query": {`checkout_orders_total{service="checkout"}`}})
	if len(q.Data.Result) != 1 {
		t.Fatalf("query result = %+v", q.Data)
	}
	r := q.Data.Result[0]
	if r.Value[1] != "3" || r.Metric["host"] != "node-1" || r.Metric["payment"] != "card" {
		t.Errorf("series %v = %v, want 3 with host and payment labels", r.Metric, r.Value)
	}
	if !strings.Contains(s.stderr.String(), "otlp grpc listening") {
		t.Errorf("no gRPC start-up line in the log:\n%s", s.stderr)
	}

	// With the call graph learned, alerts of the two services form one
	// incident, and the callee (alerting first) ranks as the root cause.
	s.postEvents(`[{"name": "ErrorRate", "labels": {"service": "checkout"}, "severity": "critical"}]`)
	s.postEvents(`[{"name": "HighLatency", "labels": {"service": "frontend"}, "severity": "warning"}]`)
	incs := s.waitIncidents(func(incs []incident) bool { return len(incs) == 1 && len(incs[0].Members) == 2 })
	var full struct {
		Causes []struct {
			Name        string `json:"name"`
			Explanation string `json:"explanation"`
		} `json:"causes"`
	}
	s.getJSON("/api/v1/incidents/"+incs[0].ID, &full)
	if len(full.Causes) == 0 || full.Causes[0].Name != "checkout" || full.Causes[0].Explanation == "" {
		t.Errorf("causes = %+v, want checkout first with an explanation", full.Causes)
	}
}

// metricAttr is one attribute as a metric option.
func metricAttr(k, v string) metricapi.MeasurementOption {
	return metricapi.WithAttributes(attribute.String(k, v))
}
