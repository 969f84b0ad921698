package correlate

import (
	"strings"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
)

// FuzzRules checks that compiling arbitrary rule text never panics, that a
// rule that compiles evaluates against arbitrary signals without panicking,
// and that its grouping key and title are well formed.
func FuzzRules(f *testing.F) {
	f.Add(`signal.labels.team == "db"`, "{{.labels.team}}", "team", "db", "Down")
	f.Add(`signal.name.startsWith("Disk") && signal.severity == "critical"`, "", "host", "a", "DiskFull")
	f.Add(`"x" in signal.labels || signal.labels.?y.orValue("") == "z"`, "{{.rule}}", "y", "z", "")
	f.Add(`signal.name.matches("^(a|b)+$")`, "{{range .labels}}{{.}}{{end}}", "", "", "ab")
	f.Add(`lables.x`, "{{", "a", "b", "c")
	f.Add(`[1,2,3].all(x, x > 0) && signal.status == "firing"`, "{{printf \"%0999999d\" 1}}", "host", "\x00", "n")
	f.Fuzz(func(t *testing.T, expr, title, key, value, name string) {
		rule := Rule{Name: "fuzz", Match: expr, Title: title, GroupBy: []string{"host"}}
		rules, err := compileRules([]Rule{rule})
		if err != nil {
			if !strings.HasPrefix(err.Error(), "rules[0].") {
				t.Fatalf("error without key path: %v", err)
			}
			return
		}
		rs := newRuleSet(rules)
		sig := signal{kind: osprey.MemberEvent, name: name, labels: osprey.Labels{key: value, "host": value},
			severity: osprey.SeverityWarning, firing: true, source: "fuzz", at: time.Unix(0, 0)}
		r, key2 := rs.match(&sig)
		if r != nil && !strings.HasPrefix(key2, ruleKeyPrefix+"fuzz") {
			t.Fatalf("key %q", key2)
		}
		if got := rules[0].renderTitle(sig); got == "" || len(got) > maxRuleTitleBytes && len(got) > len(name)+64 {
			t.Fatalf("title %q", got)
		}
	})
}

// BenchmarkRuleMatch measures choosing the grouping rule of a new alert
// against three rules, the last of which matches (the worst case: every
// rule is evaluated).
func BenchmarkRuleMatch(b *testing.B) {
	rules, err := compileRules([]Rule{
		{Name: "critical", Match: `signal.severity == "critical" && signal.kind == "event"`},
		{Name: "disks", Match: `signal.name.startsWith("Disk") && "host" in signal.labels`, GroupBy: []string{"host"}},
		{Name: "db", Match: `signal.labels.?team.orValue("") == "db"`, GroupBy: []string{"cluster"}},
	})
	if err != nil {
		b.Fatal(err)
	}
	rs := newRuleSet(rules)
	sig := signal{kind: osprey.MemberEvent, name: "ReplicaLag", severity: osprey.SeverityWarning, firing: true,
		labels: osprey.Labels{"team": "db", "cluster": "eu", "service": "pg", "instance": "pg-1:9187"}}
	b.ReportAllocs()
	for b.Loop() {
		if r, _ := rs.match(&sig); r == nil || r.Name != "db" {
			b.Fatal("no match")
		}
	}
}

// BenchmarkScheduleActive measures whether a weekly window in a time zone
// is active at an instant.
func BenchmarkScheduleActive(b *testing.B) {
	sc, err := ParseSchedule(osprey.WeeklySchedule{Days: []string{"sat", "sun"}, Start: "02:00", Duration: "2h", Timezone: "Europe/Berlin"})
	if err != nil {
		b.Fatal(err)
	}
	at := time.Date(2026, 3, 29, 1, 30, 0, 0, time.UTC)
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := sc.Active(at); !ok {
			b.Fatal("inactive")
		}
	}
}
