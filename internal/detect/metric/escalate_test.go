package metric

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
)

// TestEngineEscalation feeds a small anomaly and, while it is open, a
// larger one, at one-minute virtual steps, and checks the events the
// engine emits: an open anomaly escalates (ends, and a new one opens at
// the same sample) only when a sample scores at least EscalationStep above
// its highest score.
func TestEngineEscalation(t *testing.T) {
	const minute = 60_000
	const quiet = -2
	cfg := DefaultConfig()
	at := func(i int) time.Time { return time.UnixMilli(int64(i) * minute).UTC() }
	// event is one emitted anomaly: when it started and ended (-1: open;
	// quiet: closed by Refractory quiet samples, which the model's
	// scores after a spike decide), in samples, and whether it names an
	// escalation.
	type event struct {
		start, end int
		escalation bool
	}
	for _, tc := range []struct {
		name   string
		values map[int]float64 // index → value; elsewhere 50 + noise
		want   []event
	}{{
		name:   "a much larger anomaly while open escalates",
		values: map[int]float64{1500: 54, 1520: 150},
		want:   []event{{1500, -1, false}, {1500, 1520, true}, {1520, -1, true}, {1520, quiet, true}},
	}, {
		name:   "a rise by less than an octave stays the same anomaly",
		values: map[int]float64{1500: 54, 1510: 60}, // scores 0.58, then 0.65
		want:   []event{{1500, -1, false}, {1500, quiet, false}},
	}, {
		name:   "a large anomaly after the close opens normally",
		values: map[int]float64{1500: 54, 1600: 150},
		want:   []event{{1500, -1, false}, {1500, quiet, false}, {1600, -1, false}, {1600, quiet, false}},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			out := &collector{}
			eng, err := NewEngine(cfg, out, 0)
			if err != nil {
				t.Fatal(err)
			}
			labels := osprey.Labels{osprey.LabelMetric: "cpu", osprey.LabelService: "preserve"}
			values := signal(1700, 3, func(i int, e float64) float64 {
				if v, ok := tc.values[i]; ok {
					return v
				}
				return 50 + e
			})
			for start := 0; start < len(values); start += 100 {
				s := osprey.Series{Labels: labels}
				for i := start; i < start+100; i++ {
					s.Samples = append(s.Samples, osprey.Sample{TimestampMs: int64(i) * minute, Value: values[i]})
				}
				if err := eng.ConsumeSeries(context.Background(), []osprey.Series{s}); err != nil {
					t.Fatal(err)
				}
			}
			var got []event
			for _, a := range out.got {
				e := event{start: int(a.StartsAt.UnixMilli() / minute), end: -1}
				if !a.Active() {
					e.end = int(a.EndsAt.UnixMilli() / minute)
					if len(got) > 0 && e.end >= e.start+cfg.Refractory && got[len(got)-1].end == -1 {
						e.end = quiet
					}
				}
				e.escalation = a.Escalates() || a.Escalated()
				got = append(got, e)
			}
			if len(got) != len(tc.want) {
				for _, a := range out.got {
					t.Logf("%s %s..%s score %.3f", a.ID, a.StartsAt, a.EndsAt, a.Score)
				}
				t.Fatalf("events %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("event %d = %+v, want %+v", i, got[i], tc.want[i])
				}
			}
			if tc.values[1510] != 0 && out.got[1].Score < 0.6 {
				t.Errorf("the rise did not raise the highest score: %.3f", out.got[1].Score)
			}
			if !strings.Contains(tc.name, "escalates") {
				return
			}
			first, ended, next := out.got[0], out.got[1], out.got[2]
			if ended.ID != first.ID || next.ID == first.ID {
				t.Errorf("ids: opened %s, ended %s, escalated to %s", first.ID, ended.ID, next.ID)
			}
			if !next.StartsAt.Equal(at(1520)) || !ended.EndsAt.Equal(next.StartsAt) || next.Observed != 150 {
				t.Errorf("escalation at %s (ended %s), observed %v", next.StartsAt, ended.EndsAt, next.Observed)
			}
			if next.Score < ended.Score+EscalationStep(&cfg) || next.Severity <= ended.Severity {
				t.Errorf("scores %.3f → %.3f, severities %v → %v", ended.Score, next.Score, ended.Severity, next.Severity)
			}
			if len(first.Evidence) == 0 || first.Escalates() || first.Escalated() {
				t.Errorf("the anomaly emitted at opening changed: %+v", first.Evidence)
			}
			last, link := ended.Evidence[len(ended.Evidence)-1], next.Evidence[len(next.Evidence)-1]
			if !strings.Contains(last.Reason, "escalated at 1970-01-02 01:20:00 UTC") || !strings.Contains(link.Reason, "open since 1970-01-02 01:00:00 UTC") {
				t.Errorf("evidence does not link the two: %q / %q", last.Reason, link.Reason)
			}
		})
	}
}
