package trace

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
)

// shop sends one request: frontend "GET /shop" calls cart "GetCart", which
// queries its database ("db query", unless dbCall is false), and pricing
// "Quote". lost names the spans that never reach the detector (the call
// was made, the span was dropped on its way).
func (r *rig) shop(dbCall bool, lost ...string) {
	r.t.Helper()
	r.n++
	tid := fmt.Sprintf("s%06d", r.n)
	spans := []osprey.Span{
		{TraceID: tid, SpanID: "front", Service: "frontend", Name: "GET /shop", Start: r.at, Duration: 80 * time.Millisecond},
		{TraceID: tid, SpanID: "cart", ParentSpanID: "front", Service: "cart", Name: "GetCart", Start: r.at.Add(time.Millisecond), Duration: 40 * time.Millisecond},
		{TraceID: tid, SpanID: "quote", ParentSpanID: "front", Service: "pricing", Name: "Quote", Start: r.at.Add(50 * time.Millisecond), Duration: 20 * time.Millisecond},
	}
	if dbCall {
		spans = append(spans, osprey.Span{TraceID: tid, SpanID: "db", ParentSpanID: "cart", Service: "cart", Name: "db query", Start: r.at.Add(2 * time.Millisecond), Duration: 30 * time.Millisecond})
	}
	var sent []osprey.Span
	for _, s := range spans {
		if !strings.Contains(strings.Join(lost, " "), s.SpanID) {
			sent = append(sent, s)
		}
	}
	if err := r.d.ConsumeSpans(context.Background(), sent); err != nil {
		r.t.Fatal(err)
	}
	r.settle()
}

// A trace that lost spans on their way (two tops: the spans under a lost
// root) does not raise a break for the call it lacks; a whole trace that
// lacks the same call does.
func TestCutTraceRaisesNoBreak(t *testing.T) {
	for _, tc := range []struct {
		name string
		send func(r *rig)
		want bool
		cut  int64
	}{
		// The db query was made, its span and the root's were lost.
		{"cut", func(r *rig) { r.shop(true, "front", "db") }, false, 20},
		// The db query was not made: a fault.
		{"whole", func(r *rig) { r.shop(false) }, true, 0},
		// Only cart's part of the trace arrived (a trace entered from a
		// system the detector does not see): it hangs from one top and
		// is judged whole.
		{"one subtree", func(r *rig) { r.shop(false, "front", "quote") }, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, nil)
			for range 300 {
				r.shop(true)
			}
			if got := r.anomalies(); len(got) != 0 {
				t.Fatalf("normal traffic raised %d anomalies, first %+v", len(got), got[0])
			}
			for range 20 {
				tc.send(r)
			}
			got := r.anomalies()
			if tc.want != (len(got) > 0) {
				t.Fatalf("got %d anomalies, want any: %v: %+v", len(got), tc.want, got)
			}
			for _, a := range got {
				if a.Labels[osprey.LabelService] != "cart" || !strings.Contains(a.Evidence[0].Reason, "op GetCart without call cart db query") {
					t.Errorf("anomaly = %+v", a)
				}
			}
			if s := r.d.Stats(); s.CutSpans != tc.cut || s.CutLogs != 0 {
				t.Errorf("cut spans %d, cut logs %d, want %d, 0", s.CutSpans, s.CutLogs, tc.cut)
			}
		})
	}
}

// order sends one request: frontend "POST /order" calls payment "Pay" and
// inventory "Reserve"; each span writes one line, except those named in
// silent.
func (r *rig) order(silent ...string) {
	r.t.Helper()
	r.n++
	tid := fmt.Sprintf("o%06d", r.n)
	spans := []osprey.Span{
		{TraceID: tid, SpanID: "front", Service: "frontend", Name: "POST /order", Start: r.at, Duration: 60 * time.Millisecond},
		{TraceID: tid, SpanID: "pay", ParentSpanID: "front", Service: "payment", Name: "Pay", Start: r.at.Add(time.Millisecond), Duration: 20 * time.Millisecond},
		{TraceID: tid, SpanID: "stock", ParentSpanID: "front", Service: "inventory", Name: "Reserve", Start: r.at.Add(30 * time.Millisecond), Duration: 20 * time.Millisecond},
	}
	for _, s := range spans {
		if !strings.Contains(strings.Join(silent, " "), s.SpanID) {
			r.d.ObserveLog(tid, s.SpanID, s.Service, s.Name+" done")
		}
	}
	if err := r.d.ConsumeSpans(context.Background(), spans); err != nil {
		r.t.Fatal(err)
	}
	r.settle()
}

// A trace whose lines were lost (the deepest spans without their lines
// are of two services, neither calling the other) does not raise a break
// for a missing line; a fault that silences one service, and its caller
// with it, does.
func TestCutLogsRaiseNoBreak(t *testing.T) {
	for _, tc := range []struct {
		name   string
		silent []string
		want   string // the service with an anomaly, "" for none
		cut    int64
	}{
		{"lines lost", []string{"front", "pay", "stock"}, "", 20},
		{"two services lost", []string{"pay", "stock"}, "", 20},
		{"fault", []string{"pay"}, "payment", 0},
		{"fault and its caller", []string{"front", "pay"}, "payment", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, nil)
			for range 300 {
				r.order()
			}
			if got := r.anomalies(); len(got) != 0 {
				t.Fatalf("normal traffic raised %d anomalies, first %+v", len(got), got[0])
			}
			for range 20 {
				r.order(tc.silent...)
			}
			var svcs []string
			for _, a := range r.anomalies() {
				svcs = append(svcs, a.Labels[osprey.LabelService]+": "+a.Evidence[0].Reason)
			}
			switch {
			case tc.want == "" && len(svcs) > 0:
				t.Errorf("anomalies %q, want none", svcs)
			case tc.want != "" && (len(svcs) != 1 || !strings.HasPrefix(svcs[0], tc.want+": span pattern broken: op Pay without log Pay done")):
				t.Errorf("anomalies %q, want one of %s", svcs, tc.want)
			}
			if s := r.d.Stats(); s.CutLogs != tc.cut || s.CutSpans != 0 {
				t.Errorf("cut logs %d, cut spans %d, want %d, 0", s.CutLogs, s.CutSpans, tc.cut)
			}
		})
	}
}

// BenchmarkJudgeTrace judges whole traces with log lines (order) and
// without (shop), the completeness check included.
func BenchmarkJudgeTrace(b *testing.B) {
	r := newRig(b, nil)
	for range 300 {
		r.order()
		r.shop(true)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		r.order()
		r.shop(true)
	}
}
