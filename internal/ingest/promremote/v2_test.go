package promremote

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang/snappy"
	remoteapi "github.com/prometheus/client_golang/exp/api/remote"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"
	writev2 "github.com/prometheus/prometheus/prompb/io/prometheus/write/v2"

	"github.com/osprey-aiops/osprey/internal/ingest"
)

// v2Builder builds a remote-write 2.0 request with the library's own
// symbols table, as Prometheus' 2.0 sender does.
type v2Builder struct {
	syms writev2.SymbolsTable
	ts   []writev2.TimeSeries
}

func newV2Builder() *v2Builder { return &v2Builder{syms: writev2.NewSymbolTable()} }

// add appends a series with labels from alternating names and values.
func (b *v2Builder) add(samples []writev2.Sample, nameValues ...string) *writev2.TimeSeries {
	ts := writev2.TimeSeries{Samples: samples}
	ts.LabelsRefs = b.syms.SymbolizeLabels(labels.FromStrings(nameValues...), nil)
	b.ts = append(b.ts, ts)
	return &b.ts[len(b.ts)-1]
}

func (b *v2Builder) request() *writev2.Request {
	return &writev2.Request{Symbols: b.syms.Symbols(), Timeseries: b.ts}
}

// encode marshals and snappy-compresses the request.
func (b *v2Builder) encode(tb testing.TB) []byte {
	tb.Helper()
	raw, err := b.request().Marshal()
	if err != nil {
		tb.Fatal(err)
	}
	return snappy.Encode(nil, raw)
}

// postV2 sends body as a remote-write 2.0 request.
func (e *env) postV2(tb testing.TB, body []byte, header ...string) *httptest.ResponseRecorder {
	tb.Helper()
	return e.post(tb, body, append([]string{"Content-Type", contentTypeV2, "X-Prometheus-Remote-Write-Version", "2.0.0"}, header...)...)
}

// written returns the three written headers of a reply.
func written(h http.Header) [3]string {
	return [3]string{h.Get(HeaderSamplesWritten), h.Get(HeaderHistogramsWritten), h.Get(HeaderExemplarsWritten)}
}

func TestV2WriteStoresAndHandsOff(t *testing.T) {
	e := newEnv(t, 0, Limits{})
	reg := prometheus.NewRegistry()
	var err error
	if e.recv.v2, err = newV2Metrics(reg); err != nil {
		t.Fatal(err)
	}
	b := newV2Builder()
	ts := b.add([]writev2.Sample{{Timestamp: ms(-2 * time.Second), Value: 1, StartTimestamp: ms(-time.Hour)}, {Timestamp: ms(-time.Second), Value: 2}},
		"__name__", "http_requests_total", "job", "api", "empty", "")
	ts.Metadata = writev2.Metadata{Type: writev2.Metadata_METRIC_TYPE_COUNTER, HelpRef: b.syms.Symbolize("Requests."), UnitRef: b.syms.Symbolize("requests")}
	ts.Exemplars = []writev2.Exemplar{{LabelsRefs: b.syms.SymbolizeLabels(labels.FromStrings("trace_id", "abc"), nil), Value: 1, Timestamp: ms(-2 * time.Second)}}
	b.add([]writev2.Sample{{Timestamp: ms(-time.Second), Value: math.Float64frombits(0x7ff0000000000002)}}, // staleness marker
		"__name__", "up", "job", "api")

	rec := e.postV2(t, b.encode(t))
	if rec.Code != http.StatusNoContent {
		t.Fatalf("reply %d %s, want 204", rec.Code, rec.Body)
	}
	if got, want := written(rec.Header()), [3]string{"3", "0", "0"}; got != want {
		t.Errorf("written headers %q, want %q", got, want)
	}
	got := e.read(t, "job", "api")
	if s := got[`{__name__="http_requests_total", job="api"}`]; len(s) != 2 || s[0].Value != 1 || s[1].Value != 2 {
		t.Errorf("stored %v", got)
	}
	if s := got[`{__name__="up", job="api"}`]; len(s) != 1 || !math.IsNaN(s[0].Value) {
		t.Errorf("staleness marker not stored: %v", got)
	}
	if len(e.handedOff) != 2 || e.handedOff[0].Labels.String() != `{__name__="http_requests_total", job="api"}` || len(e.handedOff[0].Samples) != 2 {
		t.Errorf("handed off %+v", e.handedOff)
	}
	snap := e.snapshot()
	if snap.Items.Accepted != 3 || snap.Items.Rejected != 0 || snap.Requests.Accepted != 1 {
		t.Errorf("stats %+v", snap)
	}
	for kind, want := range map[string]float64{ignoredExemplar: 1, ignoredMetadata: 1, ignoredStartTimestamp: 1} {
		if got := testutil.ToFloat64(e.recv.v2.ignored.WithLabelValues(kind)); got != want {
			t.Errorf("ignored %s = %v, want %v", kind, got, want)
		}
	}
}

func TestV2PartialWrite(t *testing.T) {
	e := newEnv(t, 0, Limits{MaxLabelsPerSeries: 4})
	b := newV2Builder()
	b.add([]writev2.Sample{{Timestamp: ms(-time.Second), Value: 1}}, "__name__", "ok", "job", "a")
	// Out of order within the request: the second sample is rejected.
	b.add([]writev2.Sample{{Timestamp: ms(-time.Second), Value: 1}, {Timestamp: ms(-2 * time.Second), Value: 2}}, "__name__", "ooo", "job", "a")
	// A reference past the symbols table: the series is invalid.
	bad := b.add([]writev2.Sample{{Timestamp: ms(0), Value: 1}, {Timestamp: ms(time.Second), Value: 1}}, "__name__", "bad", "job", "a")
	bad.LabelsRefs = append(bad.LabelsRefs, 1000, 1001)
	// An odd number of refs.
	odd := b.add([]writev2.Sample{{Timestamp: ms(0), Value: 1}}, "__name__", "odd")
	odd.LabelsRefs = odd.LabelsRefs[:1]
	// Native histograms are not supported (as in 1.0); the float sample
	// of the same series is stored.
	h := b.add([]writev2.Sample{{Timestamp: ms(-time.Second), Value: 5}}, "__name__", "hist", "job", "a")
	h.Histograms = []writev2.Histogram{writev2.FromIntHistogram(0, ms(0), &histogram.Histogram{Count: 1, Sum: 1, Schema: 0})}
	// Too many labels.
	b.add([]writev2.Sample{{Timestamp: ms(0), Value: 1}}, "__name__", "wide", "a", "1", "b", "2", "c", "3", "d", "4")
	// Too far in the future.
	b.add([]writev2.Sample{{Timestamp: ms(time.Hour), Value: 1}}, "__name__", "future")

	rec := e.postV2(t, b.encode(t))
	if rec.Code != http.StatusBadRequest {
		t.Fatalf("reply %d %s, want 400", rec.Code, rec.Body)
	}
	if got, want := written(rec.Header()), [3]string{"3", "0", "0"}; got != want {
		t.Errorf("written headers %q, want %q", got, want)
	}
	for _, s := range []string{"7 of 10 samples rejected", "invalid 4", "label_limit 1", "out_of_order 1", "too_far_in_future 1", "outside the symbols table", "3 stored"} {
		if !strings.Contains(rec.Body.String(), s) {
			t.Errorf("reply %s does not mention %q", rec.Body, s)
		}
	}
	snap := e.snapshot()
	want := map[ingest.Reason]uint64{ingest.ReasonInvalid: 4, ingest.ReasonLabelLimit: 1, ingest.ReasonOutOfOrder: 1, ingest.ReasonTooFarInFuture: 1}
	for r, n := range want {
		if snap.Rejected[r] != n {
			t.Errorf("rejected %s = %d, want %d (%+v)", r, snap.Rejected[r], n, snap)
		}
	}
	if snap.Items.Accepted != 3 || snap.Items.Rejected != 7 || snap.Requests.Partial != 1 {
		t.Errorf("stats %+v", snap)
	}
	if got := e.read(t, "job", "a"); len(got) != 3 || len(got[`{__name__="hist", job="a"}`]) != 1 {
		t.Errorf("stored %v", got)
	}
}

func TestV2RefusesRequests(t *testing.T) {
	e := newEnv(t, 0, Limits{MaxBodyBytes: 1024, MaxDecodedBytes: 2048})
	b := newV2Builder()
	b.add([]writev2.Sample{{Timestamp: ms(0), Value: 1}}, "__name__", "a")
	ok := b.encode(t)
	big := newV2Builder()
	for i := range 3 {
		big.add([]writev2.Sample{{Timestamp: ms(0), Value: 1}}, "__name__", "a", "pad", strings.Repeat("x", 1000)+string(rune('a'+i)))
	}
	tests := []struct {
		name    string
		body    []byte
		header  []string
		code    int
		reason  ingest.Reason
		msg     string
		written bool
	}{
		{"unknown proto", ok, []string{"Content-Type", "application/x-protobuf;proto=io.prometheus.write.v3.Request"}, 415, ingest.ReasonMediaType, protoV2, false},
		{"gzip", ok, []string{"Content-Encoding", "gzip"}, 415, ingest.ReasonMediaType, "snappy", true},
		{"body too large", make([]byte, 2000), nil, 413, ingest.ReasonTooLarge, "server.max_body_bytes", true},
		{"decodes too large", big.encode(t), nil, 413, ingest.ReasonTooLarge, "remote_write.max_decoded_bytes", true},
		{"not snappy", []byte("hello, world"), nil, 400, ingest.ReasonMalformed, "snappy", true},
		{"not protobuf", snappy.Encode(nil, []byte("\xff\xff\xff")), nil, 400, ingest.ReasonMalformed, "protobuf io.prometheus.write.v2.Request", true},
		{"a 1.0 body", encode(t, series([]prompb.Sample{{Timestamp: ms(0), Value: 1}}, "__name__", "a")), nil, 400, ingest.ReasonMalformed, "remote-write 1.0", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := e.snapshot()
			rec := e.postV2(t, tc.body, tc.header...)
			if rec.Code != tc.code || !strings.Contains(rec.Body.String(), tc.msg) {
				t.Fatalf("reply %d %s, want %d mentioning %q", rec.Code, rec.Body, tc.code, tc.msg)
			}
			if got := written(rec.Header()); tc.written && got != [3]string{"0", "0", "0"} || !tc.written && got != [3]string{} {
				t.Errorf("written headers %q", got)
			}
			after := e.snapshot()
			if after.Rejected[tc.reason] != before.Rejected[tc.reason]+1 || after.Requests.Rejected != before.Requests.Rejected+1 {
				t.Errorf("not counted as %s: %+v", tc.reason, after)
			}
		})
	}
}

// TestV2AndV1Negotiation: 1.0's Content-Types still reach the 1.0 path.
func TestV2AndV1Negotiation(t *testing.T) {
	e := newEnv(t, 0, Limits{})
	for i, ct := range []string{"application/x-protobuf", "application/x-protobuf;proto=prometheus.WriteRequest", `application/x-protobuf; proto="prometheus.WriteRequest"`} {
		body := encode(t, series([]prompb.Sample{{Timestamp: ms(time.Duration(i) * time.Second), Value: 1}}, "__name__", "v1"))
		if rec := e.post(t, body, "Content-Type", ct); rec.Code != http.StatusNoContent || rec.Header().Get(HeaderSamplesWritten) != "" {
			t.Errorf("%s: reply %d %s %v", ct, rec.Code, rec.Body, rec.Header())
		}
	}
	// A quoted proto parameter is 2.0 as well.
	b := newV2Builder()
	b.add([]writev2.Sample{{Timestamp: ms(3 * time.Second), Value: 1}}, "__name__", "v1")
	if rec := e.post(t, b.encode(t), "Content-Type", `application/x-protobuf; proto="io.prometheus.write.v2.Request"`); rec.Code != http.StatusNoContent {
		t.Errorf("quoted 2.0: reply %d %s", rec.Code, rec.Body)
	}
	if got := e.read(t, "__name__", "v1"); len(got[`{__name__="v1"}`]) != 4 {
		t.Errorf("stored %v", got)
	}
}

// TestV2SharesSeriesWithV1: a series sent by 1.0 then 2.0 is one series,
// and 2.0's cache key is the series' 1.0 encoding.
func TestV2SharesSeriesWithV1(t *testing.T) {
	e := newEnv(t, 0, Limits{})
	lv := []string{"__name__", "shared", "instance", "h:9100", "job", "node"}
	if rec := e.post(t, encode(t, series([]prompb.Sample{{Timestamp: ms(-2 * time.Second), Value: 1}}, lv...))); rec.Code != http.StatusNoContent {
		t.Fatalf("1.0 reply %d %s", rec.Code, rec.Body)
	}
	b := newV2Builder()
	b.add([]writev2.Sample{{Timestamp: ms(-3 * time.Second), Value: 2}, {Timestamp: ms(-time.Second), Value: 3}}, lv...)
	rec := e.postV2(t, b.encode(t))
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "out_of_order 1") || rec.Header().Get(HeaderSamplesWritten) != "1" {
		t.Fatalf("2.0 reply %d %s %v, want one out-of-order sample", rec.Code, rec.Body, rec.Header())
	}
	if got := e.read(t, "__name__", "shared"); len(got) != 1 || len(got[`{__name__="shared", instance="h:9100", job="node"}`]) != 2 {
		t.Errorf("stored %v", got)
	}
	if n := e.recv.cache.len(); n != 1 {
		t.Errorf("%d cache entries, want 1 shared by both versions", n)
	}
	// The key is byte for byte prompb's encoding of the labels.
	ts := series(nil, lv...)
	raw, err := ts.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var wl []wireLabel
	for i := 0; i < len(lv); i += 2 {
		wl = append(wl, wireLabel{name: lv[i], value: lv[i+1]})
	}
	if key := appendV2Key(nil, wl); string(key) != string(raw) {
		t.Errorf("key %x, want %x", key, raw)
	}
}

// TestV2EndToEnd sends through a real HTTP server with client_golang's
// remote-write 2.0 client, which checks the written headers itself.
func TestV2EndToEnd(t *testing.T) {
	e := newEnv(t, 0, Limits{})
	srv := httptest.NewServer(e.recv.Routes()[0].Handler)
	defer srv.Close()
	api, err := remoteapi.NewAPI(srv.URL, remoteapi.WithAPIPath("/api/v1/write"), remoteapi.WithAPIHTTPClient(srv.Client()))
	if err != nil {
		t.Fatal(err)
	}
	b := newV2Builder()
	for i := range 100 {
		b.add([]writev2.Sample{{Timestamp: ms(-time.Second), Value: float64(i)}, {Timestamp: ms(0), Value: float64(i + 1)}},
			"__name__", "e2e", "job", "client", "i", string(rune('A'+i%26))+string(rune('a'+i/26)))
	}
	stats, err := api.Write(context.Background(), remoteapi.WriteV2MessageType, b.request())
	if err != nil {
		t.Fatal(err)
	}
	if stats.Samples != 200 || stats.Histograms != 0 || stats.Exemplars != 0 {
		t.Errorf("stats %+v, want 200 samples", stats)
	}
	if got := e.read(t, "job", "client"); len(got) != 100 {
		t.Errorf("stored %d series, want 100", len(got))
	}
	// A partial write: the client sees the 400 and the samples written.
	b = newV2Builder()
	b.add([]writev2.Sample{{Timestamp: ms(time.Second), Value: 1}}, "__name__", "e2e", "job", "client", "i", "Aa")
	bad := b.add([]writev2.Sample{{Timestamp: ms(time.Second), Value: 1}}, "__name__", "e2e", "job", "client")
	bad.LabelsRefs[0] = 99
	stats, err = api.Write(context.Background(), remoteapi.WriteV2MessageType, b.request())
	if err == nil || !strings.Contains(err.Error(), "400") || stats.Samples != 1 {
		t.Errorf("partial write: stats %+v, err %v", stats, err)
	}
}

func TestV2StoreUnavailable(t *testing.T) {
	e := newEnv(t, 0, Limits{})
	_ = e.store.Shutdown(context.Background())
	b := newV2Builder()
	b.add([]writev2.Sample{{Timestamp: ms(0), Value: 1}, {Timestamp: ms(time.Second), Value: 1}}, "__name__", "a")
	rec := e.postV2(t, b.encode(t))
	if rec.Code != http.StatusServiceUnavailable || written(rec.Header()) != [3]string{"0", "0", "0"} {
		t.Fatalf("reply %d %s %v, want 503 with nothing written", rec.Code, rec.Body, rec.Header())
	}
	if snap := e.snapshot(); snap.Rejected[ingest.ReasonStore] != 2 || snap.Requests.Rejected != 1 {
		t.Errorf("stats %+v", snap)
	}
}

// TestV2Concurrent: 1.0 and 2.0 senders at once, through a small cache
// that keeps emptying, each series' samples all stored (run with -race).
func TestV2Concurrent(t *testing.T) {
	e := newEnv(t, 0, Limits{})
	e.recv.cache = newSeriesCache(5)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for k := range 10 {
				var rec *httptest.ResponseRecorder
				if g%2 == 0 {
					b := newV2Builder()
					for i := range 3 {
						b.add([]writev2.Sample{{Timestamp: ms(time.Duration(k) * time.Second), Value: float64(k)}}, "__name__", "c", "g", fmt.Sprint(g), "i", fmt.Sprint(i))
					}
					rec = e.postV2(t, b.encode(t))
				} else {
					var ts []prompb.TimeSeries
					for i := range 3 {
						ts = append(ts, series([]prompb.Sample{{Timestamp: ms(time.Duration(k) * time.Second), Value: float64(k)}}, "__name__", "c", "g", fmt.Sprint(g), "i", fmt.Sprint(i)))
					}
					rec = e.post(t, encode(t, ts...))
				}
				if rec.Code != http.StatusNoContent {
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
