package correlate_test

import (
	"context"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/correlate"
	"github.com/osprey-aiops/osprey/internal/store"
)

// sendFrom stores and applies one event of source received at t0+at.
func (r *rig) sendFrom(source string, at time.Duration, name string, labels osprey.Labels, resolved bool) {
	r.t.Helper()
	status := osprey.StatusFiring
	if resolved {
		status = osprey.StatusResolved
	}
	when := t0.Add(at)
	batch := []osprey.Event{{
		ID: osprey.NewID(when), Source: source, Name: name, Labels: labels, Status: status,
		StartsAt: when, ReceivedAt: when, Fingerprint: osprey.EventFingerprint(name, labels),
	}}
	if err := r.st.AppendEvents(context.Background(), batch); err != nil {
		r.t.Fatal(err)
	}
	if err := r.c.ConsumeEvents(context.Background(), batch); err != nil {
		r.t.Fatal(err)
	}
}

// TestNoiseAccounting feeds signals with every outcome through the stage at
// virtual times and checks the stored counters (per minute, source, rule
// and outcome), the Prometheus counter, and that a restart keeps the
// counters without counting anything twice.
func TestNoiseAccounting(t *testing.T) {
	ctx := context.Background()
	rules := []correlate.InhibitRule{{
		Source: []osprey.Matcher{{Name: "alertname", Type: osprey.MatchEqual, Value: "ClusterDown"}},
		Target: []osprey.Matcher{{Name: "alertname", Type: osprey.MatchNotEqual, Value: "ClusterDown"}},
		Equal:  []string{"cluster"},
	}}
	st := openStore(t)
	r := newRig(t, rigOptions{inhibit: rules, st: st})
	err := st.SaveSilence(ctx, osprey.Silence{ID: "sil-1", Matchers: []osprey.Matcher{{Name: "service", Type: osprey.MatchEqual, Value: "db"}},
		StartsAt: t0, EndsAt: t0.Add(time.Hour), CreatedBy: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.c.SilencesChanged(ctx); err != nil {
		t.Fatal(err)
	}
	checkout := osprey.Labels{"service": "checkout"}
	r.sendFrom("alertmanager", 0, "HighLatency", checkout, false)                                                                                  // opened
	r.sendFrom("alertmanager", 10*time.Second, "HighLatency", checkout, false)                                                                     // deduplicated
	r.sendFrom("alertmanager", 20*time.Second, "HighLatency", checkout, false)                                                                     // deduplicated
	r.sendFrom("grafana", 30*time.Second, "ErrorRate", checkout, false)                                                                            // grouped
	r.sendFrom("alertmanager", 40*time.Second, "HighLatency", checkout, true)                                                                      // deduplicated
	r.sendFrom("alertmanager", 50*time.Second, "DiskFull", osprey.Labels{"service": "db"}, false)                                                  // silenced
	r.sendFrom("alertmanager", 70*time.Second, "ClusterDown", osprey.Labels{"alertname": "ClusterDown", "cluster": "eu", "service": "k8s"}, false) // opened
	r.sendFrom("grafana", 80*time.Second, "ErrorRate", osprey.Labels{"alertname": "ErrorRate", "cluster": "eu", "service": "cart"}, false)         // inhibited
	r.sendFrom("grafana", 90*time.Second, "Unknown", osprey.Labels{"service": "x"}, true)                                                          // ignored

	want := []store.NoiseCount{
		{Source: "alertmanager", Rule: "ClusterDown", Outcome: correlate.OutcomeOpened, N: 1},
		{Source: "alertmanager", Rule: "DiskFull", Outcome: correlate.OutcomeSilenced, N: 1},
		{Source: "alertmanager", Rule: "HighLatency", Outcome: correlate.OutcomeDeduplicated, N: 3},
		{Source: "alertmanager", Rule: "HighLatency", Outcome: correlate.OutcomeOpened, N: 1},
		{Source: "grafana", Rule: "ErrorRate", Outcome: correlate.OutcomeGrouped, N: 1},
		{Source: "grafana", Rule: "ErrorRate", Outcome: correlate.OutcomeInhibited, N: 1},
		{Source: "grafana", Rule: "Unknown", Outcome: correlate.OutcomeIgnored, N: 1},
	}
	check := func(what string, since time.Time, want []store.NoiseCount) {
		t.Helper()
		got, err := st.NoiseCounts(ctx, since)
		if err != nil {
			t.Fatal(err)
		}
		same(t, what, got, want)
	}
	check("noise counts", time.Time{}, want)
	// The second minute (from t0+60s) holds the last three signals.
	check("noise counts since t0+1m", t0.Add(time.Minute), []store.NoiseCount{want[0], want[5], want[6]})

	for _, c := range []struct {
		source, outcome string
		n               float64
	}{{"alertmanager", "deduplicated", 3}, {"alertmanager", "opened", 2}, {"grafana", "inhibited", 1}} {
		// Label values in the order of the label names: outcome, source.
		if got := counterWith(t, r, "osprey_correlate_noise_signals_total", c.outcome, c.source); got != c.n {
			t.Errorf("osprey_correlate_noise_signals_total{source=%s,outcome=%s} = %v, want %v", c.source, c.outcome, got, c.n)
		}
	}

	// A restart replays nothing (everything is at or below the
	// checkpoint) and the counters are the stored ones.
	r.c.Shutdown(ctx)
	newRig(t, rigOptions{inhibit: rules, st: st})
	check("noise counts after a restart", time.Time{}, want)
}

// counterWith returns the counter with exactly these label values, in the
// order of the label names.
func counterWith(t *testing.T, r *rig, name string, values ...string) float64 {
	t.Helper()
	mfs, err := r.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) != len(values) {
				continue
			}
			for i, l := range m.GetLabel() {
				if l.GetValue() != values[i] {
					continue metrics
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}
