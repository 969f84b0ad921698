package rca

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
)

// extraSource is an EvidenceSource that answers with fixed evidence.
type extraSource []Evidence

func (s extraSource) Evidence(*osprey.Incident) []Evidence { return s }

// randomRanking returns a random call graph over a small pool of services,
// an incident, incidents concurrent with it (sharing services with it and
// with each other, some members without a service, repeated ids, tied
// onsets and scores, scores above 1 and below Config.MinScore, in a
// quarter of the cases onsets with monotonic clock readings, some of them
// stripped) and extra evidence observed per request.
func randomRanking(rng *rand.Rand) (*Graph, *osprey.Incident, []*osprey.Incident, []Evidence) {
	t0 := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	mono := rng.IntN(4) == 0
	if mono {
		t0 = time.Now() // onsets with monotonic clock readings, some
	}
	pool := 2 + rng.IntN(12)
	svc := func() string { return "s" + strconv.Itoa(rng.IntN(pool)) }
	g := NewGraph()
	for range rng.IntN(3 * pool) {
		g.AddCall(svc(), svc(), float64(1+rng.IntN(5)))
	}
	scores := []float64{0, 0.01, 0.05, 0.3, 0.3, 0.6, 0.85, 1, 1.5, 2}
	member := func(i int) osprey.Member {
		m := osprey.Member{Kind: osprey.MemberEvent, Name: "Alert" + strconv.Itoa(rng.IntN(3)),
			Labels:    osprey.Labels{"service": svc()},
			Severity:  []osprey.Severity{osprey.SeverityInfo, osprey.SeverityWarning, osprey.SeverityError, osprey.SeverityCritical, osprey.SeverityUnknown}[rng.IntN(5)],
			FirstRef:  "r" + strconv.Itoa(rng.IntN(40)),
			FirstSeen: t0.Add(time.Duration(rng.IntN(20)) * 5 * time.Second)}
		switch rng.IntN(7) {
		case 0:
			m.Name = "deploy"
		case 1:
			m.Kind, m.Score = osprey.MemberAnomaly, scores[rng.IntN(len(scores))]
			m.Labels[osprey.LabelTraceSignal] = []string{"flow", "latency"}[rng.IntN(2)]
		case 2:
			m.Kind, m.Score = osprey.MemberAnomaly, scores[rng.IntN(len(scores))]
			m.Labels["template_id"] = "t1"
		case 3:
			m.Kind, m.Score = osprey.MemberAnomaly, scores[rng.IntN(len(scores))]
		case 4:
			if rng.IntN(3) == 0 {
				delete(m.Labels, "service")
			}
		}
		if rng.IntN(10) == 0 {
			m.FirstRef = ""
		}
		if mono && rng.IntN(3) == 0 {
			m.FirstSeen = m.FirstSeen.Round(0) // without its monotonic reading
		}
		return m
	}
	incident := func(i int) *osprey.Incident {
		inc := &osprey.Incident{ID: "inc-" + strconv.Itoa(i), OpenedAt: t0.Add(time.Duration(i) * time.Second)}
		for j := range rng.IntN(30) {
			inc.Members = append(inc.Members, member(j))
		}
		return inc
	}
	inc := incident(0)
	var concurrent []*osprey.Incident
	for i := range rng.IntN(6) {
		concurrent = append(concurrent, incident(i+1))
	}
	if len(concurrent) > 0 && rng.IntN(4) == 0 {
		concurrent = append(concurrent, inc, nil) // itself and nil are skipped
	}
	var extra []Evidence
	for range rng.IntN(4) {
		e := Evidence{ID: "x" + strconv.Itoa(rng.IntN(5)), Service: svc(), Kind: []Kind{KindMetric, KindLatency, KindFlow}[rng.IntN(3)],
			Signal: "history", Score: scores[rng.IntN(len(scores))], Onset: t0.Add(time.Duration(rng.IntN(20)) * 5 * time.Second),
			Own: rng.IntN(2) == 0}
		if rng.IntN(2) == 0 {
			e.Requests = 1 + rng.IntN(4)
			e.Along = map[string]int{svc(): rng.IntN(5), svc(): rng.IntN(5)}
		}
		if rng.IntN(5) == 0 {
			e.Score = math.NaN()
		}
		extra = append(extra, e)
	}
	return g, inc, concurrent, extra
}

// randomConfig returns the defaults or a random variation of them.
func randomConfig(rng *rand.Rand) Config {
	cfg := DefaultConfig()
	if rng.IntN(2) == 0 {
		return cfg
	}
	cfg.StayOwn = rng.IntN(2) == 0
	cfg.Joint = rng.IntN(2) == 0
	cfg.OwnExplains = rng.IntN(2) == 0
	cfg.Symptom = []float64{0, 0.25, 0.5, 1}[rng.IntN(4)]
	cfg.MinScore = []float64{0, 0.05, 0.5}[rng.IntN(3)]
	return cfg
}

// sameCausesDiff returns "" when got and want are equal, else the first
// difference.
func sameCausesDiff(got, want []osprey.Cause) string {
	if len(got) != len(want) || (got == nil) != (want == nil) {
		return fmt.Sprintf("%d causes (nil %v), want %d (nil %v)", len(got), got == nil, len(want), want == nil)
	}
	for i := range got {
		g, w := got[i], want[i]
		// NaN scores (no evidence of any weight) are equal here.
		same := math.Float64bits(g.Score) == math.Float64bits(w.Score) || math.IsNaN(g.Score) && math.IsNaN(w.Score)
		g.Score, w.Score = 0, 0
		if !same || !reflect.DeepEqual(g, w) {
			return fmt.Sprintf("cause %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
	return ""
}

// The ranker ranks random incidents among random concurrent ones exactly
// as the ranker of commit 8eef1e7 did (ref_test.go): the same causes,
// scores, explanations and evidence ids, for RankCausesAmong, RankCauses
// and Rank.
func TestRankMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	for i := range 3000 {
		g, inc, concurrent, extra := randomRanking(rng)
		r := ConcurrentIncidentRanker{IncidentRanker: IncidentRanker{Graph: func() *Graph { return g }, Config: randomConfig(rng)},
			Hops: rng.IntN(3)}
		if len(extra) > 0 {
			r.Extra = extraSource(extra)
		}
		if d := sameCausesDiff(r.RankCausesAmong(inc, concurrent), r.refRankCausesAmong(inc, concurrent)); d != "" {
			t.Fatalf("case %d: RankCausesAmong %s", i, d)
		}
		if d := sameCausesDiff(r.RankCauses(inc), refRankCauses(r.IncidentRanker, inc)); d != "" {
			t.Fatalf("case %d: RankCauses %s", i, d)
		}
		ev := r.memberEvidence(inc, 0)
		ev = append(ev, extra...)
		if d := sameCausesDiff(Rank(g, ev, r.Config), refRank(g, ev, r.Config)); d != "" {
			t.Fatalf("case %d: Rank %s", i, d)
		}
	}
}

// The storm of BenchmarkRankCausesAmong ranks as the reference does.
func TestRankCausesAmongStormMatchesReference(t *testing.T) {
	incs := concurrentStorm(120)
	g := graph("svc0>svc1", "svc0>svc2", "svc1>svc3", "svc2>svc3", "svc3>svc4", "svc5>svc6", "svc6>svc7", "svc8>svc9")
	r := ConcurrentIncidentRanker{IncidentRanker: IncidentRanker{Graph: func() *Graph { return g }, Config: DefaultConfig()}}
	for i := range incs {
		others := append(append([]*osprey.Incident{}, incs[:i]...), incs[i+1:]...)
		if d := sameCausesDiff(r.RankCausesAmong(incs[i], others), r.refRankCausesAmong(incs[i], others)); d != "" {
			t.Fatalf("incident %d: %s", i, d)
		}
	}
}
