package replay

import (
	"context"
	"math"
	"time"

	"github.com/osprey-aiops/osprey"
)

// Input kinds, as the report names them.
const (
	KindTSDB      = "tsdb"
	KindPromJSON  = "prom-json"
	KindCSV       = "csv"
	KindLogs      = "logs"
	KindEvents    = "events"
	KindSynthetic = "synthetic"
)

// Item is what a Stream delivers at one instant of record time: a window of
// metric samples (Series, as one remote_write batch would carry them), one
// log record, or one event. A metric window's slices are valid until the
// stream's next Next: streams reuse them.
type Item struct {
	// At is the item's record time; the virtual clock reads At while the
	// item is processed. A metric window's At is its latest sample's time.
	At     time.Time
	Series []osprey.Series
	// Fingerprints, when set, holds the fingerprint of each Series' labels
	// (computed once per input series, not once per window).
	Fingerprints []osprey.Fingerprint
	// Samples counts the samples in Series.
	Samples int
	Log     *osprey.LogRecord
	Event   *osprey.Event
}

// Stream delivers one input's items, in non-decreasing At as far as the
// input is ordered. It is used by one goroutine.
type Stream interface {
	// Next returns the next item, or false at the end. An error names the
	// input and, where there is one, the line and field.
	Next() (Item, bool, error)
	Close() error
}

// Source is one input. Open may be called more than once (an A/B replay
// reads every input twice); each Stream reads the input afresh.
type Source interface {
	// Kind is one of the Kind* constants; Name names the input (its path).
	Kind() string
	Name() string
	Open(ctx context.Context, w Window) (Stream, error)
}

// Window is what a Stream is asked for.
type Window struct {
	// From and To bound record time (inclusive); zero means unbounded.
	From, To time.Time
	// Step is the width of the metric windows (the batches series are
	// handed to the detector in).
	Step time.Duration
}

// bounds returns the window as inclusive Unix milliseconds.
func (w Window) bounds() (from, to int64) {
	from, to = math.MinInt64, math.MaxInt64
	if !w.From.IsZero() {
		from = w.From.UnixMilli()
	}
	if !w.To.IsZero() {
		to = w.To.UnixMilli()
	}
	return from, to
}

// in reports whether t is within the window.
func (w Window) in(t time.Time) bool {
	return (w.From.IsZero() || !t.Before(w.From)) && (w.To.IsZero() || !t.After(w.To))
}

// cursor reads the samples of one series in time order.
type cursor interface {
	// peek returns the next sample's timestamp, false at the end.
	peek() (int64, bool)
	// take appends the samples before limit (ms) to dst.
	take(dst []osprey.Sample, limit int64) []osprey.Sample
	// skip drops the samples before limit.
	skip(limit int64)
	// err is the error that ended the cursor early, if any.
	err() error
}

// seriesCursor is a cursor with its series' labels.
type seriesCursor struct {
	labels osprey.Labels
	fp     osprey.Fingerprint // labels.Fingerprint(), set by newWindowStream
	cursor
}

// windowStream merges series cursors into windows of Step: each Next
// returns the samples of every series in [w, w+Step), windows aligned to
// multiples of Step, skipping empty windows. The slices of the items it
// returns are reused by the next call.
type windowStream struct {
	series   []seriesCursor
	step     int64
	from, to int64
	slab     []osprey.Sample
	batch    []osprey.Series
	fps      []osprey.Fingerprint
	close    func() error
}

func newWindowStream(series []seriesCursor, w Window, close func() error) *windowStream {
	step := w.Step.Milliseconds()
	if step <= 0 {
		step = time.Minute.Milliseconds()
	}
	from, to := w.bounds()
	for i := range series {
		series[i].fp = series[i].labels.Fingerprint()
	}
	return &windowStream{series: series, step: step, from: from, to: to, close: close}
}

// Series returns the number of series the stream reads.
func (s *windowStream) Series() int { return len(s.series) }

// Next implements Stream.
func (s *windowStream) Next() (Item, bool, error) {
	// The earliest pending sample decides where the next window is; the
	// cursors are sorted, so it is never in a window already returned.
	first := int64(math.MaxInt64)
	for i := range s.series {
		c := &s.series[i]
		t, ok := c.peek()
		if ok && t < s.from {
			c.skip(s.from)
			t, ok = c.peek()
		}
		if !ok {
			if err := c.err(); err != nil {
				return Item{}, false, err
			}
			continue
		}
		first = min(first, t)
	}
	if first == math.MaxInt64 || first > s.to {
		return Item{}, false, nil
	}
	start := floorDiv(first, s.step) * s.step
	limit := start + s.step
	if s.to != math.MaxInt64 && limit > s.to+1 {
		limit = s.to + 1
	}
	// When appending moves the slab, the series cut from it before keep
	// the old array, which is not written again in this window.
	slab := s.slab[:0]
	batch := s.batch[:0]
	fps := s.fps[:0]
	var last int64
	for i := range s.series {
		c := &s.series[i]
		n := len(slab)
		slab = c.take(slab, limit)
		if len(slab) == n {
			continue
		}
		last = max(last, slab[len(slab)-1].TimestampMs)
		batch = append(batch, osprey.Series{Labels: c.labels, Samples: slab[n:len(slab):len(slab)]})
		fps = append(fps, c.fp)
	}
	s.slab, s.batch, s.fps = slab, batch, fps
	return Item{At: time.UnixMilli(last).UTC(), Series: batch, Fingerprints: fps, Samples: len(slab)}, true, nil
}

// Close implements Stream.
func (s *windowStream) Close() error {
	if s.close == nil {
		return nil
	}
	return s.close()
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// sliceCursor is a cursor over samples in memory, sorted by time.
type sliceCursor struct {
	samples []osprey.Sample
	i       int
}

func (c *sliceCursor) peek() (int64, bool) {
	if c.i >= len(c.samples) {
		return 0, false
	}
	return c.samples[c.i].TimestampMs, true
}

func (c *sliceCursor) take(dst []osprey.Sample, limit int64) []osprey.Sample {
	j := c.i
	for j < len(c.samples) && c.samples[j].TimestampMs < limit {
		j++
	}
	dst = append(dst, c.samples[c.i:j]...)
	c.i = j
	return dst
}

func (c *sliceCursor) skip(limit int64) {
	for c.i < len(c.samples) && c.samples[c.i].TimestampMs < limit {
		c.i++
	}
}

func (c *sliceCursor) err() error { return nil }
