package topology

import (
	"context"
	"encoding/json"
	"math"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/osprey-aiops/osprey"
)

// clock is a fake clock tests move by hand.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func newTestGraph(opts Options) (*Graph, *clock) {
	c := &clock{t: t0}
	opts.Now = c.now
	return New(opts), c
}

func span(trace, id, parent, service string, kind osprey.SpanKind, d time.Duration, isErr bool) osprey.Span {
	return osprey.Span{TraceID: trace, SpanID: id, ParentSpanID: parent, Service: service, Kind: kind, Duration: d, Error: isErr, Start: t0}
}

// call returns the three spans of one frontend → checkout call: the
// frontend's server span, its client span, checkout's server span.
func call(trace string, d time.Duration, isErr bool) []osprey.Span {
	return []osprey.Span{
		span(trace, "a", "", "frontend", osprey.SpanKindServer, 2*d, false),
		span(trace, "b", "a", "frontend", osprey.SpanKindClient, d, isErr),
		span(trace, "c", "b", "checkout", osprey.SpanKindServer, d, isErr),
	}
}

func consume(t *testing.T, g *Graph, spans ...osprey.Span) {
	t.Helper()
	if err := g.ConsumeSpans(context.Background(), spans); err != nil {
		t.Fatal(err)
	}
}

func TestEdgeFromParentChild(t *testing.T) {
	tests := []struct {
		name  string
		order func([]osprey.Span) [][]osprey.Span // batches
	}{
		{"one batch in order", func(s []osprey.Span) [][]osprey.Span { return [][]osprey.Span{s} }},
		{"one batch child first", func(s []osprey.Span) [][]osprey.Span {
			return [][]osprey.Span{{s[2], s[1], s[0]}}
		}},
		{"child batch before parent batch", func(s []osprey.Span) [][]osprey.Span {
			return [][]osprey.Span{{s[2]}, {s[0], s[1]}}
		}},
		{"parent batch before child batch", func(s []osprey.Span) [][]osprey.Span {
			return [][]osprey.Span{{s[0], s[1]}, {s[2]}}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, c := newTestGraph(Options{})
			for i := range 10 {
				for _, b := range tt.order(call(string(rune('A'+i)), 10*time.Millisecond, i == 0)) {
					consume(t, g, b...)
					c.advance(time.Second)
				}
			}
			edges := g.Edges()
			if len(edges) != 1 {
				t.Fatalf("edges = %+v, want one", edges)
			}
			e := edges[0]
			if e.Caller != "frontend" || e.Callee != "checkout" || e.Requests != 10 || e.Errors != 1 {
				t.Errorf("edge = %+v", e)
			}
			p50 := time.Duration(e.Latency.P50)
			if p50 < 10*time.Millisecond/2 || p50 > 2*10*time.Millisecond {
				t.Errorf("p50 = %v, want about 10ms", p50)
			}
			callers, callees := g.Neighbours("checkout")
			if !slices.Equal(callers, []string{"frontend"}) || len(callees) != 0 {
				t.Errorf("Neighbours(checkout) = %v, %v", callers, callees)
			}
			callers, callees = g.Neighbours("frontend")
			if len(callers) != 0 || !slices.Equal(callees, []string{"checkout"}) {
				t.Errorf("Neighbours(frontend) = %v, %v", callers, callees)
			}
		})
	}
}

func TestWindowsAndExpiry(t *testing.T) {
	g, c := newTestGraph(Options{Window: time.Minute, Windows: 3})
	for i := range 3 {
		if i > 0 {
			c.advance(time.Minute)
		}
		for range i + 1 {
			consume(t, g, call("t"+c.t.String()+string(rune('0'+i)), time.Duration(i+1)*time.Millisecond, false)...)
			c.advance(time.Millisecond)
		}
	}
	e := g.Edges()
	if len(e) != 1 || e[0].Requests != 6 || len(e[0].Windows) != 3 {
		t.Fatalf("edges = %+v", e)
	}
	for i, w := range e[0].Windows {
		if w.Requests != uint64(i+1) {
			t.Errorf("window %d: %d requests, want %d", i, w.Requests, i+1)
		}
	}
	// A window later the first has left the ring.
	c.advance(time.Minute)
	if e := g.Edges(); len(e) != 1 || e[0].Requests != 5 || len(e[0].Windows) != 2 {
		t.Fatalf("after a minute: %+v", e)
	}
	c.advance(5 * time.Minute)
	consume(t, g, span("x", "1", "", "other", osprey.SpanKindServer, time.Millisecond, false))
	if e := g.Edges(); len(e) != 0 {
		t.Fatalf("idle edge kept: %+v", e)
	}
	if callers, callees := g.Neighbours("frontend"); len(callers)+len(callees) != 0 {
		t.Fatalf("idle edge among neighbours: %v %v", callers, callees)
	}
	// The ranking's graph remembers it until Retain (24h by default).
	if calls := g.Calls(); len(calls) != 1 {
		t.Fatalf("calls = %+v", calls)
	}
	c.advance(24 * time.Hour)
	consume(t, g, span("y", "1", "", "other", osprey.SpanKindServer, time.Millisecond, false))
	if calls := g.Calls(); len(calls) != 0 {
		t.Fatalf("edge idle for longer than Retain kept: %+v", calls)
	}
	if len(g.edges) != 0 {
		t.Errorf("idle edge not pruned: %d", len(g.edges))
	}
}

// A pause in traffic keeps a caller's calls and their shares: the ranking
// of an incident opened or re-ranked during the pause walks the same graph.
func TestCallsKeepSharesThroughAPause(t *testing.T) {
	g, c := newTestGraph(Options{Window: time.Minute, Windows: 4, Retain: time.Hour})
	n := 0
	send := func(callee string, k int) {
		for range k {
			n++
			id := "t" + string(rune('A'+n%26)) + c.t.String() + callee
			consume(t, g,
				span(id, "a", "", "frontend", osprey.SpanKindServer, time.Millisecond, false),
				span(id, "b", "a", callee, osprey.SpanKindServer, time.Millisecond, false))
		}
	}
	send("cart", 30)
	send("checkout", 10)
	share := func() float64 {
		t.Helper()
		calls := g.Calls()
		if len(calls) != 2 || calls[0].Callee != "cart" || calls[1].Callee != "checkout" {
			t.Fatalf("calls = %+v", calls)
		}
		return calls[0].Weight / (calls[0].Weight + calls[1].Weight)
	}
	if s := share(); s != 0.75 {
		t.Fatalf("share of cart = %v, want 0.75", s)
	}
	// Half an hour idle: gone from the windows, kept with the same shares,
	// each weight halved every Windows × Window (4 minutes).
	c.advance(30 * time.Minute)
	if e := g.Edges(); len(e) != 0 {
		t.Fatalf("edges after the pause = %+v", e)
	}
	if s := share(); s != 0.75 {
		t.Errorf("share of cart after the pause = %v, want 0.75", s)
	}
	calls := g.Calls()
	if want := 30 * math.Exp2(-30.0/4); math.Abs(calls[0].Weight-want) > 1e-9 {
		t.Errorf("weight of cart after 30m = %v, want %v", calls[0].Weight, want)
	}
	// New traffic outweighs the old: 20 calls to checkout now.
	send("checkout", 20)
	if s := share(); s > 0.05 {
		t.Errorf("share of cart after new traffic = %v, want the old weight faded", s)
	}
}

func TestPendingTTLAndCaps(t *testing.T) {
	g, c := newTestGraph(Options{TTL: 10 * time.Second, MaxSpans: 4, MaxEdges: 1})
	s := call("t1", time.Millisecond, false)
	consume(t, g, s[2]) // checkout's span; its parent comes too late
	c.advance(11 * time.Second)
	consume(t, g, s[0], s[1])
	if e := g.Edges(); len(e) != 0 {
		t.Errorf("an orphan past the TTL made an edge: %+v", e)
	}
	if n := testutil.ToFloat64(g.dropped.WithLabelValues("orphan")); n != 1 {
		t.Errorf("orphans = %v, want 1", n)
	}
	// Remembered spans are capped.
	for i := range 10 {
		consume(t, g, span("cap", string(rune('a'+i)), "", "svc", osprey.SpanKindServer, 0, false))
	}
	if len(g.seen) > 4 || len(g.seenQueue) > 4 {
		t.Errorf("%d remembered spans (%d queued), cap 4", len(g.seen), len(g.seenQueue))
	}
	// Waiting children are capped.
	for i := range 10 {
		consume(t, g, span("pend", string(rune('a'+i)), "missing"+string(rune('a'+i)), "svc", osprey.SpanKindServer, 0, false))
	}
	if g.nPending > 4 || len(g.pending) > 4 {
		t.Errorf("%d pending children, cap 4", g.nPending)
	}
	// Edges are capped.
	consume(t, g, call("e1", time.Millisecond, false)...)
	consume(t, g, span("e2", "p", "", "a", osprey.SpanKindClient, 0, false), span("e2", "q", "p", "b", osprey.SpanKindServer, 0, false))
	if e := g.Edges(); len(e) != 1 {
		t.Errorf("%d edges, cap 1", len(e))
	}
	if n := testutil.ToFloat64(g.dropped.WithLabelValues("edge_cap")); n != 1 {
		t.Errorf("edge_cap = %v, want 1", n)
	}
}

func TestQuantile(t *testing.T) {
	var h [numBuckets]uint32
	if quantile(&h, 0.5) != 0 {
		t.Error("empty histogram")
	}
	for i := range 100 {
		h[bucketOf(time.Duration(i+1)*time.Millisecond)]++
	}
	for _, q := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 50 * time.Millisecond}, {0.9, 90 * time.Millisecond}, {0.99, 99 * time.Millisecond}} {
		got := quantile(&h, q.q)
		if float64(got) < float64(q.want)/1.42 || float64(got) > float64(q.want)*1.42 {
			t.Errorf("q%v = %v, want %v within √2", q.q, got, q.want)
		}
	}
	if bucketOf(time.Hour) != numBuckets-1 || bucketOf(0) != 0 {
		t.Error("bucket bounds")
	}
}

func TestServeHTTP(t *testing.T) {
	g, _ := newTestGraph(Options{})
	consume(t, g, call("t", 20*time.Millisecond, true)...)
	rec := httptest.NewRecorder()
	g.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/topology", nil))
	var snap struct {
		Window float64
		Nodes  []struct{ Service string }
		Edges  []struct {
			Caller, Callee   string
			Requests, Errors int
			Latency          struct{ P50 float64 }
			Windows          []struct{ Requests int }
		}
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &snap); err != nil || rec.Code != 200 {
		t.Fatalf("%d %s: %v", rec.Code, rec.Body, err)
	}
	if snap.Window != 60 || len(snap.Nodes) != 2 || len(snap.Edges) != 1 {
		t.Fatalf("reply %s", rec.Body)
	}
	e := snap.Edges[0]
	if e.Caller != "frontend" || e.Callee != "checkout" || e.Requests != 1 || e.Errors != 1 || e.Latency.P50 <= 0 || len(e.Windows) != 1 {
		t.Errorf("edge %+v", e)
	}
	if !strings.Contains(rec.Header().Get("Content-Type"), "json") {
		t.Error("content type")
	}
}

func BenchmarkConsumeSpans(b *testing.B) {
	g := New(Options{})
	batches := make([][]osprey.Span, 1000)
	for i := range batches {
		batches[i] = call(string(rune(i))+"trace", time.Millisecond, false)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		s := batches[i%len(batches)]
		s[0].TraceID, s[1].TraceID, s[2].TraceID = "", "", ""
		id := string(rune(i))
		s[0].TraceID, s[1].TraceID, s[2].TraceID = id, id, id
		_ = g.ConsumeSpans(context.Background(), s)
	}
	b.ReportMetric(float64(b.N*3)/b.Elapsed().Seconds(), "spans/s")
}

// BenchmarkCalls reads the ranking's call graph of 2,000 edges, half of
// them idle past the windows kept.
func BenchmarkCalls(b *testing.B) {
	g, c := newTestGraph(Options{})
	for i := range 2000 {
		if i == 1000 {
			c.advance(time.Hour)
		}
		id := "t" + strconv.Itoa(i)
		_ = g.ConsumeSpans(context.Background(), []osprey.Span{
			span(id, "a", "", "caller-"+strconv.Itoa(i%50), osprey.SpanKindServer, time.Millisecond, false),
			span(id, "b", "a", "callee-"+strconv.Itoa(i/50), osprey.SpanKindServer, time.Millisecond, false),
		})
	}
	if n := len(g.Calls()); n != 2000 {
		b.Fatalf("%d calls, want 2000", n)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		_ = g.Calls()
	}
}

// At the edge cap, a new edge takes the place of the edge idle longest
// (remembered only for Calls); an edge with traffic in the windows kept is
// never evicted, and the new edge is dropped instead.
func TestEdgeCapEvictsIdleEdges(t *testing.T) {
	g, c := newTestGraph(Options{Window: time.Minute, Windows: 3, MaxEdges: 2})
	edge := func(callee string) {
		t.Helper()
		id := callee + c.t.String()
		consume(t, g,
			span(id, "a", "", "frontend", osprey.SpanKindServer, time.Millisecond, false),
			span(id, "b", "a", callee, osprey.SpanKindServer, time.Millisecond, false))
	}
	callees := func() []string {
		var out []string
		for _, call := range g.Calls() {
			out = append(out, call.Callee)
		}
		return out
	}
	edge("cart")
	c.advance(time.Minute)
	edge("checkout")
	c.advance(10 * time.Minute) // both idle; cart the longer
	edge("search")
	if got := callees(); !slices.Equal(got, []string{"checkout", "search"}) {
		t.Fatalf("calls after the cap = %v, want checkout and search", got)
	}
	edge("checkout") // active again
	edge("users")    // no idle edge left: dropped
	if got := callees(); !slices.Equal(got, []string{"checkout", "search"}) {
		t.Errorf("calls = %v, want checkout and search kept", got)
	}
	if n := testutil.ToFloat64(g.dropped.WithLabelValues("edge_cap")); n != 1 {
		t.Errorf("edge_cap drops = %v, want 1", n)
	}
}
