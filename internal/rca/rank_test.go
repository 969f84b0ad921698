package rca

import (
	"cmp"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var t0 = time.Date(2023, 1, 29, 10, 2, 0, 0, time.UTC)

func at(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }

func ev(svc string, kind Kind, signal string, score float64, sec int) Evidence {
	return Evidence{ID: svc + "/" + signal, Service: svc, Kind: kind, Signal: signal, Score: score, Onset: at(sec)}
}

// graph builds a graph from "caller>callee" pairs with weight 1.
func graph(edges ...string) *Graph {
	g := NewGraph()
	for _, e := range edges {
		for i := 0; i < len(e); i++ {
			if e[i] == '>' {
				g.AddCall(e[:i], e[i+1:], 1)
			}
		}
	}
	return g
}

type rankCase struct {
	name     string
	graph    *Graph
	evidence []Evidence
	want     []string // expected order (a prefix of the ranking)
}

func rankCases() []rankCase {
	return []rankCase{
		{
			// front → api → db: the db fails first, its callers follow.
			name:  "chain",
			graph: graph("front>api", "api>db"),
			evidence: []Evidence{
				ev("front", KindMetric, "latency p99", 0.9, 40),
				ev("api", KindLatency, "GET /orders", 0.8, 20),
				ev("db", KindMetric, "cpu", 0.7, 0),
			},
			want: []string{"db", "api", "front"},
		},
		{
			// three callers of one callee: the callee is the common cause.
			name:  "fan-in",
			graph: graph("a>shared", "b>shared", "c>shared"),
			evidence: []Evidence{
				ev("a", KindLog, "new template", 0.8, 10),
				ev("b", KindLog, "new template", 0.8, 12),
				ev("c", KindLog, "new template", 0.8, 11),
				ev("shared", KindError, "call pattern broken", 0.6, 0),
			},
			want: []string{"shared"},
		},
		{
			// one caller of three callees, only one of them anomalous,
			// and more so than the caller.
			name:  "fan-out",
			graph: graph("gw>x", "gw>y", "gw>z"),
			evidence: []Evidence{
				ev("gw", KindMetric, "success rate", 0.6, 5),
				ev("y", KindLatency, "GET /y", 0.8, 0),
			},
			want: []string{"y", "gw"},
		},
		{
			// a strongly anomalous service whose callee is weaker, later,
			// and also called by other weakly anomalous services: the
			// callee's anomaly does not explain the caller's, so the
			// caller keeps its mass (Config.StayOwn) rather than draining
			// into the shared callee.
			name:  "strong caller weak shared callee",
			graph: graph("a>b", "c>b", "d>b", "a>e"),
			evidence: []Evidence{
				ev("a", KindFlow, "sequence broken", 0.8, 0),
				ev("b", KindMetric, "cpu", 0.4, 150),
				ev("c", KindFlow, "sequence broken", 0.4, 100),
				ev("d", KindFlow, "sequence broken", 0.4, 100),
				ev("e", KindMetric, "memory", 0.25, 150),
			},
			want: []string{"a"},
		},
		{
			// a strongly anomalous service with no relation to the
			// incident's services ranks after the connected cause only
			// when the cause has callers confirming it.
			name:  "noisy unrelated service",
			graph: graph("front>api", "api>db", "batch>store"),
			evidence: []Evidence{
				ev("front", KindMetric, "latency p99", 0.6, 30),
				ev("api", KindMetric, "latency p99", 0.6, 15),
				ev("db", KindLog, "log sequence broken", 0.7, 0),
				ev("db", KindLatency, "SELECT", 0.5, 2),
				ev("batch", KindMetric, "network bytes", 0.8, 60),
			},
			want: []string{"db"},
		},
		{
			// a hub caller's logs and metrics, and a trace anomaly of
			// one of its callees' own that began first (the serve path's
			// evidence): the callee explains the caller
			// (Config.OwnExplains), whose symptoms weigh less at the
			// start (Config.Symptom).
			name:  "own trace callee explains caller",
			graph: graph("seat>contacts", "seat>config", "seat>order", "gw>seat"),
			evidence: []Evidence{
				ev("seat", KindLog, "new template", 0.85, 20),
				ev("seat", KindMetric, "PodLatencyP90", 0.85, 25),
				ev("gw", KindMetric, "PodLatencyP90", 0.6, 30),
				{ID: "contacts/flow", Service: "contacts", Kind: KindFlow, Signal: "span without its log line", Score: 0.6, Onset: at(0), Own: true},
			},
			want: []string{"contacts", "seat"},
		},
		{
			// A symptom incident's siblings (seat, order) and, from a
			// concurrent incident (IncidentRanker.RankCausesAmong), the
			// own trace anomaly of a service the graph does not connect
			// to them: it starts with its whole strength, their logs
			// and metrics with a quarter, and its explanation names the
			// incident.
			name:  "concurrent incident own evidence",
			graph: graph("preserve>seat", "preserve>order", "gw>preserve", "gw>auth", "auth>verification"),
			evidence: []Evidence{
				ev("seat", KindLog, "new template", 0.85, 20),
				ev("seat", KindMetric, "PodLatencyP90", 0.85, 25),
				ev("order", KindLog, "new template", 0.85, 22),
				{ID: "verification/flow", Service: "verification", Kind: KindFlow, Signal: "span without its log line", Score: 0.6,
					Onset: at(0), Own: true, Incident: "inc-2"},
			},
			want: []string{"verification", "seat", "order"},
		},
		{
			// evidence below MinScore does not make a candidate.
			name:  "weak evidence ignored",
			graph: graph("a>b"),
			evidence: []Evidence{
				ev("a", KindMetric, "cpu", 0.6, 0),
				ev("b", KindMetric, "cpu", 0.01, 0),
			},
			want: []string{"a"},
		},
		{
			// services unknown to the graph rank on their evidence.
			name:  "no graph",
			graph: nil,
			evidence: []Evidence{
				ev("a", KindMetric, "cpu", 0.5, 0),
				ev("b", KindMetric, "cpu", 0.9, 0),
				ev("b", KindLog, "new template", 0.5, 1),
			},
			want: []string{"b", "a"},
		},
	}
}

func names(cs []osprey.Cause) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Name
	}
	return out
}

func TestRank(t *testing.T) {
	for _, tc := range rankCases() {
		t.Run(tc.name, func(t *testing.T) {
			got := names(Rank(tc.graph, tc.evidence, DefaultConfig()))
			if len(got) < len(tc.want) || !slices.Equal(got[:len(tc.want)], tc.want) {
				t.Fatalf("ranking %v, want it to start with %v", got, tc.want)
			}
		})
	}
}

// TestStayOwnMatters checks that the "strong caller weak shared callee"
// case is one the older rule (stay only in proportion to the strength no
// callee reaches) gets wrong, so that the table case tests StayOwn.
func TestStayOwnMatters(t *testing.T) {
	for _, tc := range rankCases() {
		if tc.name != "strong caller weak shared callee" {
			continue
		}
		cfg := DefaultConfig()
		cfg.StayOwn = false
		if got := names(Rank(tc.graph, tc.evidence, cfg)); got[0] == "a" {
			t.Fatalf("without StayOwn the ranking %v also starts with a", got)
		}
		return
	}
	t.Fatal("case not found")
}

func TestRankEmpty(t *testing.T) {
	if got := Rank(NewGraph(), nil, DefaultConfig()); got != nil {
		t.Fatalf("Rank of no evidence = %v, want nil", got)
	}
}

// TestRankDeterministic checks that neither the order of the evidence, nor
// the order the graph was built in, nor map iteration changes the result,
// ties included: symmetric services (a and b, e and f) tie on walk score,
// strength and onset and must come out by name; services with several
// kinds and hub edges exercise the noisy-or product and the edge shares,
// whose floating-point results depend on summation order.
func TestRankDeterministic(t *testing.T) {
	// Uneven call counts: their shares are sums whose rounding depends on
	// the order of the terms.
	edges := []string{"a>c", "b>c", "a>d", "b>d", "a>x", "b>x", "c>g", "d>g", "h>c", "h>d", "h>g"}
	weight := map[string]float64{"a>c": 0.1, "b>c": 0.1, "a>d": 0.2, "b>d": 0.2, "a>x": 0.7, "b>x": 0.7}
	build := func(es []string) *Graph {
		g := NewGraph()
		for _, e := range es {
			w := cmp.Or(weight[e], 1)
			g.AddCall(e[:1], e[2:], w)
		}
		return g
	}
	evs := []Evidence{
		ev("a", KindMetric, "cpu", 0.1, 0),
		ev("a", KindLog, "x", 0.2, 0),
		ev("a", KindLatency, "GET /a", 0.7, 0),
		ev("b", KindMetric, "cpu", 0.1, 0),
		ev("b", KindLog, "x", 0.2, 0),
		ev("b", KindLatency, "GET /b", 0.7, 0),
		ev("x", KindLog, "y", 0.3, 0),
		ev("c", KindLog, "x", 0.3, 0),
		ev("c", KindLatency, "GET /c", 0.7, 0),
		ev("c", KindError, "broken", 0.1, 0),
		ev("c", KindMetric, "mem", 0.9, 0),
		ev("d", KindLog, "x", 0.3, 0),
		ev("d", KindLatency, "GET /d", 0.7, 0),
		ev("d", KindError, "broken", 0.1, 0),
		ev("d", KindMetric, "mem", 0.9, 0),
		ev("e", KindLog, "x", 0.5, 0),
		ev("f", KindLog, "x", 0.5, 0),
		ev("g", KindLog, "y", 0.2, 3),
		ev("g", KindLog, "z", 0.2, 3),
		ev("h", KindChange, "deploy", 0.4, -5),
	}
	want, _ := json.Marshal(Rank(build(edges), evs, DefaultConfig()))
	wantNames := names(Rank(build(edges), evs, DefaultConfig()))
	if i, j := slices.Index(wantNames, "a"), slices.Index(wantNames, "b"); j != i+1 {
		t.Fatalf("tied services a and b not adjacent in name order: %v", wantNames)
	}
	if i, j := slices.Index(wantNames, "e"), slices.Index(wantNames, "f"); j != i+1 {
		t.Fatalf("tied services e and f not adjacent in name order: %v", wantNames)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 200 {
		perm := slices.Clone(evs)
		rng.Shuffle(len(perm), func(a, b int) { perm[a], perm[b] = perm[b], perm[a] })
		es := slices.Clone(edges)
		rng.Shuffle(len(es), func(a, b int) { es[a], es[b] = es[b], es[a] })
		got, _ := json.Marshal(Rank(build(es), perm, DefaultConfig()))
		if string(got) != string(want) {
			t.Fatalf("round %d: ranking changed:\n%s\nwant\n%s", i, got, want)
		}
	}
}

func TestFromAnomaly(t *testing.T) {
	a := osprey.Anomaly{ID: "01H", Kind: osprey.AnomalyMetric, Score: 0.7, StartsAt: at(0),
		Labels: osprey.Labels{osprey.LabelService: "api", osprey.LabelMetric: "cpu"}}
	e, ok := FromAnomaly(&a, "")
	if !ok || e.Service != "api" || e.Kind != KindMetric || e.Signal != "cpu" || e.ID != "01H" || e.Score != 0.7 {
		t.Fatalf("FromAnomaly = %+v, %v", e, ok)
	}
	a.Labels = osprey.Labels{"app": "x"}
	if _, ok := FromAnomaly(&a, ""); ok {
		t.Fatal("an anomaly without a service label became evidence")
	}
	a.Kind, a.TemplateID = osprey.AnomalyLog, "T1"
	if e, ok := FromAnomaly(&a, "app"); !ok || e.Kind != KindLog || e.Service != "x" {
		t.Fatalf("FromAnomaly(log, app) = %+v, %v", e, ok)
	}
}

// TestGolden pins the explanations and evidence ids of every table case.
// Run with -update to rewrite testdata/*.golden.json after a deliberate
// change, and review the diff.
func TestGolden(t *testing.T) {
	for _, tc := range rankCases() {
		t.Run(tc.name, func(t *testing.T) {
			got, err := json.MarshalIndent(Rank(tc.graph, tc.evidence, DefaultConfig()), "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			path := filepath.Join("testdata", slug(tc.name)+".golden.json")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/rca -run TestGolden -update)", err)
			}
			if string(got) != string(want) {
				t.Errorf("%s differs from the ranking:\n%s", path, got)
			}
		})
	}
}

func slug(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c == ' ' {
			b[i] = '-'
		}
	}
	return string(b)
}

func TestGraph(t *testing.T) {
	g := graph("a>b", "a>c", "b>c", "c>c")
	g.AddCall("a", "b", 2)
	if got := g.Services(); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("Services = %v", got)
	}
	if got := g.Callers("c"); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("Callers(c) = %v", got)
	}
	if g.Weight("a", "b") != 3 || g.Edges() != 3 || g.Weight("c", "c") != 0 {
		t.Fatalf("weights: a>b %v, edges %d", g.Weight("a", "b"), g.Edges())
	}
}

// TestFlowIsOneModality checks that a break seen by logs and by traces
// counts once (the strongest), while two different kinds combine by
// noisy-or.
func TestFlowIsOneModality(t *testing.T) {
	cs := Rank(nil, []Evidence{
		ev("a", KindFlow, "log sequence broken", 0.6, 0),
		ev("a", KindFlow, "span pattern broken", 0.6, 0),
		ev("b", KindFlow, "log sequence broken", 0.6, 0),
		ev("b", KindLatency, "GET /b", 0.6, 0),
	}, DefaultConfig())
	want := map[string]string{"a": "strength 0.60", "b": "strength 0.84"}
	for _, c := range cs {
		if !strings.Contains(c.Explanation, want[c.Name]) {
			t.Errorf("%s: %q lacks %q", c.Name, c.Explanation, want[c.Name])
		}
	}
	if !strings.Contains(cs[1].Explanation, "broken flow: log sequence broken") {
		t.Errorf("explanation %q does not name the flow kind", cs[1].Explanation)
	}
}

// TestJointCallee: a caller and its earlier callee are both anomalous. When
// the callee was anomalous in none of the caller's failing requests, the
// callee does not explain the caller and the caller ranks first; when it
// was anomalous in all of them, the callee does; without request-level
// evidence on both sides (or with Joint off) the walk is as before.
func TestJointCallee(t *testing.T) {
	g := graph("front>food", "food>travel")
	mk := func(along, callerReqs, calleeReqs int) []Evidence {
		food := ev("food", KindFlow, "HTTP GET without log #243", 0.76, 115)
		food.Requests, food.Along = callerReqs, map[string]int{"travel": along}
		travel := ev("travel", KindFlow, "findAll without log #451", 0.64, 0)
		travel.Requests = calleeReqs
		return []Evidence{food, travel}
	}
	off := DefaultConfig()
	off.Joint = false
	for _, tc := range []struct {
		name     string
		evidence []Evidence
		cfg      Config
		want     string
	}{
		{"callee absent from the caller's failing requests", mk(0, 7, 19), DefaultConfig(), "food"},
		{"callee failing in every failing request", mk(7, 7, 19), DefaultConfig(), "travel"},
		{"joint off", mk(0, 7, 19), off, "travel"},
		{"callee without request-level evidence", mk(0, 7, 0), DefaultConfig(), "travel"},
		{"caller without request-level evidence", mk(0, 0, 19), DefaultConfig(), "travel"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			causes := Rank(g, tc.evidence, tc.cfg)
			if got := names(causes); got[0] != tc.want {
				t.Errorf("ranking %v, want %s first", got, tc.want)
			}
			for _, c := range causes {
				if c.Name == "food" && tc.evidence[1].Requests > 0 && tc.evidence[0].Requests > 0 &&
					!strings.Contains(c.Explanation, fmt.Sprintf("travel 0.64 (in %d of its 7 anomalous requests)", tc.evidence[0].Along["travel"])) {
					t.Errorf("explanation does not give the joint share: %s", c.Explanation)
				}
			}
		})
	}
}

// BenchmarkRank ranks an incident of 40 anomalous services (own trace
// evidence on a quarter of them, logs and metrics on all) over a layered
// call graph of 100 services, the size of a large microservice incident.
func BenchmarkRank(b *testing.B) {
	g := NewGraph()
	svc := func(i int) string { return "svc-" + strconv.Itoa(i) }
	for i := range 100 {
		for k := 1; k <= 3; k++ {
			if j := i*3 + k; j < 100 {
				g.AddCall(svc(i), svc(j), float64(10+i%7))
			}
		}
	}
	var evidence []Evidence
	for i := 0; i < 80; i += 2 {
		evidence = append(evidence,
			ev(svc(i), KindLog, "new template", 0.6, i),
			ev(svc(i), KindMetric, "latency", 0.5+float64(i%5)/10, i+3))
		if i%8 == 0 {
			evidence = append(evidence, own(ev(svc(i), KindFlow, "broken span", 0.3+float64(i%3)/5, i+1)))
		}
	}
	cfg := DefaultConfig()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if len(Rank(g, evidence, cfg)) == 0 {
			b.Fatal("no causes")
		}
	}
}

// A cause lists its MaxEvidenceIDs strongest evidence ids, strongest
// first; the explanation counts the rest.
func TestEvidenceIDsCapped(t *testing.T) {
	var evidence []Evidence
	for i := range MaxEvidenceIDs + 10 {
		e := ev("chatty", KindLog, "template "+strconv.Itoa(i), 0.5+float64(i)/100, i)
		evidence = append(evidence, e)
	}
	causes := Rank(graph(), evidence, DefaultConfig())
	if len(causes) != 1 {
		t.Fatalf("causes = %+v", causes)
	}
	ids := causes[0].EvidenceIDs
	if len(ids) != MaxEvidenceIDs || ids[0] != "chatty/template "+strconv.Itoa(MaxEvidenceIDs+9) {
		t.Errorf("%d ids, first %q; want %d, the strongest first", len(ids), ids[0], MaxEvidenceIDs)
	}
	if !strings.Contains(causes[0].Explanation, "and 29 more anomalies") {
		t.Errorf("explanation does not count the rest: %s", causes[0].Explanation)
	}
}

// An entry point's critical alert and its callee's metric anomaly: the
// alert is where users see the problem, the anomaly where something
// changed, and the callee ranks first (Config.SymptomAlerts). With alerts
// only, they weigh as before.
func TestAlertsWeighAsSymptoms(t *testing.T) {
	g := NewGraph()
	for _, c := range []string{"db", "cache", "search", "auth"} {
		g.AddCall("frontend", c, 1)
	}
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ev := []Evidence{
		{ID: "a1", Service: "frontend", Kind: KindAlert, Signal: "FrontendLatency", Score: 1, Onset: at},
		{ID: "m1", Service: "db", Kind: KindMetric, Signal: "query_seconds", Score: 0.8, Onset: at.Add(-time.Minute)},
	}
	cfg := DefaultConfig()
	if got := names(Rank(g, ev, cfg)); !slices.Equal(got, []string{"db", "frontend"}) {
		t.Errorf("with SymptomAlerts: %v, want db first", got)
	}
	cfg.SymptomAlerts = false
	if got := names(Rank(g, ev, cfg)); !slices.Equal(got, []string{"frontend", "db"}) {
		t.Errorf("without SymptomAlerts: %v, want frontend first (the check that the test can fail)", got)
	}
	// Alerts only: weighed alike, as before.
	alerts := []Evidence{ev[0], {ID: "a2", Service: "db", Kind: KindAlert, Signal: "DBSlow", Score: 0.6, Onset: at}}
	if got := names(Rank(g, alerts, DefaultConfig())); !slices.Equal(got, names(Rank(g, alerts, cfg))) {
		t.Errorf("alerts only: %v with SymptomAlerts, %v without", got, names(Rank(g, alerts, cfg)))
	}
}

// TestAlertsWithOtherEvidence: a service's alert adds nothing when the
// service has other evidence (its comparison with the normal period, an
// anomaly), and its onset is that evidence's; alone, an alert still
// weighs Symptom.
func TestAlertsWithOtherEvidence(t *testing.T) {
	g := NewGraph()
	for _, c := range []string{"db", "cache", "search", "auth"} {
		g.AddCall("frontend", c, 1)
	}
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	// The alert fires before the 5-minute sample in which both metrics
	// changed; db's change is as strong as frontend's and explains it.
	ev := []Evidence{
		{ID: "a1", Service: "frontend", Kind: KindAlert, Signal: "FrontendLatency", Score: 1, Onset: at.Add(-3 * time.Minute)},
		{Service: "frontend", Kind: KindMetric, Signal: "latency", Score: 0.45, Onset: at},
		{Service: "db", Kind: KindMetric, Signal: "query_seconds", Score: 0.5, Onset: at},
	}
	cs := Rank(g, ev, DefaultConfig())
	if len(cs) != 2 || cs[0].Name != "db" {
		t.Fatalf("ranking %v, want db first", names(cs))
	}
	fe := cs[1].Explanation
	for _, want := range []string{"strength 0.45 (its alerts not counted", "earliest anomaly"} {
		if !strings.Contains(fe, want) {
			t.Errorf("frontend's explanation lacks %q: %s", want, fe)
		}
	}
	if !strings.Contains(cs[0].Explanation, "(with its first anomalous caller)") {
		t.Errorf("db's onset is not its caller's metric's: %s", cs[0].Explanation)
	}
	// Without SymptomAlerts the alert counts in full (the check that the
	// test can fail).
	cfg := DefaultConfig()
	cfg.SymptomAlerts = false
	if cs := Rank(g, ev, cfg); cs[0].Name != "frontend" {
		t.Errorf("without SymptomAlerts: %v, want frontend first", names(cs))
	}
	// An alert of a service without other evidence weighs Symptom.
	ev[1].Service = "cache"
	cs = Rank(g, ev, DefaultConfig())
	for _, c := range cs {
		if c.Name == "frontend" && !strings.Contains(c.Explanation, "strength 0.25 (its alerts weighed 0.25 as symptoms)") {
			t.Errorf("frontend with its alert alone: %s", c.Explanation)
		}
	}
}

// TestDeclaredCallsShareAmongAnomalous checks Config.DeclaredToAnomalous:
// an entry point declares calls to twelve services and one of them
// changed. Its declared calls go to that one alone, so it ranks above the
// slightly stronger entry point; with the calls' weights observed, or
// without the rule, its share is 1/12 and the entry point keeps its mass.
func TestDeclaredCallsShareAmongAnomalous(t *testing.T) {
	build := func(add func(g *Graph, caller, callee string, w float64)) *Graph {
		g := NewGraph()
		for i := range 12 {
			add(g, "entry", fmt.Sprintf("svc%02d", i), 1)
		}
		return g
	}
	declared := build((*Graph).AddDeclaredCall)
	observed := build((*Graph).AddCall)
	evs := []Evidence{
		ev("entry", KindMetric, "latency", 0.6, 0),
		ev("svc05", KindMetric, "latency", 0.5, 0),
	}
	if cs := Rank(declared, evs, DefaultConfig()); cs[0].Name != "svc05" {
		t.Errorf("declared calls: ranking %v, want svc05 first", names(cs))
	}
	off := DefaultConfig()
	off.DeclaredToAnomalous = false
	if cs := Rank(declared, evs, off); cs[0].Name != "entry" {
		t.Errorf("declared calls without DeclaredToAnomalous: ranking %v, want entry first", names(cs))
	}
	if cs := Rank(observed, evs, DefaultConfig()); cs[0].Name != "entry" {
		t.Errorf("observed calls: ranking %v, want entry first (shares kept)", names(cs))
	}

	// A caller with observed calls and declared ones: the declared ones'
	// share (2 of 12) goes to its anomalous declared callee, the observed
	// ones keep theirs, so the walk is that of a graph with the declared
	// share moved onto that callee.
	mixed := NewGraph()
	moved := NewGraph()
	for i := range 10 {
		mixed.AddCall("entry", fmt.Sprintf("svc%02d", i), 1)
		moved.AddCall("entry", fmt.Sprintf("svc%02d", i), 1)
	}
	mixed.AddDeclaredCall("entry", "svc10", 1)
	mixed.AddDeclaredCall("entry", "svc11", 1)
	moved.AddCall("entry", "svc10", 2)
	ev2 := append(slices.Clone(evs), ev("svc10", KindMetric, "errors", 0.5, 0))
	got, want := Rank(mixed, ev2, DefaultConfig()), Rank(moved, ev2, DefaultConfig())
	for i := range want {
		if got[i].Name != want[i].Name || math.Abs(got[i].Score-want[i].Score) > 1e-6 {
			t.Fatalf("mixed caller: %v, want %v", got, want)
		}
	}
}

func TestDeclaredEdges(t *testing.T) {
	g := NewGraph()
	g.AddDeclaredCall("a", "b", 1)
	g.AddCall("a", "c", 1)
	g.AddDeclaredCall("a", "c", 1) // observed already: stays observed
	g.AddDeclaredCall("a", "d", 0) // no weight: no edge
	if !g.Declared("a", "b") || g.Declared("a", "c") || g.Declared("a", "d") || g.Declared("x", "y") {
		t.Fatalf("declared: a>b %v a>c %v a>d %v", g.Declared("a", "b"), g.Declared("a", "c"), g.Declared("a", "d"))
	}
	if g.Weight("a", "c") != 2 {
		t.Fatalf("a>c weighs %v, want 2", g.Weight("a", "c"))
	}
	g.AddCall("a", "b", 1) // an observed weight: declared no more
	if g.Declared("a", "b") {
		t.Fatal("a>b still declared after an observed weight")
	}
}
