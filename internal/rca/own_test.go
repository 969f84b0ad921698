package rca

import (
	"slices"
	"strings"
	"testing"

	"github.com/osprey-aiops/osprey"
)

// own marks evidence as the service's own (a trace detect stage anomaly).
func own(e Evidence) Evidence {
	e.Own = true
	return e
}

// callerSymptoms is the serve-path shape: a hub caller with strong log and
// metric anomalies (the errors it logs and the latency it shows because a
// callee failed), and the callee, one of its many callees, with a weaker
// trace-level anomaly of its own that began first.
func callerSymptoms() (*Graph, []Evidence) {
	g := graph("seat>contacts", "seat>config", "seat>order", "seat>price", "seat>route", "gw>seat")
	return g, []Evidence{
		ev("seat", KindLog, "new template: call to contacts failed", 0.85, 20),
		ev("seat", KindMetric, "PodLatencyP90", 0.85, 25),
		own(ev("contacts", KindFlow, "span without its log line", 0.6, 0)),
	}
}

// A callee's own trace anomaly that began no later than its caller's first
// anomaly explains the caller's logs and metrics (Config.OwnExplains): the
// callee ranks first. Without the rule the caller's symptoms still weigh
// only Symptom of their strength in what the caller keeps, and the callee
// ranks first too; weighed alike (Symptom 1) and without the rule, the
// caller's symptoms outweigh it.
func TestOwnEvidenceRanksTheCalleeFirst(t *testing.T) {
	g, evidence := callerSymptoms()
	off := DefaultConfig()
	off.OwnExplains = false
	alike := off
	alike.Symptom = 1
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"defaults", DefaultConfig(), "contacts"},
		{"own explains off", off, "contacts"},
		{"own explains off, symptoms weighed alike", alike, "seat"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := names(Rank(g, evidence, tc.cfg)); got[0] != tc.want {
				t.Errorf("ranking %v, want %s first", got, tc.want)
			}
		})
	}
}

// A caller whose own spans broke (it stopped making its calls) and a callee
// that only shows symptoms — its client latency and error logs, what fewer
// or failed calls from the caller make it show — with higher strength. The
// callee's symptoms weigh Symptom of their strength in the step from the
// caller too, not only at the start: they do not explain the caller's own
// break, and the caller ranks first. Weighed alike, the walk hands the
// caller's mass to the callee.
func TestSymptomsDoNotExplainACallersOwnBreak(t *testing.T) {
	g := graph("gw>travel", "travel>seat", "travel>basic")
	evidence := []Evidence{
		own(ev("travel", KindFlow, "span without its call to seat", 0.6, 0)),
		ev("seat", KindMetric, "PodClientLatencyP90", 1, 90),
		ev("seat", KindLog, "new template: request failed", 0.6, 1),
		ev("basic", KindMetric, "CpuUsage", 1, 200),
	}
	if got := names(Rank(g, evidence, DefaultConfig())); got[0] != "travel" {
		t.Errorf("ranking %v, want travel first", got)
	}
	alike := DefaultConfig()
	alike.Symptom = 1
	if got := names(Rank(g, evidence, alike)); got[0] == "travel" {
		t.Errorf("with Symptom 1, ranking %v, want a callee first (the rule is what ranks travel first)", got)
	}
}

// Two services of one incident without an edge between them (siblings
// under a caller that shows nothing): one with strong logs and metrics,
// the other with a weaker trace anomaly of its own. Logs and metrics are
// what a service also shows when something it depends on fails, its own
// trace anomaly is not: where the walk starts they weigh Symptom (0.25)
// of their strength, and the service with its own anomaly ranks first;
// weighed alike (Symptom 1), the strength decides.
func TestSymptomWeighsTheStart(t *testing.T) {
	g := graph("preserve>seat", "preserve>contacts")
	evidence := []Evidence{
		ev("seat", KindLog, "new template: order failed", 0.85, 0),
		ev("seat", KindMetric, "PodLatencyP90", 0.85, 5),
		own(ev("contacts", KindFlow, "span without its log line", 0.6, 10)),
	}
	alike := DefaultConfig()
	alike.Symptom = 1
	if got := names(Rank(g, evidence, DefaultConfig())); got[0] != "contacts" {
		t.Errorf("ranking %v, want contacts first", got)
	}
	if got := names(Rank(g, evidence, alike)); got[0] != "seat" {
		t.Errorf("with Symptom 1, ranking %v, want seat first", got)
	}
	for _, c := range Rank(g, evidence, DefaultConfig()) {
		if c.Name == "seat" && !strings.Contains(c.Explanation, "strength 0.98, its own (trace or change) 0.00, the rest weighed 0.25 at the start") {
			t.Errorf("explanation does not say what the start weighed: %s", c.Explanation)
		}
	}
}

// The callee explains its caller only if its own anomaly began no later
// than the caller's first anomaly (within OnsetSlack), only with its own
// evidence (a callee's logs do not), and not against per-request evidence
// (Joint decides there).
func TestOwnExplainsOnlyAnEarlierOwnAnomaly(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Symptom = 1 // the walk's rule alone
	explained := func(g *Graph, evidence []Evidence) bool {
		for _, c := range Rank(g, evidence, cfg) {
			if c.Name == "seat" {
				return strings.Contains(c.Explanation, "can explain seat's other anomalies")
			}
		}
		t.Fatal("seat not ranked")
		return false
	}
	g, evidence := callerSymptoms()
	if !explained(g, evidence) {
		t.Errorf("an earlier own callee anomaly does not explain the caller: %v", Rank(g, evidence, cfg))
	}
	late := slices.Clone(evidence)
	late[2].Onset = at(20 + 31)
	if explained(g, late) {
		t.Error("a callee anomaly 31s after the caller's first explains it")
	}
	slack := slices.Clone(evidence)
	slack[2].Onset = at(20 + 30)
	if !explained(g, slack) {
		t.Error("a callee anomaly within OnsetSlack of the caller's first does not explain it")
	}
	notOwn := slices.Clone(evidence)
	notOwn[2].Own = false
	if explained(g, notOwn) {
		t.Error("a callee's evidence that is not its own explains the caller")
	}
	joint := slices.Clone(evidence)
	joint[0].Requests, joint[0].Along = 5, map[string]int{}
	joint[2].Requests = 3
	if explained(g, joint) {
		t.Error("a callee absent from the caller's failing requests explains it")
	}
	// The caller's own trace anomaly stays its own: it keeps that much.
	withOwn := append(slices.Clone(evidence), own(ev("seat", KindLatency, "self time", 0.5, 21)))
	for _, c := range Rank(g, withOwn, cfg) {
		if c.Name == "seat" && !strings.Contains(c.Explanation, "can explain seat's other anomalies, not its own (0.50)") {
			t.Errorf("explanation does not keep the caller's own anomaly: %s", c.Explanation)
		}
	}
}

// Evidence without any Own (the harness's, PetShop's, an alert stream's)
// ranks exactly as before: the start is the strength whatever Symptom is,
// and no callee explains a caller.
func TestNoOwnEvidenceRanksAsBefore(t *testing.T) {
	before := DefaultConfig()
	before.OwnExplains, before.Symptom = false, 1
	for _, tc := range rankCases() {
		if slices.ContainsFunc(tc.evidence, func(e Evidence) bool { return e.Own }) {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			a, b := Rank(tc.graph, tc.evidence, DefaultConfig()), Rank(tc.graph, tc.evidence, before)
			if !slices.EqualFunc(a, b, func(x, y osprey.Cause) bool {
				return x.Name == y.Name && x.Score == y.Score && x.Explanation == y.Explanation
			}) {
				t.Errorf("rankings differ:\n%+v\n%+v", a, b)
			}
		})
	}
}

// A caller's own break stays with it; its own slowness does not: a failing
// callee lengthens its caller's self time (retries, error handling), so
// the walk still hands a slow caller's mass to a broken callee, while a
// caller whose own spans broke (a break is tallied at the deepest broken
// span of a request, so no callee broke in it) keeps it.
func TestOwnBreakStaysOwnSlownessMayBeExplained(t *testing.T) {
	g := graph("frontend>cart")
	slow := []Evidence{
		own(ev("frontend", KindLatency, "self time", 0.86, 0)),
		own(ev("cart", KindFlow, "span without its query", 0.8, 0)),
	}
	if got := names(Rank(g, slow, DefaultConfig())); got[0] != "cart" {
		t.Errorf("slow caller, broken callee: ranking %v, want cart first", got)
	}
	broken := []Evidence{
		own(ev("frontend", KindFlow, "span without its call", 0.86, 0)),
		own(ev("cart", KindLatency, "self time", 0.8, 0)),
	}
	if got := names(Rank(g, broken, DefaultConfig())); got[0] != "frontend" {
		t.Errorf("broken caller, slow callee: ranking %v, want frontend first", got)
	}
}
