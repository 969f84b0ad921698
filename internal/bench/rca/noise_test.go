package rca

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
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
	all, err := CorrelateNoise(ctx, stream, ws, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := ScoreNoise(all)
	want := NoiseStats{Alerts: 9, Incidents: 3, Background: 2, Faults: 2, Reduction: reduction(3, 9), Purity: 8.0 / 9}
	if got != want {
		t.Errorf("all: got %+v, want %+v", got, want)
	}
	only, err := CorrelateNoise(ctx, stream, ws, true, nil)
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
