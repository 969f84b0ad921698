package config

import (
	"strings"
	"testing"
	"time"
)

func TestCorrelateRulesFlappingMaintenance(t *testing.T) {
	const good = `
correlate:
  rules:
    - name: db-cluster
      match: 'signal.labels.team == "db" && signal.severity != "info"'
      group_by: [cluster]
      min_signals: 3
      within: 5m
      max_duration: 2h
      title: "database trouble in {{.labels.cluster}}"
  flapping:
    transitions: 6
    window: 15m
  maintenance:
    - name: weekend-batch
      matchers: ['cluster="batch"']
      days: [sat, sun]
      start: "02:00"
      duration: 2h
      timezone: Europe/Berlin
    - matchers: ['service="db"']
      starts_at: 2026-05-01T22:00:00Z
      ends_at: 2026-05-02T02:00:00Z
`
	cfg, err := ParseWithEnv([]byte(good), nil)
	if err != nil {
		t.Fatal(err)
	}
	rules := cfg.Correlate.CorrelateRules()
	if len(rules) != 1 || rules[0].MinSignals != 3 || rules[0].Within != 5*time.Minute || rules[0].MaxDuration != 2*time.Hour {
		t.Errorf("rules = %+v", rules)
	}
	if f := cfg.Correlate.FlapConfig(); f.Transitions != 6 || f.Window != 15*time.Minute || f.Stable != 10*time.Minute {
		t.Errorf("flapping = %+v (stable keeps its default)", f)
	}
	ws, err := cfg.Correlate.MaintenanceWindows()
	if err != nil || len(ws) != 2 {
		t.Fatalf("windows = %+v, %v", ws, err)
	}
	if ws[0].ID != "config/weekend-batch" || ws[0].Schedule == nil || ws[0].Schedule.Duration != "2h0m0s" || ws[0].Schedule.Timezone != "Europe/Berlin" {
		t.Errorf("weekly window = %+v %+v", ws[0], ws[0].Schedule)
	}
	if ws[1].ID != "config/1" || ws[1].Schedule != nil || !ws[1].EndsAt.Equal(time.Date(2026, 5, 2, 2, 0, 0, 0, time.UTC)) {
		t.Errorf("one-off window = %+v", ws[1])
	}
}

func TestCorrelateRulesErrors(t *testing.T) {
	const bad = `
correlate:
  rules:
    - name: a
      match: 'lables.team == "db"'
      group_by: [cluster-name]
      min_signals: 2
      title: "{{.name"
    - name: a
      match: signal.name
      max_duration: -1m
  flapping:
    transitions: 3
    window: 0s
  maintenance:
    - matchers: ['env!="prod"']
      starts_at: 2026-05-01T22:00:00Z
      ends_at: 2026-05-01T21:00:00Z
    - matchers: ['service="db"']
      days: [sunday]
      start: "2:00"
      duration: 2h
      timezone: Mars/Olympus
    - matchers: []
      starts_at: yesterday
`
	_, err := ParseWithEnv([]byte(bad), nil)
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{
		"line 5: correlate.rules[0].match: undeclared reference to 'lables' at 1:1",
		`line 6: correlate.rules[0].group_by[0]: "cluster-name" is not a valid label name`,
		"correlate.rules[0].within: must be positive when min_signals is above 1",
		"line 8: correlate.rules[0].title: template: title:1: unclosed action",
		`line 9: correlate.rules[1].name: "a" is already the name of rules[0]`,
		"line 10: correlate.rules[1].match: must be a boolean expression, is string",
		"line 11: correlate.rules[1].max_duration: must not be negative",
		"line 14: correlate.flapping.window: must be positive",
		"correlate.maintenance[0].matchers: {env!=\"prod\"} would match signals without any of these labels",
		"correlate.maintenance[0].ends_at: 2026-05-01T21:00:00Z is not after starts_at",
		`correlate.maintenance[1].days[0]: "sunday" is not one of mon`,
		`correlate.maintenance[1].start: "2:00" is not a time of day as HH:MM`,
		`correlate.maintenance[1].timezone: "Mars/Olympus" is not an IANA time zone`,
		"correlate.maintenance[2].matchers: must list at least one matcher",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
}
