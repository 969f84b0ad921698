package correlate_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/correlate"
	"github.com/osprey-aiops/osprey/internal/rca"
)

// lateEvidence is an rca.EvidenceSource whose evidence arrives after the
// first ranking, as rca.HistoryEvidence's does.
type lateEvidence struct {
	mu sync.Mutex
	ev []rca.Evidence
}

func (l *lateEvidence) Evidence(*osprey.Incident) []rca.Evidence {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ev
}

// collect records the incident snapshots handed on.
type collect struct {
	mu   sync.Mutex
	incs []osprey.Incident
}

func (c *collect) ConsumeIncidents(_ context.Context, b []osprey.Incident) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.incs = append(c.incs, b...)
	return nil
}

func TestRerankTakesLateEvidence(t *testing.T) {
	st := openStore(t)
	late := &lateEvidence{}
	out := &collect{}
	c := startWith(t, correlate.Options{
		Store: st, Window: 5 * time.Minute, GroupBy: []string{"service"}, Burst: time.Minute,
		CatchUpInterval: time.Hour, Now: func() time.Time { return t0.Add(time.Minute) },
		Registerer: prometheus.NewRegistry(), Out: out,
		Causes: rca.IncidentRanker{Config: rca.DefaultConfig(), Extra: late},
	})
	for _, e := range []ev{
		{at: 0, name: "Slow", labels: osprey.Labels{"service": "frontend"}, severity: osprey.SeverityWarning},
		{at: 10 * time.Second, name: "Slow", labels: osprey.Labels{"service": "payment"}, severity: osprey.SeverityWarning},
	} {
		if err := c.ConsumeEvents(context.Background(), appendEvents(t, st, []ev{e})); err != nil {
			t.Fatal(err)
		}
	}
	incs := incidents(t, st)
	if len(incs) != 1 || len(incs[0].Causes) != 2 || incs[0].Causes[0].Name != "frontend" {
		t.Fatalf("before: %+v", incs)
	}
	id := incs[0].ID
	// Nothing new: nothing stored or handed on.
	handed := len(out.incs)
	if err := c.Rerank(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if len(out.incs) != handed {
		t.Errorf("a rerank without new evidence handed on the incident")
	}
	late.mu.Lock()
	late.ev = []rca.Evidence{{Service: "payment", Kind: rca.KindMetric, Signal: "latency 1.0, above its normal median 0.1 (comparison ...)", Score: 0.9, Onset: t0}}
	late.mu.Unlock()
	if err := c.Rerank(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	inc, err := st.GetIncident(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if inc.Causes[0].Name != "payment" || !strings.Contains(inc.Causes[0].Explanation, "comparison") {
		t.Fatalf("after: %+v", inc.Causes)
	}
	if last := inc.Timeline[len(inc.Timeline)-1]; last.Kind != osprey.TimelineRCA || !strings.Contains(last.Message, "service payment") {
		t.Errorf("last timeline entry %+v, want the new ranking", last)
	}
	if len(out.incs) != handed+1 || out.incs[handed].Causes[0].Name != "payment" {
		t.Errorf("handed on %d snapshots after the rerank, want 1 with payment first", len(out.incs)-handed)
	}
	if err := c.Rerank(context.Background(), "no-such-incident"); !errors.Is(err, osprey.ErrNotFound) {
		t.Errorf("unknown incident: %v, want ErrNotFound", err)
	}
}
