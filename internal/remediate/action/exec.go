package action

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// ExecSpec runs a program with an argv. There is never a shell: argv[0] is
// the absolute path of a program on the configured allow-list, and every
// further element becomes exactly one argument.
type ExecSpec struct {
	// Argv is the program and its arguments. Argv[0] is a literal absolute
	// path; the other elements may hold {{ value }} templates.
	Argv []string `yaml:"argv"`
	// Fields constrain the values of the templates used in Argv; a value
	// whose field is not listed must match DefaultPattern.
	Fields []FieldPattern `yaml:"fields"`
	// Env is the program's whole environment, as literal NAME=value
	// strings; Osprey's own environment is not passed on.
	Env []string `yaml:"env"`
}

// IsZero reports whether the spec is unset (the step is of another kind).
func (s ExecSpec) IsZero() bool {
	return len(s.Argv) == 0 && len(s.Fields) == 0 && len(s.Env) == 0
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Validate checks the spec without the allow-list (which belongs to the
// configuration section; Compile checks it).
func (s ExecSpec) Validate() error {
	_, err := s.compile(Options{}, false)
	return err
}

// Compile checks the spec, including that argv[0] is on o.ExecAllow, and
// returns the Action.
func (s ExecSpec) Compile(o Options) (*Exec, error) {
	return s.compile(o, true)
}

func (s ExecSpec) compile(o Options, checkAllow bool) (*Exec, error) {
	var p Problems
	x := &Exec{maxOut: o.maxOutput(), env: slices.Clone(s.Env)}
	if len(s.Argv) == 0 {
		p.Addf("argv", "must list the program and its arguments")
		return nil, p.Err()
	}
	prog := s.Argv[0]
	switch {
	case strings.Contains(prog, "{{"):
		p.Addf("argv[0]", "the program must be a literal path, not a template")
	case !filepath.IsAbs(prog) || filepath.Clean(prog) != prog:
		p.Addf("argv[0]", "%q must be a clean absolute path (no PATH lookup, no shell)", clip(prog))
	case checkAllow && !slices.Contains(o.ExecAllow, prog):
		p.Addf("argv[0]", "%q is not on remediation.exec_allow", clip(prog))
	}
	x.program = prog
	byField := make(map[string]int) // canonical field -> index in s.Fields
	rules := make([]valueRule, len(s.Fields))
	for i, f := range s.Fields {
		path := IndexPath("fields", i)
		canon, err := canonicalField(f.Field)
		if err != nil {
			p.Addf(path+".field", "%v", err)
			continue
		}
		if j, dup := byField[canon]; dup {
			p.Addf(path+".field", "%s is already constrained by fields[%d]", canon, j)
			continue
		}
		re, err := compilePattern(f.Pattern)
		if err != nil {
			p.Addf(path+".pattern", "%v", err)
			continue
		}
		byField[canon] = i
		rules[i] = valueRule{re: re, allowDash: f.AllowLeadingDash}
	}
	used := make(map[string]bool)
	x.elems = make([][]part, len(s.Argv))
	x.literal = make([]string, len(s.Argv))
	x.templated = make([]bool, len(s.Argv))
	x.elems[0] = []part{{lit: prog}}
	x.literal[0] = prog
	for i := 1; i < len(s.Argv); i++ {
		a := s.Argv[i]
		if strings.IndexByte(a, 0) >= 0 {
			p.Addf(IndexPath("argv", i), "contains a NUL byte")
			continue
		}
		parts, err := parseParts(a)
		if err != nil {
			p.Addf(IndexPath("argv", i), "%v", err)
			continue
		}
		for j := range parts {
			if parts[j].tmpl == nil {
				continue
			}
			x.templated[i] = true
			if k, ok := byField[parts[j].field]; ok {
				parts[j].rule = rules[k]
				used[parts[j].field] = true
			}
		}
		x.elems[i] = parts
		x.literal[i] = a
	}
	for canon, i := range byField {
		if !used[canon] {
			p.Addf(IndexPath("fields", i)+".field", "%s is not used in argv", canon)
		}
	}
	for i, e := range s.Env {
		name, _, ok := strings.Cut(e, "=")
		switch {
		case !ok || !envName.MatchString(name):
			p.Addf(IndexPath("env", i), "want NAME=value, got %q", clip(e))
		case strings.Contains(e, "{{") || strings.IndexByte(e, 0) >= 0:
			p.Addf(IndexPath("env", i), "must be literal text")
		}
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	return x, nil
}

// Exec is a compiled ExecSpec.
type Exec struct {
	program   string
	elems     [][]part
	literal   []string // each element's source, the exact value of untemplated ones
	templated []bool
	env       []string
	maxOut    int
}

var _ Action = (*Exec)(nil)

// Type returns "exec".
func (x *Exec) Type() string { return "exec" }

// Plan renders the argv. Any value that fails its field's checks fails the
// whole plan: a partial argv is never returned.
func (x *Exec) Plan(d *Data) ([]string, error) {
	argv := make([]string, len(x.elems))
	for i, parts := range x.elems {
		if !x.templated[i] {
			argv[i] = x.literal[i]
			continue
		}
		v, err := renderParts(parts, d)
		if err != nil {
			return nil, fmt.Errorf("argv[%d]: %w", i, err)
		}
		argv[i] = v
	}
	return argv, nil
}

// check refuses an argv that Plan could not have produced: another program,
// another length, a changed literal element, a NUL byte.
func (x *Exec) check(argv []string) error {
	if len(argv) != len(x.elems) {
		return fmt.Errorf("argv has %d elements, the runbook step %d", len(argv), len(x.elems))
	}
	if argv[0] != x.program {
		return fmt.Errorf("program %q is not the runbook step's %q", clip(argv[0]), x.program)
	}
	for i, a := range argv {
		if !x.templated[i] && a != x.literal[i] {
			return fmt.Errorf("argv[%d] %q differs from the runbook step's literal %q", i, clip(a), clip(x.literal[i]))
		}
		if strings.IndexByte(a, 0) >= 0 {
			return fmt.Errorf("argv[%d] contains a NUL byte", i)
		}
	}
	return nil
}

// Execute runs the program with argv (from Plan) and waits for it, killing
// its process group when ctx is done. Stdout and stderr are kept up to the
// output limit each.
func (x *Exec) Execute(ctx context.Context, argv []string) Result {
	res := Result{ExitCode: -1}
	if err := x.check(argv); err != nil {
		res.Err = fmt.Errorf("refused: %w", err)
		return res
	}
	// exec.Command with an absolute path does no PATH lookup, and the
	// arguments go to execve as they are: no shell ever parses them.
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = slices.Clone(x.env)
	if cmd.Env == nil {
		cmd.Env = []string{}
	}
	cmd.Dir = "/"
	stdout := &capBuffer{max: x.maxOut}
	stderr := &capBuffer{max: x.maxOut}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	// A child that keeps the pipes open after the kill must not hold the
	// step forever.
	cmd.WaitDelay = 5 * time.Second
	setProcessGroup(cmd)
	start := time.Now()
	err := cmd.Run()
	res.Duration = time.Since(start)
	res.Stdout, res.Stderr = stdout.String(), stderr.String()
	res.Truncated = stdout.dropped > 0 || stderr.dropped > 0
	if cmd.ProcessState != nil {
		res.ExitCode = cmd.ProcessState.ExitCode()
	}
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			err = fmt.Errorf("%w (%v)", ctxErr, err)
		}
		var ee *exec.ExitError
		if errors.As(err, &ee) && res.ExitCode > 0 {
			err = fmt.Errorf("exit status %d", res.ExitCode)
		}
		res.Err = err
	}
	return res
}
