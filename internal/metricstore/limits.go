package metricstore

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/tsdb/chunks"
)

// Errors the head returns from Append when seriesLimits refuses a new series.
// They are sentinels, not wrapped, so that a flood of refused samples costs no
// allocation; Appender.Append turns them into outcomes.
var (
	errSeriesCap          = errors.New("new series while tsdb.max_series series are active")
	errSeriesPerMetricCap = errors.New("new series while its metric name has tsdb.max_series_per_metric series")
)

// seriesLimits enforces the active-series caps. It is the head's
// tsdb.SeriesLifecycleCallback, so the head consults it only when it is about
// to create a series (PreCreation) and tells it when one was created or
// garbage-collected: appending to a series the head holds costs nothing here,
// and the counts follow the head exactly, going down when a head compaction
// drops idle series. This is how Cortex enforced its per-metric limit on the
// same TSDB.
//
// The check and the count are two steps under the head's locking, so series
// created at the same instant by concurrent appenders can overshoot a cap by
// at most their number (the same holds for Prometheus' own sample limits).
type seriesLimits struct {
	maxSeries, maxPerMetric int // zero: no cap

	// enforce is off while tsdb.Open replays the write-ahead log: a series
	// stored before must come back even if the caps were lowered since.
	enforce atomic.Bool

	mu    sync.Mutex
	total int
	// perMetric counts the head's series by metric name; nil when
	// maxPerMetric is zero. Names with no series left are deleted, so the
	// map is bounded by the names in the head.
	perMetric map[string]int
}

var _ tsdb.SeriesLifecycleCallback = (*seriesLimits)(nil)

func newSeriesLimits(maxSeries, maxPerMetric int) *seriesLimits {
	l := &seriesLimits{maxSeries: maxSeries, maxPerMetric: maxPerMetric}
	if maxPerMetric > 0 {
		l.perMetric = make(map[string]int)
	}
	return l
}

// PreCreation implements tsdb.SeriesLifecycleCallback: it refuses a series
// that would exceed a cap.
func (l *seriesLimits) PreCreation(lset labels.Labels) error {
	if !l.enforce.Load() {
		return nil
	}
	var name string
	if l.perMetric != nil {
		name = lset.Get(labels.MetricName)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.maxSeries > 0 && l.total >= l.maxSeries:
		return errSeriesCap
	case l.perMetric != nil && l.perMetric[name] >= l.maxPerMetric:
		return errSeriesPerMetricCap
	}
	return nil
}

// PostCreation implements tsdb.SeriesLifecycleCallback.
func (l *seriesLimits) PostCreation(lset labels.Labels) {
	var name string
	if l.perMetric != nil {
		name = lset.Get(labels.MetricName)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total++
	if l.perMetric == nil {
		return
	}
	if n, ok := l.perMetric[name]; ok {
		l.perMetric[name] = n + 1
	} else {
		// A copy: the name may point into the series' label data,
		// which the key must not keep alive after the series is gone.
		l.perMetric[strings.Clone(name)] = 1
	}
}

// PostDeletion implements tsdb.SeriesLifecycleCallback: the head dropped
// these series (garbage collection after a head compaction, or a reset).
func (l *seriesLimits) PostDeletion(deleted map[chunks.HeadSeriesRef]labels.Labels) {
	if len(deleted) == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total -= len(deleted)
	if l.perMetric == nil {
		return
	}
	for _, lset := range deleted {
		name := lset.Get(labels.MetricName)
		if n := l.perMetric[name]; n > 1 {
			l.perMetric[name] = n - 1
		} else {
			delete(l.perMetric, name)
		}
	}
}

// seriesOf returns the head series of metric name; 0 when the per-metric cap
// is off (the names are not counted then).
func (l *seriesLimits) seriesOf(name string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.perMetric[name]
}

// highest returns the most head series any one metric name has; 0 when the
// per-metric cap is off.
func (l *seriesLimits) highest() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := 0
	for _, n := range l.perMetric {
		m = max(m, n)
	}
	return m
}
