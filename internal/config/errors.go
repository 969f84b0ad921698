package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// FieldError is one problem with the configuration: what is wrong (Err), where
// in the key tree (Path, such as "auth.tokens[1].role") and, when the value was
// read from a file, on which line.
type FieldError struct {
	// Path is the key path of the offending value; empty for problems with
	// the document as a whole.
	Path string
	// Line is the 1-based line in the file, or 0 when unknown (a default, or
	// a Config built in code).
	Line int
	// Err says what is wrong.
	Err error
}

// Error renders the problem as "line 4: server.listen: ...", leaving out the
// parts that are unknown.
func (e *FieldError) Error() string {
	var b strings.Builder
	if e.Line > 0 {
		b.WriteString("line ")
		b.WriteString(strconv.Itoa(e.Line))
		b.WriteString(": ")
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	if e.Err != nil {
		b.WriteString(e.Err.Error())
	} else {
		b.WriteString("invalid")
	}
	return b.String()
}

// Unwrap returns the underlying error.
func (e *FieldError) Unwrap() error { return e.Err }

// Errors is every problem found in a configuration, in file order for decode
// problems and in key order for validation problems. Parse, Load and the
// Validate methods return an Errors (never an empty one) so that a user can
// fix everything in one pass.
type Errors []error

// Error renders a single problem as itself and several as a count followed by
// one indented problem per line.
func (e Errors) Error() string {
	switch len(e) {
	case 0:
		return "no configuration errors"
	case 1:
		return e[0].Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d configuration errors:", len(e))
	for _, err := range e {
		b.WriteString("\n  ")
		b.WriteString(err.Error())
	}
	return b.String()
}

// Unwrap returns the individual problems, so errors.Is and errors.As look at
// each of them.
func (e Errors) Unwrap() []error { return e }

// maxErrors bounds the problems returned for one file, so a binary file or a
// pasted log does not produce megabytes of messages.
const maxErrors = 100

// problems collects FieldErrors while validating or decoding.
type problems struct {
	errs Errors
}

// addf records a problem at path (relative to the value being checked).
func (p *problems) addf(path, format string, args ...any) {
	p.errs = append(p.errs, &FieldError{Path: path, Err: fmt.Errorf(format, args...)})
}

// nest records the problems of a sub-value's Validate, prefixing their paths
// with prefix (the sub-value's key relative to the value being checked).
func (p *problems) nest(prefix string, err error) {
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
			p.errs = append(p.errs, &FieldError{Path: joinPath(prefix, fe.Path), Line: fe.Line, Err: fe.Err})
			continue
		}
		p.errs = append(p.errs, &FieldError{Path: prefix, Err: e})
	}
}

// err returns the collected problems, or nil when there are none. It must be
// used instead of returning p.errs directly: a nil Errors in an error
// interface is not a nil error.
func (p *problems) err() error {
	if len(p.errs) == 0 {
		return nil
	}
	if len(p.errs) > maxErrors {
		n := len(p.errs) - maxErrors
		p.errs = append(p.errs[:maxErrors:maxErrors], &FieldError{Err: fmt.Errorf("%d more errors not shown", n)})
	}
	return p.errs
}

// joinPath appends the relative key path rel to prefix: "auth" and
// "tokens[1].role" give "auth.tokens[1].role"; an index such as "[1]" is
// appended without a dot.
func joinPath(prefix, rel string) string {
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

// indexPath returns the path of element i of the list at path.
func indexPath(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}
