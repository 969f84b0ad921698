package evidence

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
)

func spanIDs(r SpanResult) string {
	ids := make([]string, len(r.Spans))
	for i, s := range r.Spans {
		ids[i] = s.SpanID
	}
	return strings.Join(ids, ",")
}

func TestSpanWindow(t *testing.T) {
	c := newClock()
	lim := bigLimits()
	lim.PerKey = 3
	sw, err := NewSpanWindow(lim, c.now)
	if err != nil {
		t.Fatal(err)
	}
	t0 := c.t
	var batch []osprey.Span
	for i := range 5 {
		batch = append(batch,
			osprey.Span{TraceID: fmt.Sprint("t", i), SpanID: fmt.Sprint("f", i), Service: "frontend", Name: "GET /checkout",
				Kind: osprey.SpanKindServer, Start: t0.Add(time.Duration(i) * time.Second), Duration: time.Duration(i+1) * 100 * time.Millisecond},
			osprey.Span{TraceID: fmt.Sprint("t", i), SpanID: fmt.Sprint("p", i), ParentSpanID: fmt.Sprint("f", i), Service: "payment",
				Name: "charge", Kind: osprey.SpanKindServer, Start: t0.Add(time.Duration(i)*time.Second + time.Millisecond),
				Duration: 50 * time.Millisecond, Error: i%2 == 0})
	}
	if err := sw.ConsumeSpans(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		q       SpanQuery
		want    string
		matched int
	}{
		{"latest first, per-service cap", SpanQuery{Limit: 10}, "p4,f4,p3,f3,p2,f2", 6},
		{"service", SpanQuery{Service: "payment", Limit: 2}, "p4,p3", 3},
		{"errors", SpanQuery{ErrorsOnly: true, Limit: 10}, "p4,p2", 2},
		{"trace", SpanQuery{TraceID: "t3", Limit: 10}, "p3,f3", 2},
		{"slow", SpanQuery{MinDuration: 400 * time.Millisecond, Limit: 10}, "f4,f3", 2},
		{"range", SpanQuery{Start: t0.Add(3 * time.Second), End: t0.Add(3 * time.Second), Limit: 10}, "f3", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := sw.Query(tc.q)
			if spanIDs(got) != tc.want || got.Matched != tc.matched {
				t.Errorf("got %s (matched %d), want %s (matched %d)", spanIDs(got), got.Matched, tc.want, tc.matched)
			}
		})
	}
	if got := sw.Services(); strings.Join(got, ",") != "frontend,payment" {
		t.Errorf("services = %v", got)
	}
	st := sw.Stats()
	if st.Evicted[ReasonPerKey] != 4 || st.Items != 6 {
		t.Errorf("stats = %+v", st)
	}
	checkInvariants(t, sw.w)

	got := sw.Query(SpanQuery{Service: "payment", TraceID: "t4", Limit: 1}).Spans[0]
	js, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"traceId":"t4","spanId":"p4","parentSpanId":"f4","service":"payment","name":"charge","kind":"server",` +
		`"start":"2026-11-26T10:00:04.001Z","duration":0.05,"error":true}`
	if string(js) != want {
		t.Errorf("json = %s\nwant   %s", js, want)
	}
}

func TestSpanWindowLimitsAttributes(t *testing.T) {
	c := newClock()
	sw, _ := NewSpanWindow(bigLimits(), c.now)
	attrs := osprey.Labels{}
	for i := range MaxSpanAttributes + 4 {
		attrs[fmt.Sprintf("a%02d", i)] = "v"
	}
	attrs["a00"] = strings.Repeat("é", MaxAttributeValueBytes) // 2 bytes a rune
	_ = sw.ConsumeSpans(context.Background(), []osprey.Span{{TraceID: "t", SpanID: "s", Service: "api", Attributes: attrs}})
	s := sw.Query(SpanQuery{Limit: 1}).Spans[0]
	if len(s.Attributes) != MaxSpanAttributes || s.AttributesDropped != 4 || s.Attributes["a19"] != "" || s.Attributes["a15"] != "v" {
		t.Errorf("attributes = %v, dropped %d", s.Attributes, s.AttributesDropped)
	}
	if v := s.Attributes["a00"]; len(v) > MaxAttributeValueBytes || !strings.HasSuffix(v, "…") || !strings.HasPrefix(v, "éé") {
		t.Errorf("long value kept as %q (%d bytes)", v, len(v))
	}
}

func TestSpanWindowMaxServicesAndAge(t *testing.T) {
	c := newClock()
	lim := Limits{PerKey: 100, MaxKeys: 2, MaxBytes: 1 << 20, MaxAge: time.Minute}
	sw, _ := NewSpanWindow(lim, c.now)
	add := func(svc string) {
		_ = sw.ConsumeSpans(context.Background(), []osprey.Span{{TraceID: "t", SpanID: svc, Service: svc, Start: c.t}})
	}
	add("a")
	add("b")
	add("c") // evicts a
	if got := strings.Join(sw.Services(), ","); got != "b,c" {
		t.Errorf("services = %s", got)
	}
	c.advance(2 * time.Minute)
	if got := sw.Query(SpanQuery{Limit: 10}); len(got.Spans) != 0 {
		t.Errorf("expired spans returned: %s", spanIDs(got))
	}
	add("d")
	st := sw.Stats()
	if st.Keys != 1 || st.Evicted[ReasonMaxKeys] != 1 || st.Evicted[ReasonMaxAge] != 2 {
		t.Errorf("stats = %+v", st)
	}
	checkInvariants(t, sw.w)
}
