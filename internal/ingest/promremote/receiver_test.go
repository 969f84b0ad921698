package promremote

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"
	"github.com/prometheus/prometheus/tsdb/chunkenc"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/ingest"
	"github.com/osprey-aiops/osprey/internal/metricstore"
)

// testNow is the receiver's clock; sample times are near it.
var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func ms(d time.Duration) int64 { return testNow.Add(d).UnixMilli() }

type env struct {
	store *metricstore.Store
	recv  *Receiver
	stats *ingest.Stats

	mu        sync.Mutex
	handedOff []osprey.Series
	handoff   error
}

func newEnv(tb testing.TB, maxSeries int, limits Limits) *env {
	tb.Helper()
	st, err := metricstore.New(metricstore.Options{Dir: tb.TempDir(), MaxSeries: maxSeries})
	if err != nil {
		tb.Fatal(err)
	}
	if err := st.Start(context.Background()); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = st.Shutdown(context.Background()) })
	e := &env{store: st, stats: ingest.NewStats()}
	e.recv, err = New(Options{
		Store: st,
		Stats: e.stats,
		Next: osprey.SeriesConsumerFunc(func(_ context.Context, batch []osprey.Series) error {
			e.mu.Lock()
			defer e.mu.Unlock()
			if e.handoff != nil {
				return e.handoff
			}
			e.handedOff = append(e.handedOff, batch...)
			return nil
		}),
		Limits: limits,
		Now:    func() time.Time { return testNow },
	})
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

// series builds a prompb series from alternating label names and values.
func series(samples []prompb.Sample, nameValues ...string) prompb.TimeSeries {
	ts := prompb.TimeSeries{Samples: samples}
	for i := 0; i+1 < len(nameValues); i += 2 {
		ts.Labels = append(ts.Labels, prompb.Label{Name: nameValues[i], Value: nameValues[i+1]})
	}
	return ts
}

// encode marshals and snappy-compresses a request as Prometheus'
// remote-write client does (golang/snappy block format).
func encode(tb testing.TB, ts ...prompb.TimeSeries) []byte {
	tb.Helper()
	wr := prompb.WriteRequest{Timeseries: ts}
	raw, err := wr.Marshal()
	if err != nil {
		tb.Fatal(err)
	}
	return snappy.Encode(nil, raw)
}

// post sends body with Prometheus' remote-write headers and returns the reply.
func (e *env) post(tb testing.TB, body []byte, header ...string) *httptest.ResponseRecorder {
	tb.Helper()
	req := httptest.NewRequest(http.MethodPost, "/api/v1/write", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("Content-Encoding", "snappy")
	req.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	e.recv.Routes()[0].Handler.ServeHTTP(rec, req)
	return rec
}

// read returns the stored samples of the series matching name=value.
func (e *env) read(tb testing.TB, name, value string) map[string][]prompb.Sample {
	tb.Helper()
	q, err := e.store.Querier(math.MinInt64, math.MaxInt64)
	if err != nil {
		tb.Fatal(err)
	}
	defer q.Close()
	set := q.Select(context.Background(), true, nil, labels.MustNewMatcher(labels.MatchEqual, name, value))
	out := map[string][]prompb.Sample{}
	for set.Next() {
		s := set.At()
		it := s.Iterator(nil)
		for it.Next() == chunkenc.ValFloat {
			t, v := it.At()
			out[s.Labels().String()] = append(out[s.Labels().String()], prompb.Sample{Timestamp: t, Value: v})
		}
	}
	if err := set.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

func (e *env) snapshot() ingest.ReceiverSnapshot { return e.stats.Snapshot()[ReceiverName] }

func TestWriteStoresAndHandsOff(t *testing.T) {
	e := newEnv(t, 0, Limits{})
	body := encode(t,
		series([]prompb.Sample{{Timestamp: ms(-2 * time.Second), Value: 1}, {Timestamp: ms(-time.Second), Value: 2}},
			"__name__", "http_requests_total", "job", "api", "empty", ""),
		series([]prompb.Sample{{Timestamp: ms(-time.Second), Value: math.Float64frombits(0x7ff0000000000002)}}, // staleness marker
			"__name__", "up", "job", "api"),
	)
	rec := e.post(t, body)
	if rec.Code != http.StatusNoContent {
		t.Fatalf("reply %d %s, want 204", rec.Code, rec.Body)
	}
	got := e.read(t, "job", "api")
	if s := got[`{__name__="http_requests_total", job="api"}`]; len(s) != 2 || s[1].Value != 2 {
		t.Errorf("stored %v", got)
	}
	if s := got[`{__name__="up", job="api"}`]; len(s) != 1 || !math.IsNaN(s[0].Value) {
		t.Errorf("staleness marker not stored: %v", got)
	}
	if len(e.handedOff) != 2 || e.handedOff[0].Labels.String() != `{__name__="http_requests_total", job="api"}` ||
		len(e.handedOff[0].Samples) != 2 || e.handedOff[0].Samples[1] != (osprey.Sample{TimestampMs: ms(-time.Second), Value: 2}) {
		t.Errorf("handed off %+v", e.handedOff)
	}
	snap := e.snapshot()
	if snap.Items.Accepted != 3 || snap.Items.Rejected != 0 || snap.Requests.Accepted != 1 {
		t.Errorf("stats %+v", snap)
	}
}

func TestWriteRefusesRequests(t *testing.T) {
	e := newEnv(t, 0, Limits{MaxBodyBytes: 1024, MaxDecodedBytes: 2048})
	ok := encode(t, series([]prompb.Sample{{Timestamp: ms(0), Value: 1}}, "__name__", "a"))
	big := series(nil, "__name__", "a", "pad", strings.Repeat("x", 1000))
	for range 3 {
		big.Samples = append(big.Samples, prompb.Sample{Timestamp: ms(0), Value: 1})
	}
	wr := prompb.WriteRequest{Timeseries: []prompb.TimeSeries{big, big, big}}
	raw, _ := wr.Marshal()
	tests := []struct {
		name   string
		body   []byte
		header []string
		code   int
		reason ingest.Reason
		msg    string
	}{
		{"json", ok, []string{"Content-Type", "application/json"}, 415, ingest.ReasonMediaType, "application/x-protobuf"},
		{"unknown proto", ok, []string{"Content-Type", "application/x-protobuf;proto=io.prometheus.write.v3.Request"}, 415, ingest.ReasonMediaType, "remote-write 1.0"},
		{"gzip", ok, []string{"Content-Encoding", "gzip"}, 415, ingest.ReasonMediaType, "snappy"},
		{"body too large", bytes.Repeat([]byte{0}, 2000), nil, 413, ingest.ReasonTooLarge, "server.max_body_bytes"},
		{"decodes too large", snappy.Encode(nil, raw), nil, 413, ingest.ReasonTooLarge, "remote_write.max_decoded_bytes"},
		{"not snappy", []byte("hello, world"), nil, 400, ingest.ReasonMalformed, "snappy"},
		{"not protobuf", snappy.Encode(nil, []byte("\xff\xff\xff")), nil, 400, ingest.ReasonMalformed, "protobuf"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := e.snapshot()
			rec := e.post(t, tc.body, tc.header...)
			if rec.Code != tc.code || !strings.Contains(rec.Body.String(), tc.msg) {
				t.Fatalf("reply %d %s, want %d mentioning %q", rec.Code, rec.Body, tc.code, tc.msg)
			}
			after := e.snapshot()
			if after.Rejected[tc.reason] != before.Rejected[tc.reason]+1 || after.Requests.Rejected != before.Requests.Rejected+1 {
				t.Errorf("not counted as %s: %+v", tc.reason, after)
			}
		})
	}
	if len(e.read(t, "__name__", "a")) != 0 {
		t.Error("a refused request stored samples")
	}
	// No Content-Type and no Content-Encoding: taken as remote-write 1.0.
	rec := e.post(t, ok, "Content-Type", "", "Content-Encoding", "")
	if rec.Code != http.StatusNoContent {
		t.Errorf("bare request: %d %s", rec.Code, rec.Body)
	}
}

// TestWriteRejectsSamplesIndividually checks Prometheus' convention: bad
// samples and series are rejected and counted one by one, the rest stored.
func TestWriteRejectsSamplesIndividually(t *testing.T) {
	e := newEnv(t, 0, Limits{MaxLabelsPerSeries: 3, MaxLabelBytes: 16})
	first := encode(t, series([]prompb.Sample{{Timestamp: ms(-time.Minute), Value: 1}}, "__name__", "m", "i", "1"))
	if rec := e.post(t, first); rec.Code != http.StatusNoContent {
		t.Fatalf("first request: %d %s", rec.Code, rec.Body)
	}
	body := encode(t,
		// Accepted: a later sample, then out of order within the request,
		// a duplicate timestamp and one too far in the future.
		series([]prompb.Sample{
			{Timestamp: ms(-time.Second), Value: 2},
			{Timestamp: ms(-2 * time.Second), Value: 3},
			{Timestamp: ms(-time.Second), Value: 4},
			{Timestamp: ms(time.Hour), Value: 5},
		}, "__name__", "m", "i", "1"),
		// Older than the stored sample: out of order (TSDB).
		series([]prompb.Sample{{Timestamp: ms(-2 * time.Minute), Value: 6}}, "__name__", "m", "i", "1"),
		// The stored timestamp with another value: duplicate (TSDB).
		series([]prompb.Sample{{Timestamp: ms(-time.Minute), Value: 7}}, "__name__", "m", "i", "1"),
		series([]prompb.Sample{{Timestamp: ms(0), Value: 1}, {Timestamp: ms(time.Second), Value: 1}}, "job", "no-name"),
		series([]prompb.Sample{{Timestamp: ms(0), Value: 1}}, "__name__", "m", "bad-name", "x"),
		series([]prompb.Sample{{Timestamp: ms(0), Value: 1}}, "__name__", "1m"),
		series([]prompb.Sample{{Timestamp: ms(0), Value: 1}}, "__name__", "m", "a", "1", "b", "2", "c", "3"),
		series([]prompb.Sample{{Timestamp: ms(0), Value: 1}}, "__name__", "m", "long", strings.Repeat("v", 17)),
		series([]prompb.Sample{{Timestamp: ms(0), Value: 1}}, "__name__", "m", "i", "2", "i", "3"),
		series([]prompb.Sample{{Timestamp: ms(0), Value: 8}}, "__name__", "m", "i", "ok"),
	)
	rec := e.post(t, body)
	if rec.Code != http.StatusBadRequest {
		t.Fatalf("reply %d %s, want 400", rec.Code, rec.Body)
	}
	var reply ingest.ErrorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &reply); err != nil {
		t.Fatal(err)
	}
	want := "12 of 14 samples rejected (invalid 5, label_limit 2, out_of_order 2, duplicate 2, too_far_in_future 1), 2 stored; first: "
	if !strings.HasPrefix(reply.Error, want) {
		t.Errorf("error = %q, want it to start with %q", reply.Error, want)
	}
	got := e.read(t, "__name__", "m")
	if s := got[`{__name__="m", i="1"}`]; len(s) != 2 || s[1].Value != 2 {
		t.Errorf("series i=1 holds %v, want the first sample and 2", s)
	}
	if len(got[`{__name__="m", i="ok"}`]) != 1 || len(got) != 2 {
		t.Errorf("stored %v", got)
	}
	snap := e.snapshot()
	for reason, n := range map[ingest.Reason]uint64{
		ingest.ReasonInvalid: 5, ingest.ReasonLabelLimit: 2, ingest.ReasonOutOfOrder: 2,
		ingest.ReasonDuplicate: 2, ingest.ReasonTooFarInFuture: 1,
	} {
		if snap.Rejected[reason] != n {
			t.Errorf("rejected[%s] = %d, want %d", reason, snap.Rejected[reason], n)
		}
	}
	if snap.Items.Accepted != 3 || snap.Items.Rejected != 12 || snap.Requests.Partial != 1 {
		t.Errorf("stats %+v", snap)
	}
	// Only what was stored reaches the detector.
	var handed int
	for _, s := range e.handedOff {
		handed += len(s.Samples)
	}
	if handed != 3 {
		t.Errorf("handed off %d samples, want 3", handed)
	}
}

func TestWriteTooOld(t *testing.T) {
	e := newEnv(t, 0, Limits{})
	// The head block appends from half a block range (1h) before its
	// newest sample.
	if rec := e.post(t, encode(t, series([]prompb.Sample{{Timestamp: ms(0), Value: 1}}, "__name__", "a"))); rec.Code != 204 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	rec := e.post(t, encode(t, series([]prompb.Sample{{Timestamp: ms(-3 * time.Hour), Value: 1}}, "__name__", "b")))
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "too_old 1") {
		t.Errorf("reply %d %s, want 400 too_old", rec.Code, rec.Body)
	}
}

func TestWriteCardinalityCap(t *testing.T) {
	e := newEnv(t, 2, Limits{})
	s := func(name string) prompb.TimeSeries {
		return series([]prompb.Sample{{Timestamp: ms(0), Value: 1}, {Timestamp: ms(time.Second), Value: 2}}, "__name__", name)
	}
	rec := e.post(t, encode(t, s("a"), s("b"), s("c")))
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "cardinality_cap 2") {
		t.Fatalf("reply %d %s", rec.Code, rec.Body)
	}
	// Existing series go on being written.
	if rec := e.post(t, encode(t, series([]prompb.Sample{{Timestamp: ms(time.Minute), Value: 3}}, "__name__", "a"))); rec.Code != 204 {
		t.Errorf("existing series refused: %d %s", rec.Code, rec.Body)
	}
	if got := e.snapshot().Rejected[ingest.ReasonCardinalityCap]; got != 2 {
		t.Errorf("cardinality_cap = %d, want 2", got)
	}
}

func TestWriteStoreUnavailable(t *testing.T) {
	e := newEnv(t, 0, Limits{})
	_ = e.store.Shutdown(context.Background())
	rec := e.post(t, encode(t, series([]prompb.Sample{{Timestamp: ms(0), Value: 1}}, "__name__", "a")))
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("reply %d %s, want 503", rec.Code, rec.Body)
	}
	if snap := e.snapshot(); snap.Rejected[ingest.ReasonStore] != 1 || snap.Requests.Rejected != 1 {
		t.Errorf("stats %+v", snap)
	}
}

func TestWriteHandoffFailureIsNotTheSendersProblem(t *testing.T) {
	e := newEnv(t, 0, Limits{})
	e.handoff = errors.New("detect queue full")
	rec := e.post(t, encode(t, series([]prompb.Sample{{Timestamp: ms(0), Value: 1}}, "__name__", "a")))
	if rec.Code != http.StatusNoContent {
		t.Fatalf("reply %d %s, want 204", rec.Code, rec.Body)
	}
	if n := testutil.ToFloat64(e.recv.handoffFailures); n != 1 {
		t.Errorf("handoff failures = %v, want 1", n)
	}
	if len(e.read(t, "__name__", "a")) != 1 {
		t.Error("sample not stored")
	}
}

// TestNewSeriesCacheSize: Options.MaxCachedSeries (remote_write.max_cached_series)
// bounds the cache, zero takes the default, a negative size is refused; the
// bound is what the cache resets at.
func TestNewSeriesCacheSize(t *testing.T) {
	st, err := metricstore.New(metricstore.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ opt, want int }{{0, DefaultMaxCachedSeries}, {3, 3}} {
		r, err := New(Options{Store: st, MaxCachedSeries: tc.opt})
		if err != nil {
			t.Fatal(err)
		}
		if r.cache.max != tc.want {
			t.Errorf("MaxCachedSeries %d: cache bound %d, want %d", tc.opt, r.cache.max, tc.want)
		}
	}
	if _, err := New(Options{Store: st, MaxCachedSeries: -1}); err == nil {
		t.Error("negative MaxCachedSeries accepted")
	}
	c := newSeriesCache(3)
	for i := range 7 {
		c.add(1, []newEntry{{key: strconv.Itoa(i), e: &cachedSeries{}}})
	}
	if c.len() != 1 || c.resets.Load() != 2 {
		t.Errorf("a cache of 3 after 7 adds holds %d entries after %d resets, want 1 after 2", c.len(), c.resets.Load())
	}
}

// TestWriteSeriesCache writes the same series again and again through a
// cache smaller than the series: every sample is stored once whether its
// series is cached, evicted or new, with label fields in any order.
func TestWriteSeriesCache(t *testing.T) {
	e := newEnv(t, 0, Limits{})
	e.recv.cache = newSeriesCache(2)
	interleaved := func(t int64) []byte {
		// Labels after and between the samples, as prompb never writes
		// them: the series' key is built from the scattered fields.
		ts := pb(nil).bytes(1, label("__name__", "m")).bytes(2, sample(t, 1)).bytes(1, label("i", "x"))
		return snappy.Encode(nil, pb(nil).bytes(1, ts))
	}
	for k := range 4 {
		at := ms(time.Duration(k) * time.Second)
		body := encode(t,
			series([]prompb.Sample{{Timestamp: at, Value: float64(k)}}, "__name__", "m", "i", "1"),
			series([]prompb.Sample{{Timestamp: at, Value: float64(k)}}, "__name__", "m", "i", "2"),
			series([]prompb.Sample{{Timestamp: at, Value: float64(k)}}, "__name__", "m", "i", "3", "empty", ""),
		)
		if rec := e.post(t, body); rec.Code != http.StatusNoContent {
			t.Fatalf("request %d: %d %s", k, rec.Code, rec.Body)
		}
		if rec := e.post(t, interleaved(at)); rec.Code != http.StatusNoContent {
			t.Fatalf("interleaved request %d: %d %s", k, rec.Code, rec.Body)
		}
	}
	got := e.read(t, "__name__", "m")
	for _, s := range []string{`{__name__="m", i="1"}`, `{__name__="m", i="2"}`, `{__name__="m", i="3"}`, `{__name__="m", i="x"}`} {
		if len(got[s]) != 4 {
			t.Errorf("%s holds %v, want 4 samples", s, got[s])
		}
	}
	if e.recv.cache.resets.Load() == 0 {
		t.Error("a cache of 2 series for 4 was never reset")
	}
	// The hand-off shares one labels map per cached series, holds only
	// the series' own samples, and a consumer appending to one series'
	// samples cannot overwrite the next one's.
	if len(e.handedOff) != 16 {
		t.Fatalf("handed off %d series, want 16", len(e.handedOff))
	}
	for i, s := range e.handedOff {
		if len(s.Samples) != 1 || s.Labels.Get("__name__") != "m" || s.Labels.Get("empty") != "" {
			t.Errorf("hand-off %d: %+v", i, s)
		}
	}
	batch := e.handedOff[:3]
	_ = append(batch[0].Samples, osprey.Sample{TimestampMs: -1})
	if batch[1].Samples[0].TimestampMs == -1 {
		t.Error("appending to one series' samples overwrote the next series'")
	}
}

// TestWriteCachedSeriesRejections checks that a cached series' samples are
// still checked one by one (future, order, duplicates, histograms).
func TestWriteCachedSeriesRejections(t *testing.T) {
	e := newEnv(t, 0, Limits{})
	s := func(samples ...prompb.Sample) prompb.TimeSeries { return series(samples, "__name__", "m", "job", "a") }
	if rec := e.post(t, encode(t, s(prompb.Sample{Timestamp: ms(0), Value: 1}))); rec.Code != http.StatusNoContent {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if e.recv.cache.len() != 1 {
		t.Fatalf("cache holds %d series, want 1", e.recv.cache.len())
	}
	withHistogram := s(prompb.Sample{Timestamp: ms(time.Second), Value: 2}, prompb.Sample{Timestamp: ms(time.Second), Value: 3},
		prompb.Sample{Timestamp: ms(-time.Second), Value: 4}, prompb.Sample{Timestamp: ms(time.Hour), Value: 5})
	withHistogram.Histograms = []prompb.Histogram{{Timestamp: ms(time.Second)}}
	rec := e.post(t, encode(t, withHistogram, s(prompb.Sample{Timestamp: ms(0), Value: 9})))
	want := "5 of 6 samples rejected (invalid 1, out_of_order 1, duplicate 2, too_far_in_future 1), 1 stored"
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), want) {
		t.Errorf("reply %d %s, want 400 %q", rec.Code, rec.Body, want)
	}
}

// TestWriteConcurrent writes from four senders at once, each its own
// series, through a cache too small for all of them (run with -race).
func TestWriteConcurrent(t *testing.T) {
	e := newEnv(t, 0, Limits{})
	e.recv.cache = newSeriesCache(5)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for k := range 10 {
				var ts []prompb.TimeSeries
				for i := range 3 {
					ts = append(ts, series([]prompb.Sample{{Timestamp: ms(time.Duration(k) * time.Second), Value: float64(k)}},
						"__name__", "c", "g", fmt.Sprint(g), "i", fmt.Sprint(i)))
				}
				if rec := e.post(t, encode(t, ts...)); rec.Code != http.StatusNoContent {
					t.Errorf("sender %d request %d: %d %s", g, k, rec.Code, rec.Body)
				}
			}
		})
	}
	wg.Wait()
	got := e.read(t, "__name__", "c")
	if len(got) != 12 {
		t.Errorf("%d series stored, want 12", len(got))
	}
	for s, samples := range got {
		if len(samples) != 10 {
			t.Errorf("%s holds %d samples, want 10", s, len(samples))
		}
	}
}
