package forecast

import (
	"context"
	"fmt"
	"testing"

	"github.com/osprey-aiops/osprey"
)

// benchBatch returns a remote_write-like batch of 100 series of 10 samples
// each, named name, starting at ts.
func benchBatch(name string) []osprey.Series {
	batch := make([]osprey.Series, 100)
	for i := range batch {
		batch[i] = osprey.Series{
			Labels: osprey.Labels{osprey.LabelMetric: name, "instance": fmt.Sprintf("host-%d:9100", i),
				"job": "node", "mountpoint": "/", "device": "/dev/sda1", "fstype": "ext4"},
			Samples: make([]osprey.Sample, 10),
		}
	}
	return batch
}

func benchConsume(b *testing.B, name string) {
	emitted := 0
	f, err := New(DefaultConfig(), osprey.AnomalyConsumerFunc(func(_ context.Context, b []osprey.Anomaly) error { emitted += len(b); return nil }))
	if err != nil {
		b.Fatal(err)
	}
	batch := benchBatch(name)
	ts := int64(1_700_000_000_000)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for i := range batch {
			for j := range batch[i].Samples {
				batch[i].Samples[j] = osprey.Sample{TimestampMs: ts + int64(j)*15_000, Value: 5e10 + float64((ts/15_000+int64(j)+int64(i))%7)*1e6}
			}
		}
		ts += 150_000
		if err := f.ConsumeSeries(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/sample")
	b.ReportMetric(float64(emitted), "forecasts")
}

// BenchmarkConsumeSeriesNonMatching: series no rule names (the common case
// on the remote_write path): one map lookup per series.
func BenchmarkConsumeSeriesNonMatching(b *testing.B) { benchConsume(b, "node_cpu_seconds_total") }

// BenchmarkConsumeSeriesMatching: every series forecast (model update and
// prediction per sample).
func BenchmarkConsumeSeriesMatching(b *testing.B) { benchConsume(b, "node_filesystem_avail_bytes") }

// BenchmarkConsumeSeriesManyReused: 100,000 series no rule names, one
// sample each, in batches of 2,000, every series with the same label map
// in every batch, as the remote_write receiver hands them on (ten labels,
// as the load generator's): the label maps do not stay in the CPU cache.
func BenchmarkConsumeSeriesManyReused(b *testing.B) {
	f, err := New(DefaultConfig(), osprey.AnomalyConsumerFunc(func(context.Context, []osprey.Anomaly) error { return nil }))
	if err != nil {
		b.Fatal(err)
	}
	const n, per = 100_000, 2000
	all := make([]osprey.Series, n)
	for i := range all {
		all[i] = osprey.Series{Labels: osprey.Labels{osprey.LabelMetric: fmt.Sprintf("loadgen_metric_%d", i%50),
			"cluster": "eu-west-1", "device": fmt.Sprintf("dev%d", i%7), "env": "prod",
			"instance": fmt.Sprintf("10.%d.%d.%d:9100", i/62500, i/250%250, i%250), "job": "node", "region": "eu",
			"series": fmt.Sprint(i), "service": "infra", "team": "sre"},
			Samples: []osprey.Sample{{TimestampMs: 1, Value: 1}}}
	}
	ctx := context.Background()
	for range 2 { // the second pass remembers the maps
		for lo := 0; lo < n; lo += per {
			_ = f.ConsumeSeries(ctx, all[lo:lo+per])
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	lo := 0
	for b.Loop() {
		if err := f.ConsumeSeries(ctx, all[lo:lo+per]); err != nil {
			b.Fatal(err)
		}
		lo = (lo + per) % n
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*per), "ns/series")
}
