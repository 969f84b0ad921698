package trace

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/logmine"
)

// The code location of a line, when its record has one, keys it rather
// than its template.
func TestCodeLocation(t *testing.T) {
	for _, tc := range []struct {
		name  string
		attrs map[string]string
		want  string
	}{
		{"none", nil, ""},
		{"current", map[string]string{"code.file.path": "cart/handler.go", "code.line.number": "42"}, "cart/handler.go#42"},
		{"deprecated", map[string]string{"code.filepath": "Cart.java", "code.lineno": "7"}, "Cart.java#7"},
		{"function", map[string]string{"code.function.name": "cart.Load", "code.line.number": "9"}, "cart.Load#9"},
		{"no line", map[string]string{"code.file.path": "cart/handler.go"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := CodeLocation(tc.attrs); got != tc.want {
				t.Errorf("CodeLocation = %q, want %q", got, tc.want)
			}
		})
	}
}

// The location a layout writes in a line's header is found; values that
// merely look alike (times, host and port, an order number) are not
// locations.
func TestHeaderLocation(t *testing.T) {
	for _, tc := range []struct{ content, want string }{
		{"16:42:22.382 INFO  t.s.TravelServiceImpl#532 TraceID: ffc8 SpanID: 439b [getRouteByRouteId]", "t.s.TravelServiceImpl#532"},
		{"INFO com.example.cart.CartService:42 - loaded 3 items", "com.example.cart.CartService:42"},
		{"INFO [main] com.example.Cart.load(Cart.java:42) loaded", "Cart.java:42"},
		{"WARN Cart.load(Cart.java:42): slow", "Cart.java:42"},
		{"handler/cart.go:42: cart 17 loaded", "handler/cart.go:42"},
		{"I1127 03:06:17.000000 1 cart.go:42] loaded", "cart.go:42"},
		{"ERROR [cart.py:42] cannot load cart 17", "cart.py:42"},
		{"WARN src/cart.rs:42:7: slow query", "src/cart.rs:42"},
		{"12:30:05 INFO connected to db.example.com:5432", ""},
		{"INFO order#42 shipped", ""},
		{"INFO localhost:8080 listening", ""},
		{"INFO cart loaded in 12:30:05", ""},
		{"", ""},
		{"one two three four five six seven eight Cart.java:42", ""}, // not in the header
		{strings.Repeat("x", 300) + " Cart.java:42", ""},
		{"INFO cart/v2.1:42 loaded", ""},
		{"INFO 1.Cart:42 loaded", ""},
	} {
		if got := HeaderLocation(tc.content); got != tc.want {
			t.Errorf("HeaderLocation(%q) = %q, want %q", tc.content, got, tc.want)
		}
	}
}

// minedRequest sends one request whose "GetTickets" span of travel queries
// its database ("db query", a span of travel) and writes lines, mined as
// serve mines them (logmine.Set) and handed to ObserveRecord.
func (r *rig) minedRequest(set *logmine.Set, lines ...string) {
	r.t.Helper()
	r.n++
	tid := fmt.Sprintf("m%06d", r.n)
	for _, l := range lines {
		set.Mine(&osprey.LogRecord{Time: r.at, Body: l, Labels: osprey.Labels{osprey.LabelService: "travel"},
			Attributes: map[string]string{"trace_id": tid, "span_id": "b"}})
	}
	spans := []osprey.Span{
		{TraceID: tid, SpanID: "a", Service: "frontend", Name: "GET /tickets", Start: r.at, Duration: 40 * time.Millisecond},
		{TraceID: tid, SpanID: "b", ParentSpanID: "a", Service: "travel", Name: "GetTickets", Start: r.at.Add(time.Millisecond), Duration: 30 * time.Millisecond},
		{TraceID: tid, SpanID: "c", ParentSpanID: "b", Service: "travel", Name: "db query", Start: r.at.Add(2 * time.Millisecond), Duration: 10 * time.Millisecond},
	}
	if err := r.d.ConsumeSpans(context.Background(), spans); err != nil {
		r.t.Fatal(err)
	}
	r.settle()
}

// A line is keyed by the code location in its header, not by its
// template: the miner merges the lines of two log statements whose text
// differs only in values and splits one statement's lines by a word its
// data varies in, and either hid a missing line (as ts-travel-service's
// and ts-price-service's exceptions on Nezha, docs/rca.md).
func TestLinesKeyedByHeaderLocation(t *testing.T) {
	const (
		begin = "INFO  c.e.TravelServiceImpl#451 TraceID: %[1]x SpanID: %[1]x [getTickets][calculate time: 0 at %02[2]d:00]"
		end   = "INFO  c.e.TravelServiceImpl#457 TraceID: %[1]x SpanID: %[1]x [getTickets][calculate time: 16 at %02[2]d:16]"
		price = "INFO  c.e.PriceController#46 TraceID: %[1]x SpanID: %[1]x [query price][train types: %[2]s]"
	)
	types := []string{"[ZhiDa]", "[DongCheOne]", "[GaoTieOne, GaoTieTwo]"}
	for _, tc := range []struct {
		name         string
		normal, fail func(i int) []string
		want         string
	}{{
		// An exception between the two statements.
		name:   "merged",
		normal: func(i int) []string { return []string{fmt.Sprintf(begin, i, i%24), fmt.Sprintf(end, i, i%24)} },
		fail:   func(i int) []string { return []string{fmt.Sprintf(begin, i, i%24)} },
		want:   " without log c.e.TravelServiceImpl#457 in ",
	}, {
		// An exception after the query, before the statement.
		name:   "split",
		normal: func(i int) []string { return []string{fmt.Sprintf(price, i, types[i%len(types)])} },
		fail:   func(int) []string { return nil },
		want:   " without log c.e.PriceController#46 in ",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, nil)
			set := logmine.NewSet(logmine.SetOptions{OnMatch: func(_ string, m logmine.Match, rec *osprey.LogRecord) {
				r.d.ObserveRecord(m.ID, m.Content, rec)
			}})
			for i := range 300 {
				r.minedRequest(set, tc.normal(i)...)
			}
			if got := r.anomalies(); len(got) != 0 {
				t.Fatalf("normal traffic raised %+v", got)
			}
			for i := range 20 {
				r.minedRequest(set, tc.fail(300+i)...)
			}
			got := r.anomalies()
			if len(got) == 0 || got[0].Labels[osprey.LabelService] != "travel" || !strings.Contains(got[0].Evidence[0].Reason, tc.want) {
				t.Fatalf("anomalies = %+v, want travel's %q", got, tc.want)
			}
		})
	}
}
