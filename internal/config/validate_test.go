package config

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	tracedetect "github.com/osprey-aiops/osprey/internal/detect/trace"
	"github.com/osprey-aiops/osprey/internal/remediate"
)

const testHash = "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"

func TestDefaultIsValid(t *testing.T) {
	cfg := Default()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v", err)
	}
}

// checkProblems asserts that err holds exactly the problems want, in order.
func checkProblems(t *testing.T, err error, want []string) {
	t.Helper()
	if len(want) == 0 {
		if err != nil {
			t.Fatalf("Validate() = %v, want nil", err)
		}
		return
	}
	var list Errors
	if !errors.As(err, &list) {
		t.Fatalf("Validate() = %v (%T), want an Errors", err, err)
	}
	var got []string
	for _, e := range list {
		got = append(got, e.Error())
	}
	if !slices.Equal(got, want) {
		t.Errorf("problems:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*Config)
		want   []string
	}{
		{"default", func(*Config) {}, nil},
		{"empty data dir", func(c *Config) { c.DataDir = " " }, []string{"data_dir: must not be empty"}},
		{
			"sections are prefixed",
			func(c *Config) {
				c.Server.Listen = "abc"
				c.Auth.Tokens = []TokenConfig{{Name: "a", Role: "root", SHA256: testHash}}
				c.Storage.Driver = DriverPostgres
				c.Bus.QueueSize = 0
				c.Correlate.GroupBy = nil
				c.Log.Format = "xml"
			},
			[]string{
				`server.listen: "abc" is not host:port`,
				`auth.tokens[0].role: "root" is not one of viewer, operator, admin`,
				`storage.postgres: exactly one of dsn and dsn_file must be set when storage.driver is postgres`,
				`bus.queue_size: must be positive, got 0`,
				`correlate.group_by: must list at least one label name`,
				`log.format: "xml" is not one of text, json`,
			},
		},
		{
			"public listen without tokens",
			func(c *Config) { c.Server.Listen = ":9464" },
			[]string{`server.listen: ":9464" is not a loopback address and auth.tokens is empty: an API without tokens may only listen on loopback (127.0.0.1, ::1 or localhost)`},
		},
		{
			"public listen with tokens",
			func(c *Config) {
				c.Server.Listen = ":9464"
				c.Auth.Tokens = []TokenConfig{{Name: "a", Role: RoleAdmin, TokenFile: "/t/a"}}
			},
			nil,
		},
		{"ipv6 loopback without tokens", func(c *Config) { c.Server.Listen = "[::1]:9464" }, nil},
		{"localhost without tokens", func(c *Config) { c.Server.Listen = "localhost:0" }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Default()
			tt.modify(&cfg)
			checkProblems(t, cfg.Validate(), tt.want)
		})
	}
}

func TestServerConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*ServerConfig)
		want   []string
	}{
		{"default", func(*ServerConfig) {}, nil},
		{"all interfaces", func(c *ServerConfig) { c.Listen = ":9464" }, nil},
		{"ipv6", func(c *ServerConfig) { c.Listen = "[2001:db8::1]:443" }, nil},
		{"host name", func(c *ServerConfig) { c.Listen = "osprey.example.com:9464" }, nil},
		{"port zero picks a free port", func(c *ServerConfig) { c.Listen = "127.0.0.1:0" }, nil},
		{"no port", func(c *ServerConfig) { c.Listen = "127.0.0.1" }, []string{`listen: "127.0.0.1" is not host:port`}},
		{"empty", func(c *ServerConfig) { c.Listen = "" }, []string{`listen: "" is not host:port`}},
		{"port too large", func(c *ServerConfig) { c.Listen = ":65536" }, []string{`listen: ":65536": port "65536" is not a number from 0 to 65535`}},
		{"negative port", func(c *ServerConfig) { c.Listen = ":-1" }, []string{`listen: ":-1": port "-1" is not a number from 0 to 65535`}},
		{"leading zero port", func(c *ServerConfig) { c.Listen = ":080" }, []string{`listen: ":080": port "080" is not a number from 0 to 65535`}},
		{"bad host", func(c *ServerConfig) { c.Listen = "my host:80" }, []string{`listen: "my host:80": "my host" is neither an IP address nor a host name`}},
		{
			"non-positive limits and timeouts",
			func(c *ServerConfig) {
				c.MaxBodyBytes = -1
				c.MaxEventsPerRequest = 0
				c.MaxLabelsPerEvent = 0
				c.MaxLabelValueBytes = 0
				c.ReadTimeout = 0
				c.WriteTimeout = -time.Second
				c.ShutdownTimeout = 0
			},
			[]string{
				"max_body_bytes: must be positive, got -1",
				"max_events_per_request: must be positive, got 0",
				"max_labels_per_event: must be positive, got 0",
				"max_label_value_bytes: must be positive, got 0",
				"read_timeout: must be positive, got 0s",
				"write_timeout: must be positive, got -1s",
				"shutdown_timeout: must be positive, got 0s",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default().Server
			tt.modify(&c)
			checkProblems(t, c.Validate(), tt.want)
		})
	}
}

func TestAuthConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		tokens []TokenConfig
		want   []string
	}{
		{"no tokens", nil, nil},
		{
			"valid",
			[]TokenConfig{
				{Name: "a", Role: RoleViewer, TokenFile: "/t/a"},
				{Name: "b", Role: RoleOperator, SHA256: strings.ToUpper(testHash)},
				{Name: "c", Role: RoleAdmin, TokenFile: "/t/c"},
			},
			nil,
		},
		{
			"duplicates",
			[]TokenConfig{
				{Name: "a", Role: RoleViewer, TokenFile: "/t/a"},
				{Name: "a", Role: RoleViewer, TokenFile: "/t/a"},
				{Name: "b", Role: RoleViewer, SHA256: testHash},
				{Name: "c", Role: RoleViewer, SHA256: strings.ToUpper(testHash)},
			},
			[]string{
				`tokens[1].name: "a" is already used by tokens[0]`,
				`tokens[1].token_file: "/t/a" is already used by tokens[0]`,
				`tokens[3].sha256: same hash as tokens[2]`,
			},
		},
		{
			"problems of each token",
			[]TokenConfig{{Role: RoleViewer, TokenFile: "/t/x"}, {Name: "y", Role: "Viewer", TokenFile: "/t/y"}},
			[]string{
				`tokens[0].name: must not be empty`,
				`tokens[1].role: "Viewer" is not one of viewer, operator, admin`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkProblems(t, AuthConfig{Tokens: tt.tokens}.Validate(), tt.want)
		})
	}
}

func TestTokenConfigValidate(t *testing.T) {
	tests := []struct {
		name  string
		token TokenConfig
		want  []string
	}{
		{"file", TokenConfig{Name: "a", Role: RoleViewer, TokenFile: "/t/a"}, nil},
		{"hash", TokenConfig{Name: "a", Role: RoleAdmin, SHA256: testHash}, nil},
		{"empty", TokenConfig{}, []string{
			"name: must not be empty",
			`role: "" is not one of viewer, operator, admin`,
			"exactly one of token_file and sha256 must be set",
		}},
		{"both", TokenConfig{Name: "a", Role: RoleViewer, TokenFile: "/t/a", SHA256: testHash}, []string{
			"exactly one of token_file and sha256 must be set",
		}},
		{"short hash", TokenConfig{Name: "a", Role: RoleViewer, SHA256: testHash[:63]}, []string{
			"sha256: must be the 64 hex digits of the token's SHA-256, got 63 digits",
		}},
		{"plaintext instead of hash is not echoed", TokenConfig{Name: "a", Role: RoleViewer, SHA256: "hunter2"}, []string{
			"sha256: must be the 64 hex digits of the token's SHA-256, got characters that are not hex digits",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkProblems(t, tt.token.Validate(), tt.want)
		})
	}
}

func TestStorageConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*StorageConfig)
		want   []string
	}{
		{"default", func(*StorageConfig) {}, nil},
		{"unknown driver", func(c *StorageConfig) { c.Driver = "Postgres" }, []string{`driver: "Postgres" is not one of sqlite, postgres`}},
		{"sqlite path", func(c *StorageConfig) { c.SQLite.Path = "" }, []string{"sqlite.path: must not be empty"}},
		{
			"postgres section ignored with sqlite",
			func(c *StorageConfig) { c.Postgres = PostgresConfig{Schema: "Bad!"} },
			nil,
		},
		{
			"sqlite section ignored with postgres",
			func(c *StorageConfig) {
				c.Driver = DriverPostgres
				c.Postgres.DSN = "postgres://db"
				c.SQLite.Path = ""
			},
			nil,
		},
		{
			"postgres without dsn",
			func(c *StorageConfig) { c.Driver = DriverPostgres },
			[]string{"postgres: exactly one of dsn and dsn_file must be set when storage.driver is postgres"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default().Storage
			tt.modify(&c)
			checkProblems(t, c.Validate(), tt.want)
		})
	}
}

func TestSQLiteConfigValidate(t *testing.T) {
	checkProblems(t, SQLiteConfig{Path: "a.db"}.Validate(), nil)
	checkProblems(t, SQLiteConfig{}.Validate(), []string{"path: must not be empty"})
}

func TestPostgresConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		c    PostgresConfig
		want []string
	}{
		{"dsn", PostgresConfig{DSN: "postgres://db", Schema: "osprey", MaxConns: 1}, nil},
		{"dsn file", PostgresConfig{DSNFile: "/run/dsn", Schema: "_osprey_2", MaxConns: 1}, nil},
		{"neither", PostgresConfig{Schema: "osprey", MaxConns: 1}, []string{"exactly one of dsn and dsn_file must be set"}},
		{"both", PostgresConfig{DSN: "x", DSNFile: "y", Schema: "osprey", MaxConns: 1}, []string{"exactly one of dsn and dsn_file must be set"}},
		{"schema and conns", PostgresConfig{DSN: "x", Schema: `osprey"; drop`, MaxConns: 0}, []string{
			`schema: "osprey\"; drop" is not a valid schema name (want lowercase letters, digits and _, not starting with a digit, at most 63 characters)`,
			"max_conns: must be positive, got 0",
		}},
		{"schema starting with a digit", PostgresConfig{DSN: "x", Schema: "1osprey", MaxConns: 1}, []string{
			`schema: "1osprey" is not a valid schema name (want lowercase letters, digits and _, not starting with a digit, at most 63 characters)`,
		}},
		{"schema too long", PostgresConfig{DSN: "x", Schema: strings.Repeat("a", 64), MaxConns: 1}, []string{
			`schema: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa..." is not a valid schema name (want lowercase letters, digits and _, not starting with a digit, at most 63 characters)`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkProblems(t, tt.c.Validate(), tt.want)
		})
	}
}

func TestBusConfigValidate(t *testing.T) {
	checkProblems(t, Default().Bus.Validate(), nil)
	checkProblems(t, BusConfig{QueueSize: -1, PublishTimeout: 0, CoalesceEvents: 0}.Validate(), []string{
		"queue_size: must be positive, got -1",
		"publish_timeout: must be positive, got 0s",
		"coalesce_events: must be positive, got 0",
	})
}

func TestDetectConfigValidate(t *testing.T) {
	checkProblems(t, Default().Detect.Validate(), nil)
	checkProblems(t, DetectConfig{Enabled: true, MaxSeries: 0, SnapshotInterval: -time.Second, Traces: DefaultTraceDetect()}.Validate(), []string{
		"max_series: must be positive, got 0",
		"snapshot_interval: must be positive, got -1s",
	})
	tr := DefaultTraceDetect()
	tr.Settle, tr.MaxOperations = 0, -1
	checkProblems(t, DetectConfig{Enabled: true, MaxSeries: 1, SnapshotInterval: time.Second, Traces: tr}.Validate(), []string{
		"traces.settle: must be positive, got 0s",
		"traces.max_operations: must be positive, got -1",
	})
	if got := DefaultTraceDetect().Detector(); got != tracedetect.DefaultConfig() {
		t.Errorf("default detect.traces = %+v, want the stage's defaults %+v", got, tracedetect.DefaultConfig())
	}
}

func TestCorrelateConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		c    CorrelateConfig
		want []string
	}{
		{"default", Default().Correlate, nil},
		{"several labels", CorrelateConfig{Window: time.Minute, GroupBy: []string{"service", "__name__", "k8s_ns"}}, nil},
		{"zero window, no labels", CorrelateConfig{}, []string{
			"window: must be positive, got 0s",
			"group_by: must list at least one label name",
		}},
		{"bad and repeated labels", CorrelateConfig{Window: time.Minute, GroupBy: []string{"service", "", "a.b", "service"}}, []string{
			`group_by[1]: "" is not a valid label name (want letters, digits and _, not starting with a digit)`,
			`group_by[2]: "a.b" is not a valid label name (want letters, digits and _, not starting with a digit)`,
			`group_by[3]: "service" is already listed as group_by[0]`,
		}},
		{"inhibit rules and grace", CorrelateConfig{Window: time.Minute, GroupBy: []string{"service"}, ResolveGrace: -time.Second,
			Inhibit: []InhibitRuleConfig{
				{Source: []string{`alertname="ClusterDown"`}, Target: []string{"severity=~warning|info"}, Equal: []string{"cluster"}},
				{Source: nil, Target: []string{"service", "pod=~("}, Equal: []string{"a-b"}},
			}}, []string{
			"resolve_grace: must not be negative, got -1s",
			`inhibit[1].source: must list at least one matcher, such as alertname="NodeDown"`,
			`inhibit[1].target[0]: invalid matcher "service": missing operator (=, !=, =~ or !~) and value after label name "service"`,
			`inhibit[1].target[1]: invalid matcher pod=~"(": bad regular expression: missing closing )`,
			`inhibit[1].equal[0]: "a-b" is not a valid label name (want letters, digits and _, not starting with a digit)`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkProblems(t, tt.c.Validate(), tt.want)
		})
	}
}

func TestLogConfigValidate(t *testing.T) {
	for _, level := range logLevels {
		for _, format := range logFormat {
			checkProblems(t, LogConfig{Level: level, Format: format}.Validate(), nil)
		}
	}
	checkProblems(t, LogConfig{Level: "INFO", Format: ""}.Validate(), []string{
		`level: "INFO" is not one of debug, info, warn, error`,
		`format: "" is not one of text, json`,
	})
}

func TestErrorsFormat(t *testing.T) {
	inner := errors.New("boom")
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"path and line", &FieldError{Path: "a.b", Line: 3, Err: inner}, "line 3: a.b: boom"},
		{"path only", &FieldError{Path: "a.b", Err: inner}, "a.b: boom"},
		{"line only", &FieldError{Line: 3, Err: inner}, "line 3: boom"},
		{"neither", &FieldError{Err: inner}, "boom"},
		{"one error", Errors{&FieldError{Path: "x", Err: inner}}, "x: boom"},
		{"two errors", Errors{&FieldError{Path: "x", Err: inner}, &FieldError{Path: "y", Err: inner}}, "2 configuration errors:\n  x: boom\n  y: boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
			if !errors.Is(tt.err, inner) {
				t.Error("errors.Is does not find the wrapped error")
			}
		})
	}
}

func TestLogsConfigValidate(t *testing.T) {
	checkProblems(t, Default().Logs.Validate(), nil)
	c := Default().Logs
	c.Bucket, c.NewTemplateWarmup, c.NewTemplateWarmupLines, c.MaxTemplateSeries = 500*time.Millisecond, -time.Minute, -1, 0
	checkProblems(t, c.Validate(), []string{
		"bucket: must be at least 1s, got 500ms",
		"new_template_warmup: must not be negative, got -1m0s",
		"new_template_warmup_lines: must not be negative, got -1",
		"max_template_series: must be positive, got 0",
	})
}

// TestRemediationProblems checks that the remediation section's problems keep
// their key paths under "remediation.", whether they come as a
// remediate.Errors, inside an errors.Join or as a plain error.
func TestRemediationProblems(t *testing.T) {
	cfg := Default()
	cfg.Remediation.MaxConcurrency = 0
	cfg.Remediation.Runbooks = []remediate.Runbook{{Name: "Bad Name", Trigger: "incident.nope", Steps: []remediate.Step{{Name: "s"}}}}
	var p problems
	p.nest("remediation", fromRemediate(cfg.Remediation.Validate()))
	var got []string
	for _, e := range p.errs {
		got = append(got, e.Error())
	}
	for _, want := range []string{
		"remediation.max_concurrency: must be positive",
		`remediation.runbooks[0].name: "Bad Name" is not a runbook name`,
		"remediation.runbooks[0].trigger: ERROR: <input>:1:9: undefined field 'nope'",
		"remediation.runbooks[0].steps[0]",
	} {
		if !slices.ContainsFunc(got, func(s string) bool { return strings.HasPrefix(s, want) }) {
			t.Errorf("no problem starts with %q:\n%s", want, strings.Join(got, "\n"))
		}
	}

	joined := errors.Join(
		&remediate.FieldError{Path: "runbooks[1].mode", Err: errors.New("bad mode")},
		remediate.Errors{&remediate.FieldError{Path: "exec_allow[0]", Err: errors.New("not absolute")}},
		errors.New("whole section"),
	)
	p = problems{}
	p.nest("remediation", fromRemediate(joined))
	got = got[:0]
	for _, e := range p.errs {
		got = append(got, e.Error())
	}
	want := []string{"remediation.runbooks[1].mode: bad mode", "remediation.exec_allow[0]: not absolute", "remediation: whole section"}
	if !slices.Equal(got, want) {
		t.Errorf("joined problems = %q, want %q", got, want)
	}
	// An error wrapping several with its own text stays one problem.
	wrapped := fmt.Errorf("compile: %w and %w", errors.New("a"), errors.New("b"))
	p = problems{}
	p.nest("remediation", fromRemediate(wrapped))
	if len(p.errs) != 1 || p.errs[0].Error() != "remediation: compile: a and b" {
		t.Errorf("wrapped error became %v", p.errs)
	}
}
