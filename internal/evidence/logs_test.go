package evidence

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/osprey-aiops/osprey"
)

// clock is a settable test clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }
func newClock() *clock                   { return &clock{t: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)} }
func stream(kv ...string) osprey.Labels  { return osprey.Labels(labels.FromStrings(kv...).Map()) }
func bigLimits() Limits {
	return Limits{PerKey: 1000, MaxKeys: 1000, MaxBytes: 1 << 30, MaxAge: time.Hour}
}
func sel(t *testing.T, s string) [][]*labels.Matcher {
	t.Helper()
	m, err := parser.NewParser(parser.Options{}).ParseMetricSelector(s)
	if err != nil {
		t.Fatal(err)
	}
	return [][]*labels.Matcher{m}
}

// push adds one line per body to the stream l, at the clock's time.
func push(t *testing.T, lw *LogWindow, c *clock, l osprey.Labels, bodies ...string) {
	t.Helper()
	batch := make([]osprey.LogRecord, len(bodies))
	for i, b := range bodies {
		batch[i] = osprey.LogRecord{Time: c.t, Labels: l, Body: b}
	}
	if err := lw.ConsumeLogs(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
}

func bodies(r LogResult) []string {
	out := make([]string, len(r.Lines))
	for i, l := range r.Lines {
		out[i] = l.Body
	}
	return out
}

// checkInvariants recomputes what the window accounts incrementally.
func checkInvariants[T, M any](t *testing.T, w *window[T, M]) {
	t.Helper()
	var bytes int64
	items := 0
	for k, b := range w.buckets {
		if b.key != k || b.len() == 0 {
			t.Fatalf("bucket %x: key %x, %d items", k, b.key, b.len())
		}
		var bb int64
		for i := b.head; i < len(b.items); i++ {
			bb += int64(b.items[i].size)
		}
		if bb >= b.bytes {
			t.Fatalf("bucket %x: items %d bytes, bucket %d (no key bytes)", k, bb, b.bytes)
		}
		if w.heap[b.heapIdx] != b {
			t.Fatalf("bucket %x: heap index %d wrong", k, b.heapIdx)
		}
		bytes += b.bytes
		items += b.len()
		if b.len() > w.lim.PerKey {
			t.Fatalf("bucket %x: %d items > %d", k, b.len(), w.lim.PerKey)
		}
	}
	if bytes != w.bytes || items != w.items || len(w.heap) != len(w.buckets) || w.lru.Len() != len(w.buckets) {
		t.Fatalf("accounting: bytes %d vs %d, items %d vs %d, heap %d, lru %d, buckets %d",
			bytes, w.bytes, items, w.items, len(w.heap), w.lru.Len(), len(w.buckets))
	}
	if w.bytes > w.lim.MaxBytes || len(w.buckets) > w.lim.MaxKeys {
		t.Fatalf("over limits: %d bytes, %d keys", w.bytes, len(w.buckets))
	}
	var evicted uint64
	for _, n := range w.evicted {
		evicted += n
	}
	if w.added != evicted+uint64(w.items) {
		t.Fatalf("added %d != evicted %d + held %d", w.added, evicted, w.items)
	}
}

func TestLogWindowLinesPerStream(t *testing.T) {
	c := newClock()
	lim := bigLimits()
	lim.PerKey = 3
	lw, err := NewLogWindow(lim, c.now)
	if err != nil {
		t.Fatal(err)
	}
	a, b := stream("source", "loki", "service", "api"), stream("source", "loki", "service", "db")
	push(t, lw, c, a, "a1", "a2", "a3", "a4", "a5")
	push(t, lw, c, b, "b1")
	got := lw.Query(LogQuery{Selectors: sel(t, `{service="api"}`), Limit: 10, Forward: true})
	if want := []string{"a3", "a4", "a5"}; !slices.Equal(bodies(got), want) {
		t.Errorf("api lines = %v, want %v", bodies(got), want)
	}
	st := lw.Stats()
	if st.Evicted[ReasonPerKey] != 2 || st.Items != 4 || st.Keys != 2 || st.Added != 6 {
		t.Errorf("stats = %+v", st)
	}
	checkInvariants(t, lw.w)
}

func TestLogWindowMaxStreamsEvictsLeastRecentlyWritten(t *testing.T) {
	c := newClock()
	lim := bigLimits()
	lim.MaxKeys = 2
	lw, _ := NewLogWindow(lim, c.now)
	a, b, d := stream("service", "a"), stream("service", "b"), stream("service", "d")
	push(t, lw, c, a, "a1")
	push(t, lw, c, b, "b1", "b2")
	push(t, lw, c, a, "a2") // b is now the least recently written
	push(t, lw, c, d, "d1")
	got := lw.Query(LogQuery{Limit: 10, Forward: true})
	if want := []string{"a1", "a2", "d1"}; !slices.Equal(bodies(got), want) {
		t.Errorf("lines = %v, want %v", bodies(got), want)
	}
	st := lw.Stats()
	if st.EvictedKeys != 1 || st.Evicted[ReasonMaxKeys] != 2 || st.Keys != 2 {
		t.Errorf("stats = %+v", st)
	}
	checkInvariants(t, lw.w)
}

// A flood in one stream is trimmed under the byte cap; the quiet stream's
// lines, though older, stay.
func TestLogWindowMaxBytesTrimsTheLargestStream(t *testing.T) {
	c := newClock()
	lim := bigLimits()
	lim.MaxBytes = 20_000
	lw, _ := NewLogWindow(lim, c.now)
	quiet, noisy := stream("service", "quiet"), stream("service", "noisy")
	push(t, lw, c, quiet, "quiet 1: connection refused", "quiet 2: retrying")
	for i := range 2000 {
		c.advance(time.Millisecond)
		push(t, lw, c, noisy, fmt.Sprintf("noisy line %d %s", i, strings.Repeat("x", 100)))
		checkInvariants(t, lw.w)
	}
	got := lw.Query(LogQuery{Selectors: sel(t, `{service="quiet"}`), Limit: 10, Forward: true})
	if want := []string{"quiet 1: connection refused", "quiet 2: retrying"}; !slices.Equal(bodies(got), want) {
		t.Errorf("quiet lines = %v, want %v", bodies(got), want)
	}
	st := lw.Stats()
	if st.Bytes > lim.MaxBytes || st.Evicted[ReasonMaxBytes] == 0 {
		t.Errorf("stats = %+v", st)
	}
	// The noisy stream keeps its newest lines.
	last := lw.Query(LogQuery{Selectors: sel(t, `{service="noisy"}`), Limit: 1})
	if len(last.Lines) != 1 || !strings.HasPrefix(last.Lines[0].Body, "noisy line 1999 ") {
		t.Errorf("newest noisy line = %v", bodies(last))
	}
}

func TestLogWindowMaxAge(t *testing.T) {
	c := newClock()
	lim := bigLimits()
	lim.MaxAge = 10 * time.Minute
	lw, _ := NewLogWindow(lim, c.now)
	a, b := stream("service", "a"), stream("service", "b")
	push(t, lw, c, a, "old a")
	push(t, lw, c, b, "old b")
	c.advance(6 * time.Minute)
	push(t, lw, c, a, "new a")
	c.advance(5 * time.Minute) // the old lines are 11 minutes old
	got := lw.Query(LogQuery{Limit: 10, Forward: true})
	if want := []string{"new a"}; !slices.Equal(bodies(got), want) {
		t.Errorf("lines = %v, want %v", bodies(got), want)
	}
	// Writing sweeps: stream b (not written since) goes from memory.
	push(t, lw, c, a, "newer a")
	st := lw.Stats()
	if st.Keys != 1 || st.Items != 2 || st.Evicted[ReasonMaxAge] != 2 {
		t.Errorf("stats = %+v", st)
	}
	checkInvariants(t, lw.w)
}

func TestLogWindowQuery(t *testing.T) {
	c := newClock()
	lw, _ := NewLogWindow(bigLimits(), c.now)
	t0 := c.t
	api := stream("source", "loki", "service", "api", "host", "h1")
	db := stream("source", "syslog", "service", "db", "host", "h2")
	var batch []osprey.LogRecord
	for i := range 10 {
		batch = append(batch,
			osprey.LogRecord{Time: t0.Add(time.Duration(i) * time.Second), Labels: api, Level: "info", Body: fmt.Sprintf("api %d", i)},
			osprey.LogRecord{Time: t0.Add(time.Duration(i)*time.Second + 500*time.Millisecond), Labels: db, Level: "error", Body: fmt.Sprintf("db %d timeout", i),
				Attributes: map[string]string{"pid": "42"}})
	}
	if err := lw.ConsumeLogs(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		q       LogQuery
		want    []string
		matched int
	}{
		{"newest first", LogQuery{Limit: 3}, []string{"db 9 timeout", "api 9", "db 8 timeout"}, 20},
		{"oldest first", LogQuery{Limit: 3, Forward: true}, []string{"api 0", "db 0 timeout", "api 1"}, 20},
		{"selector", LogQuery{Selectors: sel(t, `{host="h1"}`), Limit: 2}, []string{"api 9", "api 8"}, 10},
		{"regex selector", LogQuery{Selectors: sel(t, `{service=~"d.*", source="syslog"}`), Limit: 1}, []string{"db 9 timeout"}, 10},
		{"either selector", LogQuery{Selectors: append(sel(t, `{service="api"}`), sel(t, `{service="nope"}`)...), Limit: 1}, []string{"api 9"}, 10},
		{"no such stream", LogQuery{Selectors: sel(t, `{service="nope"}`), Limit: 5}, []string{}, 0},
		{"range", LogQuery{Start: t0.Add(2 * time.Second), End: t0.Add(3 * time.Second), Limit: 10, Forward: true},
			[]string{"api 2", "db 2 timeout", "api 3"}, 3},
		{"contains", LogQuery{Contains: "timeout", Start: t0.Add(8 * time.Second), Limit: 10}, []string{"db 9 timeout", "db 8 timeout"}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := lw.Query(tc.q)
			if !slices.Equal(bodies(got), tc.want) || got.Matched != tc.matched {
				t.Errorf("got %v (matched %d), want %v (matched %d)", bodies(got), got.Matched, tc.want, tc.matched)
			}
		})
	}
	got := lw.Query(LogQuery{Selectors: sel(t, `{service="db"}`), Limit: 1})
	l := got.Lines[0]
	if l.Level != "error" || l.Labels["host"] != "h2" || l.Attributes["pid"] != "42" || !l.Time.Equal(t0.Add(9500*time.Millisecond)) {
		t.Errorf("line = %+v", l)
	}
}

// The window copies a stream's labels: a producer changing its map later
// does not change the stream.
func TestLogWindowKeepsItsOwnLabels(t *testing.T) {
	c := newClock()
	lw, _ := NewLogWindow(bigLimits(), c.now)
	l := stream("service", "api")
	push(t, lw, c, l, "x")
	l["service"] = "changed"
	got := lw.Query(LogQuery{Selectors: sel(t, `{service="api"}`), Limit: 1})
	if len(got.Lines) != 1 || got.Lines[0].Labels["service"] != "api" {
		t.Errorf("got %+v", got.Lines)
	}
}

// Random streams, sizes and clock steps keep every invariant and limit.
func TestLogWindowInvariantsUnderRandomLoad(t *testing.T) {
	c := newClock()
	lim := Limits{PerKey: 20, MaxKeys: 15, MaxBytes: 30_000, MaxAge: time.Minute}
	lw, _ := NewLogWindow(lim, c.now)
	rng := rand.New(rand.NewPCG(1, 2))
	for range 3000 {
		c.advance(time.Duration(rng.IntN(200)) * time.Millisecond)
		if rng.IntN(500) == 0 {
			c.advance(2 * time.Minute) // a lull: everything expires
		}
		n := 1 + rng.IntN(5)
		batch := make([]osprey.LogRecord, n)
		for i := range batch {
			size := rng.IntN(100)
			if rng.IntN(20) == 0 {
				size = 5000
			}
			batch[i] = osprey.LogRecord{Time: c.t, Labels: stream("service", fmt.Sprint("s", rng.IntN(18))),
				Body: strings.Repeat("y", size)}
		}
		_ = lw.ConsumeLogs(context.Background(), batch)
		checkInvariants(t, lw.w)
	}
	st := lw.Stats()
	for r := range numReasons {
		if st.Evicted[r] == 0 {
			t.Errorf("reason %d never evicted: %+v", r, st)
		}
	}
}

func TestNewLogWindowRejectsZeroLimits(t *testing.T) {
	for _, lim := range []Limits{{}, {PerKey: 1, MaxKeys: 1, MaxBytes: 1}, {PerKey: 1, MaxKeys: 1, MaxAge: time.Second}} {
		if _, err := NewLogWindow(lim, nil); err == nil {
			t.Errorf("NewLogWindow(%+v) did not fail", lim)
		}
	}
}

func BenchmarkLogWindowConsume(b *testing.B) {
	lw, _ := NewLogWindow(Limits{PerKey: 1000, MaxKeys: 10_000, MaxBytes: 64 << 20, MaxAge: time.Hour}, nil)
	streams := make([]osprey.Labels, 200)
	for i := range streams {
		streams[i] = stream("source", "loki", "service", fmt.Sprint("svc", i%20), "host", fmt.Sprint("h", i))
	}
	batch := make([]osprey.LogRecord, 100)
	now := time.Now()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		for j := range batch {
			batch[j] = osprey.LogRecord{Time: now, Labels: streams[(i*7+j)%len(streams)],
				Body: "GET /api/v1/orders/12345 200 12ms user=alice trace=4bf92f3577b34da6"}
		}
		_ = lw.ConsumeLogs(context.Background(), batch)
	}
	b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "lines/s")
}

func BenchmarkLogWindowQuery(b *testing.B) {
	lw, _ := NewLogWindow(Limits{PerKey: 1000, MaxKeys: 10_000, MaxBytes: 64 << 20, MaxAge: time.Hour}, nil)
	for i := range 200 {
		l := stream("source", "loki", "service", fmt.Sprint("svc", i%20), "host", fmt.Sprint("h", i))
		batch := make([]osprey.LogRecord, 1000)
		for j := range batch {
			batch[j] = osprey.LogRecord{Time: time.Now(), Labels: l, Body: fmt.Sprintf("request %d done", j)}
		}
		_ = lw.ConsumeLogs(context.Background(), batch)
	}
	m, _ := parser.NewParser(parser.Options{}).ParseMetricSelector(`{service="svc3"}`)
	b.ReportAllocs()
	for b.Loop() {
		if r := lw.Query(LogQuery{Selectors: [][]*labels.Matcher{m}, Limit: 100}); len(r.Lines) != 100 {
			b.Fatal(len(r.Lines))
		}
	}
}

// Writers and readers at once: run with -race.
func TestLogWindowConcurrentUse(t *testing.T) {
	lw, _ := NewLogWindow(Limits{PerKey: 50, MaxKeys: 20, MaxBytes: 50_000, MaxAge: time.Minute}, nil)
	sw, _ := NewSpanWindow(Limits{PerKey: 50, MaxKeys: 20, MaxBytes: 50_000, MaxAge: time.Minute}, nil)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 300 {
				l := stream("service", fmt.Sprint("s", (g*7+i)%30))
				_ = lw.ConsumeLogs(context.Background(), []osprey.LogRecord{{Time: time.Now(), Labels: l, Body: "line"}})
				_ = sw.ConsumeSpans(context.Background(), []osprey.Span{{TraceID: "t", SpanID: fmt.Sprint(i), Service: l["service"]}})
				if i%10 == 0 {
					lw.Query(LogQuery{Limit: 10, Contains: "li"})
					sw.Query(SpanQuery{Limit: 10})
				}
			}
		})
	}
	wg.Wait()
	lw.mu.Lock()
	checkInvariants(t, lw.w)
	lw.mu.Unlock()
	if st := lw.Stats(); st.Added != 1200 {
		t.Errorf("added %d lines, want 1200", st.Added)
	}
}
