package action

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// SystemdSpec starts, stops, restarts or reloads a systemd unit. It runs
// systemctl (remediation.systemctl, which must be on remediation.exec_allow)
// with the argv [systemctl, verb, "--", unit]: never a shell, and the "--"
// plus the unit-name grammar make sure a value from the incident is never
// read as an option.
type SystemdSpec struct {
	// Unit is the unit name, such as "{{ .Incident.Labels.service }}.service".
	// Its {{ value }} templates follow exec's argv rules (each value checked
	// against DefaultPattern, no leading '-'), and the rendered name must be
	// a valid systemd unit name.
	Unit string `yaml:"unit"`
	// Verb is restart, start, stop or reload.
	Verb string `yaml:"verb"`
}

// SystemdVerbs are the verbs a systemd step may use.
var SystemdVerbs = []string{"restart", "start", "stop", "reload"}

// DefaultSystemctl is where systemctl is when remediation.systemctl is unset.
const DefaultSystemctl = "/usr/bin/systemctl"

// unitNameRE is systemd's unit-name grammar (unit_name_is_valid): a prefix
// of [A-Za-z0-9:_.\-], an optional "@instance", and a unit type suffix.
// Unlike systemd it refuses a leading '-' (so "-.mount" cannot be named),
// because a leading '-' is how an option starts.
var unitNameRE = regexp.MustCompile(`^[A-Za-z0-9:_.\\][A-Za-z0-9:_.\\-]*(?:@[A-Za-z0-9:_.\\-]+)?\.(?:service|socket|device|mount|automount|swap|target|path|timer|slice|scope)$`)

// maxUnitName is systemd's limit on a unit name (UNIT_NAME_MAX - 1).
const maxUnitName = 255

// ValidUnitName checks a unit name against systemd's grammar.
func ValidUnitName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("unit name is empty")
	case len(name) > maxUnitName:
		return fmt.Errorf("unit name is longer than %d bytes", maxUnitName)
	case strings.HasPrefix(name, "-"):
		return fmt.Errorf("unit name %q starts with '-' and would be read as an option", clip(name))
	case !unitNameRE.MatchString(name):
		return fmt.Errorf("%q is not a systemd unit name (name[@instance].type, letters, digits and :_.\\-)", clip(name))
	}
	return nil
}

// IsZero reports whether the spec is unset (the step is of another kind).
func (s SystemdSpec) IsZero() bool { return s.Unit == "" && s.Verb == "" }

// Validate checks the spec without the allow-list.
func (s SystemdSpec) Validate() error {
	_, err := s.compile(Options{}, false)
	return err
}

// Compile checks the spec, including that o.Systemctl (DefaultSystemctl when
// empty) is on o.ExecAllow, and returns the Action.
func (s SystemdSpec) Compile(o Options) (*Systemd, error) {
	return s.compile(o, true)
}

func (s SystemdSpec) compile(o Options, checkAllow bool) (*Systemd, error) {
	var p Problems
	prog := o.Systemctl
	if prog == "" {
		prog = DefaultSystemctl
	}
	if !slices.Contains(SystemdVerbs, s.Verb) {
		p.Addf("verb", "%q is not one of %s", clip(s.Verb), strings.Join(SystemdVerbs, ", "))
	}
	switch {
	case strings.TrimSpace(s.Unit) == "":
		p.Addf("unit", "must name the unit, such as \"{{ .Incident.Labels.service }}.service\"")
	case strings.IndexByte(s.Unit, 0) >= 0:
		p.Addf("unit", "contains a NUL byte")
	default:
		parts, err := parseParts(s.Unit)
		if err != nil {
			p.Addf("unit", "%v", err)
			break
		}
		templated := slices.ContainsFunc(parts, func(pt part) bool { return pt.tmpl != nil })
		if !templated {
			if err := ValidUnitName(s.Unit); err != nil {
				p.Addf("unit", "%v", err)
			}
		}
	}
	switch {
	case !filepath.IsAbs(prog) || filepath.Clean(prog) != prog:
		p.Addf("", "remediation.systemctl %q must be a clean absolute path", clip(prog))
	case checkAllow && !slices.Contains(o.ExecAllow, prog):
		p.Addf("", "systemd steps run %s, which is not on remediation.exec_allow: add it there (or set remediation.systemctl)", prog)
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	// The argv is an exec step's, whose checks (literal program, verb and
	// "--", one argument per element) apply as they are.
	x, err := ExecSpec{Argv: []string{prog, s.Verb, "--", s.Unit}}.compile(o, false)
	if err != nil {
		return nil, err
	}
	return &Systemd{x: x}, nil
}

// Systemd is a compiled SystemdSpec.
type Systemd struct{ x *Exec }

var _ Action = (*Systemd)(nil)

// Type returns "systemd".
func (s *Systemd) Type() string { return "systemd" }

// Plan returns the exact argv: [systemctl, verb, "--", unit].
func (s *Systemd) Plan(d *Data) ([]string, error) {
	argv, err := s.x.Plan(d)
	if err != nil {
		return nil, err
	}
	if err := ValidUnitName(argv[3]); err != nil {
		return nil, fmt.Errorf("unit: %w", err)
	}
	return argv, nil
}

// Execute runs systemctl with the planned argv, after checking it again.
func (s *Systemd) Execute(ctx context.Context, argv []string) Result {
	if len(argv) == 4 {
		if err := ValidUnitName(argv[3]); err != nil {
			return Result{ExitCode: -1, Err: fmt.Errorf("refused: %w", err)}
		}
	}
	return s.x.Execute(ctx, argv)
}
