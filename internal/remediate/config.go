package remediate

import (
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/osprey-aiops/osprey/internal/remediate/action"
)

// FieldError and Errors are the validation problem types, shared with the
// action package. Paths are relative to the value validated.
type (
	FieldError = action.FieldError
	Errors     = action.Errors
)

// Config is the remediation section of the configuration file. Its types use
// only what the configuration decoder supports (structs, lists, strings,
// integers, booleans, durations), so it can be embedded as it is.
type Config struct {
	// ExecAllow lists the absolute paths of the programs exec steps may
	// run. A program not listed here cannot run, whatever a runbook says.
	ExecAllow []string `yaml:"exec_allow"`
	// MaxConcurrency caps the runs executing steps at once; more wait.
	MaxConcurrency int `yaml:"max_concurrency"`
	// ApprovalTimeout is how long a run waits for approval before it
	// expires, unless its runbook sets its own.
	ApprovalTimeout time.Duration `yaml:"approval_timeout"`
	// TargetCooldown is the least time between two runs of any runbooks on
	// the same target; 0 means no cross-runbook limit.
	TargetCooldown time.Duration `yaml:"target_cooldown"`
	// MaxOutputBytes caps each kept stdout, stderr and HTTP response body.
	MaxOutputBytes int `yaml:"max_output_bytes"`
	// Systemctl is the program systemd steps run; it must be on
	// ExecAllow when a runbook has systemd steps.
	Systemctl string `yaml:"systemctl"`
	// Runbooks are matched against every incident change, in this order.
	Runbooks []Runbook `yaml:"runbooks"`
}

// DefaultConfig returns the section's defaults: no runbooks, no programs.
func DefaultConfig() Config {
	return Config{
		MaxConcurrency:  4,
		ApprovalTimeout: time.Hour,
		MaxOutputBytes:  action.DefaultMaxOutput,
		Systemctl:       action.DefaultSystemctl,
	}
}

// Mode says what a triggered runbook does.
type Mode string

// Modes. The empty mode is ModeDryRun, so a new runbook only plans.
const (
	ModeDryRun   Mode = "dry-run"
	ModeApproval Mode = "approval"
	ModeAuto     Mode = "auto"
)

var modes = []string{string(ModeDryRun), string(ModeApproval), string(ModeAuto)}

// effective returns m, or ModeDryRun when m is empty.
func (m Mode) effective() Mode {
	if m == "" {
		return ModeDryRun
	}
	return m
}

// Runbook is a named remediation: when Trigger holds for an incident, plan
// Steps, and (by Mode) only show them, wait for approval, or run them; then
// Verify that the incident cleared, running OnFailure if it did not.
type Runbook struct {
	// Name identifies the runbook in runs, the audit log and metrics.
	Name string `yaml:"name"`
	// Description is free text for people.
	Description string `yaml:"description"`
	// Trigger is a CEL expression over `incident` (and `now`) that must be
	// true for the runbook to act, such as
	// incident.labels.service == "web" && incident.severity == "critical".
	Trigger string `yaml:"trigger"`
	// Mode is dry-run (the default), approval or auto.
	Mode Mode `yaml:"mode"`
	// Target is a template naming what the runbook acts on, the key of the
	// per-target cooldown and of max_targets; empty means the incident's
	// identity labels.
	Target string `yaml:"target"`
	// ApprovalTimeout overrides the section's approval_timeout.
	ApprovalTimeout time.Duration `yaml:"approval_timeout"`
	// Steps run in order; the run stops at the first that fails.
	Steps []Step `yaml:"steps"`
	// Verify says what must clear after the steps, and within how long.
	Verify Verify `yaml:"verify"`
	// OnFailure steps run when a step fails or verification times out.
	OnFailure []Step `yaml:"on_failure"`
	// Cooldown is the least time between two runs of this runbook on the
	// same target.
	Cooldown time.Duration `yaml:"cooldown"`
	// MaxRunsPerHour caps this runbook's runs (all targets) in any hour;
	// 0 means no cap.
	MaxRunsPerHour int `yaml:"max_runs_per_hour"`
	// MaxTargets caps the distinct targets this runbook acts on within an
	// hour (runs in flight included); 0 means no cap.
	MaxTargets int `yaml:"max_targets"`
}

// Step is one action of a runbook. Exactly one action kind is set.
type Step struct {
	// Name identifies the step within its runbook; with the incident and
	// the runbook it is the step's idempotency key.
	Name string `yaml:"name"`
	// When is an optional CEL expression over `incident`; the step is
	// skipped when it is false at planning time.
	When string `yaml:"when"`
	// Timeout bounds one attempt; default 1m. Wait steps ignore it.
	Timeout time.Duration `yaml:"timeout"`
	// Retries is how many times a failed attempt is repeated (0 to 10).
	Retries int `yaml:"retries"`
	// RetryDelay is the pause between attempts; default 10s.
	RetryDelay time.Duration `yaml:"retry_delay"`

	// The action kinds; exactly one is set.
	Exec       action.ExecSpec       `yaml:"exec"`
	HTTP       action.HTTPSpec       `yaml:"http"`
	Systemd    action.SystemdSpec    `yaml:"systemd"`
	Kubernetes action.KubernetesSpec `yaml:"kubernetes"`
	Notify     action.NotifySpec     `yaml:"notify"`
	Wait       action.WaitSpec       `yaml:"wait"`
}

// Verify says what must clear after the steps. With Within zero the run
// succeeds when its steps do, unverified.
type Verify struct {
	// Within is how long the incident has to clear after the last step.
	Within time.Duration `yaml:"within"`
	// Members, when set, names the incident members (by alert or anomaly
	// name) that must resolve; empty means the whole incident must.
	Members []string `yaml:"members"`
}

// Step defaults.
const (
	defaultStepTimeout = time.Minute
	defaultRetryDelay  = 10 * time.Second
	maxRetries         = 10
)

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,62}$`)

// Validate checks the section: every runbook (CEL type-checked, templates
// parsed), unique names, and that every exec program is an absolute path on
// exec_allow. It does not touch the file system.
func (c Config) Validate() error {
	var p action.Problems
	for i, prog := range c.ExecAllow {
		if !filepath.IsAbs(prog) || filepath.Clean(prog) != prog {
			p.Addf(action.IndexPath("exec_allow", i), "%q must be a clean absolute path", prog)
		}
	}
	if c.MaxConcurrency <= 0 {
		p.Addf("max_concurrency", "must be positive")
	}
	if c.ApprovalTimeout <= 0 {
		p.Addf("approval_timeout", "must be positive")
	}
	if c.TargetCooldown < 0 {
		p.Addf("target_cooldown", "must not be negative")
	}
	if c.MaxOutputBytes <= 0 || c.MaxOutputBytes > 16<<20 {
		p.Addf("max_output_bytes", "must be between 1 and 16 MiB")
	}
	if c.Systemctl != "" && (!filepath.IsAbs(c.Systemctl) || filepath.Clean(c.Systemctl) != c.Systemctl) {
		p.Addf("systemctl", "%q must be a clean absolute path", c.Systemctl)
	}
	env, err := newCELEnv()
	if err != nil {
		p.Addf("", "%v", err)
		return p.Err()
	}
	names := make(map[string]int)
	for i, rb := range c.Runbooks {
		path := action.IndexPath("runbooks", i)
		if j, dup := names[rb.Name]; dup && rb.Name != "" {
			p.Addf(path+".name", "%q is already used by runbooks[%d]", rb.Name, j)
		} else {
			names[rb.Name] = i
		}
		_, err := compileRunbook(rb, env, c.actionOptions(nil), true)
		p.Nest(path, err)
	}
	return p.Err()
}

// Validate checks one runbook on its own: everything Config.Validate checks
// except that exec programs are on exec_allow.
func (rb Runbook) Validate() error {
	env, err := newCELEnv()
	if err != nil {
		return err
	}
	_, err = compileRunbook(rb, env, action.Options{}, false)
	return err
}

func (c Config) actionOptions(client action.HTTPDoer) action.Options {
	return action.Options{ExecAllow: c.ExecAllow, MaxOutput: c.MaxOutputBytes, HTTPClient: client, Systemctl: c.Systemctl}
}

// validateShape checks the runbook's own keys (not its steps' actions).
func (rb Runbook) validateShape(p *action.Problems) {
	if !nameRE.MatchString(rb.Name) {
		p.Addf("name", "%q is not a runbook name (lowercase letters, digits, and _.-, at most 63)", rb.Name)
	}
	if strings.TrimSpace(rb.Trigger) == "" {
		p.Addf("trigger", "must not be empty")
	}
	if rb.Mode != "" && !slices.Contains(modes, string(rb.Mode)) {
		p.Addf("mode", "%q is not one of %s", rb.Mode, strings.Join(modes, ", "))
	}
	if rb.ApprovalTimeout < 0 {
		p.Addf("approval_timeout", "must not be negative")
	}
	if len(rb.Steps) == 0 {
		p.Addf("steps", "must list at least one step")
	}
	if rb.Cooldown < 0 {
		p.Addf("cooldown", "must not be negative")
	}
	if rb.MaxRunsPerHour < 0 {
		p.Addf("max_runs_per_hour", "must not be negative")
	}
	if rb.MaxTargets < 0 {
		p.Addf("max_targets", "must not be negative")
	}
	if rb.Verify.Within < 0 {
		p.Addf("verify.within", "must not be negative")
	}
	if rb.Verify.Within == 0 && len(rb.Verify.Members) > 0 {
		p.Addf("verify.within", "must be set when verify.members is")
	}
	for i, m := range rb.Verify.Members {
		if strings.TrimSpace(m) == "" {
			p.Addf(action.IndexPath("verify.members", i), "must not be empty")
		}
	}
	seen := make(map[string]string)
	for _, list := range []struct {
		key   string
		steps []Step
	}{{"steps", rb.Steps}, {"on_failure", rb.OnFailure}} {
		for i, s := range list.steps {
			path := action.IndexPath(list.key, i)
			if !nameRE.MatchString(s.Name) {
				p.Addf(path+".name", "%q is not a step name (lowercase letters, digits, and _.-, at most 63)", s.Name)
			} else if prev, dup := seen[s.Name]; dup {
				p.Addf(path+".name", "%q is already used by %s", s.Name, prev)
			} else {
				seen[s.Name] = path
			}
			if s.Timeout < 0 {
				p.Addf(path+".timeout", "must not be negative")
			}
			if s.Retries < 0 || s.Retries > maxRetries {
				p.Addf(path+".retries", "must be between 0 and %d", maxRetries)
			}
			if s.RetryDelay < 0 {
				p.Addf(path+".retry_delay", "must not be negative")
			}
		}
	}
}

// String names the mode for messages.
func (m Mode) String() string { return string(m.effective()) }

// describeKinds lists the action keys for an error message.
func describeKinds() string { return fmt.Sprintf("one of %s", strings.Join(kindKeys, ", ")) }

var kindKeys = []string{"exec", "http", "systemd", "kubernetes", "notify", "wait"}

// CheckReceivers reports the notify steps whose receiver is not among
// known (the names of notifications.receivers); nil when all are.
func (c Config) CheckReceivers(known []string) error {
	var p action.Problems
	for i, rb := range c.Runbooks {
		for _, list := range []struct {
			key   string
			steps []Step
		}{{"steps", rb.Steps}, {"on_failure", rb.OnFailure}} {
			for j, s := range list.steps {
				if s.Notify.IsZero() || s.Notify.Receiver == "" || slices.Contains(known, s.Notify.Receiver) {
					continue
				}
				p.Addf(action.IndexPath("runbooks", i)+"."+action.IndexPath(list.key, j)+".notify.receiver",
					"%q is not a receiver of notifications.receivers", s.Notify.Receiver)
			}
		}
	}
	return p.Err()
}
