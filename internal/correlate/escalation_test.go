package correlate_test

import (
	"context"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/correlate"
	"github.com/osprey-aiops/osprey/internal/detect/metric"
	"github.com/osprey-aiops/osprey/internal/rca"
)

// TestEscalationReachesTheIncident drives the metric engine into the
// correlator at one-minute virtual steps: a small CPU anomaly of preserve
// opens an incident at t0; later, while that anomaly is still open, the
// CPU jumps and the engine escalates it (ends it, opens a new anomaly).
// Late (more than the window after the first incident opened, with a
// neighbour already failing) the escalation is a new onset: it joins the
// neighbour's incident and the old incident resolves. Early (within the
// window) it is the same failure growing: it stays in the first incident,
// whose severity rises.
func TestEscalationReachesTheIncident(t *testing.T) {
	const minute = 60_000
	g := callGraph(t, [2]string{"assurance", "preserve"})
	for _, tc := range []struct {
		name     string
		jump     int // minutes after t0
		together bool
	}{
		{"late escalation is a new onset", 20, false},
		{"early escalation stays a repeat", 2, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, rigOptions{topo: g, grace: 5 * time.Minute})
			var emitted []osprey.Anomaly
			sink := osprey.AnomalyConsumerFunc(func(ctx context.Context, batch []osprey.Anomaly) error {
				emitted = append(emitted, batch...)
				return r.c.ConsumeAnomalies(ctx, batch)
			})
			eng, err := metric.NewEngine(metric.DefaultConfig(), sink, 0)
			if err != nil {
				t.Fatal(err)
			}
			cpu := osprey.Labels{osprey.LabelMetric: "cpu", "service": "preserve"}
			rng := rand.New(rand.NewPCG(3, 1))
			const blip = 1500 // the sample at t0
			feed := func(from, to int, value func(i int) float64) {
				for i := from; i < to; i++ {
					ms := t0.UnixMilli() + int64(i-blip)*minute
					r.at(time.Duration(i-blip) * time.Minute)
					s := osprey.Series{Labels: cpu, Samples: []osprey.Sample{{TimestampMs: ms, Value: value(i)}}}
					if err := eng.ConsumeSeries(context.Background(), []osprey.Series{s}); err != nil {
						t.Fatal(err)
					}
				}
			}
			jump := blip + tc.jump
			cpuValue := func(i int) float64 {
				switch i {
				case blip:
					return 54 // scores about 0.58
				case jump:
					return 150 // scores 1
				}
				return 50 + rng.NormFloat64()
			}
			feed(0, jump, cpuValue)
			if len(emitted) != 1 || !emitted[0].Active() {
				t.Fatalf("before the jump the engine emitted %d anomalies, want the open blip", len(emitted))
			}
			first := r.memberOf("cpu", "preserve")
			// A neighbour starts failing a minute before the jump.
			r.at(time.Duration(tc.jump-1) * time.Minute)
			lat := osprey.Labels{osprey.LabelMetric: "latency", "service": "assurance"}
			if err := r.c.ConsumeAnomalies(context.Background(), []osprey.Anomaly{{
				ID: osprey.NewID(r.clock()), Kind: osprey.AnomalyMetric, Labels: lat, Score: 0.8, Severity: osprey.SeverityError,
				StartsAt: r.clock(), Fingerprint: lat.Fingerprint(),
			}}); err != nil {
				t.Fatal(err)
			}
			feed(jump, jump+1, cpuValue)
			if len(emitted) != 3 || !emitted[1].Escalated() || !emitted[2].Escalates() || emitted[1].ID != emitted[0].ID {
				t.Fatalf("at the jump the engine emitted %d anomalies in all, want the blip ended by an escalation and a new one", len(emitted))
			}
			esc := emitted[2]
			latInc := r.memberOf("latency", "assurance")
			var cpuInc osprey.Incident
			for _, inc := range incidents(t, r.st) {
				for _, m := range inc.Members {
					if m.Name == "cpu" && m.LastRef == esc.ID && m.Status == osprey.StatusFiring {
						cpuInc = r.get(inc.ID)
					}
				}
			}
			if cpuInc.ID == "" {
				t.Fatal("no incident holds the escalated anomaly as a firing member")
			}
			if tc.together {
				if cpuInc.ID != first.ID || latInc.ID != first.ID {
					t.Fatalf("escalation in %s, neighbour in %s; want both in the first incident %s", cpuInc.ID, latInc.ID, first.ID)
				}
				if cpuInc.Severity != osprey.SeverityCritical {
					t.Errorf("incident severity %v, want critical (the escalation's)", cpuInc.Severity)
				}
				return
			}
			if cpuInc.ID != latInc.ID || cpuInc.ID == first.ID {
				t.Fatalf("escalation in %s, neighbour in %s, first anomaly in %s; want the escalation with the neighbour", cpuInc.ID, latInc.ID, first.ID)
			}
			i := slices.IndexFunc(cpuInc.Members, func(m *osprey.Member) bool { return m.Name == "cpu" })
			if m := cpuInc.Members[i]; m.FirstRef != esc.ID || !m.FirstSeen.Equal(esc.StartsAt) {
				t.Errorf("member %+v: want first seen at the escalation %s", m, esc.StartsAt)
			}
			if !slices.ContainsFunc(cpuInc.Timeline, func(e osprey.TimelineEntry) bool {
				return e.Kind == osprey.TimelineMemberJoined && strings.Contains(e.Message, "call graph")
			}) {
				t.Errorf("no join through the call graph in the timeline: %+v", cpuInc.Timeline)
			}
			// The first incident's member ended with the escalation: it
			// resolves after the grace; the new anomaly's end goes to the
			// incident that holds it now, also after a restart (both
			// unresolved incidents hold the series then).
			r.c.Shutdown(context.Background())
			r = newRig(t, rigOptions{st: r.st, topo: g, grace: 5 * time.Minute})
			feed(jump+1, jump+80, func(int) float64 { return 50 + rng.NormFloat64() })
			if old := r.get(first.ID); old.Status != osprey.IncidentResolved {
				t.Errorf("first incident %s, want resolved", old.Status)
			}
			if last := emitted[len(emitted)-1]; last.ID != esc.ID || last.Active() {
				t.Fatalf("the escalated anomaly did not end: last emitted %+v", last)
			}
			cpuInc = r.get(cpuInc.ID)
			if m := cpuInc.Members[i]; m.Status != osprey.StatusResolved {
				t.Errorf("the escalated member is %s after its anomaly ended, want resolved", m.Status)
			}
		})
	}
}

// An escalation within the window of its incident's opening is a repeat
// of its member, whose severity rises: the causes are ranked again with
// the stronger evidence.
func TestEscalationRanksAgain(t *testing.T) {
	st := openStore(t)
	now := t0
	c := startWith(t, correlate.Options{
		Store: st, Window: 5 * time.Minute, GroupBy: []string{"service"},
		Topology: learnedGraph(t), CatchUpInterval: time.Hour,
		Now: func() time.Time { return now }, Registerer: prometheus.NewRegistry(),
		Causes: rca.IncidentRanker{Config: rca.DefaultConfig()},
	})
	anomaly := func(service string, at time.Duration, sev osprey.Severity) osprey.Anomaly {
		l := osprey.Labels{osprey.LabelMetric: "latency", "service": service}
		return osprey.Anomaly{ID: osprey.NewID(t0.Add(at)), Kind: osprey.AnomalyMetric, Labels: l, Severity: sev,
			StartsAt: t0.Add(at), Fingerprint: l.Fingerprint()}
	}
	consume := func(at time.Duration, batch ...osprey.Anomaly) {
		now = t0.Add(at)
		if err := c.ConsumeAnomalies(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
	}
	score := func(service string) float64 {
		incs := incidents(t, st)
		if len(incs) != 1 {
			t.Fatalf("%d incidents, want 1", len(incs))
		}
		for _, cause := range incs[0].Causes {
			if cause.Name == service {
				return cause.Score
			}
		}
		t.Fatalf("no cause %s in %+v", service, incs[0].Causes)
		return 0
	}
	small := anomaly("checkout", 30*time.Second, osprey.SeverityWarning)
	consume(0, anomaly("db", 0, osprey.SeverityWarning))
	consume(30*time.Second, small)
	before := score("checkout")
	ended, big := small, anomaly("checkout", time.Minute, osprey.SeverityCritical)
	ended.EndsAt = big.StartsAt
	ended.Evidence = []osprey.Evidence{{Detector: osprey.EvidenceEscalated}}
	big.Evidence = []osprey.Evidence{{Detector: osprey.EvidenceEscalation}}
	consume(time.Minute, ended, big)
	if after := score("checkout"); !(after > before) {
		t.Errorf("checkout's cause score %.3f after its escalation to critical, %.3f before: not ranked again", after, before)
	}
}
