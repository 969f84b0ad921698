package action

import (
	"context"
	"fmt"
	"time"
)

// WaitSpec pauses the run, for example to let a restarted service settle
// before the next step.
type WaitSpec struct {
	Duration time.Duration `yaml:"duration"`
}

// IsZero reports whether the spec is unset (the step is of another kind).
func (s WaitSpec) IsZero() bool { return s.Duration == 0 }

// Validate checks that the duration is positive and at most a day.
func (s WaitSpec) Validate() error {
	var p Problems
	if s.Duration <= 0 || s.Duration > 24*time.Hour {
		p.Addf("duration", "must be between 0s and 24h, got %s", s.Duration)
	}
	return p.Err()
}

// Compile checks the spec and returns the Action.
func (s WaitSpec) Compile() (*Wait, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return &Wait{d: s.Duration}, nil
}

// Wait is a compiled WaitSpec.
type Wait struct{ d time.Duration }

var _ Action = (*Wait)(nil)

// Type returns "wait".
func (w *Wait) Type() string { return "wait" }

// Plan returns [duration].
func (w *Wait) Plan(*Data) ([]string, error) { return []string{w.d.String()}, nil }

// Execute waits for the duration or until ctx is done.
func (w *Wait) Execute(ctx context.Context, args []string) Result {
	if len(args) != 1 || args[0] != w.d.String() {
		return Result{ExitCode: -1, Err: fmt.Errorf("refused: want [%s], got %q", w.d, args)}
	}
	t := time.NewTimer(w.d)
	defer t.Stop()
	start := time.Now()
	select {
	case <-t.C:
		return Result{Duration: time.Since(start)}
	case <-ctx.Done():
		return Result{ExitCode: -1, Duration: time.Since(start), Err: ctx.Err()}
	}
}
