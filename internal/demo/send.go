package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/osprey-aiops/osprey"
)

// Sender delivers frames to Osprey's receivers, the way Prometheus,
// Promtail and an OpenTelemetry SDK would.
type Sender struct {
	// Base is Osprey's URL, "http://127.0.0.1:9464".
	Base   string
	Client *http.Client
}

// Receiver paths.
const (
	pathRemoteWrite = "/api/v1/write"
	pathLokiPush    = "/loki/api/v1/push"
	pathOTLPTraces  = "/v1/traces"
	pathAlerts      = "/api/v2/alerts"
)

// Send delivers frames (in time order): their samples in one remote_write
// request, their lines in one Loki push, their spans in one OTLP request,
// and their alerts in one Alertmanager API request. Each is sent even if
// another failed; the error joins their errors.
func (s *Sender) Send(ctx context.Context, frames []Frame) error {
	return errors.Join(s.write(ctx, frames), s.push(ctx, frames), s.traces(ctx, frames), s.alerts(ctx, frames))
}

// write sends the samples as a Prometheus remote_write 1.0 request: one
// series per label set with its samples in time order, labels sorted.
func (s *Sender) write(ctx context.Context, frames []Frame) error {
	var wr prompb.WriteRequest
	index := make(map[osprey.Fingerprint]int)
	for _, f := range frames {
		ts := f.At.UnixMilli()
		for _, p := range f.Points {
			fp := p.Labels.Fingerprint()
			i, ok := index[fp]
			if !ok {
				i = len(wr.Timeseries)
				index[fp] = i
				wr.Timeseries = append(wr.Timeseries, prompb.TimeSeries{Labels: promLabels(p.Labels)})
			}
			wr.Timeseries[i].Samples = append(wr.Timeseries[i].Samples, prompb.Sample{Timestamp: ts, Value: p.Value})
		}
	}
	if len(wr.Timeseries) == 0 {
		return nil
	}
	raw, err := wr.Marshal()
	if err != nil {
		return fmt.Errorf("encode remote_write request: %w", err)
	}
	return s.post(ctx, pathRemoteWrite, snappy.Encode(nil, raw), map[string]string{
		"Content-Type":                      "application/x-protobuf",
		"Content-Encoding":                  "snappy",
		"X-Prometheus-Remote-Write-Version": "0.1.0",
	})
}

func promLabels(l osprey.Labels) []prompb.Label {
	out := make([]prompb.Label, 0, len(l))
	for k, v := range l {
		out = append(out, prompb.Label{Name: k, Value: v})
	}
	slices.SortFunc(out, func(a, b prompb.Label) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	return out
}

// lokiPush is Loki's JSON push body.
type lokiPush struct {
	Streams []lokiStream `json:"streams"`
}

type lokiStream struct {
	Stream map[string]string `json:"stream"`
	Values [][2]string       `json:"values"`
}

// push sends the lines through Loki's push API (JSON). Streams follow each
// other in time order (one per frame and service), so the lines reach the
// template miner in the order they were written.
func (s *Sender) push(ctx context.Context, frames []Frame) error {
	var body lokiPush
	for _, f := range frames {
		var cur *lokiStream
		for _, l := range f.Logs {
			if cur == nil || cur.Stream[osprey.LabelService] != l.Service {
				body.Streams = append(body.Streams, lokiStream{Stream: map[string]string{
					osprey.LabelService: l.Service, osprey.LabelNamespace: "shop", "job": "shop/" + l.Service,
				}})
				cur = &body.Streams[len(body.Streams)-1]
			}
			cur.Values = append(cur.Values, [2]string{strconv.FormatInt(l.At.UnixNano(), 10), l.Line})
		}
	}
	if len(body.Streams) == 0 {
		return nil
	}
	b, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("encode loki push: %w", err)
	}
	return s.post(ctx, pathLokiPush, b, map[string]string{"Content-Type": "application/json"})
}

// traces sends the spans as one OTLP/HTTP protobuf request, one resource
// per service (service.name set, as SDKs do).
func (s *Sender) traces(ctx context.Context, frames []Frame) error {
	td := ptrace.NewTraces()
	bySvc := make(map[string]ptrace.SpanSlice)
	n := 0
	for _, f := range frames {
		for _, sp := range f.Spans {
			spans, ok := bySvc[sp.Service]
			if !ok {
				rs := td.ResourceSpans().AppendEmpty()
				rs.Resource().Attributes().PutStr("service.name", sp.Service)
				rs.Resource().Attributes().PutStr("service.namespace", "shop")
				ss := rs.ScopeSpans().AppendEmpty()
				ss.Scope().SetName("osprey-demo")
				spans = ss.Spans()
				bySvc[sp.Service] = spans
			}
			out := spans.AppendEmpty()
			out.SetTraceID(pcommon.TraceID(sp.TraceID))
			out.SetSpanID(pcommon.SpanID(sp.SpanID))
			if sp.ParentID != ([8]byte{}) {
				out.SetParentSpanID(pcommon.SpanID(sp.ParentID))
			}
			out.SetName(sp.Name)
			out.SetKind(ptrace.SpanKindServer)
			out.SetStartTimestamp(pcommon.NewTimestampFromTime(sp.Start))
			out.SetEndTimestamp(pcommon.NewTimestampFromTime(sp.Start.Add(sp.Duration)))
			if sp.Error {
				out.Status().SetCode(ptrace.StatusCodeError)
			}
			n++
		}
	}
	if n == 0 {
		return nil
	}
	b, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		return fmt.Errorf("encode otlp traces: %w", err)
	}
	return s.post(ctx, pathOTLPTraces, b, map[string]string{"Content-Type": "application/x-protobuf"})
}

// amAlert is an alert of Alertmanager's API v2.
type amAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
}

// alerts sends the alerts as Prometheus does: to Alertmanager's API v2.
func (s *Sender) alerts(ctx context.Context, frames []Frame) error {
	var out []amAlert
	for _, f := range frames {
		for _, a := range f.Alerts {
			out = append(out, amAlert{Labels: a.Labels, Annotations: a.Annotations, StartsAt: a.StartsAt, EndsAt: a.EndsAt,
				GeneratorURL: "http://prometheus.shop.svc:9090/graph?g0.expr=increase%28kube_pod_container_status_restarts_total%5B5m%5D%29+%3E+1"})
		}
	}
	if len(out) == 0 {
		return nil
	}
	b, err := json.Marshal(out)
	if err != nil {
		return fmt.Errorf("encode alerts: %w", err)
	}
	return s.post(ctx, pathAlerts, b, map[string]string{"Content-Type": "application/json"})
}

// post sends one request and fails unless Osprey accepted it whole.
func (s *Sender) post(ctx context.Context, path string, body []byte, headers map[string]string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.Base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	client := s.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("POST %s: %w", path, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("POST %s: %s: %s", path, resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}
