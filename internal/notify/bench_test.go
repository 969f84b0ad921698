package notify

import (
	"fmt"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
)

// BenchmarkConsumeIncidents measures the hot path of the stage: a snapshot
// of an incident already tracked (routing, state update) and a scheduler
// pass over 1,000 tracked incidents with nothing due.
func BenchmarkConsumeIncidents(b *testing.B) {
	cfg := DefaultConfig()
	cfg.Receivers = []Receiver{
		{Name: "pager", Webhook: WebhookConfig{URL: "http://127.0.0.1:9/x"}},
		{Name: "chat", Webhook: WebhookConfig{URL: "http://127.0.0.1:9/y"}},
	}
	cfg.Routes = []Route{
		{Matchers: []string{`severity=~"critical|error"`}, Receivers: []string{"pager"}, Continue: true},
		{Matchers: []string{"service=~checkout|cart"}, Receivers: []string{"chat"}},
	}
	cfg.GroupWait = time.Hour // nothing becomes due
	n, err := New(Options{Config: cfg, Store: openSQLite(b), Tick: -1, Now: func() time.Time { return t0 }})
	if err != nil {
		b.Fatal(err)
	}
	defer n.Shutdown(b.Context())
	incs := make([]osprey.Incident, 1000)
	for i := range incs {
		incs[i] = incident(fmt.Sprintf("I%04d", i), osprey.SeverityCritical, osprey.Labels{"service": "checkout"})
	}
	if err := n.ConsumeIncidents(b.Context(), incs); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		inc := incs[i%len(incs)]
		if err := n.ConsumeIncidents(b.Context(), []osprey.Incident{inc}); err != nil {
			b.Fatal(err)
		}
		if i%100 == 0 {
			n.dispatch()
		}
	}
}
