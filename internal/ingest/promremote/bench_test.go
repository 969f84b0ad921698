package promremote

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"

	"github.com/osprey-aiops/osprey"
)

// benchPayload returns a request of n series (ten labels each, like a
// node_exporter scrape relabelled by Prometheus) with one sample each at t.
func benchPayload(tb testing.TB, n int, t int64) []byte {
	ts := make([]prompb.TimeSeries, n)
	for i := range ts {
		ts[i] = series([]prompb.Sample{{Timestamp: t, Value: float64(i)}},
			"__name__", fmt.Sprintf("node_metric_%d", i%50),
			"cluster", "eu-west-1", "env", "prod", "instance", fmt.Sprintf("10.0.%d.%d:9100", i/250, i%250),
			"job", "node", "region", "eu", "service", "infra", "team", "sre", "device", fmt.Sprintf("dev%d", i%7))
	}
	return encode(tb, ts...)
}

// BenchmarkDecodeAppend measures one remote_write request of 1000 series:
// snappy, protobuf, label checks, TSDB append and commit, and the hand-off
// conversion to osprey.Series (Next is a no-op consumer). Each iteration
// writes the next timestamp of the same 1000 series, as a Prometheus server
// does between scrapes; building that payload is not timed.
func BenchmarkDecodeAppend(b *testing.B) {
	for _, handoff := range []bool{false, true} {
		b.Run(fmt.Sprintf("handoff=%v", handoff), func(b *testing.B) {
			e := newEnv(b, 0, Limits{})
			if !handoff {
				e.recv.next = nil
			} else {
				e.recv.next = osprey.SeriesConsumerFunc(func(context.Context, []osprey.Series) error { return nil })
			}
			const n = 1000
			start := testNow.Add(-time.Hour).UnixMilli()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				b.StopTimer()
				body := benchPayload(b, n, start+int64(i)*1000)
				i++
				b.StartTimer()
				if rec := e.post(b, body); rec.Code != http.StatusNoContent {
					b.Fatalf("reply %d %s", rec.Code, rec.Body)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "samples/s")
		})
	}
}

// encodedPayloads returns n pre-encoded requests of the same series
// (benchPayload's), request k holding each series' sample at
// start+k seconds: the timestamps of a Prometheus remote-writing one scrape
// after another. With fresh, every request holds series never seen before
// instead (a new instance label per request), the cost of series churn.
func encodedPayloads(tb testing.TB, n, series int, start int64, fresh bool) [][]byte {
	ts := make([]prompb.TimeSeries, series)
	samples := make([]prompb.Sample, series)
	for i := range ts {
		ts[i] = series1(i, 0)
		ts[i].Samples = samples[i : i+1]
	}
	out := make([][]byte, n)
	var raw []byte
	for k := range out {
		for i := range ts {
			if fresh {
				ts[i] = series1(i, k)
				ts[i].Samples = samples[i : i+1]
			}
			samples[i] = prompb.Sample{Timestamp: start + int64(k)*1000, Value: float64(i*31 + k)}
		}
		wr := prompb.WriteRequest{Timeseries: ts}
		raw = slices.Grow(raw[:0], wr.Size())[:wr.Size()]
		m, err := wr.MarshalToSizedBuffer(raw)
		if err != nil {
			tb.Fatal(err)
		}
		out[k] = snappy.Encode(nil, raw[len(raw)-m:])
	}
	return out
}

// series1 returns the labels of benchmark series i of generation gen (ten
// labels, sorted, as Prometheus sends them).
func series1(i, gen int) prompb.TimeSeries {
	return series(nil,
		"__name__", fmt.Sprintf("node_metric_%d", i%50),
		"cluster", "eu-west-1", "device", fmt.Sprintf("dev%d", i%7), "env", "prod",
		"instance", fmt.Sprintf("10.%d.%d.%d:9100", gen, i/250, i%250),
		"job", "node", "region", "eu", "service", "infra", "team", "sre")
}

// BenchmarkWrite measures the receiver end to end on pre-encoded requests
// of 1000 series, one sample each (Prometheus' shape: a request holds the
// next sample of many series): header checks, snappy, protobuf, the series
// cache or label checks, TSDB append and commit, and the hand-off to a
// no-op Next. known: every request writes the next sample of the same
// series; fresh: every request creates 1000 new series.
func BenchmarkWrite(b *testing.B) {
	for _, fresh := range []bool{false, true} {
		for _, handoff := range []bool{false, true} {
			b.Run(fmt.Sprintf("fresh=%v/handoff=%v", fresh, handoff), func(b *testing.B) {
				e := newEnv(b, 0, Limits{})
				e.recv.next = nil
				if handoff {
					e.recv.next = osprey.SeriesConsumerFunc(func(context.Context, []osprey.Series) error { return nil })
				}
				const n = 1000
				bodies := encodedPayloads(b, b.N, n, testNow.Add(-time.Hour).UnixMilli(), fresh)
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if rec := e.post(b, bodies[i]); rec.Code != http.StatusNoContent {
						b.Fatalf("reply %d %s", rec.Code, rec.Body)
					}
				}
				b.StopTimer()
				b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "samples/s")
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n*b.N), "ns/sample")
			})
		}
	}
}

// BenchmarkDecode compares the wire decoder with prompb's generated
// Unmarshal on the same decompressed request of 1000 series.
func BenchmarkDecode(b *testing.B) {
	body := encodedPayloads(b, 1, 1000, testNow.UnixMilli(), false)[0]
	raw, err := snappy.Decode(nil, body)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("wire", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(raw)))
		var wr wireRequest
		for b.Loop() {
			wr.reset()
			wr.raw = raw
			if err := wr.decodeWriteRequest(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("prompb", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(raw)))
		for b.Loop() {
			var wr prompb.WriteRequest
			if err := wr.Unmarshal(raw); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkSeriesCacheMemory fills a series cache with 100,000 series of
// ten labels (benchPayload's shape, about 190 bytes of label fields each)
// the way the receiver does (newSeries, then add) and reports the heap
// bytes per entry: the key (the series' encoded label fields), the entry
// with its checked labels, the hand-off map given to the detector (only
// with handoff=true: there is none without a Next), and the cache map's
// slot. It is the figure behind remote_write.max_cached_series'
// documentation.
func BenchmarkSeriesCacheMemory(b *testing.B) {
	const requests, perRequest = 100, 1000
	bodies := encodedPayloads(b, requests, perRequest, testNow.UnixMilli(), true)
	for _, handoff := range []bool{false, true} {
		b.Run(fmt.Sprintf("handoff=%v", handoff), func(b *testing.B) {
			for b.Loop() {
				r := &Receiver{limits: DefaultLimits(), cache: newSeriesCache(DefaultMaxCachedSeries)}
				if handoff {
					r.next = osprey.SeriesConsumerFunc(func(context.Context, []osprey.Series) error { return nil })
				}
				var (
					wr            wireRequest
					sb            labels.ScratchBuilder
					res           result
					keyBytes      int
					before, after runtime.MemStats
				)
				runtime.GC()
				runtime.ReadMemStats(&before)
				for _, body := range bodies {
					wr.reset()
					wr.body = body
					if err := decode(&wr, 32<<20); err != nil {
						b.Fatal(err)
					}
					added := make([]newEntry, 0, len(wr.series))
					for i := range wr.series {
						ws := &wr.series[i]
						e := r.newSeries(&sb, &wr, ws, &res)
						if e == nil {
							b.Fatalf("series %d refused: %s", i, res.first)
						}
						e.ref.Store(uint64(i + 1))
						added = append(added, newEntry{key: ws.key, e: e})
						keyBytes += len(ws.key)
					}
					r.cache.add(1, added)
				}
				wr = wireRequest{} // its buffers are not the cache's
				runtime.GC()
				runtime.ReadMemStats(&after)
				if n := r.cache.len(); n != requests*perRequest {
					b.Fatalf("cache holds %d series, want %d", n, requests*perRequest)
				}
				n := float64(r.cache.len())
				b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "bytes/entry")
				b.ReportMetric(float64(keyBytes)/n, "keyB/entry")
				runtime.KeepAlive(r)
			}
		})
	}
}
