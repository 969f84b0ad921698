package correlate

import (
	"fmt"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
)

// BenchmarkStateApply measures the in-memory grouping alone (no store, no
// ranking): one op applies one firing signal, over 5,000 distinct alerts
// on 10 services (incidents of 500 members, as in
// BenchmarkConsumeEventsLargeIncidents) without a burst (with one, the ten
// services' first alerts, 10 ms apart, would open one incident), so the
// first pass joins by group and the rest are repeats.
func BenchmarkStateApply(b *testing.B) { benchStateApply(b, 10, 0) }

// BenchmarkStateApplyBurst is BenchmarkStateApply with every alert on a
// service of its own and the default burst (1m): an alert storm that no
// group places, so each new alert goes through burstIncident.
func BenchmarkStateApplyBurst(b *testing.B) { benchStateApply(b, 5000, time.Minute) }

func benchStateApply(b *testing.B, services int, burst time.Duration) {
	const alerts = 5000
	t0 := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	sigs := make([]signal, alerts)
	for k := range sigs {
		labels := osprey.Labels{"service": fmt.Sprintf("svc%d", k%services), "pod": fmt.Sprintf("p%d", k/10)}
		sigs[k] = signal{kind: osprey.MemberEvent, ref: fmt.Sprint(k), name: "HighLatency", labels: labels,
			firing: true, fingerprint: osprey.EventFingerprint("HighLatency", labels)}
	}
	n := 0
	newID := func(time.Time) string { n++; return fmt.Sprint(n) }
	s := newState(5*time.Minute, 5*time.Minute, burst, []string{"service"}, nil, newID)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		sig := sigs[i%alerts]
		sig.at = t0.Add(time.Duration(i) * 10 * time.Millisecond)
		if s.apply(sig) == nil {
			b.Fatal("signal changed nothing")
		}
	}
}
