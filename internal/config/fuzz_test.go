package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v3"
)

var fuzzEnv = map[string]string{
	"A":      "1",
	"S":      "service",
	"D":      "5m",
	"E":      "",
	"YAML":   "a: b\n- c: [d",
	"PG":     "postgres://u:p@db/x",
	"DOLLAR": "$${A}",
}

func fuzzLookup(name string) (string, bool) {
	v, ok := fuzzEnv[name]
	return v, ok
}

// FuzzParse checks that Parse never panics, that every error it returns is a
// non-empty Errors of FieldErrors, and that an accepted configuration is
// valid and survives a marshal/parse round trip unchanged.
func FuzzParse(f *testing.F) {
	for _, dir := range []string{"good", "bad"} {
		files, _ := filepath.Glob(filepath.Join("testdata", dir, "*.yaml"))
		for _, file := range files {
			if data, err := os.ReadFile(file); err == nil {
				f.Add(data)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseWithEnv(data, fuzzLookup)
		if err != nil {
			var list Errors
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("error %T is not a non-empty Errors: %v", err, err)
			}
			for _, e := range list {
				var fe *FieldError
				if !errors.As(e, &fe) || e.Error() == "" {
					t.Fatalf("problem %T %q is not a FieldError with a message", e, e)
				}
			}
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("accepted configuration does not validate: %v", err)
		}
		out := marshalEscaped(t, cfg)
		again, err := ParseWithEnv(out, nil)
		if err != nil {
			t.Fatalf("marshaled configuration does not parse: %v\n%s", err, out)
		}
		if a, b := normalize(cfg), normalize(again); !reflect.DeepEqual(a, b) {
			t.Fatalf("round trip changed the configuration:\n%+v\n%+v\n%s", a, b, out)
		}
	})
}

// marshalEscaped marshals cfg to YAML with every $ escaped as $$, so that
// parsing the result yields cfg again.
func marshalEscaped(t *testing.T, cfg Config) []byte {
	t.Helper()
	var n yaml.Node
	if err := n.Encode(cfg); err != nil {
		t.Fatalf("encode: %v", err)
	}
	var walk func(*yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.ScalarNode {
			n.Value = strings.ReplaceAll(n.Value, "$", "$$")
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(&n)
	out, err := yaml.Marshal(&n)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return out
}

// normalize makes every empty list (tokens, syslog addresses, runbooks and
// the lists inside them) nil: YAML cannot tell them apart.
func normalize(c Config) Config {
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Struct:
			for i := range v.NumField() {
				walk(v.Field(i))
			}
		case reflect.Slice:
			if v.Len() == 0 {
				v.SetZero()
				return
			}
			for i := range v.Len() {
				walk(v.Index(i))
			}
		}
	}
	walk(reflect.ValueOf(&c).Elem())
	return c
}
