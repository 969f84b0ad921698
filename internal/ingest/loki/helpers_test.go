package loki

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/grafana/loki/pkg/push"
	"github.com/klauspost/compress/snappy"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/config"
	"github.com/osprey-aiops/osprey/internal/ingest"
)

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// testLimits are small enough to reach every limit.
var testLimits = config.ServerConfig{MaxBodyBytes: 1 << 20, MaxLabelsPerEvent: 4, MaxLabelValueBytes: 32}

// encodePush marshals req with Loki's own push types (the code Promtail and
// Alloy use to build their requests) and snappy-compresses it as they do.
func encodePush(tb testing.TB, req *push.PushRequest) []byte {
	tb.Helper()
	raw, err := req.Marshal()
	if err != nil {
		tb.Fatal(err)
	}
	return snappy.Encode(nil, raw)
}

func gzipped(tb testing.TB, b []byte) []byte {
	tb.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		tb.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func deflated(tb testing.TB, b []byte) []byte {
	tb.Helper()
	var buf bytes.Buffer
	zw, _ := flate.NewWriter(&buf, flate.DefaultCompression)
	if _, err := zw.Write(b); err != nil {
		tb.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// sink is a LogConsumer that keeps what it is given, or fails with err.
type sink struct {
	mu      sync.Mutex
	batches [][]osprey.LogRecord
	err     error
}

func (s *sink) ConsumeLogs(_ context.Context, batch []osprey.LogRecord) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	s.batches = append(s.batches, batch)
	return nil
}

func (s *sink) records() []osprey.LogRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []osprey.LogRecord
	for _, b := range s.batches {
		out = append(out, b...)
	}
	return out
}

func newTestReceiver(tb testing.TB, opts Options) (*Receiver, *sink, *ingest.Stats) {
	tb.Helper()
	s := &sink{}
	stats := ingest.NewStats()
	if opts.Logs == nil {
		opts.Logs = s
	}
	opts.Stats = stats
	if opts.Limits == (config.ServerConfig{}) {
		opts.Limits = testLimits
	}
	opts.Now = func() time.Time { return testNow }
	r, err := New(opts)
	if err != nil {
		tb.Fatal(err)
	}
	return r, s, stats
}

// post sends body to r and returns the reply.
func post(r http.Handler, contentType, encoding string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest("POST", "/loki/api/v1/push", bytes.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if encoding != "" {
		req.Header.Set("Content-Encoding", encoding)
	}
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, req)
	return rec
}

// decodeForTest runs a decoder on body with the test limits.
func decodeForTest(body []byte, proto bool) (*batch, error) {
	lim := limits{server: testLimits, maxLineBytes: 64}
	lim.server, _ = ingest.WithDefaults(lim.server)
	b := newBatch(&lim, testNow)
	if proto {
		return b, decodeProto(body, b)
	}
	return b, decodeJSON(body, b)
}
