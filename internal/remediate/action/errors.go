package action

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// FieldError is one problem with a runbook definition: what is wrong (Err) and
// where in the key tree (Path, such as "steps[1].exec.argv[2]"), relative to
// the value whose Validate reported it. It mirrors config.FieldError so the
// configuration package can re-root the paths under "remediation.".
type FieldError struct {
	Path string
	Err  error
}

// Error renders the problem as "path: message".
func (e *FieldError) Error() string {
	if e.Path == "" {
		return e.Err.Error()
	}
	return e.Path + ": " + e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *FieldError) Unwrap() error { return e.Err }

// Errors is every problem found, so that a user fixes everything in one pass.
// Validate methods return an Errors of *FieldError, never an empty one.
type Errors []error

// Error renders one problem as itself and several one per line.
func (e Errors) Error() string {
	switch len(e) {
	case 0:
		return "no errors"
	case 1:
		return e[0].Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d errors:", len(e))
	for _, err := range e {
		b.WriteString("\n  ")
		b.WriteString(err.Error())
	}
	return b.String()
}

// Unwrap returns the individual problems for errors.Is and errors.As.
func (e Errors) Unwrap() []error { return e }

// Problems collects FieldErrors while validating. The zero value is ready to
// use.
type Problems struct {
	errs Errors
}

// Addf records a problem at path.
func (p *Problems) Addf(path, format string, args ...any) {
	p.errs = append(p.errs, &FieldError{Path: path, Err: fmt.Errorf(format, args...)})
}

// Nest records the problems of a sub-value's Validate with their paths
// prefixed by prefix.
func (p *Problems) Nest(prefix string, err error) {
	if err == nil {
		return
	}
	var list Errors
	if !errors.As(err, &list) {
		list = Errors{err}
	}
	for _, e := range list {
		var fe *FieldError
		if errors.As(e, &fe) {
			p.errs = append(p.errs, &FieldError{Path: JoinPath(prefix, fe.Path), Err: fe.Err})
			continue
		}
		p.errs = append(p.errs, &FieldError{Path: prefix, Err: e})
	}
}

// Err returns the collected problems, or nil when there are none.
func (p *Problems) Err() error {
	if len(p.errs) == 0 {
		return nil
	}
	return p.errs
}

// JoinPath appends the relative key path rel to prefix ("steps[0]" and
// "exec.argv" give "steps[0].exec.argv"; "[1]" is appended without a dot).
func JoinPath(prefix, rel string) string {
	switch {
	case prefix == "":
		return rel
	case rel == "":
		return prefix
	case rel[0] == '[':
		return prefix + rel
	default:
		return prefix + "." + rel
	}
}

// IndexPath returns the path of element i of the list at path.
func IndexPath(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}

// clip shortens s for an error message.
func clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}
