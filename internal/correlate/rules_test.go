package correlate_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/correlate"
)

// newExtRig is newRig with the grouping rules, flapping and maintenance
// options of o (Store, Now, Out and Registerer are the rig's).
func newExtRig(t *testing.T, o correlate.Options) *rig {
	t.Helper()
	r := &rig{t: t, st: o.Store, now: t0, reg: prometheus.NewRegistry()}
	if r.st == nil {
		r.st = openStore(t)
	}
	o.Store = r.st
	if o.Window == 0 {
		o.Window = 5 * time.Minute
	}
	if o.GroupBy == nil {
		o.GroupBy = []string{"service", "host"}
	}
	o.Out = osprey.IncidentConsumerFunc(func(_ context.Context, batch []osprey.Incident) error {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.out = append(r.out, batch...)
		return nil
	})
	o.CatchUpInterval = time.Hour
	o.Now = r.clock
	o.Registerer = r.reg
	r.c = startWith(t, o)
	return r
}

// all returns every stored incident, oldest first, with its timeline.
func (r *rig) all() []osprey.Incident {
	r.t.Helper()
	incs := incidents(r.t, r.st)
	sortByOpened(incs)
	for i := range incs {
		incs[i] = r.get(incs[i].ID)
	}
	return incs
}

func memberNames(inc osprey.Incident) string {
	names := make([]string, len(inc.Members))
	for i, m := range inc.Members {
		names[i] = m.Name
	}
	return strings.Join(names, ",")
}

func hasEntry(inc osprey.Incident, kind osprey.TimelineKind, substr string) bool {
	for _, e := range inc.Timeline {
		if e.Kind == kind && strings.Contains(e.Message, substr) {
			return true
		}
	}
	return false
}

var dbRule = correlate.Rule{
	Name:       "db-cluster",
	Match:      `signal.labels.team == "db"`,
	GroupBy:    []string{"cluster"},
	MinSignals: 3,
	Within:     5 * time.Minute,
	Title:      `database trouble in {{.labels.cluster}} ({{.rule}})`,
}

func TestRuleMinSignalsHoldsThenReleases(t *testing.T) {
	r := newExtRig(t, correlate.Options{Rules: []correlate.Rule{dbRule}})
	db := func(name, cluster string) osprey.Labels {
		return osprey.Labels{"team": "db", "cluster": cluster, "service": name}
	}
	// Two alerts of cluster eu: held, nothing opens.
	r.send(ev{at: 0, name: "ReplicaLag", labels: db("pg-1", "eu")},
		ev{at: time.Minute, name: "SlowQueries", labels: db("pg-2", "eu")},
		// A repeat of the first counts once.
		ev{at: 2 * time.Minute, name: "ReplicaLag", labels: db("pg-1", "eu")},
		// Another cluster is another key.
		ev{at: 2 * time.Minute, name: "ReplicaLag", labels: db("pg-1", "us")})
	if incs := incidents(t, r.st); len(incs) != 0 {
		t.Fatalf("held signals opened %d incidents", len(incs))
	}
	if got := r.counter("osprey_correlate_rule_held_total", "db-cluster"); got != 4 {
		t.Errorf("held = %v, want 4", got)
	}
	// The third distinct alert of eu within 5m opens one incident with all three.
	r.send(ev{at: 3 * time.Minute, name: "DiskFull", labels: db("pg-3", "eu"), severity: osprey.SeverityCritical})
	inc := r.only()
	if got := memberNames(inc); got != "ReplicaLag,SlowQueries,DiskFull" {
		t.Errorf("members = %s", got)
	}
	if inc.Title != "database trouble in eu (db-cluster)" || inc.Labels.Get("cluster") != "eu" || inc.Severity != osprey.SeverityCritical {
		t.Errorf("incident = %q %v %v", inc.Title, inc.Labels, inc.Severity)
	}
	if m := inc.Members[0]; !inc.OpenedAt.Equal(t0.Add(3*time.Minute)) || !m.FirstSeen.Equal(t0) || !m.LastSeen.Equal(t0.Add(2*time.Minute)) || m.Count != 2 {
		t.Errorf("opened %s, first member seen %s..%s, count %d", inc.OpenedAt, m.FirstSeen, m.LastSeen, m.Count)
	}
	if !hasEntry(inc, osprey.TimelineOpened, "held until 3 alerts fired within 5m0s") {
		t.Errorf("timeline does not say the signals were held: %+v", inc.Timeline)
	}
	for _, m := range inc.Members {
		if !strings.HasPrefix(m.GroupKey, "rule/db-cluster") {
			t.Errorf("member %s group key %q", m.Name, m.GroupKey)
		}
	}
	// A fourth alert of eu joins the open incident at once.
	r.send(ev{at: 4 * time.Minute, name: "ConnRefused", labels: db("pg-4", "eu")})
	if got := memberNames(r.only()); got != "ReplicaLag,SlowQueries,DiskFull,ConnRefused" {
		t.Errorf("after join: members = %s", got)
	}
	if got := r.counter("osprey_correlate_rule_released_total", "db-cluster"); got != 1 {
		t.Errorf("released = %v, want 1", got)
	}
}

func TestRuleMinSignalsForgetsOldAndResolvedSignals(t *testing.T) {
	r := newExtRig(t, correlate.Options{Rules: []correlate.Rule{dbRule}})
	l := func(svc string) osprey.Labels { return osprey.Labels{"team": "db", "cluster": "eu", "service": svc} }
	r.send(ev{at: 0, name: "A", labels: l("a")},
		ev{at: time.Minute, name: "B", labels: l("b")},
		// B clears while held: it no longer counts.
		ev{at: 2 * time.Minute, name: "B", labels: l("b"), resolved: true},
		ev{at: 3 * time.Minute, name: "C", labels: l("c")})
	if n := len(incidents(t, r.st)); n != 0 {
		t.Fatalf("A and C (B resolved) opened %d incidents", n)
	}
	// A is older than 5m by now: D makes C, D — still two.
	r.send(ev{at: 6 * time.Minute, name: "D", labels: l("d")})
	if n := len(incidents(t, r.st)); n != 0 {
		t.Fatalf("C and D opened %d incidents", n)
	}
	r.send(ev{at: 7 * time.Minute, name: "E", labels: l("e")})
	if got := memberNames(r.only()); got != "C,D,E" {
		t.Errorf("members = %s, want C,D,E", got)
	}
}

func TestRuleMaxDurationSplitsIncidents(t *testing.T) {
	r := newExtRig(t, correlate.Options{Rules: []correlate.Rule{{
		Name: "batch", Match: `signal.labels.cluster == "batch"`, MaxDuration: 30 * time.Minute,
	}}})
	l := func(svc string) osprey.Labels { return osprey.Labels{"cluster": "batch", "service": svc} }
	// Alerts every 4 minutes keep the incident active within the window.
	for i := range 8 {
		r.send(ev{at: time.Duration(i) * 4 * time.Minute, name: "Job" + string(rune('A'+i)), labels: l("s" + string(rune('a'+i)))})
	}
	// 0..28m: one incident. A repeat of its first member at 32m still
	// updates it; a new alert at 32m opens a second incident.
	r.send(ev{at: 32 * time.Minute, name: "JobA", labels: l("sa")},
		ev{at: 32 * time.Minute, name: "JobI", labels: l("si")},
		ev{at: 33 * time.Minute, name: "JobJ", labels: l("sj")})
	incs := r.all()
	if len(incs) != 2 {
		t.Fatalf("got %d incidents, want 2", len(incs))
	}
	if got := memberNames(incs[0]); got != "JobA,JobB,JobC,JobD,JobE,JobF,JobG,JobH" {
		t.Errorf("first incident members = %s", got)
	}
	if incs[0].Members[0].Count != 2 {
		t.Errorf("repeat of JobA counted %d, want 2", incs[0].Members[0].Count)
	}
	if got := memberNames(incs[1]); got != "JobI,JobJ" {
		t.Errorf("second incident members = %s", got)
	}
}

func TestRulePrecedenceAndDefaultGrouping(t *testing.T) {
	r := newExtRig(t, correlate.Options{Rules: []correlate.Rule{
		{Name: "critical", Match: `signal.severity == "critical" && signal.kind == "event"`},
		{Name: "disks", Match: `signal.name.startsWith("Disk") && signal.source == "test"`, GroupBy: []string{"host"}},
		// Never reached for a disk alert: the rule above matches first.
		{Name: "host-a", Match: `"host" in signal.labels && signal.labels.host == "a"`},
	}})
	r.send(
		// Critical alerts of two services: one incident by rule "critical".
		ev{at: 0, name: "Down", labels: osprey.Labels{"service": "web"}, severity: osprey.SeverityCritical},
		ev{at: time.Minute, name: "Down", labels: osprey.Labels{"service": "api"}, severity: osprey.SeverityCritical},
		// Disk alerts of host a (one a critical one, which rule 1 takes).
		ev{at: time.Minute, name: "DiskFull", labels: osprey.Labels{"host": "a", "service": "x"}, severity: osprey.SeverityCritical},
		ev{at: time.Minute, name: "DiskSlow", labels: osprey.Labels{"host": "a", "service": "y"}},
		ev{at: time.Minute, name: "DiskLatency", labels: osprey.Labels{"host": "a", "service": "z"}},
		// Host a, no disk: rule host-a.
		ev{at: 90 * time.Second, name: "CPU", labels: osprey.Labels{"host": "a"}},
		// No rule: grouped by service as before, with an existing default incident.
		ev{at: 2 * time.Minute, name: "Latency", labels: osprey.Labels{"service": "web"}},
		ev{at: 2 * time.Minute, name: "Errors", labels: osprey.Labels{"service": "web"}},
	)
	incs := r.all()
	got := make([]string, len(incs))
	for i, inc := range incs {
		got[i] = memberNames(inc)
	}
	want := []string{"Down,Down,DiskFull", "DiskSlow,DiskLatency", "CPU", "Latency,Errors"}
	if strings.Join(got, " | ") != strings.Join(want, " | ") {
		t.Errorf("incidents = %q, want %q", got, want)
	}
	if incs[1].Title != "DiskSlow (rule disks)" || incs[1].Labels.Get("host") != "a" {
		t.Errorf("disks incident = %q %v", incs[1].Title, incs[1].Labels)
	}
	if !hasEntry(incs[1], osprey.TimelineMemberJoined, `rule disks (same host="a"`) {
		t.Errorf("join entry missing: %+v", incs[1].Timeline)
	}
}

func TestRuleGroupingSurvivesRestart(t *testing.T) {
	rules := []correlate.Rule{{Name: "disks", Match: `signal.name.startsWith("Disk")`, GroupBy: []string{"host"}}}
	r := newExtRig(t, correlate.Options{Rules: rules})
	r.send(ev{at: 0, name: "DiskFull", labels: osprey.Labels{"host": "a", "service": "x"}})
	// After a restart the rule incident is found by its key, and a default
	// signal of service x does not join it.
	r2 := newExtRig(t, correlate.Options{Store: r.st, Rules: rules})
	r2.send(ev{at: time.Minute, name: "DiskSlow", labels: osprey.Labels{"host": "a", "service": "y"}},
		ev{at: time.Minute, name: "Latency", labels: osprey.Labels{"service": "x"}})
	incs := r2.all()
	if len(incs) != 2 || memberNames(incs[0]) != "DiskFull,DiskSlow" || memberNames(incs[1]) != "Latency" {
		t.Fatalf("after restart: %d incidents %v", len(incs), incs)
	}
}

func TestCompileRulesErrors(t *testing.T) {
	tests := []struct {
		name string
		rule correlate.Rule
		want string
	}{
		{"misspelt variable", correlate.Rule{Name: "a", Match: `lables.team == "db"`}, "rules[0].match: undeclared reference to 'lables' at 1:1"},
		{"misspelt field", correlate.Rule{Name: "a", Match: `signal.lables.team == "db"`}, "rules[0].match: undefined field 'lables'"},
		{"not boolean", correlate.Rule{Name: "a", Match: `signal.name`}, "rules[0].match: must be a boolean expression, is string"},
		{"syntax", correlate.Rule{Name: "a", Match: `signal.name ==`}, "rules[0].match: Syntax error"},
		{"empty", correlate.Rule{Name: "a"}, "rules[0].match: must not be empty"},
		{"no name", correlate.Rule{Match: "true"}, "rules[0].name: must not be empty"},
		{"bad title", correlate.Rule{Name: "a", Match: "true", Title: "{{.name"}, "rules[0].title: title: template"},
		{"min without within", correlate.Rule{Name: "a", Match: "true", MinSignals: 2}, "rules[0].within: must be positive"},
		{"negative cap", correlate.Rule{Name: "a", Match: "true", MaxDuration: -time.Minute}, "rules[0].max_duration: must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := correlate.CompileRules([]correlate.Rule{tt.rule})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
	err := correlate.CompileRules([]correlate.Rule{{Name: "a", Match: "true"}, {Name: "a", Match: "true"}})
	if err == nil || !strings.Contains(err.Error(), `rules[1].name: "a" is already the name of rules[0]`) {
		t.Errorf("duplicate names: %v", err)
	}
	if err := correlate.CompileRules([]correlate.Rule{dbRule}); err != nil {
		t.Errorf("valid rule: %v", err)
	}
}
