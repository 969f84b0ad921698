package remediate

import (
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey/internal/remediate/action"
)

func TestDefaultConfigIsValid(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestConfigValidate(t *testing.T) {
	good := func() Runbook {
		return Runbook{
			Name:    "restart-web",
			Trigger: `incident.labels.service == "web" && incident.severity == "critical"`,
			Steps: []Step{{Name: "restart", Exec: action.ExecSpec{
				Argv: []string{"/usr/bin/systemctl", "restart", "{{ .Incident.Labels.service }}.service"},
			}}},
		}
	}
	tests := []struct {
		name   string
		mutate func(c *Config)
		want   []string // "path: message" fragments
	}{
		{"good", func(*Config) {}, nil},
		{"cel syntax", func(c *Config) { c.Runbooks[0].Trigger = "incident.labels.service ==" }, []string{"runbooks[0].trigger:"}},
		{"cel field typo", func(c *Config) { c.Runbooks[0].Trigger = `incident.lables.service == "web"` }, []string{"runbooks[0].trigger:", "undefined field 'lables'"}},
		{"cel not bool", func(c *Config) { c.Runbooks[0].Trigger = `incident.title` }, []string{"runbooks[0].trigger: must be a boolean"}},
		{"when typo", func(c *Config) { c.Runbooks[0].Steps[0].When = "incident.sevrity == 'x'" }, []string{"runbooks[0].steps[0].when:"}},
		{"program not allowed", func(c *Config) { c.Runbooks[0].Steps[0].Exec.Argv[0] = "/bin/sh" }, []string{"runbooks[0].steps[0].exec.argv[0]:", "exec_allow"}},
		{"relative allow", func(c *Config) { c.ExecAllow = append(c.ExecAllow, "systemctl") }, []string{"exec_allow[1]:"}},
		{"two kinds", func(c *Config) { c.Runbooks[0].Steps[0].Wait.Duration = time.Second }, []string{"runbooks[0].steps[0]: set exactly one action"}},
		{"no kind", func(c *Config) { c.Runbooks[0].Steps[0].Exec = action.ExecSpec{} }, []string{"runbooks[0].steps[0]: no action"}},
		{"mode", func(c *Config) { c.Runbooks[0].Mode = "yolo" }, []string{"runbooks[0].mode:"}},
		{"duplicate name", func(c *Config) { c.Runbooks = append(c.Runbooks, c.Runbooks[0]) }, []string{"runbooks[1].name:", "already used"}},
		{"duplicate step", func(c *Config) {
			c.Runbooks[0].OnFailure = []Step{{Name: "restart", Wait: action.WaitSpec{Duration: time.Second}}}
		}, []string{"runbooks[0].on_failure[0].name:", "already used"}},
		{"no steps", func(c *Config) { c.Runbooks[0].Steps = nil }, []string{"runbooks[0].steps: must list"}},
		{"members without within", func(c *Config) { c.Runbooks[0].Verify.Members = []string{"X"} }, []string{"runbooks[0].verify.within:"}},
		{"retries", func(c *Config) { c.Runbooks[0].Steps[0].Retries = 99 }, []string{"runbooks[0].steps[0].retries:"}},
		{"target template", func(c *Config) { c.Runbooks[0].Target = "{{ .Incident" }, []string{"runbooks[0].target:"}},
		{"http url template", func(c *Config) {
			c.Runbooks[0].Steps[0] = Step{Name: "hook", HTTP: action.HTTPSpec{URL: "https://x/{{ .Incident.ID }}"}}
		}, []string{"runbooks[0].steps[0].http.url:"}},
		{"every problem at once", func(c *Config) {
			c.MaxConcurrency = 0
			c.Runbooks[0].Name = "Bad Name"
			c.Runbooks[0].Trigger = ""
			c.Runbooks[0].Cooldown = -time.Second
		}, []string{"max_concurrency:", "runbooks[0].name:", "runbooks[0].trigger:", "runbooks[0].cooldown:"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			c.ExecAllow = []string{"/usr/bin/systemctl"}
			c.Runbooks = []Runbook{good()}
			tc.mutate(&c)
			err := c.Validate()
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not contain %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestRunbookValidateWithoutAllowList(t *testing.T) {
	rb := Runbook{Name: "x", Trigger: "true", Steps: []Step{{Name: "s", Exec: action.ExecSpec{Argv: []string{"/usr/bin/anything"}}}}}
	if err := rb.Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestConfigFitsTheConfigDecoder keeps Config embeddable in the configuration
// file as it is: the decoder (internal/config) supports exported fields with
// snake_case yaml keys of kinds struct, slice, string, bool, integer and
// time.Duration only.
func TestConfigFitsTheConfigDecoder(t *testing.T) {
	key := regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	var check func(reflect.Type)
	check = func(st reflect.Type) {
		for i := range st.NumField() {
			f := st.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if !f.IsExported() || !key.MatchString(name) {
				t.Errorf("%s.%s: want an exported field with a snake_case yaml key", st.Name(), f.Name)
			}
			ft := f.Type
			if ft.Kind() == reflect.Slice {
				ft = ft.Elem()
			}
			switch {
			case ft == reflect.TypeFor[time.Duration](), ft.Kind() == reflect.String, ft.Kind() == reflect.Bool,
				ft.Kind() >= reflect.Int && ft.Kind() <= reflect.Int64:
			case ft.Kind() == reflect.Struct:
				check(ft)
			default:
				t.Errorf("%s.%s: the config decoder does not support %s", st.Name(), f.Name, f.Type)
			}
		}
	}
	check(reflect.TypeFor[Config]())
}
