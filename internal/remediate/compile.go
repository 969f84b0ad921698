package remediate

import (
	"text/template"
	"time"

	"github.com/google/cel-go/cel"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/remediate/action"
)

// runbook is a compiled Runbook.
type runbook struct {
	spec            Runbook
	mode            Mode
	trigger         cel.Program
	target          *template.Template // nil: the incident's labels
	approvalTimeout time.Duration
	steps           []*step
	onFailure       []*step
}

// step is a compiled Step.
type step struct {
	name       string
	onFailure  bool
	when       cel.Program // nil: always
	whenSrc    string
	timeout    time.Duration
	retries    int
	retryDelay time.Duration
	act        action.Action
}

// actionTarget is how the step is named in osprey.Action.Target.
func (s *step) actionTarget() string {
	if s.onFailure {
		return onFailurePrefix + s.name
	}
	return s.name
}

// compileRunbook checks rb and compiles it. checkAllow says whether exec
// programs must be on opts.ExecAllow.
func compileRunbook(rb Runbook, env *cel.Env, opts action.Options, checkAllow bool) (*runbook, error) {
	var p action.Problems
	rb.validateShape(&p)
	c := &runbook{spec: rb, mode: rb.Mode.effective(), approvalTimeout: rb.ApprovalTimeout}
	if rb.Trigger != "" {
		prg, err := compileCEL(env, rb.Trigger)
		if err != nil {
			p.Addf("trigger", "%v", err)
		}
		c.trigger = prg
	}
	if rb.Target != "" {
		t, err := action.ParseTemplate("target", rb.Target)
		if err != nil {
			p.Addf("target", "%v", err)
		}
		c.target = t
	}
	for i, s := range rb.Steps {
		cs, err := compileStep(s, env, opts, checkAllow)
		p.Nest(action.IndexPath("steps", i), err)
		c.steps = append(c.steps, cs)
	}
	for i, s := range rb.OnFailure {
		cs, err := compileStep(s, env, opts, checkAllow)
		p.Nest(action.IndexPath("on_failure", i), err)
		if cs != nil {
			cs.onFailure = true
		}
		c.onFailure = append(c.onFailure, cs)
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	return c, nil
}

// compileStep compiles one step's condition and its one action.
func compileStep(s Step, env *cel.Env, opts action.Options, checkAllow bool) (*step, error) {
	var p action.Problems
	cs := &step{name: s.Name, whenSrc: s.When, timeout: s.Timeout, retries: s.Retries, retryDelay: s.RetryDelay}
	if cs.timeout == 0 {
		cs.timeout = defaultStepTimeout
	}
	if cs.retryDelay == 0 {
		cs.retryDelay = defaultRetryDelay
	}
	if s.When != "" {
		prg, err := compileCEL(env, s.When)
		if err != nil {
			p.Addf("when", "%v", err)
		}
		cs.when = prg
	}
	var kinds []string
	if !s.Exec.IsZero() {
		kinds = append(kinds, "exec")
		var (
			x   *action.Exec
			err error
		)
		if checkAllow {
			x, err = s.Exec.Compile(opts)
		} else {
			err = s.Exec.Validate()
		}
		p.Nest("exec", err)
		if x != nil {
			cs.act = x
		}
	}
	if !s.HTTP.IsZero() {
		kinds = append(kinds, "http")
		h, err := s.HTTP.Compile(opts)
		p.Nest("http", err)
		if h != nil {
			cs.act = h
		}
	}
	if !s.Systemd.IsZero() {
		kinds = append(kinds, "systemd")
		var (
			x   *action.Systemd
			err error
		)
		if checkAllow {
			x, err = s.Systemd.Compile(opts)
		} else {
			err = s.Systemd.Validate()
		}
		p.Nest("systemd", err)
		if x != nil {
			cs.act = x
		}
	}
	if !s.Kubernetes.IsZero() {
		kinds = append(kinds, "kubernetes")
		k, err := s.Kubernetes.Compile(opts)
		p.Nest("kubernetes", err)
		if k != nil {
			cs.act = k
		}
	}
	if !s.Notify.IsZero() {
		kinds = append(kinds, "notify")
		n, err := s.Notify.Compile(opts)
		p.Nest("notify", err)
		if n != nil {
			cs.act = n
		}
	}
	if !s.Wait.IsZero() {
		kinds = append(kinds, "wait")
		w, err := s.Wait.Compile()
		p.Nest("wait", err)
		if w != nil {
			cs.act = w
		}
	}
	switch len(kinds) {
	case 0:
		p.Addf("", "no action: set %s", describeKinds())
	case 1:
	default:
		p.Addf("", "set exactly one action, got %v", kinds)
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	return cs, nil
}

// renderTarget returns the run's target for inc.
func (rb *runbook) renderTarget(inc *osprey.Incident) (string, error) {
	if rb.target == nil {
		return inc.Labels.String(), nil
	}
	return action.Render(rb.target, action.NewData(inc, rb.spec.Name, "", ""))
}
