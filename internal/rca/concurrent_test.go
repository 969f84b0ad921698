package rca

import (
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
)

// symptomAndCauseIncidents is the serve-path shape the concurrent ranking is
// for: a symptom incident of two services that log errors and slow down
// (seat and order, siblings under preserve), and, opened in the same
// minute, a small incident of another service (auth's callee
// verification) whose own spans broke, with a log anomaly of a further
// service (food), which is a symptom wherever it is.
func symptomAndCauseIncidents() (*Graph, *osprey.Incident, *osprey.Incident) {
	t0 := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	member := func(svc, name string, kind osprey.MemberKind, sev osprey.Severity, after time.Duration, l osprey.Labels) *osprey.Member {
		labels := osprey.Labels{"service": svc}
		for k, v := range l {
			labels[k] = v
		}
		return &osprey.Member{Kind: kind, Name: name, Labels: labels, Severity: sev, FirstRef: svc + "-" + name,
			FirstSeen: t0.Add(after)}
	}
	logs := osprey.Labels{"template_id": "t1"}
	symptoms := &osprey.Incident{ID: "inc-symptoms", OpenedAt: t0.Add(10 * time.Second), Members: []*osprey.Member{
		member("seat", "new template", osprey.MemberAnomaly, osprey.SeverityError, 10*time.Second, logs),
		member("seat", "PodLatencyP90", osprey.MemberAnomaly, osprey.SeverityError, 15*time.Second, nil),
		member("order", "new template", osprey.MemberAnomaly, osprey.SeverityError, 20*time.Second, logs),
	}}
	cause := &osprey.Incident{ID: "inc-cause", OpenedAt: t0, Members: []*osprey.Member{
		member("verification", "trace flow", osprey.MemberAnomaly, osprey.SeverityWarning, 0,
			osprey.Labels{osprey.LabelTraceSignal: "flow"}),
		member("food", "new template", osprey.MemberAnomaly, osprey.SeverityError, 5*time.Second, logs),
	}}
	g := graph("preserve>seat", "preserve>order", "gw>preserve", "gw>auth", "auth>verification", "gw>food")
	return g, symptoms, cause
}

// The evidence of a concurrent incident's services makes them candidates
// of the symptom incident: verification's own evidence ranks it above
// services whose evidence is only symptoms, food's logs (a symptom, as a
// member's would be) make it a candidate below it, and each explanation
// names the incident its evidence is from. Without concurrent incidents the
// ranking is RankCauses'.
func TestRankCausesAmongTakesConcurrentEvidence(t *testing.T) {
	g, symptoms, cause := symptomAndCauseIncidents()
	r := ConcurrentIncidentRanker{IncidentRanker: IncidentRanker{Graph: func() *Graph { return g }, Config: DefaultConfig()}}
	alone := r.RankCauses(symptoms)
	if got := names(alone); slices.Contains(got, "verification") {
		t.Fatalf("RankCauses %v names a service of another incident", got)
	}
	if got := r.RankCausesAmong(symptoms, nil); !slices.Equal(names(got), names(alone)) {
		t.Errorf("without concurrent incidents %v, want RankCauses' %v", names(got), names(alone))
	}
	causes := r.RankCausesAmong(symptoms, []*osprey.Incident{symptoms, cause})
	got := names(causes)
	food := slices.Index(got, "food")
	if len(got) != 4 || got[0] != "verification" || food < 1 {
		t.Fatalf("ranking %v, want verification first of four, food (only a log, from the concurrent incident) among them", got)
	}
	if want := "evidence from concurrent incident inc-cause"; !strings.Contains(causes[0].Explanation, want) {
		t.Errorf("explanation %q lacks %q", causes[0].Explanation, want)
	}
	if !slices.Contains(causes[0].EvidenceIDs, "verification-trace flow") {
		t.Errorf("evidence ids %v lack the concurrent member's", causes[0].EvidenceIDs)
	}
	if want := "evidence from concurrent incident inc-cause"; !strings.Contains(causes[food].Explanation, want) {
		t.Errorf("food's explanation %q lacks %q", causes[food].Explanation, want)
	}
	for _, c := range causes[1:] {
		if c.Name != "food" && strings.Contains(c.Explanation, "concurrent incident") {
			t.Errorf("%s's explanation names a concurrent incident: %q", c.Name, c.Explanation)
		}
	}
	if again := r.RankCausesAmong(symptoms, []*osprey.Incident{symptoms, cause}); !slices.EqualFunc(causes, again,
		func(a, b osprey.Cause) bool { return a.Name == b.Name && a.Explanation == b.Explanation }) {
		t.Errorf("not deterministic: %v then %v", got, names(again))
	}
}

// Hops limits the concurrent services to those within that many calls of
// the incident's, in either direction: verification is four calls from
// seat (seat<preserve<gw>auth>verification).
func TestRankCausesAmongHops(t *testing.T) {
	g, symptoms, cause := symptomAndCauseIncidents()
	for _, tc := range []struct {
		hops int
		want bool
	}{{0, true}, {3, false}, {4, true}} {
		r := ConcurrentIncidentRanker{IncidentRanker: IncidentRanker{Graph: func() *Graph { return g }, Config: DefaultConfig()},
			Hops: tc.hops}
		if got := slices.Contains(names(r.RankCausesAmong(symptoms, []*osprey.Incident{cause})), "verification"); got != tc.want {
			t.Errorf("hops %d: verification ranked %v, want %v", tc.hops, got, tc.want)
		}
	}
}

// extraEvidence is an EvidenceSource giving one piece of evidence, with
// a score above 1 (rank takes it as 1), for every incident.
type extraEvidence struct{}

func (extraEvidence) Evidence(inc *osprey.Incident) []Evidence {
	return []Evidence{{ID: "extra-" + inc.ID, Service: "extra", Kind: KindMetric, Signal: "history", Score: 1.5,
		Onset: inc.OpenedAt}}
}

// A ConcurrentBatch ranks as RankCausesAmong does, ranking after ranking
// over the same incidents (each incident's evidence read once, the
// evidence slice reused): with and without Hops and Extra, with no
// concurrent incidents, with the ranked incident and nil among them.
func TestConcurrentBatchRanksAsRankCausesAmong(t *testing.T) {
	storm := concurrentStorm(60)
	g := graph("svc0>svc1", "svc0>svc2", "svc1>svc3", "svc2>svc3", "svc3>svc4", "svc5>svc6", "svc6>svc7", "svc8>svc9")
	sg, symptoms, cause := symptomAndCauseIncidents()
	for _, tc := range []struct {
		name  string
		g     *Graph
		incs  []*osprey.Incident
		hops  int
		extra EvidenceSource
	}{
		{"storm", g, storm, 0, nil},
		{"storm hops 1", g, storm, 1, nil},
		{"storm extra", g, storm, 0, extraEvidence{}},
		{"symptom and cause", sg, []*osprey.Incident{symptoms, cause}, 0, nil},
		{"symptom and cause hops 3 extra", sg, []*osprey.Incident{symptoms, cause}, 3, extraEvidence{}},
		{"no member evidence", g, []*osprey.Incident{{ID: "empty"}, storm[0]}, 0, extraEvidence{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := ConcurrentIncidentRanker{IncidentRanker: IncidentRanker{Graph: func() *Graph { return tc.g },
				Config: DefaultConfig(), Extra: tc.extra}, Hops: tc.hops}
			b := r.Batch()
			for round := range 2 {
				for i, inc := range tc.incs {
					others := slices.Concat(tc.incs[:i], tc.incs[i+1:])
					for _, among := range [][]*osprey.Incident{others, nil, append([]*osprey.Incident{nil, inc}, others...)} {
						want := r.RankCausesAmong(inc, among)
						if got := b.RankCausesAmong(inc, among); !reflect.DeepEqual(got, want) {
							t.Fatalf("round %d, %s among %d: batch ranked\n%+v\nwant\n%+v", round, inc.ID, len(among), got, want)
						}
					}
				}
			}
		})
	}
}

func TestGraphWithin(t *testing.T) {
	g := graph("a>b", "b>c", "d>c", "c>e")
	for _, tc := range []struct {
		hops int
		want []string
	}{{0, []string{"b", "x"}}, {1, []string{"a", "b", "c", "x"}}, {2, []string{"a", "b", "c", "d", "e", "x"}}} {
		var got []string
		for s := range g.Within([]string{"b", "x", "b"}, tc.hops) {
			got = append(got, s)
		}
		slices.Sort(got)
		if !slices.Equal(got, tc.want) {
			t.Errorf("Within(b, x; %d) = %v, want %v", tc.hops, got, tc.want)
		}
	}
}

// concurrentStorm returns ten incidents of one service each with members
// members apiece (alerts, metric and log anomalies, a trace anomaly every
// 50), opened a second apart: the shape of the correlate stage's
// BenchmarkConsumeEventsLargeIncidentsConcurrentRCA.
func concurrentStorm(members int) []*osprey.Incident {
	t0 := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	incs := make([]*osprey.Incident, 10)
	for i := range incs {
		svc := "svc" + strconv.Itoa(i)
		inc := &osprey.Incident{ID: "inc-" + strconv.Itoa(i), OpenedAt: t0.Add(time.Duration(i) * time.Second)}
		for j := range members {
			m := &osprey.Member{Kind: osprey.MemberEvent, Name: "HighLatency", Severity: osprey.SeverityWarning,
				Labels: osprey.Labels{"service": svc, "pod": "p" + strconv.Itoa(j)}, FirstRef: svc + "-" + strconv.Itoa(j),
				FirstSeen: inc.OpenedAt.Add(time.Duration(j) * 10 * time.Millisecond)}
			switch {
			case j%50 == 7:
				m.Kind, m.Score = osprey.MemberAnomaly, 0.3+float64(j%7)/10
				m.Labels[osprey.LabelTraceSignal] = "flow"
			case j%10 == 3:
				m.Kind, m.Score = osprey.MemberAnomaly, 0.2+float64(j%9)/10
				m.Labels["template_id"] = "t" + strconv.Itoa(j%4)
			case j%10 == 5:
				m.Kind, m.Score = osprey.MemberAnomaly, 0.1+float64(j%8)/10
			}
			inc.Members = append(inc.Members, m)
		}
		incs[i] = inc
	}
	return incs
}

// BenchmarkRankCausesAmong ranks one incident of 500 members among nine
// concurrent ones of 500 members each, over a call graph of the ten
// services.
func BenchmarkRankCausesAmong(b *testing.B) {
	incs := concurrentStorm(500)
	g := graph("svc0>svc1", "svc0>svc2", "svc1>svc3", "svc2>svc3", "svc3>svc4", "svc5>svc6", "svc6>svc7", "svc8>svc9")
	r := ConcurrentIncidentRanker{IncidentRanker: IncidentRanker{Graph: func() *Graph { return g }, Config: DefaultConfig()}}
	b.ReportAllocs()
	for b.Loop() {
		if len(r.RankCausesAmong(incs[0], incs[1:])) != 10 {
			b.Fatal("not ten causes")
		}
	}
}

// BenchmarkRankCausesAmongTen ranks each of ten incidents of 500 members
// among the nine others, as a batch of the correlate stage in which all
// ten gained a member does: one at a time with RankCausesAmong, and in a
// ConcurrentBatch.
func BenchmarkRankCausesAmongTen(b *testing.B) {
	incs := concurrentStorm(500)
	g := graph("svc0>svc1", "svc0>svc2", "svc1>svc3", "svc2>svc3", "svc3>svc4", "svc5>svc6", "svc6>svc7", "svc8>svc9")
	r := ConcurrentIncidentRanker{IncidentRanker: IncidentRanker{Graph: func() *Graph { return g }, Config: DefaultConfig()}}
	others := make([][]*osprey.Incident, len(incs))
	for i := range incs {
		others[i] = slices.Concat(incs[:i], incs[i+1:])
	}
	for _, bc := range []struct {
		name string
		rank func() func(*osprey.Incident, []*osprey.Incident) []osprey.Cause
	}{
		{"one at a time", func() func(*osprey.Incident, []*osprey.Incident) []osprey.Cause { return r.RankCausesAmong }},
		{"batch", r.RankBatch},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				rank := bc.rank()
				for i, inc := range incs {
					if len(rank(inc, others[i])) != 10 {
						b.Fatal("not ten causes")
					}
				}
			}
		})
	}
}
