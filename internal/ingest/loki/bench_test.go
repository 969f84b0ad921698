package loki

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/grafana/loki/pkg/push"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/config"
	"github.com/osprey-aiops/osprey/internal/ingest"
)

// benchPush is a 1000-line push shaped like Promtail's: 10 streams of 100
// lines, 100-200 bytes each, a mix of plain, logfmt and JSON lines.
func benchPush() *push.PushRequest {
	req := &push.PushRequest{}
	for s := range 10 {
		st := push.Stream{Labels: fmt.Sprintf(`{filename="/var/log/app/%d.log", host="web-%d", job="app", namespace="prod"}`, s, s)}
		for i := range 100 {
			var line string
			switch i % 3 {
			case 0:
				line = fmt.Sprintf("2026-03-01T11:59:%02d.123Z INFO [http-nio-8080-exec-%d] c.e.api.OrderController: order %d placed for customer %d in %dms", i%60, i, 100000+i, 4000+i, i*3)
			case 1:
				line = fmt.Sprintf(`ts=2026-03-01T11:59:%02d.123Z level=warn caller=db.go:%d msg="slow query" duration=%dms table=orders rows=%d`, i%60, i, i*7, i*13)
			default:
				line = fmt.Sprintf(`{"time":"2026-03-01T11:59:%02d.123Z","level":"error","msg":"upstream timed out","upstream":"10.0.%d.%d:8080","request_id":"%08x"}`, i%60, s, i, i*7919)
			}
			st.Entries = append(st.Entries, push.Entry{Timestamp: t0.Add(time.Duration(i) * time.Millisecond), Line: line})
		}
		req.Streams = append(req.Streams, st)
	}
	return req
}

// benchJSON writes req as a JSON push body.
func benchJSON(b *testing.B, req *push.PushRequest) []byte {
	type stream struct {
		Stream map[string]string `json:"stream"`
		Values [][]string        `json:"values"`
	}
	var body struct {
		Streams []stream `json:"streams"`
	}
	for _, s := range req.Streams {
		labels, err := parseLabels(s.Labels)
		if err != nil {
			b.Fatal(err)
		}
		js := stream{Stream: labels}
		for _, e := range s.Entries {
			js.Values = append(js.Values, []string{strconv.FormatInt(e.Timestamp.UnixNano(), 10), e.Line})
		}
		body.Streams = append(body.Streams, js)
	}
	out, err := json.Marshal(body)
	if err != nil {
		b.Fatal(err)
	}
	return out
}

// BenchmarkLokiDecode decodes a 1000-line push (records built, levels
// detected, limits checked), without HTTP.
func BenchmarkLokiDecode(b *testing.B) {
	req := benchPush()
	raw, err := req.Marshal()
	if err != nil {
		b.Fatal(err)
	}
	lim := limits{maxLineBytes: DefaultMaxLineBytes}
	lim.server, _ = ingest.WithDefaults(config.ServerConfig{})
	for _, bc := range []struct {
		name   string
		body   []byte
		decode func([]byte, *batch) error
	}{
		{"protobuf", raw, decodeProto},
		{"json", benchJSON(b, req), decodeJSON},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(bc.body)))
			b.ReportAllocs()
			for b.Loop() {
				bt := newBatch(&lim, testNow)
				if err := bc.decode(bc.body, bt); err != nil || len(bt.records) != 1000 {
					b.Fatalf("decode: %v, %d records", err, len(bt.records))
				}
			}
			b.ReportMetric(float64(b.N)*1000/b.Elapsed().Seconds(), "lines/s")
		})
	}
}

// BenchmarkLokiPush serves a 1000-line push through the HTTP handler:
// snappy or gzip, decode, hand-off to a consumer that drops the batch.
func BenchmarkLokiPush(b *testing.B) {
	req := benchPush()
	r, err := New(Options{Logs: osprey.LogConsumerFunc(func(_ context.Context, _ []osprey.LogRecord) error { return nil })})
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name, ct, enc string
		body          []byte
	}{
		{"protobuf-snappy", "application/x-protobuf", "", encodePush(b, req)},
		{"json-gzip", "application/json", "gzip", gzipped(b, benchJSON(b, req))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(bc.body)))
			b.ReportAllocs()
			for b.Loop() {
				hr := httptest.NewRequest("POST", "/loki/api/v1/push", bytes.NewReader(bc.body))
				hr.Header.Set("Content-Type", bc.ct)
				if bc.enc != "" {
					hr.Header.Set("Content-Encoding", bc.enc)
				}
				rec := httptest.NewRecorder()
				r.ServeHTTP(rec, hr)
				if rec.Code != 204 {
					b.Fatalf("%d %s", rec.Code, rec.Body)
				}
			}
			b.ReportMetric(float64(b.N)*1000/b.Elapsed().Seconds(), "lines/s")
		})
	}
}
