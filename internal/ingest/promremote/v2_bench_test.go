package promremote

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"
	writev2 "github.com/prometheus/prometheus/prompb/io/prometheus/write/v2"

	"github.com/osprey-aiops/osprey"
)

// v2BenchLabels returns the labels of benchmark series i: ten labels shaped
// like a relabelled node_exporter scrape, as BenchmarkWrite's.
func v2BenchLabels(i int) labels.Labels {
	return labels.FromStrings(
		"__name__", fmt.Sprintf("node_metric_%d", i%50),
		"cluster", "eu-west-1", "device", fmt.Sprintf("dev%d", i%7), "env", "prod",
		"instance", fmt.Sprintf("10.0.%d.%d:9100", i/250, i%250),
		"job", "node", "region", "eu", "service", "infra", "team", "sre")
}

// v2BenchBodies returns n pre-encoded requests of the same nSeries series,
// one sample each, request k at start+k seconds, in protocol 1.0 or 2.0 as
// each version's sender encodes them (2.0: one symbols table per request).
func v2BenchBodies(tb testing.TB, protocol string, n, nSeries int, start int64) [][]byte {
	lsets := make([]labels.Labels, nSeries)
	for i := range lsets {
		lsets[i] = v2BenchLabels(i)
	}
	out := make([][]byte, n)
	for k := range out {
		t := start + int64(k)*1000
		var raw []byte
		var err error
		switch protocol {
		case "1.0":
			wr := prompb.WriteRequest{Timeseries: make([]prompb.TimeSeries, nSeries)}
			for i, ls := range lsets {
				ls.Range(func(l labels.Label) {
					wr.Timeseries[i].Labels = append(wr.Timeseries[i].Labels, prompb.Label{Name: l.Name, Value: l.Value})
				})
				wr.Timeseries[i].Samples = []prompb.Sample{{Timestamp: t, Value: float64(i*31 + k)}}
			}
			raw, err = wr.Marshal()
		case "2.0":
			syms := writev2.NewSymbolTable()
			req := writev2.Request{Timeseries: make([]writev2.TimeSeries, nSeries)}
			for i, ls := range lsets {
				req.Timeseries[i] = writev2.TimeSeries{
					LabelsRefs: syms.SymbolizeLabels(ls, nil),
					Samples:    []writev2.Sample{{Timestamp: t, Value: float64(i*31 + k)}},
				}
			}
			req.Symbols = syms.Symbols()
			raw, err = req.Marshal()
		}
		if err != nil {
			tb.Fatal(err)
		}
		out[k] = snappy.Encode(nil, raw)
	}
	return out
}

// BenchmarkWriteProtocols compares remote-write 1.0 and 2.0 end to end on
// the same load: pre-encoded requests of 1000 known series, one sample
// each (header checks, snappy, decode, series cache, TSDB append and
// commit, hand-off to a no-op Next). ns/sample and allocs/op ÷ 1000 are the
// per-sample figures.
func BenchmarkWriteProtocols(b *testing.B) {
	for _, protocol := range []string{"1.0", "2.0"} {
		b.Run("protocol="+protocol, func(b *testing.B) {
			e := newEnv(b, 0, Limits{})
			e.recv.next = osprey.SeriesConsumerFunc(func(context.Context, []osprey.Series) error { return nil })
			const n = 1000
			bodies := v2BenchBodies(b, protocol, b.N+1, n, testNow.Add(-time.Hour).UnixMilli())
			post := e.post
			if protocol == "2.0" {
				post = e.postV2
			}
			// The first request creates the series, untimed.
			if rec := post(b, bodies[0]); rec.Code != http.StatusNoContent {
				b.Fatalf("reply %d %s", rec.Code, rec.Body)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 1; i <= b.N; i++ {
				if rec := post(b, bodies[i]); rec.Code != http.StatusNoContent {
					b.Fatalf("reply %d %s", rec.Code, rec.Body)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n*b.N), "ns/sample")
		})
	}
}

// BenchmarkDecodeV2 measures decoding one decompressed 2.0 request of 1000
// series: wire is decodeWire into the wireRequest write consumes (labels
// resolved, cache keys built); library is writev2.Request.Unmarshal alone,
// without resolving anything.
func BenchmarkDecodeV2(b *testing.B) {
	raw, err := snappy.Decode(nil, v2BenchBodies(b, "2.0", 1, 1000, testNow.UnixMilli())[0])
	if err != nil {
		b.Fatal(err)
	}
	b.Run("wire", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(raw)))
		var v v2Request
		for b.Loop() {
			v.reset()
			v.wr.raw = raw
			if err := v.decode(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("library", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(raw)))
		for b.Loop() {
			var req writev2.Request
			if err := req.Unmarshal(raw); err != nil {
				b.Fatal(err)
			}
		}
	})
}
