package promremote

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

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
