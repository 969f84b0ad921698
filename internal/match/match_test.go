package match

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/osprey-aiops/osprey"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want osprey.Matcher
	}{
		{"service=checkout", osprey.Matcher{Name: "service", Type: "=", Value: "checkout"}},
		{"  service = checkout  ", osprey.Matcher{Name: "service", Type: "=", Value: "checkout"}},
		{"env!=prod", osprey.Matcher{Name: "env", Type: "!=", Value: "prod"}},
		{"pod=~api-.*", osprey.Matcher{Name: "pod", Type: "=~", Value: "api-.*"}},
		{"pod!~\"api-.*\"", osprey.Matcher{Name: "pod", Type: "!~", Value: "api-.*"}},
		{`msg="a \"quoted\" word\n"`, osprey.Matcher{Name: "msg", Type: "=", Value: "a \"quoted\" word\n"}},
		{`path=~"/api/\\d+"`, osprey.Matcher{Name: "path", Type: "=~", Value: `/api/\d+`}},
		{"env=", osprey.Matcher{Name: "env", Type: "=", Value: ""}},
		{`env=""`, osprey.Matcher{Name: "env", Type: "=", Value: ""}},
		{"a=b=c", osprey.Matcher{Name: "a", Type: "=", Value: "b=c"}},
		{"__name__=up", osprey.Matcher{Name: "__name__", Type: "=", Value: "up"}},
		{"x=~", osprey.Matcher{Name: "x", Type: "=~", Value: ""}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Fatalf("Parse(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
			back, err := Parse(String(got))
			if err != nil || back != got {
				t.Fatalf("round trip via %q = %+v, %v", String(got), back, err)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"", "empty matcher"},
		{"   ", "empty matcher"},
		{"=x", "want a label name"},
		{"1a=x", "want a label name"},
		{"service", "missing operator"},
		{"service checkout", `"checkout" after label name "service" is not an operator`},
		{"service<x", "is not an operator"},
		{"service-name=x", "is not an operator"},
		{`service="unterminated`, "not a valid double-quoted string"},
		{`service="bad \q escape"`, "not a valid double-quoted string"},
		{`service="x" trailing`, "not a valid double-quoted string"},
		{"pod=~(unclosed", "bad regular expression: missing closing )"},
		{"pod!~*", "bad regular expression: missing argument to repetition operator"},
		{"x=" + strings.Repeat("a", MaxValueLen+1), "more than 4096"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := Parse(tt.in)
			if err == nil {
				t.Fatalf("Parse(%q) succeeded, want error containing %q", tt.in, tt.want)
			}
			if !errors.Is(err, ErrSyntax) {
				t.Errorf("error %v does not wrap ErrSyntax", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse(%q) error = %q, want it to contain %q", tt.in, err, tt.want)
			}
		})
	}
}

func TestParseAll(t *testing.T) {
	ms, err := ParseAll([]string{"a=1", `b=~"x|y"`})
	if err != nil || len(ms) != 2 || ms[1].Value != "x|y" {
		t.Fatalf("ParseAll = %+v, %v", ms, err)
	}
	_, err = ParseAll([]string{"a=1", "b"})
	if err == nil || !strings.HasPrefix(err.Error(), "[1]: ") {
		t.Fatalf("ParseAll error = %v, want it to name index 1", err)
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name string
		ms   []osprey.Matcher
		want string
	}{
		{"bad name", []osprey.Matcher{{Name: "a", Type: "=", Value: "1"}, {Name: "b-c", Type: "=", Value: "1"}}, `matchers[1]: invalid matcher: "b-c" is not a valid label name`},
		{"empty name", []osprey.Matcher{{Name: "", Type: "=", Value: "1"}}, "is not a valid label name"},
		{"bad type", []osprey.Matcher{{Name: "a", Type: "==", Value: "1"}}, `unknown match type "=="`},
		{"empty type", []osprey.Matcher{{Name: "a", Value: "1"}}, `unknown match type ""`},
		{"bad regex", []osprey.Matcher{{Name: "a", Type: "=~", Value: "[z-a]"}}, "bad regular expression: invalid character class range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compile(tt.ms)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, ErrSyntax) {
				t.Fatalf("Compile error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestMatches(t *testing.T) {
	l := osprey.Labels{"service": "checkout", "env": "prod", "pod": "api-7f9c", "empty": ""}
	tests := []struct {
		matchers []string
		want     bool
	}{
		{nil, true},
		{[]string{"service=checkout"}, true},
		{[]string{"service=check"}, false},
		{[]string{"service!=checkout"}, false},
		{[]string{"service!=cart"}, true},
		{[]string{"service=checkout", "env=prod"}, true},
		{[]string{"service=checkout", "env=dev"}, false},
		// Anchored: a regex must match the whole value.
		{[]string{"pod=~api-.*"}, true},
		{[]string{"pod=~api"}, false},
		{[]string{"pod=~7f9c"}, false},
		{[]string{"pod=~.*7f9c"}, true},
		{[]string{"pod=~api-7f9c|other"}, true},
		{[]string{"pod!~api-.*"}, false},
		{[]string{"pod!~db-.*"}, true},
		// Literal regexes take the string-compare path.
		{[]string{"env=~prod"}, true},
		{[]string{"env!~prod"}, false},
		// A missing (or empty) label matches as "".
		{[]string{"zone="}, true},
		{[]string{"zone!=eu"}, true},
		{[]string{"zone=~.+"}, false},
		{[]string{"zone=~.*"}, true},
		{[]string{"zone!~.+"}, true},
		{[]string{"empty="}, true},
		{[]string{"zone=eu"}, false},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.matchers, ","), func(t *testing.T) {
			ms, err := ParseAll(tt.matchers)
			if err != nil {
				t.Fatal(err)
			}
			s, err := Compile(ms)
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Matches(l); got != tt.want {
				t.Fatalf("%s.Matches(%s) = %v, want %v", s, l, got, tt.want)
			}
		})
	}
}

func TestSetStringAndEmpty(t *testing.T) {
	s := MustCompile(
		osprey.Matcher{Name: "service", Type: "=", Value: "checkout"},
		osprey.Matcher{Name: "pod", Type: "=~", Value: `api-\d+`},
	)
	if got, want := s.String(), `{service="checkout", pod=~"api-\\d+"}`; got != want {
		t.Errorf("String() = %s, want %s", got, want)
	}
	if s.Len() != 2 || s.Matchers()[1].Value != `api-\d+` {
		t.Errorf("Len/Matchers = %d %+v", s.Len(), s.Matchers())
	}
	if s.MatchesEmpty() {
		t.Error("service=checkout matches the empty label set")
	}
	if !MustCompile(osprey.Matcher{Name: "env", Type: "!=", Value: "prod"}).MatchesEmpty() {
		t.Error(`env!="prod" should match the empty label set`)
	}
	var zero Set
	if !zero.Matches(osprey.Labels{"a": "b"}) || zero.String() != "{}" {
		t.Error("zero Set should match everything and print {}")
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"a=b", "a!=b", `a=~"x.*"`, "a!~y|z", `a="\u00e9\n"`, "=", "a", "a=~(", `a="`, " a = b "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := Parse(s)
		if err != nil {
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("Parse(%q) error %v does not wrap ErrSyntax", s, err)
			}
			return
		}
		// What parses compiles, prints and parses back to the same matcher.
		set, err := Compile([]osprey.Matcher{m})
		if err != nil {
			t.Fatalf("Parse(%q) = %+v, but Compile fails: %v", s, m, err)
		}
		back, err := Parse(String(m))
		if err != nil || back != m {
			t.Fatalf("Parse(%q) = %+v; re-parse of %q = %+v, %v", s, m, String(m), back, err)
		}
		set.Matches(osprey.Labels{m.Name: m.Value})
		set.Matches(nil)
	})
}

func BenchmarkMatches(b *testing.B) {
	l := osprey.Labels{"service": "checkout", "env": "prod", "pod": "checkout-7f9c6d-x2x4", "severity": "critical", "alertname": "HighLatency"}
	cases := []struct {
		name     string
		matchers []string
	}{
		{"equal", []string{"service=checkout", "env=prod"}},
		{"literal-regex", []string{"service=~checkout", "env!~dev"}},
		{"regex", []string{"service=checkout", "pod=~checkout-.*", "alertname=~High.*|Error.*"}},
		{"miss", []string{"service=cart", "pod=~checkout-.*"}},
	}
	for _, c := range cases {
		ms, err := ParseAll(c.matchers)
		if err != nil {
			b.Fatal(err)
		}
		s := MustCompile(ms...)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				s.Matches(l)
			}
		})
	}
}

// FuzzRegexAgrees checks the string fast paths (literal, prefix, alternation
// of literals) against the regexp engine on the anchored pattern.
func FuzzRegexAgrees(f *testing.F) {
	for _, s := range [][2]string{
		{"api-.*", "api-x"}, {"api-.*", "api-\nx"}, {"(?s)api-.*", "api-\nx"}, {"High.*|Error.*", "Errors"},
		{"a|b|cd", "cd"}, {"(?i)foo.*", "FOObar"}, {".*", ""}, {"foo|", ""}, {"x+", "xx"}, {"é.*", "éa"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, value string) {
		s, err := Compile([]osprey.Matcher{{Name: "l", Type: osprey.MatchRegexp, Value: pattern}})
		if err != nil {
			return
		}
		re := regexp.MustCompile("^(?:" + pattern + ")$")
		if got, want := s.Matches(osprey.Labels{"l": value}), re.MatchString(value); got != want {
			t.Fatalf("pattern %q value %q: Matches = %v, regexp = %v", pattern, value, got, want)
		}
	})
}

func TestSimpleAlts(t *testing.T) {
	for _, p := range []string{"api-.*", "High.*|Error.*", "api|web|db", ".*", "(?s)x.*"} {
		if simpleAlts(p) == nil {
			t.Errorf("simpleAlts(%q) = nil, want a fast path", p)
		}
	}
	for _, p := range []string{"(?i)foo", ".*foo", "a+", "x.y", "[ab]c"} {
		if simpleAlts(p) != nil {
			t.Errorf("simpleAlts(%q) = %+v, want nil (regexp engine)", p, simpleAlts(p))
		}
	}
}
