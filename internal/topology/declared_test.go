package topology

import (
	"encoding/json"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/osprey-aiops/osprey"
)

func TestDeclaredCalls(t *testing.T) {
	g, c := newTestGraph(Options{Declared: []EdgeKey{
		{"checkout", "postgres"},
		{"checkout", "postgres"}, // a repeat counts once
		{"frontend", "checkout"}, // also learnt from spans below
		{"cron", "cron"},         // a self-call is left out
		{"", "x"},
	}})
	for i := range 3 {
		consume(t, g, call("t"+string(rune('0'+i)), 10*time.Millisecond, false)...)
	}
	callers, callees := g.Neighbours("checkout")
	if !slices.Equal(callers, []string{"frontend"}) || !slices.Equal(callees, []string{"postgres"}) {
		t.Fatalf("Neighbours(checkout) = %v, %v; want [frontend], [postgres]", callers, callees)
	}
	if callers, _ := g.Neighbours("postgres"); !slices.Equal(callers, []string{"checkout"}) {
		t.Fatalf("Neighbours(postgres) callers = %v, want [checkout]", callers)
	}
	if _, callees := g.Neighbours("cron"); len(callees) != 0 {
		t.Fatalf("a declared self-call is a neighbour: %v", callees)
	}

	// Edges: the learnt call is marked declared and keeps its
	// statistics; the unseen one is there without requests.
	edges := g.Edges()
	if len(edges) != 2 {
		t.Fatalf("Edges = %+v, want 2", edges)
	}
	if e := edges[0]; e.EdgeKey != (EdgeKey{"checkout", "postgres"}) || !e.Declared || e.Requests != 0 || e.Windows != nil {
		t.Fatalf("declared unseen edge = %+v", e)
	}
	if e := edges[1]; e.EdgeKey != (EdgeKey{"frontend", "checkout"}) || !e.Declared || e.Requests != 3 {
		t.Fatalf("declared learnt edge = %+v", e)
	}

	// Calls: the unseen declared call weighs the mean of its caller's
	// calls; checkout has none learnt, so 1.
	// It is Unseen, and a declared edge of RankGraph; the learnt one is
	// neither.
	calls := g.Calls()
	want := map[EdgeKey]float64{{"checkout", "postgres"}: 1, {"frontend", "checkout"}: 3}
	if len(calls) != len(want) {
		t.Fatalf("Calls = %+v", calls)
	}
	rg := g.RankGraph()
	for _, cl := range calls {
		if w, ok := want[cl.EdgeKey]; !ok || cl.Weight < w*0.99 || cl.Weight > w*1.01 {
			t.Fatalf("Calls: %v weighs %v, want %v", cl.EdgeKey, cl.Weight, w)
		}
		unseen := cl.EdgeKey == EdgeKey{"checkout", "postgres"}
		if cl.Unseen != unseen || rg.Declared(cl.Caller, cl.Callee) != unseen {
			t.Fatalf("%v: Unseen %v, declared in RankGraph %v; want %v", cl.EdgeKey, cl.Unseen, rg.Declared(cl.Caller, cl.Callee), unseen)
		}
	}

	// Declared calls stay when every learnt edge has aged out.
	c.advance(48 * time.Hour)
	consume(t, g, span("t9", "z", "", "other", osprey.SpanKindServer, time.Millisecond, false))
	if len(g.edges) != 0 {
		t.Fatalf("learnt edges left after two days: %d", len(g.edges))
	}
	if callers, callees := g.Neighbours("checkout"); !slices.Equal(callers, []string{"frontend"}) || !slices.Equal(callees, []string{"postgres"}) {
		t.Fatalf("after two days Neighbours(checkout) = %v, %v; want [frontend], [postgres]", callers, callees)
	}
	rg = g.RankGraph()
	if got := rg.Callees("checkout"); !slices.Equal(got, []string{"postgres"}) {
		t.Fatalf("RankGraph callees of checkout = %v", got)
	}
	// Both calls are unseen now: declared edges of the ranking's graph.
	for _, cl := range g.Calls() {
		if !cl.Unseen || !rg.Declared(cl.Caller, cl.Callee) {
			t.Fatalf("after two days %v: Unseen %v, declared in RankGraph %v; want both", cl.EdgeKey, cl.Unseen, rg.Declared(cl.Caller, cl.Callee))
		}
	}
}

func TestDeclaredCallWeighsTheCallersMean(t *testing.T) {
	g, _ := newTestGraph(Options{Declared: []EdgeKey{{"frontend", "cache"}}})
	for i := range 4 {
		consume(t, g, call("t"+string(rune('0'+i)), time.Millisecond, false)...)
	}
	for _, cl := range g.Calls() {
		if cl.EdgeKey == (EdgeKey{"frontend", "cache"}) && (cl.Weight < 3.9 || cl.Weight > 4.1) {
			t.Fatalf("declared frontend → cache weighs %v, want about 4 (frontend → checkout's)", cl.Weight)
		}
	}
}

func TestPlacement(t *testing.T) {
	g, c := newTestGraph(Options{MaxEdges: 2, Placed: []Placement{
		{Host: "db-1", Service: "postgres"},
		{Host: "db-1", Service: "postgres"},
		{Host: "", Service: "x"},
	}})
	reg := prometheus.NewRegistry()
	if err := g.Register(reg); err != nil {
		t.Fatal(err)
	}
	onHost := func(trace, service, host string) osprey.Span {
		s := span(trace, "a", "", service, osprey.SpanKindServer, time.Millisecond, false)
		s.Attributes = osprey.Labels{"host": host, "namespace": "shop"}
		return s
	}
	consume(t, g, onHost("t1", "checkout", "web-1"), onHost("t2", "frontend", "web-1"))
	if got := g.Services("web-1"); !slices.Equal(got, []string{"checkout", "frontend"}) {
		t.Fatalf("Services(web-1) = %v", got)
	}
	if got := g.Hosts("postgres"); !slices.Equal(got, []string{"db-1"}) {
		t.Fatalf("Hosts(postgres) = %v", got)
	}
	// The cap (MaxEdges 2) turns a third learnt placement away.
	consume(t, g, onHost("t3", "cart", "web-2"))
	if got := g.Hosts("cart"); len(got) != 0 {
		t.Fatalf("a placement beyond the cap was kept: %v", got)
	}
	if v := testutil.ToFloat64(g.dropped.WithLabelValues("placement_cap")); v != 1 {
		t.Fatalf("placement_cap = %v, want 1", v)
	}

	// GET /api/v1/topology lists placements and the declared one's
	// service as a node.
	rec := httptest.NewRecorder()
	g.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/topology", nil))
	var snap Snapshot
	if err := json.Unmarshal(rec.Body.Bytes(), &snap); err != nil {
		t.Fatal(err)
	}
	if len(snap.Placement) != 3 || !snap.Placement[0].Declared || snap.Placement[0].Service != "postgres" ||
		snap.Placement[1].Host != "web-1" || snap.Placement[1].Declared || snap.Placement[1].LastSeen.IsZero() {
		t.Fatalf("placement = %+v", snap.Placement)
	}
	if !slices.ContainsFunc(snap.Nodes, func(n Node) bool { return n.Service == "postgres" }) {
		t.Fatalf("nodes lack the declared service: %+v", snap.Nodes)
	}

	// A learnt placement leaves with the windows kept; a declared one
	// stays.
	c.advance(time.Hour)
	consume(t, g, span("t9", "z", "", "other", osprey.SpanKindServer, time.Millisecond, false))
	if got := g.Services("web-1"); len(got) != 0 {
		t.Fatalf("Services(web-1) an hour later = %v, want none", got)
	}
	if got := g.Services("db-1"); !slices.Equal(got, []string{"postgres"}) {
		t.Fatalf("Services(db-1) = %v", got)
	}
}
