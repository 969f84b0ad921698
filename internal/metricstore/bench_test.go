package metricstore

import (
	"context"
	"strconv"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
)

// benchSeries is the number of series a benchmark batch appends to, the size
// of a typical remote_write request (Prometheus' max_samples_per_send is
// 2,000).
const benchSeries = 2000

// benchLabels returns n series of metric names name_0..name_9, shaped like
// node_exporter's.
func benchLabels(n int, prefix string) []labels.Labels {
	out := make([]labels.Labels, n)
	for i := range out {
		out[i] = labels.FromStrings(
			"__name__", prefix+"_"+strconv.Itoa(i%10),
			"instance", "host-"+strconv.Itoa(i/10)+":9100",
			"job", "node",
			"series", strconv.Itoa(i),
		)
	}
	return out
}

// benchAppend appends one sample to each series per iteration, passing the
// refs of the previous iteration when keepRefs (the remote_write receiver's
// series cache) or a zero ref every time (OTLP, scrape), and reports the
// cost per sample.
func benchAppend(b *testing.B, opts Options, keepRefs bool) {
	opts.Dir = b.TempDir()
	s, err := New(opts)
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	lsets := benchLabels(benchSeries, "bench_metric")
	refs := make([]storage.SeriesRef, len(lsets))
	ts := int64(1_000_000)
	batch := func() {
		a, err := s.Appender(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		for i, l := range lsets {
			if !keepRefs {
				refs[i] = 0
			}
			if o, err := a.Append(&refs[i], l, ts, 1); err != nil || o != OutcomeAppended {
				b.Fatalf("append: %v %v", o, err)
			}
		}
		if _, err := a.Commit(); err != nil {
			b.Fatal(err)
		}
		ts += 1000
	}
	batch() // create the series
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		batch()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(lsets)), "ns/sample")
}

// BenchmarkAppendExisting measures the hot path: samples of series the head
// holds, under the default caps.
func BenchmarkAppendExisting(b *testing.B) {
	caps := Options{MaxSeries: 1_000_000, MaxSeriesPerMetric: 50_000}
	b.Run("cached_ref", func(b *testing.B) { benchAppend(b, caps, true) })
	b.Run("zero_ref", func(b *testing.B) { benchAppend(b, caps, false) })
	b.Run("zero_ref_no_cap", func(b *testing.B) { benchAppend(b, Options{}, false) })
}

// BenchmarkAppendNewSeries measures series creation (the path the caps
// guard): each iteration appends benchSeries series the head has not seen,
// of 10 new metric names.
func BenchmarkAppendNewSeries(b *testing.B) {
	s, err := New(Options{Dir: b.TempDir(), MaxSeries: 100_000_000, MaxSeriesPerMetric: 50_000})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		lsets := benchLabels(benchSeries, "new_"+strconv.Itoa(i))
		b.StartTimer()
		a, err := s.Appender(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		for _, l := range lsets {
			var ref storage.SeriesRef
			if o, err := a.Append(&ref, l, 1_000_000, 1); err != nil || o != OutcomeAppended {
				b.Fatalf("append: %v %v", o, err)
			}
		}
		if _, err := a.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchSeries), "ns/series")
}
