package correlate

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"text/template"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/ext"

	"github.com/osprey-aiops/osprey"
)

// Grouping rules (correlate.rules) let a user decide how signals group,
// ahead of the built-in identity labels and call graph. A rule's Match is a
// CEL expression over one variable, `signal`, with the fields kind ("event"
// or "anomaly"), name, labels (a map), severity ("info", "warning",
// "critical"), source (the event's sender, or "detect/<kind>" for an
// anomaly) and status ("firing" or "resolved"). The signal is a declared
// type, so a misspelt field is a configuration error found by
// check-config. A missing map key (signal.labels.nope) is an evaluation
// error, which counts as no match; "service" in signal.labels and
// signal.labels.?service.orValue("") test for presence.
//
// The first rule that matches a new firing signal decides its grouping key:
// the rule's name and the values of its GroupBy labels (a missing label
// counts as ""). Members with the same key, within the correlation window
// of the incident's last activity, form one incident; the call graph is not
// consulted for them. A signal no rule matches is grouped as before.
//
// MinSignals holds a key's signals until that many distinct alerts
// (fingerprints) fired within Within; then one incident opens with all of
// them. Held signals are stored events like any other (they are not lost),
// counted in osprey_correlate_rule_held_total, and one that resolves while
// held no longer counts. MaxDuration caps an incident's length: once it is
// older than that, a new alert of its key opens a new incident (repeats of
// its own members still update them).

// Rule is one user-defined grouping rule; see CompileRule.
type Rule struct {
	// Name identifies the rule in grouping keys, timeline entries and
	// metrics; unique among the rules.
	Name string
	// Match is a boolean CEL expression over `signal`.
	Match string
	// GroupBy lists the labels whose values (with the rule's name) form
	// the grouping key; empty groups every matching signal together.
	GroupBy []string
	// MinSignals is how many distinct alerts must fire within Within
	// before an incident opens; 0 or 1 opens at the first.
	MinSignals int
	// Within is the time in which MinSignals alerts must fire.
	Within time.Duration
	// MaxDuration, if positive, caps an incident's length.
	MaxDuration time.Duration
	// Title is an optional text/template for the incident title, executed
	// over the first signal: {{.name}}, {{.labels.service}}, {{.rule}},
	// {{.severity}}, {{.kind}}, {{.source}}.
	Title string
}

// celSignal is the CEL view of a signal.
type celSignal struct {
	Kind     string            `cel:"kind"`
	Name     string            `cel:"name"`
	Labels   map[string]string `cel:"labels"`
	Severity string            `cel:"severity"`
	Source   string            `cel:"source"`
	Status   string            `cel:"status"`
}

// ruleCostLimit bounds one evaluation of a rule's expression.
const ruleCostLimit = 100_000

// maxRuleTitleBytes bounds a title rendered from a rule's template.
const maxRuleTitleBytes = 512

// maxHeldSignals bounds the signals held by min_signals rules across all
// keys; beyond it a new signal opens its incident at once (counted).
const maxHeldSignals = 100_000

func newRuleEnv() (*cel.Env, error) {
	env, err := cel.NewEnv(
		ext.NativeTypes(reflect.TypeFor[celSignal](), ext.ParseStructTags(true)),
		cel.Variable("signal", cel.ObjectType("correlate.celSignal")),
		cel.OptionalTypes(),
		ext.Strings(),
	)
	if err != nil {
		return nil, fmt.Errorf("BUG: build rule CEL environment: %w", err)
	}
	return env, nil
}

// CheckRuleMatch parses and type-checks a rule's match expression, for
// configuration validation. The error reads as CEL reports it, without the
// source excerpt: "undeclared reference to 'lables' at 1:1".
func CheckRuleMatch(expr string) error {
	env, err := newRuleEnv()
	if err != nil {
		return err
	}
	_, err = compileRuleMatch(env, expr)
	return err
}

// CheckRuleTitle parses a rule's title template.
func CheckRuleTitle(tmpl string) error {
	_, err := parseRuleTitle(tmpl)
	return err
}

func compileRuleMatch(env *cel.Env, expr string) (cel.Program, error) {
	if strings.TrimSpace(expr) == "" {
		return nil, errors.New("must not be empty; write a boolean CEL expression such as signal.labels.team == \"db\"")
	}
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		msgs := make([]string, 0, len(iss.Errors()))
		for _, e := range iss.Errors() {
			msg := strings.TrimSuffix(e.Message, " (in container '')")
			if loc := e.Location; loc != nil && loc.Line() > 0 {
				msg += fmt.Sprintf(" at %d:%d", loc.Line(), loc.Column()+1)
			}
			msgs = append(msgs, msg)
		}
		return nil, errors.New(strings.Join(msgs, "; "))
	}
	if !ast.OutputType().IsExactType(cel.BoolType) {
		return nil, fmt.Errorf("must be a boolean expression, is %s", ast.OutputType())
	}
	prg, err := env.Program(ast, cel.CostLimit(ruleCostLimit))
	if err != nil {
		return nil, err
	}
	return prg, nil
}

func parseRuleTitle(tmpl string) (*template.Template, error) {
	if tmpl == "" {
		return nil, nil
	}
	t, err := template.New("title").Option("missingkey=zero").Parse(tmpl)
	if err != nil {
		return nil, fmt.Errorf("title: %w", err)
	}
	return t, nil
}

// compiledRule is a Rule ready to evaluate.
type compiledRule struct {
	Rule
	prg   cel.Program
	title *template.Template
}

// CompileRules checks every rule (names unique and non-empty, match a
// boolean expression, group_by label names, non-negative numbers) and
// returns the problems joined, each prefixed with "rules[i].<key>: ".
func CompileRules(rules []Rule) error {
	_, err := compileRules(rules)
	return err
}

func compileRules(rules []Rule) ([]*compiledRule, error) {
	if len(rules) == 0 {
		return nil, nil
	}
	env, err := newRuleEnv()
	if err != nil {
		return nil, err
	}
	var errs []error
	out := make([]*compiledRule, 0, len(rules))
	names := make(map[string]int)
	for i, r := range rules {
		bad := func(key, format string, args ...any) {
			errs = append(errs, fmt.Errorf("rules[%d].%s: %s", i, key, fmt.Sprintf(format, args...)))
		}
		switch j, dup := names[r.Name]; {
		case strings.TrimSpace(r.Name) == "":
			bad("name", "must not be empty")
		case strings.ContainsAny(r.Name, "/\n"):
			bad("name", "%q must not contain / or a line break", r.Name)
		case dup:
			bad("name", "%q is already the name of rules[%d]", r.Name, j)
		default:
			names[r.Name] = i
		}
		prg, err := compileRuleMatch(env, r.Match)
		if err != nil {
			bad("match", "%v", err)
		}
		title, err := parseRuleTitle(r.Title)
		if err != nil {
			bad("title", "%v", err)
		}
		if r.MinSignals < 0 {
			bad("min_signals", "must not be negative, got %d", r.MinSignals)
		}
		if r.MinSignals > 1 && r.Within <= 0 {
			bad("within", "must be positive when min_signals is above 1")
		}
		if r.Within < 0 {
			bad("within", "must not be negative, got %s", r.Within)
		}
		if r.MaxDuration < 0 {
			bad("max_duration", "must not be negative, got %s", r.MaxDuration)
		}
		out = append(out, &compiledRule{Rule: r, prg: prg, title: title})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// ruleSet is the compiled rules with the signals their min_signals hold.
// It outlives the state (a state rebuilt from the store keeps the holds);
// the Correlator's lock guards it.
type ruleSet struct {
	rules []*compiledRule
	// pending holds, per grouping key, the firing signals waiting for
	// their rule's min_signals, by fingerprint.
	pending map[string]*heldGroup
	nHeld   int
	// counters, set by the Correlator (no-ops in tests of the state).
	held, released, evalErrors, overflow func(rule string)
}

// heldGroup is the alerts one key holds, in order of first arrival.
type heldGroup struct {
	rule *compiledRule
	sigs []heldSignal
}

// heldSignal is one held alert: its latest signal, and when it first fired
// and how often while held.
type heldSignal struct {
	signal
	first    time.Time
	firstRef string
	count    int
}

func newRuleSet(rules []*compiledRule) *ruleSet {
	nop := func(string) {}
	return &ruleSet{rules: rules, pending: make(map[string]*heldGroup), held: nop, released: nop, evalErrors: nop, overflow: nop}
}

// match returns the first rule that matches sig and its grouping key.
func (rs *ruleSet) match(sig *signal) (*compiledRule, string) {
	if rs == nil || len(rs.rules) == 0 {
		return nil, ""
	}
	view := sig.celView()
	vars := map[string]any{"signal": view}
	for _, r := range rs.rules {
		out, _, err := r.prg.Eval(vars)
		if err != nil {
			// A missing label is an evaluation error: no match.
			if !strings.Contains(err.Error(), "no such key") {
				rs.evalErrors(r.Name)
			}
			continue
		}
		if b, ok := out.Value().(bool); ok && b {
			return r, r.key(sig.labels)
		}
	}
	return nil, ""
}

// ruleKeyPrefix starts every grouping key a rule makes.
const ruleKeyPrefix = "rule/"

// key is the grouping key of labels under r: "rule/<name>" followed by
// "\x00label=value" for each GroupBy label.
func (r *compiledRule) key(l osprey.Labels) string {
	var b strings.Builder
	b.WriteString(ruleKeyPrefix)
	b.WriteString(r.Name)
	for _, name := range r.GroupBy {
		b.WriteByte(0)
		b.WriteString(name)
		b.WriteByte('=')
		b.WriteString(l.Get(name))
	}
	return b.String()
}

// ruleName returns the rule name of a rule grouping key.
func ruleName(key string) string {
	name, _, _ := strings.Cut(strings.TrimPrefix(key, ruleKeyPrefix), "\x00")
	return name
}

// byName returns the rule called name, or nil (a rule removed from the
// configuration since the incident opened).
func (rs *ruleSet) byName(name string) *compiledRule {
	if rs == nil {
		return nil
	}
	for _, r := range rs.rules {
		if r.Name == name {
			return r
		}
	}
	return nil
}

// celView returns the CEL activation value of sig.
func (sig *signal) celView() *celSignal {
	l := map[string]string(sig.labels)
	if l == nil {
		l = map[string]string{}
	}
	status := osprey.StatusResolved
	if sig.firing {
		status = osprey.StatusFiring
	}
	return &celSignal{Kind: string(sig.kind), Name: sig.name, Labels: l, Severity: sig.severity.String(),
		Source: sig.source, Status: string(status)}
}

// applyRule groups a new firing signal (no incident holds its fingerprint)
// by the rule that matched it.
func (s *state) applyRule(sig signal, r *compiledRule, key string) *change {
	if id, ok := s.byGroup[key]; ok {
		if inc := s.open[id]; inc != nil && sig.at.Sub(lastActivity(inc)) <= s.window && !r.capped(inc, sig.at) {
			ch := s.join(inc, sig, fmt.Sprintf("rule %s (same %s within %s)", r.Name, r.describeKey(sig.labels), s.window))
			s.member(inc, len(inc.Members)-1).GroupKey = key
			return ch
		}
	}
	if r.MinSignals > 1 {
		return s.holdOrOpen(sig, r, key)
	}
	return s.openRuleIncident(heldSignal{signal: sig, first: sig.at, firstRef: sig.ref, count: 1}, r, key, nil)
}

// capped reports whether inc, opened by r, is older than r's max_duration
// at at, so a new alert must open a new incident.
func (r *compiledRule) capped(inc *osprey.Incident, at time.Time) bool {
	return r.MaxDuration > 0 && at.Sub(inc.OpenedAt) > r.MaxDuration
}

// describeKey renders the group-by values for a timeline message.
func (r *compiledRule) describeKey(l osprey.Labels) string {
	if len(r.GroupBy) == 0 {
		return "rule"
	}
	parts := make([]string, len(r.GroupBy))
	for i, name := range r.GroupBy {
		parts[i] = fmt.Sprintf("%s=%q", name, l.Get(name))
	}
	return strings.Join(parts, ", ")
}

// holdOrOpen holds sig under key until r's min_signals distinct alerts
// fired within r's within; the signal that completes the count opens the
// incident with every held one.
func (s *state) holdOrOpen(sig signal, r *compiledRule, key string) *change {
	rs := s.rules
	g := rs.pending[key]
	if g == nil {
		g = &heldGroup{rule: r}
		rs.pending[key] = g
	}
	// Forget alerts whose latest signal is older than within; a repeat
	// of a held alert updates it in place.
	keep := g.sigs[:0]
	cur := heldSignal{signal: sig, first: sig.at, firstRef: sig.ref, count: 1}
	repeat := false
	for _, h := range g.sigs {
		switch {
		case h.fingerprint == sig.fingerprint:
			h.signal, h.count, repeat = sig, h.count+1, true
			keep = append(keep, h)
		case sig.at.Sub(h.at) <= r.Within:
			keep = append(keep, h)
		default:
			rs.nHeld--
		}
	}
	g.sigs = keep
	if !repeat {
		if rs.nHeld >= maxHeldSignals {
			rs.overflow(r.Name)
			held := g.sigs
			delete(rs.pending, key)
			rs.nHeld -= len(held)
			return s.openRuleIncident(cur, r, key, held)
		}
		g.sigs = append(g.sigs, cur)
		rs.nHeld++
	}
	if len(g.sigs) < r.MinSignals {
		rs.held(r.Name)
		return nil
	}
	// Only a new alert completes the count (a repeat adds none).
	all := g.sigs
	delete(rs.pending, key)
	rs.nHeld -= len(all)
	rs.released(r.Name)
	return s.openRuleIncident(all[len(all)-1], r, key, all[:len(all)-1])
}

// unhold forgets a held signal that resolved: it no longer counts towards
// its rule's min_signals. It reports whether sig was held.
func (s *state) unhold(sig signal) bool {
	rs := s.rules
	if rs == nil || rs.nHeld == 0 {
		return false
	}
	for key, g := range rs.pending {
		for i, h := range g.sigs {
			if h.fingerprint == sig.fingerprint {
				g.sigs = slices.Delete(g.sigs, i, i+1)
				rs.nHeld--
				if len(g.sigs) == 0 {
					delete(rs.pending, key)
				}
				return true
			}
		}
	}
	return false
}

// openRuleIncident opens an incident for the rule key around the held
// signals (oldest first) and sig.
func (s *state) openRuleIncident(cur heldSignal, r *compiledRule, key string, held []heldSignal) *change {
	sig := cur.signal
	first := sig
	if len(held) > 0 {
		first = held[0].signal
	}
	inc := &osprey.Incident{
		ID:        s.newID(sig.at),
		Title:     r.renderTitle(first),
		Status:    osprey.IncidentOpen,
		Severity:  first.severity,
		OpenedAt:  sig.at,
		UpdatedAt: sig.at,
	}
	for _, name := range r.GroupBy {
		if v := first.labels.Get(name); v != "" {
			if inc.Labels == nil {
				inc.Labels = osprey.Labels{}
			}
			inc.Labels[name] = v
		}
	}
	all := append(slices.Clone(held), cur)
	var entries []osprey.TimelineEntry
	for i, h := range all {
		m := newMember(h.signal)
		m.GroupKey = key
		m.FirstSeen, m.FirstRef, m.Count = h.first, h.firstRef, h.count
		inc.Members = append(inc.Members, m)
		inc.Severity = max(inc.Severity, h.severity)
		s.byFingerprint[h.fingerprint] = inc.ID
		if i == 0 {
			msg := fmt.Sprintf("opened by %s: rule %s", describe(m), r.Name)
			if len(all) > 1 {
				msg += fmt.Sprintf(" (held until %d alerts fired within %s)", r.MinSignals, r.Within)
			}
			entries = append(entries, entry(sig.at, osprey.TimelineOpened, h.ref, msg))
			continue
		}
		entries = append(entries, entry(sig.at, osprey.TimelineMemberJoined, h.ref,
			fmt.Sprintf("%s joined: rule %s (same %s; first fired %s)", describe(m), r.Name, r.describeKey(h.labels), h.first.UTC().Format(time.RFC3339))))
	}
	s.open[inc.ID] = inc
	s.byGroup[key] = inc.ID
	return &change{inc: inc, opened: true, joined: len(all) > 1, entries: entries}
}

// renderTitle executes the rule's title template over sig, falling back to
// the built-in title on an error or an empty result.
func (r *compiledRule) renderTitle(sig signal) string {
	def := title(sig, "") + " (rule " + r.Name + ")"
	if r.title == nil {
		return def
	}
	v := sig.celView()
	data := map[string]any{"kind": v.Kind, "name": v.Name, "labels": v.Labels, "severity": v.Severity,
		"source": v.Source, "status": v.Status, "rule": r.Name}
	var b strings.Builder
	if err := r.title.Execute(&limitWriter{w: &b, n: maxRuleTitleBytes}, data); err != nil && !errors.Is(err, errTitleFull) {
		return def
	}
	t := strings.TrimSpace(b.String())
	if t == "" {
		return def
	}
	return t
}

var errTitleFull = errors.New("title too long")

// limitWriter stops a template after n bytes.
type limitWriter struct {
	w *strings.Builder
	n int
}

func (lw *limitWriter) Write(p []byte) (int, error) {
	if room := lw.n - lw.w.Len(); len(p) > room {
		lw.w.Write(p[:max(room, 0)])
		return max(room, 0), errTitleFull
	}
	return lw.w.Write(p)
}

// memberKey is the grouping key of a member: the key a rule gave it, else
// its first identity label.
func (s *state) memberKey(m *osprey.Member) string {
	if m.GroupKey != "" {
		return m.GroupKey
	}
	return s.groupKey(m.Labels)
}

// incidentKey is the grouping key of an incident's own labels, "" for an
// incident grouped by a rule (its members carry the key).
func (s *state) incidentKey(inc *osprey.Incident) string {
	for i := range inc.Members {
		if inc.Members[i].GroupKey != "" {
			return ""
		}
	}
	return s.groupKey(inc.Labels)
}
