// Package match parses and evaluates label matchers as Alertmanager does:
// name=value, name!=value, name=~regex and name!~regex. Regular expressions
// are fully anchored (name=~"api.*" matches "api-gw", not "my-api"), and a
// label a signal does not carry matches as the empty string, so
// env!="prod" matches a signal without an env label and env=~".+" requires
// one.
//
// Silences, inhibition rules and notification routes all use these matchers;
// a Set is compiled once and is safe for concurrent use.
package match

import (
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/osprey-aiops/osprey"
)

// MaxValueLen bounds a matcher value (a literal or a regular expression), so
// a stored silence or a config file cannot carry an unbounded pattern.
const MaxValueLen = 4096

// ErrSyntax is wrapped by every parse and validation error, for callers that
// map bad matchers to a 400 or a config error.
var ErrSyntax = errors.New("invalid matcher")

// Parse parses one matcher written as name=value, name!=value, name=~regex or
// name!~regex. Spaces around the name, the operator and the value are
// ignored. The value may be double-quoted, with Go escapes (service="a b",
// path=~"/api/\\d+"); an unquoted value is taken as written. The result is
// validated as Compile would.
func Parse(s string) (osprey.Matcher, error) {
	in := strings.TrimSpace(s)
	i := 0
	for i < len(in) && isNameByte(in[i], i) {
		i++
	}
	name := in[:i]
	if name == "" {
		if in == "" {
			return osprey.Matcher{}, fmt.Errorf("%w: empty matcher, want name=value, name!=value, name=~regex or name!~regex", ErrSyntax)
		}
		return osprey.Matcher{}, fmt.Errorf("%w %q: want a label name (letters, digits and _, not starting with a digit) before the operator", ErrSyntax, clip(s))
	}
	rest := strings.TrimLeft(in[i:], " \t")
	var typ osprey.MatchType
	switch {
	case strings.HasPrefix(rest, "=~"):
		typ = osprey.MatchRegexp
	case strings.HasPrefix(rest, "!~"):
		typ = osprey.MatchNotRegexp
	case strings.HasPrefix(rest, "!="):
		typ = osprey.MatchNotEqual
	case strings.HasPrefix(rest, "="):
		typ = osprey.MatchEqual
	default:
		if rest == "" {
			return osprey.Matcher{}, fmt.Errorf("%w %q: missing operator (=, !=, =~ or !~) and value after label name %q", ErrSyntax, clip(s), name)
		}
		return osprey.Matcher{}, fmt.Errorf("%w %q: %q after label name %q is not an operator (=, !=, =~ or !~)", ErrSyntax, clip(s), clip(rest), name)
	}
	value := strings.TrimSpace(rest[len(typ):])
	if strings.HasPrefix(value, `"`) {
		uq, err := strconv.Unquote(value)
		if err != nil {
			return osprey.Matcher{}, fmt.Errorf("%w %q: value %s is not a valid double-quoted string (unbalanced quote or bad escape)", ErrSyntax, clip(s), clip(value))
		}
		value = uq
	}
	m := osprey.Matcher{Name: name, Type: typ, Value: value}
	if _, err := compileOne(m); err != nil {
		return osprey.Matcher{}, err
	}
	return m, nil
}

// ParseAll parses each string with Parse; the error names the index of the
// first bad one.
func ParseAll(ss []string) ([]osprey.Matcher, error) {
	ms := make([]osprey.Matcher, 0, len(ss))
	for i, s := range ss {
		m, err := Parse(s)
		if err != nil {
			return nil, fmt.Errorf("[%d]: %w", i, err)
		}
		ms = append(ms, m)
	}
	return ms, nil
}

// String renders m as Parse reads it back: name, operator, quoted value.
func String(m osprey.Matcher) string {
	return m.Name + string(m.Type) + strconv.Quote(m.Value)
}

// Set is a compiled conjunction of matchers. The zero Set has no matchers and
// matches every label set.
type Set struct {
	ms []compiled
}

type compiled struct {
	m osprey.Matcher
	// re is set for regex matchers that are not a plain literal.
	re *regexp.Regexp
	// literal is set when a regex matcher's pattern has no metacharacters,
	// so it is compared as a string.
	literal bool
	// alts, when non-nil, replaces re: the pattern is an alternation of
	// literals and literal prefixes followed by .* (the common shapes in
	// silences: "api-.*", "High.*|Error.*", "a|b"), matched without the
	// regexp engine.
	alts []alt
}

// alt is one alternative of a simple regex: s exactly, or s followed by any
// run of characters (excluding newlines unless anyNL).
type alt struct {
	s      string
	prefix bool
	anyNL  bool
}

// Compile validates ms and compiles their regular expressions. An empty list
// gives a Set that matches everything; callers for which that would be
// dangerous (a silence) reject it themselves.
func Compile(ms []osprey.Matcher) (Set, error) {
	s := Set{ms: make([]compiled, 0, len(ms))}
	for i, m := range ms {
		c, err := compileOne(m)
		if err != nil {
			return Set{}, fmt.Errorf("matchers[%d]: %w", i, err)
		}
		s.ms = append(s.ms, c)
	}
	return s, nil
}

// MustCompile is Compile for matchers known to be valid (tests, constants);
// it panics on an error.
func MustCompile(ms ...osprey.Matcher) Set {
	s, err := Compile(ms)
	if err != nil {
		panic(err)
	}
	return s
}

func compileOne(m osprey.Matcher) (compiled, error) {
	if !validName(m.Name) {
		return compiled{}, fmt.Errorf("%w: %q is not a valid label name (want letters, digits and _, not starting with a digit)", ErrSyntax, clip(m.Name))
	}
	if len(m.Value) > MaxValueLen {
		return compiled{}, fmt.Errorf("%w: value of %s is %d bytes, more than %d", ErrSyntax, m.Name, len(m.Value), MaxValueLen)
	}
	c := compiled{m: m}
	switch m.Type {
	case osprey.MatchEqual, osprey.MatchNotEqual:
	case osprey.MatchRegexp, osprey.MatchNotRegexp:
		if !utf8.ValidString(m.Value) {
			return compiled{}, fmt.Errorf("%w: %s%s: regular expression is not valid UTF-8", ErrSyntax, m.Name, m.Type)
		}
		if regexp.QuoteMeta(m.Value) == m.Value {
			c.literal = true
			break
		}
		re, err := regexp.Compile("^(?:" + m.Value + ")$")
		if err != nil {
			var serr *syntax.Error
			msg := err.Error()
			if errors.As(err, &serr) {
				msg = string(serr.Code)
			}
			return compiled{}, fmt.Errorf("%w %s%s%s: bad regular expression: %s", ErrSyntax, m.Name, m.Type, strconv.Quote(clip(m.Value)), msg)
		}
		c.re = re
		c.alts = simpleAlts(m.Value)
	default:
		return compiled{}, fmt.Errorf("%w: %s: unknown match type %q (want =, !=, =~ or !~)", ErrSyntax, clip(m.Name), clip(string(m.Type)))
	}
	return c, nil
}

// Len returns the number of matchers in s.
func (s Set) Len() int { return len(s.ms) }

// Matchers returns a copy of the matchers s was compiled from.
func (s Set) Matchers() []osprey.Matcher {
	out := make([]osprey.Matcher, len(s.ms))
	for i, c := range s.ms {
		out[i] = c.m
	}
	return out
}

// Matches reports whether l satisfies every matcher of s. A label l does
// not carry is matched as "".
func (s Set) Matches(l osprey.Labels) bool {
	for i := range s.ms {
		if !s.ms[i].matches(l[s.ms[i].m.Name]) {
			return false
		}
	}
	return true
}

// MatchesEmpty reports whether s matches a label set with no labels at all;
// such a set (env!="prod", x=~".*") would match nearly every signal, which a
// silence should refuse.
func (s Set) MatchesEmpty() bool { return s.Matches(nil) }

func (c *compiled) matches(v string) bool {
	switch c.m.Type {
	case osprey.MatchEqual:
		return v == c.m.Value
	case osprey.MatchNotEqual:
		return v != c.m.Value
	case osprey.MatchRegexp:
		return c.regexMatch(v)
	default: // MatchNotRegexp; Compile admits nothing else
		return !c.regexMatch(v)
	}
}

func (c *compiled) regexMatch(v string) bool {
	switch {
	case c.literal:
		return v == c.m.Value
	case c.alts != nil:
		for _, a := range c.alts {
			if !a.prefix {
				if v == a.s {
					return true
				}
				continue
			}
			if strings.HasPrefix(v, a.s) && (a.anyNL || strings.IndexByte(v[len(a.s):], '\n') < 0) {
				return true
			}
		}
		return false
	default:
		return c.re.MatchString(v)
	}
}

// simpleAlts returns the alternatives of pattern when every one is a
// case-sensitive literal, optionally followed by .*; else nil.
func simpleAlts(pattern string) []alt {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return nil
	}
	re = re.Simplify()
	subs := []*syntax.Regexp{re}
	if re.Op == syntax.OpAlternate {
		subs = re.Sub
	}
	alts := make([]alt, 0, len(subs))
	for _, sub := range subs {
		a, ok := simpleAlt(sub)
		if !ok {
			return nil
		}
		alts = append(alts, a)
	}
	return alts
}

func simpleAlt(re *syntax.Regexp) (alt, bool) {
	lit := func(r *syntax.Regexp) (string, bool) {
		if r.Op == syntax.OpEmptyMatch {
			return "", true
		}
		if r.Op != syntax.OpLiteral || r.Flags&syntax.FoldCase != 0 {
			return "", false
		}
		return string(r.Rune), true
	}
	star := func(r *syntax.Regexp) (anyNL, ok bool) {
		if r.Op != syntax.OpStar || len(r.Sub) != 1 {
			return false, false
		}
		switch r.Sub[0].Op {
		case syntax.OpAnyCharNotNL:
			return false, true
		case syntax.OpAnyChar:
			return true, true
		}
		return false, false
	}
	if s, ok := lit(re); ok {
		return alt{s: s}, true
	}
	if anyNL, ok := star(re); ok {
		return alt{prefix: true, anyNL: anyNL}, true
	}
	if re.Op == syntax.OpConcat && len(re.Sub) == 2 {
		s, ok1 := lit(re.Sub[0])
		anyNL, ok2 := star(re.Sub[1])
		if ok1 && ok2 {
			return alt{s: s, prefix: true, anyNL: anyNL}, true
		}
	}
	return alt{}, false
}

// String renders s in Alertmanager's notation: {name="v", other=~"re.*"}.
func (s Set) String() string {
	var b strings.Builder
	b.WriteByte('{')
	for i, c := range s.ms {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(String(c.m))
	}
	b.WriteByte('}')
	return b.String()
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isNameByte(s[i], i) {
			return false
		}
	}
	return true
}

func isNameByte(c byte, i int) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9'
}

// clip shortens s for an error message.
func clip(s string) string {
	const n = 80
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
