package rca

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/rca"
)

// TestNoiseTwoFaults correlates a tiny synthetic stream of two faults and
// checks the alert, incident, reduction and purity arithmetic exactly.
func TestNoiseTwoFaults(t *testing.T) {
	t0 := time.Date(2023, 1, 29, 8, 0, 0, 0, time.UTC)
	faults := []Fault{
		{Time: t0, Timestamp: "A", Service: "svc-a"},
		{Time: t0.Add(30 * time.Minute), Timestamp: "B", Service: "svc-b"},
	}
	ws := faultWindows(faults)
	var stream []osprey.Anomaly
	open := func(svc, metric string, at time.Time) osprey.Anomaly {
		l := osprey.Labels{osprey.LabelService: svc, osprey.LabelMetric: metric}
		a := osprey.Anomaly{ID: osprey.NewID(at), Kind: osprey.AnomalyMetric, Labels: l,
			Fingerprint: l.Fingerprint(), StartsAt: at, Severity: osprey.SeverityWarning}
		stream = append(stream, a)
		return a
	}
	// Fault A: four alerts of svc-a, one of which resolves.
	var first osprey.Anomaly
	for i := range 4 {
		a := open("svc-a", fmt.Sprintf("m%d", i), t0.Add(time.Duration(10*(i+1))*time.Second))
		if i == 0 {
			first = a
		}
	}
	res := first
	res.EndsAt = t0.Add(90 * time.Second)
	stream = append(stream, res)
	// Background alone on svc-c: its own incident.
	open("svc-c", "m0", t0.Add(15*time.Minute))
	// Background on svc-b two minutes before fault B's window, then B's
	// three alerts: one incident, majority B, 3 of 4 pure.
	open("svc-b", "bg", t0.Add(28*time.Minute))
	for i := range 3 {
		open("svc-b", fmt.Sprintf("m%d", i), t0.Add(30*time.Minute+time.Duration(5*(i+1))*time.Second))
	}

	// 1 − incidents/alerts, in float64 arithmetic as ScoreNoise does it
	// (a constant expression would be rounded once, not twice).
	reduction := func(incidents, alerts int) float64 { return 1 - float64(incidents)/float64(alerts) }
	ctx := context.Background()
	all, err := CorrelateNoise(ctx, stream, ws, false, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := ScoreNoise(all)
	want := NoiseStats{Alerts: 9, Incidents: 3, Background: 2, Faults: 2, Reduction: reduction(3, 9), Purity: 8.0 / 9}
	if got != want {
		t.Errorf("all: got %+v, want %+v", got, want)
	}
	only, err := CorrelateNoise(ctx, stream, ws, true, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	got = ScoreNoise(only)
	want = NoiseStats{Alerts: 7, Incidents: 2, Faults: 2, Reduction: reduction(2, 7), Purity: 1}
	if got != want {
		t.Errorf("fault windows: got %+v, want %+v", got, want)
	}
	if s := SumNoise([]NoiseStats{ScoreNoise(all), ScoreNoise(only)}); s.Alerts != 16 || s.Incidents != 5 || s.Purity != 15.0/16 {
		t.Errorf("sum: %+v", s)
	}
}

func TestScoreNoiseEmpty(t *testing.T) {
	if got := ScoreNoise(nil); got != (NoiseStats{}) {
		t.Errorf("got %+v", got)
	}
}

// TestRuleEvalFollowsPrometheus checks the alert life cycle of the
// threshold rules against Prometheus' rules/alerting.go: pending for "for",
// then firing and sent; sent again only once the resend delay has passed
// (strictly: with a 1m interval and a 1m delay, every other evaluation);
// resolved, sent at once with endsAt = the resolution, and again every
// resend delay until 15 minutes after it resolved.
func TestRuleEvalFollowsPrometheus(t *testing.T) {
	t0 := time.Date(2023, 1, 29, 8, 0, 0, 0, time.UTC)
	e := &ruleEval{r: DefaultThresholdRules(), active: map[string]*alertState{}}
	above := func() map[string]*alertState {
		return map[string]*alertState{"k": {labels: map[string]string{"alertname": "PodCPUUsageHigh", "pod": "p"}, value: 9, limit: 5}}
	}
	type sent struct {
		minute      int
		start, ends time.Duration
	}
	var got []sent
	for i := 0; i <= 22; i++ {
		ts := t0.Add(time.Duration(i) * time.Minute)
		in := map[string]*alertState{}
		if i <= 4 { // above the threshold at minutes 0..4
			in = above()
		}
		for _, a := range e.eval(ts, in) {
			got = append(got, sent{i, a.StartsAt.Sub(t0), a.EndsAt.Sub(t0)})
		}
	}
	want := []sent{
		{1, time.Minute, 5 * time.Minute}, // pending at 0, fires at 1: valid for 4·1m
		{3, time.Minute, 7 * time.Minute}, // 1m after 1 is not "before" 2
		{5, time.Minute, 5 * time.Minute}, // resolved at 5
		{7, time.Minute, 5 * time.Minute}, {9, time.Minute, 5 * time.Minute}, {11, time.Minute, 5 * time.Minute},
		{13, time.Minute, 5 * time.Minute}, {15, time.Minute, 5 * time.Minute}, {17, time.Minute, 5 * time.Minute},
		{19, time.Minute, 5 * time.Minute}, // 14m after; at 21 (16m) it is gone
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("sent\n got %v\nwant %v", got, want)
	}
	if len(e.active) != 0 {
		t.Errorf("%d alerts still held after the retention", len(e.active))
	}
}

// TestCorrelateNotificationsTwoFaults sends a small Prometheus alert stream
// through the production receiver and correlator and checks both counts.
func TestCorrelateNotificationsTwoFaults(t *testing.T) {
	t0 := time.Date(2023, 1, 29, 8, 0, 0, 0, time.UTC)
	ws := faultWindows([]Fault{
		{Time: t0, Timestamp: "A", Service: "svc-a"},
		{Time: t0.Add(30 * time.Minute), Timestamp: "B", Service: "svc-b"},
	})
	alert := func(name, svc string, start, at time.Time, resolved bool) Notification {
		end := at.Add(4 * time.Minute)
		if resolved {
			end = at
		}
		return Notification{At: at, Alert: PostableAlert{
			Labels:   map[string]string{"alertname": name, "service": svc, "severity": "warning"},
			StartsAt: start, EndsAt: end,
		}}
	}
	a1, b1 := t0.Add(10*time.Second), t0.Add(30*time.Minute+20*time.Second)
	ns := []Notification{
		alert("CPU", "svc-a", a1, a1, false),
		alert("Memory", "svc-a", t0.Add(time.Minute), t0.Add(time.Minute), false),
		alert("CPU", "svc-a", a1, t0.Add(2*time.Minute), false), // repeat
		alert("CPU", "svc-a", a1, t0.Add(3*time.Minute), true),  // resolved
		alert("CPU", "svc-a", a1, t0.Add(5*time.Minute), true),  // resolved, re-sent
		// Background, between the windows.
		alert("Disk", "svc-c", t0.Add(15*time.Minute), t0.Add(15*time.Minute), false),
		alert("CPU", "svc-b", b1, b1, false),
		alert("CPU", "svc-b", b1, t0.Add(32*time.Minute), false),
	}
	ctx := context.Background()
	notes, distinct, err := CorrelateNotifications(ctx, ns, ws, true, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	reduction := func(incidents, alerts int) float64 { return 1 - float64(incidents)/float64(alerts) }
	if got, want := ScoreNoise(notes), (NoiseStats{Alerts: 7, Incidents: 2, Faults: 2, Reduction: reduction(2, 7), Purity: 1}); got != want {
		t.Errorf("notifications: got %+v, want %+v", got, want)
	}
	if got, want := ScoreNoise(distinct), (NoiseStats{Alerts: 3, Incidents: 2, Faults: 2, Reduction: reduction(2, 3), Purity: 1}); got != want {
		t.Errorf("distinct: got %+v, want %+v", got, want)
	}
	notes, distinct, err = CorrelateNotifications(ctx, ns, ws, false, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := ScoreNoise(notes); got.Alerts != 8 || got.Incidents != 3 || got.Background != 1 || got.Purity != 1 {
		t.Errorf("all notifications: %+v", got)
	}
	if got := ScoreNoise(distinct); got.Alerts != 4 || got.Incidents != 3 {
		t.Errorf("all distinct: %+v", got)
	}
}

// The anomalies of one instant reach the correlator as one batch, as the
// detector emits them, so their order in the stream (the detector's series
// order) does not change the figures: on the call chain a → b → c → d, fed
// one by one in the order a, d, b, c they made two incidents, in the order
// a, b, c, d one.
func TestCorrelateNoiseIgnoresOrderWithinAnInstant(t *testing.T) {
	t0 := time.Date(2023, 1, 29, 8, 0, 0, 0, time.UTC)
	ws := faultWindows([]Fault{{Time: t0, Timestamp: "A", Service: "b"}})
	g := rca.NewGraph()
	g.AddCall("a", "b", 1)
	g.AddCall("b", "c", 1)
	g.AddCall("c", "d", 1)
	stream := func(order ...string) []osprey.Anomaly {
		var s []osprey.Anomaly
		for _, svc := range order {
			l := osprey.Labels{osprey.LabelService: svc, osprey.LabelMetric: "latency"}
			s = append(s, osprey.Anomaly{ID: "anomaly-" + svc, Kind: osprey.AnomalyMetric, Labels: l,
				Fingerprint: l.Fingerprint(), StartsAt: t0, Severity: osprey.SeverityWarning})
		}
		return s
	}
	ctx := context.Background()
	var first NoiseStats
	for i, order := range [][]string{{"a", "b", "c", "d"}, {"a", "d", "b", "c"}, {"d", "a", "c", "b"}} {
		m, err := CorrelateNoise(ctx, stream(order...), ws, true, graphTopology{g}, 0)
		if err != nil {
			t.Fatal(err)
		}
		got := ScoreNoise(m)
		if i == 0 {
			first = got
		} else if got != first {
			t.Errorf("order %v: %+v, order %v: %+v", order, got, []string{"a", "b", "c", "d"}, first)
		}
	}
}
