package rca

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/config"
	"github.com/osprey-aiops/osprey/internal/detect/trace"
	"github.com/osprey-aiops/osprey/internal/logmine"
	"github.com/osprey-aiops/osprey/internal/rca"
)

// TestNezhaTraceDetector replays the spans of the Nezha folder named by
// OSPREY_RCA_NEZHA through the production trace detector
// (internal/detect/trace, default configuration), which learns causally
// and knows nothing of the fault windows, and reports per fault which
// services it opened a trace anomaly for in the harness's window, and how
// many anomalies it opened outside every window. It measures what serve
// would see of the harness's trace evidence (docs/rca.md, "The trace
// detect stage"); it skips without the variable. It runs twice: on the
// spans alone, and with the day's log lines that carry a span id joined to
// their spans (keyed as the harness keys them: code location, else
// template id), fed in time order with the spans as the log miner would
// hand them over; and with the lines as the serve path hands them over
// (whole lines through the production miner, keyed by
// Detector.ObserveRecord). OSPREY_TRACE_ALL=1 lists every anomaly
// opened or escalated with its reason, and every end with its own; OSPREY_TRACE_DEBUG=1 those outside
// the windows and, per fault, the other services' and the root cause's.
func TestNezhaTraceDetector(t *testing.T) {
	dir := os.Getenv("OSPREY_RCA_NEZHA")
	if dir == "" {
		t.Skip("skipping: set OSPREY_RCA_NEZHA to an unpacked Nezha folder")
	}
	days, err := FindNezha(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("spans", func(t *testing.T) { nezhaTraceDetector(t, days, linesNone) })
	t.Run("spans+logs", func(t *testing.T) { nezhaTraceDetector(t, days, linesHarness) })
	t.Run("spans+served-logs", func(t *testing.T) { nezhaTraceDetector(t, days, linesServe) })
}

// How the dev test feeds log lines to the trace detector.
const (
	linesNone    = iota
	linesHarness // keyed as the harness keys them, Detector.ObserveLog
	linesServe   // whole lines through the production miner, Detector.ObserveRecord
)

func nezhaTraceDetector(t *testing.T, days []NezhaDay, lineMode int) {
	withLogs := lineMode != linesNone
	var faults, hit, top, others, outside, baseHit int
	var hours float64
	for i := range days {
		d := &days[i]
		spans := loadSpans(d, func() {})
		var lines []*logLine
		var units []logUnit
		if withLogs {
			units, _ = loadLogs(d, func() {})
			for _, u := range units {
				for _, l := range u.lines {
					if l.span != "" && l.trace != "" {
						lines = append(lines, l)
					}
				}
			}
			// In time order, as the serve path feeds them (the reference
			// phase's files overlap the fault day's hours).
			slices.SortStableFunc(lines, func(a, b *logLine) int { return a.at.Compare(b.at) })
		}
		var recs []logRec
		if lineMode == linesServe {
			lines = nil
			recs = readLogRecords(d, func() {})
		}
		feed := slices.Clone(spans)
		slices.SortStableFunc(feed, func(a, b spanRec) int { return a.at.Compare(b.at) })
		out := &collect{}
		cfg := trace.DefaultConfig()
		// OSPREY_TRACE_MATURE overrides MatureSupport (5, the profile's
		// MinSupport, is the detector before it).
		if v := os.Getenv("OSPREY_TRACE_MATURE"); v != "" {
			if _, err := fmt.Sscan(v, &cfg.MatureSupport); err != nil {
				t.Fatal(err)
			}
		}
		// OSPREY_TRACE_MINTIMED overrides MinTimed (20 is the detector
		// before session 8).
		if v := os.Getenv("OSPREY_TRACE_MINTIMED"); v != "" {
			if _, err := fmt.Sscan(v, &cfg.MinTimed); err != nil {
				t.Fatal(err)
			}
		}
		det, err := trace.New(trace.Options{Config: cfg, Out: out, Now: func() time.Time { return out.clock }})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		var first, last time.Time
		// Spans arrive at their start time (a batch per second of
		// start), in time order as the serve path feeds them; log lines
		// at their own time, before the spans of a later second.
		li := 0
		// The serve path's miner and hook (serve.go, runServe).
		set := logmine.NewSet(logmine.SetOptions{
			Config:  logmine.Config{MaxTemplates: config.Default().Logs.MaxTemplatesPerSource},
			Content: mineContent,
			OnMatch: func(_ string, m logmine.Match, r *osprey.LogRecord) { det.ObserveRecord(m.ID, m.Content, r) },
		})
		feedRecs := func(before time.Time) {
			for ; li < len(recs); li++ {
				l := &recs[li]
				if !l.at.Before(before) {
					return
				}
				if sec := l.at.Truncate(time.Second); sec.After(out.clock) {
					out.clock = sec
				}
				r := osprey.LogRecord{Time: l.at, Level: l.level, Body: l.text, Labels: osprey.Labels{
					logmine.LabelSource: logSource, osprey.LabelService: Deployment(l.pod), "pod": l.pod}}
				if l.trace != "" {
					r.Attributes = map[string]string{"trace_id": l.trace, "span_id": l.span}
				}
				set.Mine(&r)
			}
		}
		feedLines := func(before time.Time) {
			if recs != nil {
				feedRecs(before)
				return
			}
			for ; li < len(lines); li++ {
				l := lines[li]
				if !l.at.Before(before) {
					return
				}
				if sec := l.at.Truncate(time.Second); sec.After(out.clock) {
					out.clock = sec
				}
				det.ObserveLog(l.trace, l.span, l.service, l.key)
			}
		}
		for j := 0; j < len(feed); {
			k := j
			sec := feed[j].at.Truncate(time.Second)
			feedLines(sec.Add(time.Second))
			var batch []osprey.Span
			for ; k < len(feed) && feed[k].at.Truncate(time.Second).Equal(sec); k++ {
				s := &feed[k]
				batch = append(batch, osprey.Span{TraceID: s.traceID, SpanID: s.spanID, ParentSpanID: s.parent, Service: s.service,
					Name: s.op, Start: s.at, Duration: time.Duration(s.dur * float64(time.Second))})
			}
			if sec.After(out.clock) {
				out.clock = sec
			}
			if !feed[j].ref {
				if first.IsZero() {
					first = sec
				}
				last = sec
			}
			if err := det.ConsumeSpans(ctx, batch); err != nil {
				t.Fatal(err)
			}
			j = k
		}
		feedLines(time.Unix(1<<40, 0))
		out.clock = out.clock.Add(time.Hour)
		if err := det.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		hours += last.Sub(first).Hours()
		inWindow := func(at time.Time) (int, bool) {
			for f, x := range d.Faults {
				if !at.Before(x.Time.Add(-WindowBefore)) && !at.After(x.Time.Add(WindowAfter)) {
					return f, true
				}
			}
			return 0, false
		}
		if os.Getenv("OSPREY_TRACE_ALL") != "" {
			// Every anomaly opened or escalated, with its reason: the
			// broken key, its counts and the rate it was judged at
			// (the support of a young expectation, Tally.Rate).
			for _, a := range out.got {
				if a.Active() {
					t.Logf("anomaly %s %s %s %.2f: %s", a.StartsAt.UTC().Format(time.TimeOnly), a.Labels[osprey.LabelService],
						a.Labels[osprey.LabelTraceSignal], a.Score, a.Evidence[0].Reason)
				} else {
					t.Logf("ended %s..%s %s %s %.2f: %s", a.StartsAt.UTC().Format(time.TimeOnly), a.EndsAt.UTC().Format(time.TimeOnly),
						a.Labels[osprey.LabelService], a.Labels[osprey.LabelTraceSignal], a.Score, a.Evidence[len(a.Evidence)-1].Reason)
				}
			}
		}
		perFault := make([][]osprey.Anomaly, len(d.Faults))
		for _, a := range out.got {
			if !a.Active() {
				continue
			}
			if f, ok := inWindow(a.StartsAt); ok {
				perFault[f] = append(perFault[f], a)
			} else if !a.Escalates() {
				// An escalation outside the windows is the same false
				// alarm as the anomaly it escalates.
				outside++
				if os.Getenv("OSPREY_TRACE_DEBUG") != "" {
					t.Logf("  outside %s %s %.2f: %s", a.StartsAt.UTC().Format(time.TimeOnly), a.Labels[osprey.LabelService], a.Score, a.Evidence[0].Reason)
				}
			}
		}
		// The harness's flow evidence from the same spans (with their log
		// lines attached and the log profile, when the detector had
		// them), learnt outside the windows: the baseline.
		if withLogs {
			attachLogs(spans, units)
		}
		ev := newEvidencer(d.Faults, units, spans, Options{})
		for _, x := range d.Faults {
			_, evs := ev.window(x.Time.Add(-WindowBefore), x.Time.Add(WindowAfter))
			var names []string
			found := false
			for _, e := range evs {
				if e.Kind != rca.KindFlow && e.Kind != rca.KindLatency && e.Kind != rca.KindError {
					continue
				}
				names = append(names, fmt.Sprintf("%s/%s %.2f", e.Service, e.Kind, e.Score))
				if e.Service == x.Service {
					found = true
					if testing.Verbose() {
						t.Logf("  harness %s: %s", e.Service, e.Signal)
					}
				}
			}
			if found {
				baseHit++
			}
			t.Logf("%s %s %-22s harness found=%v: %s", d.Day, x.Timestamp, x.Service, found, strings.Join(names, ", "))
		}
		for f, x := range d.Faults {
			faults++
			as := perFault[f]
			sort.SliceStable(as, func(a, b int) bool { return as[a].Score > as[b].Score })
			var names []string
			found := false
			for r, a := range as {
				svc := a.Labels[osprey.LabelService]
				names = append(names, fmt.Sprintf("%s/%s %.2f", svc, a.Labels[osprey.LabelTraceSignal], a.Score))
				if svc == x.Service {
					if testing.Verbose() {
						t.Logf("  detector %s: %s", svc, a.Evidence[0].Reason)
					}
					if !found && r == 0 {
						top++
					}
					found = true
				} else if !a.Escalates() {
					others++
				}
				if svc != x.Service && os.Getenv("OSPREY_TRACE_DEBUG") != "" {
					t.Logf("    other %s %v: %s", svc, a.StartsAt.Sub(x.Time).Round(time.Second), a.Evidence[0].Reason)
				}
			}
			if found {
				hit++
			}
			if os.Getenv("OSPREY_TRACE_DEBUG") != "" {
				for _, a := range out.got {
					if a.Labels[osprey.LabelService] == x.Service && a.StartsAt.Sub(x.Time).Abs() < 20*time.Minute {
						end := "open"
						if !a.Active() {
							end = a.EndsAt.Sub(x.Time).Round(time.Second).String()
						}
						t.Logf("    %s %v..%s %.2f %s", a.Labels[osprey.LabelTraceSignal], a.StartsAt.Sub(x.Time).Round(time.Second), end, a.Score, a.Evidence[len(a.Evidence)-1].Reason)
					}
				}
			}
			t.Logf("%s %s %-22s %-14s found=%v: %s", d.Day, x.Timestamp, x.Service, x.Type, found, strings.Join(names, ", "))
		}
		logOpenTimes(t, d.Day, out.got)
		st := det.Stats()
		t.Logf("%s stats %+v", d.Day, st)
		// The heap the detector alone holds after the day: with it, then
		// without it (the replay's closures that refer to it are dead).
		var with, without runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&with)
		runtime.KeepAlive(det)
		det, set = nil, nil
		runtime.GC()
		runtime.ReadMemStats(&without)
		t.Logf("%s detector heap %d KiB for %d operations: %.1f KiB per operation", d.Day,
			(int64(with.HeapAlloc)-int64(without.HeapAlloc))>>10, st.Operations,
			float64(int64(with.HeapAlloc)-int64(without.HeapAlloc))/1024/float64(max(st.Operations, 1)))
	}
	t.Logf("log lines joined: %v (mode %d); faults %d: root cause with a trace anomaly in %d (strongest in %d), %d anomalies of other services in windows (escalations not counted); %d opened outside every window in %.1f h of fault-day spans; the harness's flow and latency evidence from the same data names the root cause in %d",
		withLogs, lineMode, faults, hit, top, others, outside, hours, baseHit)
}

// collect keeps the anomalies and the replay's clock.
type collect struct {
	mu    sync.Mutex
	clock time.Time
	got   []osprey.Anomaly
}

func (c *collect) ConsumeAnomalies(_ context.Context, b []osprey.Anomaly) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got = append(c.got, slices.Clone(b)...)
	return nil
}

// logOpenTimes logs how long the anomalies stayed open (span time from
// StartsAt to EndsAt; an escalation ends one anomaly and opens another),
// and how long each episode (an anomaly with its escalations) did.
func logOpenTimes(t *testing.T, day string, got []osprey.Anomaly) {
	starts := map[string]time.Time{}
	var per, episodes []time.Duration
	var episodeStart time.Time
	open := 0
	// by fingerprint: the start of the episode the open anomaly belongs to
	ep := map[osprey.Fingerprint]time.Time{}
	for _, a := range got {
		if a.Active() {
			starts[a.ID] = a.StartsAt
			open++
			if !a.Escalates() {
				ep[a.Fingerprint] = a.StartsAt
			}
			continue
		}
		s, ok := starts[a.ID]
		if !ok {
			continue
		}
		open--
		per = append(per, a.EndsAt.Sub(s))
		if !strings.Contains(a.Evidence[len(a.Evidence)-1].Reason, "escalated") {
			episodeStart = ep[a.Fingerprint]
			episodes = append(episodes, a.EndsAt.Sub(episodeStart))
		}
	}
	q := func(ds []time.Duration) string {
		if len(ds) == 0 {
			return "none"
		}
		slices.Sort(ds)
		over := 0
		for _, x := range ds {
			if x > 5*time.Minute {
				over++
			}
		}
		at := func(f float64) time.Duration { return ds[int(f*float64(len(ds)-1))].Round(time.Second) }
		return fmt.Sprintf("%d: p50 %v p90 %v p99 %v max %v, %d over 5m", len(ds), at(0.5), at(0.9), at(0.99), ds[len(ds)-1].Round(time.Second), over)
	}
	t.Logf("%s open times: anomalies %s; episodes %s; still open %d", day, q(per), q(episodes), open)
}
