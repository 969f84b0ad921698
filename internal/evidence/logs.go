package evidence

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/osprey-aiops/osprey"
)

// Line is one log line held by a LogWindow, as queries return it.
type Line struct {
	// Time is the line's own time (when it was written, as received).
	Time time.Time `json:"time"`
	// Labels are its stream's labels. They are shared by the lines of the
	// stream and must not be modified.
	Labels osprey.Labels `json:"labels"`
	Level  string        `json:"level,omitempty"`
	Body   string        `json:"body"`
	// Attributes are the structured fields that came with the line.
	Attributes map[string]string `json:"attributes,omitempty"`
	seq        uint64
}

// logItem is what the window keeps of a line; the labels are its stream's.
type logItem struct {
	time  time.Time
	level string
	body  string
	attrs map[string]string
}

// LogWindow keeps the most recent lines of every log stream (a stream is
// the label set lines arrive with) within Limits. It is an
// osprey.LogConsumer, safe for concurrent use.
type LogWindow struct {
	now func() time.Time

	mu sync.Mutex
	w  *window[logItem, osprey.Labels]
}

var _ osprey.LogConsumer = (*LogWindow)(nil)

// NewLogWindow returns an empty window; now is its clock (nil: time.Now),
// which measures Limits.MaxAge from each line's arrival.
func NewLogWindow(lim Limits, now func() time.Time) (*LogWindow, error) {
	if err := lim.check(); err != nil {
		return nil, fmt.Errorf("log window: %w", err)
	}
	if now == nil {
		now = time.Now
	}
	return &LogWindow{now: now, w: newWindow[logItem, osprey.Labels](lim)}, nil
}

// check reports a limit that is not positive.
func (l Limits) check() error {
	if l.PerKey <= 0 || l.MaxKeys <= 0 || l.MaxBytes <= 0 || l.MaxAge <= 0 {
		return errors.New("every limit must be positive")
	}
	return nil
}

// ConsumeLogs adds the batch's lines to their streams, evicting what the
// limits require. It only reads the records (other consumers may share
// them) and never fails.
func (lw *LogWindow) ConsumeLogs(_ context.Context, batch []osprey.LogRecord) error {
	now := lw.now()
	lw.mu.Lock()
	defer lw.mu.Unlock()
	lw.w.sweep(now)
	for i := range batch {
		r := &batch[i]
		b := lw.w.bucketFor(lw.key(r.Labels), func() (osprey.Labels, int) {
			l := r.Labels.Clone()
			return l, mapBytes(l)
		})
		size := len(r.Body) + len(r.Level) + mapBytes(r.Attributes)
		lw.w.add(b, now, logItem{time: r.Time, level: r.Level, body: r.Body, attrs: r.Attributes}, size)
	}
	return nil
}

// key returns the bucket key of a stream: its fingerprint, moved on past
// any other stream that hashes the same.
func (lw *LogWindow) key(l osprey.Labels) uint64 {
	k := uint64(l.Fingerprint())
	for b := lw.w.buckets[k]; b != nil && !b.meta.Equal(l); b = lw.w.buckets[k] {
		k++
	}
	return k
}

// mapBytes estimates the memory of a string map.
func mapBytes[M ~map[string]string](m M) int {
	n := 0
	for k, v := range m {
		n += len(k) + len(v) + 32
	}
	return n
}

// LogQuery selects lines from a LogWindow.
type LogQuery struct {
	// Stream, when set, reads only the stream with exactly these labels.
	Stream osprey.Labels
	// Selectors are alternatives: a stream is read when all the matchers
	// of any one selector match its labels (a missing label is ""). No
	// selector reads every stream.
	Selectors [][]*labels.Matcher
	// Start and End bound the lines' own times, inclusive; zero is
	// unbounded.
	Start, End time.Time
	// Contains, when set, keeps the lines whose body contains it.
	Contains string
	// Limit is the most lines returned (required, positive).
	Limit int
	// Forward returns the oldest lines of the range, oldest first;
	// otherwise the newest, newest first.
	Forward bool
}

// LogResult is what a LogQuery found.
type LogResult struct {
	Lines []Line
	// Matched counts every line that matched; more than len(Lines) when
	// Limit cut the answer.
	Matched int
}

// Query returns the lines q selects that have not expired. The scan holds
// the window's lock; only Limit lines are kept while scanning.
func (lw *LogWindow) Query(q LogQuery) LogResult {
	if q.Limit <= 0 {
		return LogResult{}
	}
	// Keep the Limit best lines in a heap whose top is the worst kept.
	worse := func(a, b *Line) bool { // a is a worse pick than b
		c := cmp.Or(a.Time.Compare(b.Time), cmp.Compare(a.seq, b.seq))
		if q.Forward {
			return c > 0
		}
		return c < 0
	}
	top := newTopK(q.Limit, worse)
	now := lw.now()
	matched := 0
	lw.mu.Lock()
	for _, b := range lw.w.buckets {
		if (q.Stream != nil && !q.Stream.Equal(b.meta)) || !selects(q.Selectors, b.meta) {
			continue
		}
		for i := b.head; i < len(b.items); i++ {
			e := &b.items[i]
			it := &e.v
			if !lw.w.live(e, now) || !inRange(it.time, q.Start, q.End) ||
				(q.Contains != "" && !strings.Contains(it.body, q.Contains)) {
				continue
			}
			matched++
			top.offer(Line{Time: it.time, Labels: b.meta, Level: it.level, Body: it.body, Attributes: it.attrs, seq: e.seq})
		}
	}
	lw.mu.Unlock()
	lines := top.sorted()
	return LogResult{Lines: lines, Matched: matched}
}

// Stats returns the window's counts.
func (lw *LogWindow) Stats() WindowStats {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	return lw.w.stats()
}

// selects reports whether any selector matches l (true with none).
func selects(sels [][]*labels.Matcher, l osprey.Labels) bool {
	if len(sels) == 0 {
		return true
	}
	for _, sel := range sels {
		ok := true
		for _, m := range sel {
			if !m.Matches(l[m.Name]) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// inRange reports whether t is within [start, end], a zero bound being open.
func inRange(t, start, end time.Time) bool {
	return (start.IsZero() || !t.Before(start)) && (end.IsZero() || !t.After(end))
}
