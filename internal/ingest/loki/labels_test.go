package loki

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/osprey-aiops/osprey"
)

func TestParseLabels(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    osprey.Labels
		wantErr string
	}{
		{name: "promtail", in: `{filename="/var/log/syslog", job="varlogs"}`,
			want: osprey.Labels{"filename": "/var/log/syslog", "job": "varlogs"}},
		{name: "no spaces", in: `{a="1",b="2"}`, want: osprey.Labels{"a": "1", "b": "2"}},
		{name: "padding and trailing comma", in: " { a = \"1\" ,\n b=\"2\", } ", want: osprey.Labels{"a": "1", "b": "2"}},
		{name: "escapes", in: `{msg="say \"hi\"\n\\ \u00e9"}`, want: osprey.Labels{"msg": "say \"hi\"\n\\ é"}},
		{name: "raw string", in: "{path=`C:\\dir`}", want: osprey.Labels{"path": `C:\dir`}},
		{name: "empty value", in: `{a=""}`, want: osprey.Labels{"a": ""}},
		{name: "empty set", in: `{}`, want: osprey.Labels{}},
		{name: "empty text", in: ``, wantErr: "want '{'"},
		{name: "no braces", in: `a="1"`, wantErr: "want '{'"},
		{name: "unclosed", in: `{a="1"`, wantErr: "want ',' or '}'"},
		{name: "unterminated value", in: `{a="1}`, wantErr: "unterminated"},
		{name: "escaped end quote", in: `{a="1\"}`, wantErr: "unterminated"},
		{name: "regexp matcher", in: `{a=~"1"}`, wantErr: "want a quoted label value"},
		{name: "negative matcher", in: `{a!="1"}`, wantErr: "only = matchers"},
		{name: "unquoted value", in: `{a=1}`, wantErr: "want a quoted label value"},
		{name: "single quotes", in: `{a='1'}`, wantErr: "want a quoted label value"},
		{name: "bad escape", in: `{a="\q"}`, wantErr: "bad escape"},
		{name: "duplicate", in: `{a="1", a="2"}`, wantErr: `duplicate label name "a"`},
		{name: "name starts with digit", in: `{1a="1"}`, wantErr: "want a label name"},
		{name: "dotted name", in: `{a.b="1"}`, wantErr: "want '=' after \"a\""},
		{name: "text after", in: `{a="1"} x`, wantErr: "text after"},
		{name: "newline in value", in: "{a=\"1\n\"}", wantErr: "unterminated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseLabels(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseLabels(%q) = %v, %v; want error %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("parseLabels(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
	if _, err := parseLabels(`{a="`); !errors.Is(err, errUnterminated) {
		t.Errorf("unterminated error does not wrap errUnterminated: %v", err)
	}
}

// FuzzLokiLabels checks that the parser never panics, and that what it
// accepts is written back by osprey.Labels.String (Prometheus' notation,
// which is Promtail's) and parsed again to the same set.
func FuzzLokiLabels(f *testing.F) {
	for _, s := range []string{
		`{filename="/var/log/syslog", job="varlogs"}`, `{}`, `{a="\u00e9\"\\"}`, "{a=`x`,}", `{a=~"x"}`, `{a="1", a="2"}`,
		`{a="1"} x`, `{`, `}`, `{a="\xff"}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := parseLabels(in)
		if err != nil {
			return
		}
		nonEmpty := make(osprey.Labels, len(got))
		for k, v := range got {
			if !validName(k) {
				t.Fatalf("accepted label name %q", k)
			}
			if v != "" {
				nonEmpty[k] = v
			}
		}
		again, err := parseLabels(got.String())
		if err != nil {
			t.Fatalf("%q: written back as %q: %v", in, got.String(), err)
		}
		if !reflect.DeepEqual(again, nonEmpty) {
			t.Fatalf("%q: round trip %v -> %v", in, nonEmpty, again)
		}
	})
}

func validName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9') {
			return false
		}
	}
	return s != ""
}
