package rca

import (
	"strings"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
)

func TestIncidentRankerPrefersTheDownstreamEarliestService(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	member := func(svc, name string, sev osprey.Severity, after time.Duration) *osprey.Member {
		return &osprey.Member{Kind: osprey.MemberEvent, Name: name, Labels: osprey.Labels{"service": svc},
			Severity: sev, FirstRef: svc + "-" + name, FirstSeen: t0.Add(after)}
	}
	inc := &osprey.Incident{Members: []*osprey.Member{
		member("frontend", "HighLatency", osprey.SeverityWarning, 40*time.Second),
		member("checkout", "HighLatency", osprey.SeverityWarning, 35*time.Second),
		member("db", "SlowQueries", osprey.SeverityCritical, 0),
		{Kind: osprey.MemberEvent, Name: "NoService", Severity: osprey.SeverityCritical},
	}}
	g := NewGraph()
	g.AddCall("frontend", "checkout", 100)
	g.AddCall("checkout", "db", 100)
	r := IncidentRanker{Graph: func() *Graph { return g }, Config: DefaultConfig()}
	causes := r.RankCauses(inc)
	if len(causes) != 3 {
		t.Fatalf("got %d causes, want 3 (a member without a service is no candidate): %+v", len(causes), causes)
	}
	if causes[0].Name != "db" {
		t.Fatalf("top cause = %s, want db (earliest, strongest, called by the others): %+v", causes[0].Name, causes)
	}
	if !strings.Contains(causes[0].Explanation, "db") || len(causes[0].EvidenceIDs) == 0 {
		t.Errorf("top cause lacks an explanation or evidence: %+v", causes[0])
	}
	// Deterministic for the same input.
	again := r.RankCauses(inc)
	for i := range causes {
		if causes[i].Name != again[i].Name || causes[i].Explanation != again[i].Explanation {
			t.Fatalf("ranking is not deterministic: %+v vs %+v", causes, again)
		}
	}
}

func TestFromMemberKinds(t *testing.T) {
	tests := []struct {
		m    osprey.Member
		want Kind
		own  bool // Evidence.Own: a trace anomaly or a change
	}{
		{osprey.Member{Kind: osprey.MemberEvent, Name: "deploy", Labels: osprey.Labels{"service": "a"}}, KindChange, true},
		{osprey.Member{Kind: osprey.MemberEvent, Name: "HighLatency", Labels: osprey.Labels{"service": "a"}}, KindAlert, false},
		{osprey.Member{Kind: osprey.MemberAnomaly, Name: "cpu", Labels: osprey.Labels{"service": "a"}}, KindMetric, false},
		{osprey.Member{Kind: osprey.MemberAnomaly, Name: "log template x", Labels: osprey.Labels{"service": "a", "template_id": "x"}}, KindLog, false},
		{osprey.Member{Kind: osprey.MemberAnomaly, Name: "trace anomaly", Labels: osprey.Labels{"service": "a", osprey.LabelTraceSignal: "flow"}}, KindFlow, true},
		{osprey.Member{Kind: osprey.MemberAnomaly, Name: "trace anomaly", Labels: osprey.Labels{"service": "a", osprey.LabelTraceSignal: "latency"}}, KindLatency, true},
		// An alert that merely carries the label is not the trace stage's.
		{osprey.Member{Kind: osprey.MemberEvent, Name: "SlowTraces", Labels: osprey.Labels{"service": "a", osprey.LabelTraceSignal: "latency"}}, KindAlert, false},
	}
	for _, tc := range tests {
		e, ok := FromMember(&tc.m, "")
		if !ok || e.Kind != tc.want || e.Own != tc.own {
			t.Errorf("FromMember(%s %s) = %v own %v, %v; want kind %s own %v", tc.m.Kind, tc.m.Name, e.Kind, e.Own, ok, tc.want, tc.own)
		}
	}
}

func TestFromAnomalyTrace(t *testing.T) {
	for signal, want := range map[string]Kind{"flow": KindFlow, "latency": KindLatency} {
		a := &osprey.Anomaly{ID: "x", Kind: osprey.AnomalyTrace, Score: 0.6,
			Labels:   osprey.Labels{"service": "cart", osprey.LabelTraceSignal: signal},
			Evidence: []osprey.Evidence{{Detector: "trace_" + signal, Reason: "span pattern broken"}}}
		e, ok := FromAnomaly(a, "")
		if !ok || e.Kind != want || e.Service != "cart" || e.Signal != "span pattern broken" || e.Score != 0.6 || !e.Own {
			t.Errorf("FromAnomaly(%s) = %+v, %v; want kind %s", signal, e, ok, want)
		}
	}
}

// An anomaly member weighs its peak score (the detector's own measure, as
// FromAnomaly does); a member stored without one, and an event, weigh
// their severity's score.
func TestFromMemberScore(t *testing.T) {
	trace := osprey.Labels{"service": "a", osprey.LabelTraceSignal: "flow"}
	tests := []struct {
		name string
		m    osprey.Member
		want float64
	}{
		{"anomaly with a peak score", osprey.Member{Kind: osprey.MemberAnomaly, Name: "trace anomaly", Labels: trace, Severity: osprey.SeverityWarning, Score: 0.27}, 0.27},
		{"anomaly stored without one", osprey.Member{Kind: osprey.MemberAnomaly, Name: "trace anomaly", Labels: trace, Severity: osprey.SeverityWarning}, severityScore(osprey.SeverityWarning)},
		{"event", osprey.Member{Kind: osprey.MemberEvent, Name: "HighLatency", Labels: osprey.Labels{"service": "a"}, Severity: osprey.SeverityCritical, Score: 0.1}, severityScore(osprey.SeverityCritical)},
	}
	for _, tc := range tests {
		if e, ok := FromMember(&tc.m, ""); !ok || e.Score != tc.want {
			t.Errorf("%s: score %v, %v; want %v", tc.name, e.Score, ok, tc.want)
		}
	}
}
