package config

import (
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

// keyPaths lists the key path of every leaf value of struct type t, with
// "[]" standing for any list index: "auth.tokens[].role".
func keyPaths(t reflect.Type, prefix string) []string {
	var paths []string
	for i := range t.NumField() {
		f := t.Field(i)
		path := joinPath(prefix, yamlKey(f))
		switch ft := f.Type; {
		case ft == durationType:
			paths = append(paths, path)
		case ft.Kind() == reflect.Struct:
			paths = append(paths, keyPaths(ft, path)...)
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			paths = append(paths, keyPaths(ft.Elem(), path+"[]")...)
		default:
			paths = append(paths, path)
		}
	}
	return paths
}

// TestDecoderSupportsConfig keeps Config within what decoder handles: every
// field exported with a snake_case yaml key, of a kind decoder.value knows.
func TestDecoderSupportsConfig(t *testing.T) {
	key := regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	var check func(reflect.Type)
	check = func(st reflect.Type) {
		for i := range st.NumField() {
			f := st.Field(i)
			name := st.Name() + "." + f.Name
			if !f.IsExported() || !key.MatchString(yamlKey(f)) {
				t.Errorf("%s: want an exported field with a snake_case yaml key, got tag %q", name, f.Tag.Get("yaml"))
			}
			ft := f.Type
			if ft.Kind() == reflect.Map && ft.Key().Kind() == reflect.String {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Slice {
				ft = ft.Elem()
			}
			switch {
			case ft == durationType, ft.Kind() == reflect.String, ft.Kind() == reflect.Bool,
				ft.Kind() >= reflect.Int && ft.Kind() <= reflect.Int64, ft.Kind() == reflect.Float64:
			case ft.Kind() == reflect.Struct:
				check(ft)
			default:
				t.Errorf("%s: decoder does not support %s", name, f.Type)
			}
		}
	}
	check(reflect.TypeFor[Config]())
}

// TestDocsCoverEveryKey keeps docs/configuration.md true to the code: every
// key is documented, and every YAML example in it parses.
func TestDocsCoverEveryKey(t *testing.T) {
	data, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	for _, path := range keyPaths(reflect.TypeFor[Config](), "") {
		if !strings.Contains(doc, "`"+path+"`") {
			t.Errorf("docs/configuration.md does not document `%s`", path)
		}
	}
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(doc, -1)
	if len(blocks) == 0 {
		t.Fatal("docs/configuration.md has no yaml examples")
	}
	lookup := func(name string) (string, bool) { return "example-" + strings.ToLower(name), true }
	for i, b := range blocks {
		if _, err := ParseWithEnv([]byte(b[1]), lookup); err != nil {
			t.Errorf("yaml example %d does not parse: %v\n%s", i+1, err, b[1])
		}
	}
}

// TestDocsDefaults checks the Default column of every reference table in
// docs/configuration.md against Default().
func TestDocsDefaults(t *testing.T) {
	data, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	want := make(map[string]string)
	var walk func(v reflect.Value, prefix string)
	walk = func(v reflect.Value, prefix string) {
		for i := range v.NumField() {
			f, fv := v.Type().Field(i), v.Field(i)
			path := joinPath(prefix, yamlKey(f))
			switch {
			case f.Type == durationType:
				// Written as people write them: 5m, not 5m0s.
				d := fv.Interface().(time.Duration).String()
				if strings.HasSuffix(d, "m0s") {
					d = strings.TrimSuffix(d, "0s")
				}
				if strings.HasSuffix(d, "h0m") {
					d = strings.TrimSuffix(d, "0m")
				}
				want[path] = "`" + d + "`"
			case f.Type.Kind() == reflect.Struct:
				walk(fv, path)
			case fv.IsZero() || f.Type.Kind() == reflect.Slice && fv.Len() == 0:
				want[path] = "(none)"
			case f.Type.Kind() == reflect.Slice:
				want[path] = fmt.Sprintf("`%v`", fv.Interface())
			default:
				want[path] = fmt.Sprintf("`%v`", fv.Interface())
			}
		}
	}
	walk(reflect.ValueOf(Default()), "")
	row := regexp.MustCompile("(?m)^\\| *`([a-z0-9_.\\[\\]]+)` *\\|[^|]*\\| *([^|]*?) *\\|")
	got := make(map[string]string)
	for _, m := range row.FindAllStringSubmatch(string(data), -1) {
		got[m[1]] = m[2]
	}
	for path, def := range want {
		if got[path] != def {
			t.Errorf("docs: `%s` default is %q, want %q", path, got[path], def)
		}
	}
	for _, path := range keyPaths(reflect.TypeFor[TokenConfig](), "auth.tokens[]") {
		if got[path] != "(none)" {
			t.Errorf("docs: `%s` default is %q, want (none)", path, got[path])
		}
	}
}

// TestDocsEmbedExample keeps the annotated example in docs/configuration.md
// identical to examples/osprey.yaml.
func TestDocsEmbedExample(t *testing.T) {
	doc, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile("../../examples/osprey.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), "```yaml\n"+string(example)+"```") {
		t.Error("docs/configuration.md does not embed examples/osprey.yaml verbatim in its annotated example")
	}
}

// TestDocsErrorExample keeps the sample error output in
// docs/configuration.md what Parse really prints for the file it describes.
func TestDocsErrorExample(t *testing.T) {
	doc, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	const file = "server:\n  listen: localhost\n  read_timeout: 10\n  write_timout: 5s\n" +
		"auth:\n  tokens:\n    - name: admin\n      role: root\n      sha256: " + testHash + "\n"
	_, err = ParseWithEnv([]byte(file), nil)
	if err == nil {
		t.Fatal("ParseWithEnv accepted the file")
	}
	want := "```text\nload config /etc/osprey/osprey.yaml: " + err.Error() + "\n```"
	if !strings.Contains(string(doc), want) {
		t.Errorf("docs/configuration.md does not show the real error output:\n%s", want)
	}
}
