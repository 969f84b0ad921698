package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/correlate"
	"github.com/osprey-aiops/osprey/internal/match"
)

// CorrelateRuleConfig is one user-defined grouping rule (docs/rca.md,
// "Grouping rules").
type CorrelateRuleConfig struct {
	// Name identifies the rule (unique).
	Name string `yaml:"name"`
	// Match is a boolean CEL expression over `signal` (kind, name, labels,
	// severity, source, status).
	Match string `yaml:"match"`
	// GroupBy lists the labels whose values, with the rule's name, form
	// the grouping key.
	GroupBy []string `yaml:"group_by"`
	// MinSignals holds the signals of a key until that many distinct
	// alerts fired within Within.
	MinSignals int           `yaml:"min_signals"`
	Within     time.Duration `yaml:"within"`
	// MaxDuration caps an incident's length: after it, a new alert opens
	// a new incident.
	MaxDuration time.Duration `yaml:"max_duration"`
	// Title is an optional text/template for the incident title.
	Title string `yaml:"title"`
}

// FlappingConfig configures flapping detection: a member that changes
// status more than Transitions times within Window is marked flapping until
// it has not changed for Stable. Transitions 0 disables it.
type FlappingConfig struct {
	Transitions int           `yaml:"transitions"`
	Window      time.Duration `yaml:"window"`
	Stable      time.Duration `yaml:"stable"`
}

// MaintenanceConfig is one maintenance window: label matchers and either
// StartsAt/EndsAt (RFC 3339) or a weekly schedule (Days, Start, Duration,
// Timezone).
type MaintenanceConfig struct {
	Name     string   `yaml:"name"`
	Matchers []string `yaml:"matchers"`
	StartsAt string   `yaml:"starts_at"`
	EndsAt   string   `yaml:"ends_at"`
	// Days are weekday names (mon ... sun) of a weekly window.
	Days []string `yaml:"days"`
	// Start is the wall-clock start of a weekly window, HH:MM.
	Start    string        `yaml:"start"`
	Duration time.Duration `yaml:"duration"`
	// Timezone is the IANA zone of Start (default UTC).
	Timezone string `yaml:"timezone"`
	Comment  string `yaml:"comment"`
}

// defaultFlapping marks a member flapping at its fifth status change within
// ten minutes, until it has not changed for ten minutes.
var defaultFlapping = FlappingConfig{Transitions: 4, Window: 10 * time.Minute, Stable: 10 * time.Minute}

// Options returns the correlate stage's settings from this section: the
// grouping window and labels, resolve grace, burst, grouping rules,
// flapping, maintenance windows and inhibition. The caller adds the store,
// the outputs, the clock and the call graph. serve, replay and the
// benchmarks all start from it, so that they group alike.
func (c CorrelateConfig) Options() (correlate.Options, error) {
	inhibit, err := c.InhibitRules()
	if err != nil {
		return correlate.Options{}, err
	}
	windows, err := c.MaintenanceWindows()
	if err != nil {
		return correlate.Options{}, fmt.Errorf("correlate.maintenance: %w", err)
	}
	return correlate.Options{
		Window:       c.Window,
		GroupBy:      c.GroupBy,
		ResolveGrace: c.ResolveGrace,
		Burst:        c.Burst,
		Similarity:   c.Similarity,
		Rules:        c.CorrelateRules(),
		Flapping:     c.FlapConfig(),
		Maintenance:  windows,
		Inhibit:      inhibit,
	}, nil
}

// CorrelateRules returns the grouping rules as the correlate stage takes
// them.
func (c CorrelateConfig) CorrelateRules() []correlate.Rule {
	out := make([]correlate.Rule, 0, len(c.Rules))
	for _, r := range c.Rules {
		out = append(out, correlate.Rule{Name: r.Name, Match: r.Match, GroupBy: r.GroupBy, MinSignals: r.MinSignals,
			Within: r.Within, MaxDuration: r.MaxDuration, Title: r.Title})
	}
	return out
}

// InhibitRules returns the inhibition rules as the correlate stage takes
// them (matchers parsed; Validate has checked them already, so an error
// here names a rule that was not validated).
func (c CorrelateConfig) InhibitRules() ([]correlate.InhibitRule, error) {
	out := make([]correlate.InhibitRule, 0, len(c.Inhibit))
	for i, r := range c.Inhibit {
		src, err := match.ParseAll(r.Source)
		if err != nil {
			return nil, fmt.Errorf("correlate.inhibit[%d].source%w", i, err)
		}
		tgt, err := match.ParseAll(r.Target)
		if err != nil {
			return nil, fmt.Errorf("correlate.inhibit[%d].target%w", i, err)
		}
		out = append(out, correlate.InhibitRule{Source: src, Target: tgt, Equal: r.Equal})
	}
	return out, nil
}

// FlapConfig returns the flapping settings as the correlate stage takes
// them.
func (c CorrelateConfig) FlapConfig() correlate.FlapConfig {
	return correlate.FlapConfig{Transitions: c.Flapping.Transitions, Window: c.Flapping.Window, Stable: c.Flapping.Stable}
}

// MaintenanceWindows returns the configured maintenance windows; their ids
// are "config/<name>" (or "config/<index>" without a name).
func (c CorrelateConfig) MaintenanceWindows() ([]osprey.MaintenanceWindow, error) {
	out := make([]osprey.MaintenanceWindow, 0, len(c.Maintenance))
	var errs []error
	for i, m := range c.Maintenance {
		w, err := m.window()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		w.ID = "config/" + strconv.Itoa(i)
		if m.Name != "" {
			w.ID = "config/" + m.Name
		}
		out = append(out, w)
	}
	return out, errors.Join(errs...)
}

// window converts m, reporting the first problem.
func (m MaintenanceConfig) window() (osprey.MaintenanceWindow, error) {
	w := osprey.MaintenanceWindow{Name: m.Name, Comment: m.Comment, CreatedBy: "config"}
	ms, err := match.ParseAll(m.Matchers)
	if err != nil {
		return w, err
	}
	w.Matchers = ms
	if m.StartsAt != "" {
		if w.StartsAt, err = time.Parse(time.RFC3339, m.StartsAt); err != nil {
			return w, errors.New("starts_at: not an RFC 3339 time such as 2026-05-01T22:00:00Z")
		}
	}
	if m.EndsAt != "" {
		if w.EndsAt, err = time.Parse(time.RFC3339, m.EndsAt); err != nil {
			return w, errors.New("ends_at: not an RFC 3339 time such as 2026-05-02T02:00:00Z")
		}
	}
	if len(m.Days) > 0 || m.Start != "" || m.Duration != 0 || m.Timezone != "" {
		w.Schedule = &osprey.WeeklySchedule{Days: m.Days, Start: m.Start, Duration: m.Duration.String(), Timezone: m.Timezone}
	}
	return w, nil
}

// validateExtensions checks rules, flapping and maintenance, adding the
// problems to p with their key paths relative to correlate.
func (c CorrelateConfig) validateExtensions(p *problems) {
	names := make(map[string]int)
	for i, r := range c.Rules {
		path := indexPath("rules", i)
		switch j, dup := names[r.Name]; {
		case strings.TrimSpace(r.Name) == "":
			p.addf(path+".name", "must not be empty")
		case strings.ContainsAny(r.Name, "/\n"):
			p.addf(path+".name", "%q must not contain / or a line break", clip(r.Name))
		case dup:
			p.addf(path+".name", "%q is already the name of rules[%d]", clip(r.Name), j)
		default:
			names[r.Name] = i
		}
		if err := correlate.CheckRuleMatch(r.Match); err != nil {
			p.addf(path+".match", "%v", err)
		}
		if err := correlate.CheckRuleTitle(r.Title); err != nil {
			p.addf(path+".title", "%v", errors.Unwrap(err))
		}
		for j, name := range r.GroupBy {
			if !isLabelName(name) {
				p.addf(indexPath(path+".group_by", j), "%q is not a valid label name (want letters, digits and _, not starting with a digit)", clip(name))
			}
		}
		if r.MinSignals < 0 {
			p.addf(path+".min_signals", "must not be negative, got %d", r.MinSignals)
		}
		if r.Within < 0 || r.MinSignals > 1 && r.Within <= 0 {
			p.addf(path+".within", "must be positive when min_signals is above 1, got %s", r.Within)
		}
		if r.MaxDuration < 0 {
			p.addf(path+".max_duration", "must not be negative, got %s", r.MaxDuration)
		}
	}
	f := c.Flapping
	if f.Transitions < 0 {
		p.addf("flapping.transitions", "must not be negative (0 disables flapping detection), got %d", f.Transitions)
	}
	if f.Transitions > 0 {
		positive(p, "flapping.window", f.Window)
		positive(p, "flapping.stable", f.Stable)
	}
	for i, m := range c.Maintenance {
		path := indexPath("maintenance", i)
		if len(m.Matchers) == 0 {
			p.addf(path+".matchers", `must list at least one matcher, such as service="checkout"`)
		}
		for j, s := range m.Matchers {
			if _, err := match.Parse(s); err != nil {
				p.addf(indexPath(path+".matchers", j), "%v", err)
			}
		}
		w, err := m.window()
		if err != nil {
			if !strings.Contains(err.Error(), "matcher") {
				key, msg, _ := strings.Cut(err.Error(), ": ")
				p.addf(path+"."+key, "%s", msg)
			}
			continue
		}
		if len(w.Matchers) == 0 {
			continue
		}
		if err := correlate.ValidateMaintenance(w); err != nil {
			for _, e := range splitJoined(err) {
				msg := maintenanceKeys.Replace(e.Error())
				if key, rest, ok := strings.Cut(msg, ": "); ok && !strings.Contains(key, " ") {
					p.addf(path+"."+key, "%s", rest)
				} else {
					p.addf(path, "%s", msg)
				}
			}
		}
	}
}

// maintenanceKeys renames the API's field names in correlate's messages to
// the configuration's keys.
var maintenanceKeys = strings.NewReplacer("startsAt", "starts_at", "endsAt", "ends_at", "schedule.", "", "a schedule", "days/start/duration")

// splitJoined returns the errors inside (nested) errors.Joins, or err
// itself.
func splitJoined(err error) []error {
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return []error{err}
	}
	var out []error
	for _, e := range j.Unwrap() {
		out = append(out, splitJoined(e)...)
	}
	return out
}
