package action

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"text/template"
	"text/template/parse"
	"unicode/utf8"
)

// Templates are Go text/template strings over Data. Two rules keep values from
// the incident (which an attacker may control, through an alert's labels)
// inert:
//
//   - In an exec argv, an element is literal text and {{ value }} actions only
//     (no if, range, with or variables). Each action's output is validated on
//     its own against its field pattern before it is joined with the literal
//     text, and the element becomes exactly one argument: never split, never
//     seen by a shell.
//   - In an http body, templates are the string values of a JSON document;
//     the rendered strings are put into the parsed document and the whole is
//     marshalled, so any value is escaped as JSON and the body is always
//     valid JSON.
//
// The function map is restricted to pure string helpers, and "call" is
// disabled.

// DefaultPattern is the pattern an argv value must match when its field has
// none in the runbook: a non-empty word of at most 256 letters, digits and
// ._:/- characters. Patterns are always matched against the whole value.
const DefaultPattern = `^[A-Za-z0-9._:/-]{1,256}$`

// maxRendered caps the output of one template execution, so a template that
// ranges over a huge incident cannot exhaust memory.
const maxRendered = 64 << 10

var defaultPattern = regexp.MustCompile(DefaultPattern)

// errTooLong is returned by limitWriter when a rendering exceeds its cap.
var errTooLong = errors.New("rendered value too long")

// funcs is the function map every template gets. "call" is overridden so a
// template cannot call a function value, whatever Data ever holds.
func funcs() template.FuncMap {
	return template.FuncMap{
		"lower":      strings.ToLower,
		"upper":      strings.ToUpper,
		"trim":       strings.TrimSpace,
		"trimPrefix": func(prefix, s string) string { return strings.TrimPrefix(s, prefix) },
		"trimSuffix": func(suffix, s string) string { return strings.TrimSuffix(s, suffix) },
		"replace":    func(old, new, s string) string { return strings.ReplaceAll(s, old, new) },
		"default": func(def string, v any) string {
			if s, ok := v.(string); ok && s != "" {
				return s
			}
			return def
		},
		"join": func(sep string, v []string) string { return strings.Join(v, sep) },
		"call": func(...any) (string, error) { return "", errors.New("call is not allowed in runbook templates") },
	}
}

// newTemplate returns an empty template with the restricted functions, that
// fails on a missing map key instead of printing "<no value>".
func newTemplate(name string) *template.Template {
	return template.New(name).Funcs(funcs()).Option("missingkey=error")
}

// ParseTemplate compiles a whole template (a JSON body string, a runbook
// target). Any template syntax is allowed.
func ParseTemplate(name, src string) (*template.Template, error) {
	t, err := newTemplate(name).Parse(src)
	if err != nil {
		return nil, cleanErr(err)
	}
	return t, nil
}

// Render executes t for d, refusing output longer than 64 KiB.
func Render(t *template.Template, d *Data) (string, error) {
	var w limitWriter
	w.max = maxRendered
	if err := t.Execute(&w, d); err != nil {
		if errors.Is(err, errTooLong) {
			return "", fmt.Errorf("rendered value exceeds %d bytes", maxRendered)
		}
		return "", cleanErr(err)
	}
	return w.b.String(), nil
}

// cleanErr drops text/template's "template: name:1:2: executing ..."
// prefix noise but keeps the cause.
func cleanErr(err error) error {
	msg := err.Error()
	if i := strings.Index(msg, "executing "); i >= 0 {
		if j := strings.Index(msg[i:], " at <"); j >= 0 {
			msg = msg[i+j+1:]
		}
	}
	msg = strings.TrimPrefix(msg, "template: ")
	return errors.New(msg)
}

type limitWriter struct {
	b   strings.Builder
	max int
}

func (w *limitWriter) Write(p []byte) (int, error) {
	if w.b.Len()+len(p) > w.max {
		return 0, errTooLong
	}
	return w.b.Write(p)
}

// FieldPattern constrains the values that one template field (such as
// ".Incident.Labels.service") renders into an exec argv.
type FieldPattern struct {
	// Field is the template expression, as written between {{ and }}.
	Field string `yaml:"field"`
	// Pattern is a Go regular expression the whole value must match;
	// empty means DefaultPattern. It is anchored at both ends whether or
	// not it says so.
	Pattern string `yaml:"pattern"`
	// AllowLeadingDash lets a value start with '-'. Without it such a
	// value is refused, whatever the pattern, because the program would
	// read it as an option.
	AllowLeadingDash bool `yaml:"allow_leading_dash"`
}

// canonicalField parses a field expression and returns text/template's
// canonical form of it ("{{.Incident.Labels.service}}"), the form argv
// actions are compared in.
func canonicalField(field string) (string, error) {
	src := strings.TrimSpace(field)
	if !strings.HasPrefix(src, "{{") {
		src = "{{" + src + "}}"
	}
	parts, err := parseParts(src)
	if err != nil {
		return "", err
	}
	if len(parts) != 1 || parts[0].tmpl == nil {
		return "", errors.New("want one template expression, such as .Incident.Labels.service")
	}
	return parts[0].field, nil
}

// compilePattern compiles a field pattern, anchored.
func compilePattern(p string) (*regexp.Regexp, error) {
	if p == "" {
		return defaultPattern, nil
	}
	return regexp.Compile(`^(?:` + p + `)$`)
}

// valueRule is a compiled FieldPattern.
type valueRule struct {
	re        *regexp.Regexp
	allowDash bool
}

var defaultRule = valueRule{re: defaultPattern}

// check validates one value rendered into an argv element.
func (r valueRule) check(v string) error {
	switch {
	case !utf8.ValidString(v):
		return errors.New("value is not valid UTF-8")
	case strings.IndexByte(v, 0) >= 0:
		return errors.New("value contains a NUL byte")
	case strings.HasPrefix(v, "-") && !r.allowDash:
		return fmt.Errorf("value %q starts with '-' and would be read as an option (set allow_leading_dash on the field to permit it)", clip(v))
	case !r.re.MatchString(v):
		return fmt.Errorf("value %q does not match the field pattern %s", clip(v), r.re)
	}
	return nil
}

// part is a piece of an argv element: literal text, or one {{ value }}
// action compiled on its own.
type part struct {
	lit   string
	field string // canonical action text, for FieldPattern lookup
	tmpl  *template.Template
	rule  valueRule
}

// parseParts splits an argv element template into literal text and value
// actions. Control structures and variables are refused: an argv element
// holds values, not logic.
func parseParts(src string) ([]part, error) {
	t, err := newTemplate("argv").Parse(src)
	if err != nil {
		return nil, cleanErr(err)
	}
	if t.Tree == nil || t.Tree.Root == nil {
		return nil, nil
	}
	if len(t.Templates()) > 1 {
		return nil, errors.New("{{define}} and {{block}} are not allowed in an argv element")
	}
	var parts []part
	for _, n := range t.Tree.Root.Nodes {
		switch n := n.(type) {
		case *parse.TextNode:
			parts = append(parts, part{lit: string(n.Text)})
		case *parse.ActionNode:
			if len(n.Pipe.Decl) > 0 {
				return nil, errors.New("variables are not allowed in an argv element")
			}
			canon := n.String()
			// Re-parsing the canonical text gives a template of this one
			// action, whose output Plan validates on its own.
			one, err := newTemplate("value").Parse(canon)
			if err != nil {
				return nil, cleanErr(err)
			}
			parts = append(parts, part{field: canon, tmpl: one, rule: defaultRule})
		default:
			return nil, fmt.Errorf("%s is not allowed in an argv element: use only literal text and {{ value }} actions", describeNode(n))
		}
	}
	return parts, nil
}

func describeNode(n parse.Node) string {
	s := n.String()
	if i := strings.Index(s, "}}"); i >= 0 {
		s = s[:i+2]
	}
	return clip(s)
}

// renderParts renders an argv element: each value is rendered and checked
// on its own, then joined with the literal text.
func renderParts(parts []part, d *Data) (string, error) {
	var b strings.Builder
	for _, p := range parts {
		if p.tmpl == nil {
			b.WriteString(p.lit)
			continue
		}
		v, err := Render(p.tmpl, d)
		if err != nil {
			return "", fmt.Errorf("%s: %w", p.field, err)
		}
		if err := p.rule.check(v); err != nil {
			return "", fmt.Errorf("%s: %w", p.field, err)
		}
		b.WriteString(v)
	}
	return b.String(), nil
}
