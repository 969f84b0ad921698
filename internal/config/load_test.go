package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// testEnv is the environment the fixtures are parsed with.
var testEnv = map[string]string{
	"OSPREY_TEST_DSN":   "postgres://osprey:s3cret@db:5432/osprey?sslmode=require",
	"OSPREY_TEST_CONNS": "25",
	"OSPREY_TEST_EMPTY": "",
}

func testLookup(name string) (string, bool) {
	v, ok := testEnv[name]
	return v, ok
}

// problemsOf returns the individual problems of an error from Parse.
func problemsOf(t *testing.T, err error) Errors {
	t.Helper()
	var list Errors
	if !errors.As(err, &list) {
		t.Fatalf("error is a %T, not an Errors: %v", err, err)
	}
	for _, e := range list {
		var fe *FieldError
		if !errors.As(e, &fe) {
			t.Errorf("problem is a %T, not a *FieldError: %v", e, e)
		}
	}
	return list
}

func fixtures(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures in testdata/%s: %v", dir, err)
	}
	return files
}

func TestParseGoodFixtures(t *testing.T) {
	for _, file := range fixtures(t, "good") {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := ParseWithEnv(data, testLookup)
			if err != nil {
				t.Fatalf("ParseWithEnv: %v", err)
			}
			if err := cfg.Validate(); err != nil {
				t.Fatalf("accepted config does not validate: %v", err)
			}
		})
	}
}

// TestParseBadFixtures parses each testdata/bad file and expects exactly the
// problems its "# want: ..." lines list (each a substring of one problem).
func TestParseBadFixtures(t *testing.T) {
	for _, file := range fixtures(t, "bad") {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var wants []string
			for line := range strings.Lines(string(data)) {
				if w, ok := strings.CutPrefix(line, "# want: "); ok {
					wants = append(wants, strings.TrimSpace(w))
				}
			}
			if len(wants) == 0 {
				t.Fatal("fixture has no '# want: ' lines")
			}
			_, err = ParseWithEnv(data, testLookup)
			if err == nil {
				t.Fatal("ParseWithEnv accepted the file")
			}
			list := problemsOf(t, err)
			for _, w := range wants {
				if !slices.ContainsFunc(list, func(e error) bool { return strings.Contains(e.Error(), w) }) {
					t.Errorf("no problem contains %q", w)
				}
			}
			if len(list) != len(wants) {
				t.Errorf("got %d problems, want %d", len(list), len(wants))
			}
			if t.Failed() {
				t.Logf("got:\n%v", err)
			}
		})
	}
}

func TestParseReportsEveryMistake(t *testing.T) {
	const file = `server:
  listen: ":http"
  write_timeout: 1
auth:
  tokens:
    - {name: a, role: viewer, token_file: /a}
    - {name: a, role: boss}
log:
  level: loud
colour: red
`
	_, err := ParseWithEnv([]byte(file), nil)
	if err == nil {
		t.Fatal("ParseWithEnv accepted the file")
	}
	want := []string{
		`line 3: server.write_timeout: "1" is a bare number: a duration needs a unit, such as "30s" or "5m"`,
		`line 10: colour: unknown key (valid keys: data_dir, server, auth, storage, bus, correlate, log, tsdb, remote_write, detect, forecast, query, loki, syslog, logs, otlp, scrape, files, tail, remediation, notifications, rca, topology)`,
		`line 2: server.listen: ":http": port "http" is not a number from 0 to 65535`,
		`line 7: auth.tokens[1].role: "boss" is not one of viewer, operator, admin`,
		`line 7: auth.tokens[1]: exactly one of token_file and sha256 must be set`,
		`line 7: auth.tokens[1].name: "a" is already used by tokens[0]`,
		`line 9: log.level: "loud" is not one of debug, info, warn, error`,
	}
	var got []string
	for _, e := range problemsOf(t, err) {
		got = append(got, e.Error())
	}
	if !slices.Equal(got, want) {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if msg := err.Error(); !strings.HasPrefix(msg, "7 configuration errors:\n  line 3: server.write_timeout:") {
		t.Errorf("Error() = %q, want a count and one problem per line", msg)
	}
}

func TestParseKeepsDefaults(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want func(*Config)
	}{
		{"empty", "", func(*Config) {}},
		{"blank lines", "\n\n", func(*Config) {}},
		{"comments only", "# nothing\n", func(*Config) {}},
		{"document marker only", "---\n", func(*Config) {}},
		{"null document", "~\n", func(*Config) {}},
		{"empty section", "server:\n", func(*Config) {}},
		{"empty flow section", "server: {}\n", func(*Config) {}},
		{
			"one key in a section",
			"server:\n  listen: 127.0.0.1:1234\n",
			func(c *Config) { c.Server.Listen = "127.0.0.1:1234" },
		},
		{
			"keys in several sections",
			"bus: {queue_size: 7}\nstorage:\n  sqlite: {path: x.db}\n",
			func(c *Config) { c.Bus.QueueSize = 7; c.Storage.SQLite.Path = "x.db" },
		},
		{
			"a list replaces the default list",
			"correlate: {group_by: [namespace, host]}\n",
			func(c *Config) { c.Correlate.GroupBy = []string{"namespace", "host"} },
		},
		{
			"durations",
			"server: {read_timeout: 1m30s, write_timeout: 250ms}\ncorrelate: {window: 1h}\n",
			func(c *Config) {
				c.Server.ReadTimeout = 90 * time.Second
				c.Server.WriteTimeout = 250 * time.Millisecond
				c.Correlate.Window = time.Hour
			},
		},
		{
			"integer notations",
			"server: {max_body_bytes: 0x100000, max_events_per_request: 1_000}\n",
			func(c *Config) { c.Server.MaxBodyBytes = 1 << 20; c.Server.MaxEventsPerRequest = 1000 },
		},
		{
			"quoted duration",
			"bus: {publish_timeout: \"3s\"}\n",
			func(c *Config) { c.Bus.PublishTimeout = 3 * time.Second },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseWithEnv([]byte(tt.yaml), nil)
			if err != nil {
				t.Fatalf("ParseWithEnv: %v", err)
			}
			want := Default()
			tt.want(&want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestParseEnv(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		check   func(*testing.T, Config)
		wantErr string
	}{
		{
			name: "whole value",
			yaml: "storage:\n  driver: postgres\n  postgres:\n    dsn: ${OSPREY_TEST_DSN}\n",
			check: func(t *testing.T, c Config) {
				if c.Storage.Postgres.DSN != testEnv["OSPREY_TEST_DSN"] {
					t.Errorf("dsn = %q", c.Storage.Postgres.DSN)
				}
			},
		},
		{
			name: "unquoted reference to a number is a number",
			yaml: "storage:\n  postgres:\n    max_conns: ${OSPREY_TEST_CONNS}\n",
			check: func(t *testing.T, c Config) {
				if c.Storage.Postgres.MaxConns != 25 {
					t.Errorf("max_conns = %d", c.Storage.Postgres.MaxConns)
				}
			},
		},
		{
			name: "part of a value, escaped dollars",
			yaml: "data_dir: /srv/$${HOME}/$$x/${OSPREY_TEST_CONNS}/$y\n",
			check: func(t *testing.T, c Config) {
				if want := "/srv/${HOME}/$x/25/$y"; c.DataDir != want {
					t.Errorf("data_dir = %q, want %q", c.DataDir, want)
				}
			},
		},
		{
			// Only the level is wrong: the variable did not add a format key.
			name:    "a value containing YAML syntax stays one value",
			yaml:    "log:\n  level: ${TRICKY}\n",
			wantErr: `line 2: log.level: "debug\nformat: json # not a key" is not one of debug, info, warn, error`,
		},
		{
			// In a flow mapping a plain scalar cannot hold { or }, so the
			// reference is quoted, which makes the value a string.
			name:    "quoted reference in a flow mapping",
			yaml:    "storage: {postgres: {max_conns: \"${OSPREY_TEST_CONNS}\"}}\n",
			wantErr: `line 1: storage.postgres.max_conns: "25" is not an integer`,
		},
		{
			name: "comments and keys are not expanded",
			yaml: "# ${NOT_SET}\nlog:\n  level: info # ${NOT_SET}\n",
			check: func(t *testing.T, c Config) {
				if c.Log.Level != "info" {
					t.Errorf("level = %q", c.Log.Level)
				}
			},
		},
		{
			name:    "unset variable",
			yaml:    "log:\n  level: ${NOT_SET}\n",
			wantErr: "line 2: log.level: environment variable NOT_SET is not set",
		},
		{
			name:    "several unset variables in one value",
			yaml:    "data_dir: ${A_UNSET}/${B_UNSET}/${A_UNSET}\n",
			wantErr: "line 1: data_dir: environment variables A_UNSET, B_UNSET are not set",
		},
		{
			name:    "unset variable in a literal block reports its own line",
			yaml:    "storage:\n  postgres:\n    dsn: |\n      host=db\n      password=${PG_PASSWORD_UNSET}\n",
			wantErr: "line 5: storage.postgres.dsn: environment variable PG_PASSWORD_UNSET is not set",
		},
		{
			name:    "empty variable in a string is empty",
			yaml:    "data_dir: ${OSPREY_TEST_EMPTY}\n",
			wantErr: "line 1: data_dir: must not be empty",
		},
		{
			name:    "unterminated reference",
			yaml:    "data_dir: ${OSPREY_TEST_CONNS\n",
			wantErr: `line 1: data_dir: unterminated ${ at "${OSPREY_TEST_CONNS"`,
		},
		{
			name:    "default syntax is not supported",
			yaml:    "data_dir: ${X:-y}\n",
			wantErr: `line 1: data_dir: invalid variable reference "${X:-y}"`,
		},
		{
			name:    "empty name",
			yaml:    "data_dir: a${}b\n",
			wantErr: `invalid variable reference "${}"`,
		},
	}
	lookup := func(name string) (string, bool) {
		if name == "TRICKY" {
			return "debug\nformat: json # not a key", true
		}
		return testLookup(name)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := ParseWithEnv([]byte(tt.yaml), lookup)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseWithEnv: %v", err)
			}
			if tt.check != nil {
				tt.check(t, cfg)
			}
		})
	}
}

func TestExpand(t *testing.T) {
	env := map[string]string{"A": "1", "B_2": "two", "EMPTY": ""}
	lookup := func(n string) (string, bool) { v, ok := env[n]; return v, ok }
	tests := []struct {
		name, in, want, wantErr string
	}{
		{name: "no dollar", in: "plain", want: "plain"},
		{name: "variable", in: "${A}", want: "1"},
		{name: "variables and text", in: "x${A}y${B_2}z", want: "x1ytwoz"},
		{name: "empty variable", in: "[${EMPTY}]", want: "[]"},
		{name: "escaped dollar", in: "$$", want: "$"},
		{name: "escaped reference", in: "$${A}", want: "${A}"},
		{name: "lone dollar", in: "a$b", want: "a$b"},
		{name: "trailing dollar", in: "a$", want: "a$"},
		{name: "dollar brace not a reference", in: "$ {A}", want: "$ {A}"},
		{name: "no recursion", in: "${REF}", want: "${A}"},
		{name: "unset", in: "${NOPE}", wantErr: "environment variable NOPE is not set"},
		{name: "unterminated", in: "${A", wantErr: "unterminated ${"},
		{name: "bad name", in: "${1A}", wantErr: "invalid variable reference"},
		{name: "nested", in: "${A${B_2}}", wantErr: "invalid variable reference"},
	}
	env["REF"] = "${A}"
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := expand(tt.in, lookup)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("expand(%q) error = %v, want %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("expand(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestUnknownKeyHasPathAndLine(t *testing.T) {
	_, err := ParseWithEnv([]byte("storage:\n  driver: sqlite\n  sqlite:\n    path: a.db\n    mode: wal\n"), nil)
	list := problemsOf(t, err)
	if len(list) != 1 {
		t.Fatalf("got %d problems, want 1: %v", len(list), err)
	}
	var fe *FieldError
	errors.As(list[0], &fe)
	if fe.Path != "storage.sqlite.mode" || fe.Line != 5 || !strings.Contains(fe.Err.Error(), "unknown key") {
		t.Errorf("got path %q line %d err %v; want storage.sqlite.mode, line 5, unknown key", fe.Path, fe.Line, fe.Err)
	}
}

func TestDurationErrors(t *testing.T) {
	tests := []struct{ name, value, want string }{
		{"bare integer", "30", `"30" is a bare number: a duration needs a unit`},
		{"bare float", "1.5", `"1.5" is a bare number`},
		{"zero", "0", `"0" is a bare number`},
		{"quoted number", `"30"`, `"30" is not a duration (want a number with a unit`},
		{"words", "thirty seconds", `"thirty seconds" is not a duration`},
		{"unknown unit", "5d", `"5d" is not a duration`},
		{"bool", "true", `"true" is not a duration`},
		{"list", "[5m]", `want a single value, got a list`},
		{"empty", `""`, `"" is not a duration`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseWithEnv([]byte("server:\n  shutdown_timeout: "+tt.value+"\n"), nil)
			want := "line 2: server.shutdown_timeout: " + tt.want
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("error = %v, want one containing %q", err, want)
			}
		})
	}
}

func TestParseMergeKeys(t *testing.T) {
	const file = `auth:
  tokens:
    - &base
      name: base
      role: viewer
      token_file: /t/base
    - <<: [*base, {role: admin, sha256: ""}]
      name: second
      token_file: /t/second
    - name: third
      <<: {name: ignored, role: operator, token_file: /t/third}
`
	cfg, err := ParseWithEnv([]byte(file), nil)
	if err != nil {
		t.Fatalf("ParseWithEnv: %v", err)
	}
	want := []TokenConfig{
		{Name: "base", Role: RoleViewer, TokenFile: "/t/base"},
		// Explicit keys win; among merged mappings the first wins.
		{Name: "second", Role: RoleViewer, TokenFile: "/t/second"},
		{Name: "third", Role: RoleOperator, TokenFile: "/t/third"},
	}
	if !reflect.DeepEqual(cfg.Auth.Tokens, want) {
		t.Errorf("tokens = %+v\nwant %+v", cfg.Auth.Tokens, want)
	}
}

func TestParseHostileDocuments(t *testing.T) {
	// A "billion laughs": each level refers to the previous one ten times.
	var laughs strings.Builder
	laughs.WriteString("x0: &x0 {<<: {listen: \"127.0.0.1:1\"}}\n")
	for i := 1; i <= 9; i++ {
		laughs.WriteString("x" + string(rune('0'+i)) + ": &x" + string(rune('0'+i)) + " {<<: [")
		for j := range 10 {
			if j > 0 {
				laughs.WriteString(", ")
			}
			laughs.WriteString("*x" + string(rune('0'+i-1)))
		}
		laughs.WriteString("]}\n")
	}
	laughs.WriteString("server: *x9\n")
	tests := []struct{ name, yaml, want string }{
		{"merge of itself", "server: &s\n  <<: *s\n", "refers to the mapping that contains it"},
		{"alias of an ancestor", "storage: &s\n  sqlite: *s\n", "line 2: storage.sqlite.sqlite: unknown key (valid keys: path)"},
		{"billion laughs", laughs.String(), "document too complex"},
		{"binary", "\x00\x01\x02", "control characters are not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			_, err := ParseWithEnv([]byte(tt.yaml), nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want one containing %q", err, tt.want)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}

func TestParseCapsErrors(t *testing.T) {
	var b strings.Builder
	for i := range 300 {
		b.WriteString("key" + strings.Repeat("x", i) + ": 1\n")
	}
	_, err := ParseWithEnv([]byte(b.String()), nil)
	list := problemsOf(t, err)
	if len(list) != maxErrors+1 || !strings.Contains(list[maxErrors].Error(), "200 more errors not shown") {
		t.Errorf("got %d problems, last %v", len(list), list[len(list)-1])
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(good, []byte("log:\n  level: ${OSPREY_TEST_LEVEL}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("log: {level: loud}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("OSPREY_TEST_LEVEL", "debug")

	cfg, err := Load(good)
	if err != nil || cfg.Log.Level != "debug" {
		t.Errorf("Load(good) = level %q, %v", cfg.Log.Level, err)
	}
	_, err = Load(bad)
	if want := "load config " + bad + `: line 1: log.level: "loud" is not one of`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Load(bad) error = %v, want %q", err, want)
	}
	_, err = Load(filepath.Join(dir, "missing.yaml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(missing) error = %v, want fs.ErrNotExist", err)
	}
}

// TestExampleFile keeps examples/osprey.yaml valid. Its token files need not
// exist: Validate does not read them.
func TestExampleFile(t *testing.T) {
	cfg, err := Load("../../examples/osprey.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Auth.Tokens) == 0 {
		t.Error("the example configures no tokens")
	}
}
