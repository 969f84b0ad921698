package config

import (
	"fmt"
	"slices"
	"strings"
)

// LookupFunc returns the value of an environment variable and whether it is
// set; os.LookupEnv is one.
type LookupFunc func(name string) (string, bool)

// expandError is a bad ${...} reference in a value. offset is the byte offset
// of the reference in the value, used to compute its line in block scalars.
type expandError struct {
	offset int
	msg    string
}

func (e *expandError) Error() string { return e.msg }

// expand replaces each ${NAME} in s by the value of the environment variable
// NAME and each $$ by a single $. A $ followed by anything else is kept as
// is, so "pa$word" needs no escaping. Unset variables, malformed references
// and unterminated ones are errors; all unset variables of s are named in one
// error.
func expand(s string, lookup LookupFunc) (string, error) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	var (
		b       strings.Builder
		missing []string
		first   = -1 // offset of the first unset variable
	)
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '$' || i+1 == len(s) {
			b.WriteByte(c)
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '{':
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				return "", &expandError{i, fmt.Sprintf("unterminated ${ at %q", clip(s[i:]))}
			}
			name := s[i+2 : i+2+end]
			if !validEnvName(name) {
				return "", &expandError{i, fmt.Sprintf("invalid variable reference %q: want ${NAME} with NAME made of letters, digits and _ (defaults such as ${NAME:-x} are not supported)", clip(s[i:i+3+end]))}
			}
			var (
				val string
				ok  bool
			)
			if lookup != nil {
				val, ok = lookup(name)
			}
			if !ok {
				if first < 0 {
					first = i
				}
				if !slices.Contains(missing, name) {
					missing = append(missing, name)
				}
			}
			b.WriteString(val)
			i += 2 + end
		default:
			b.WriteByte(c)
		}
	}
	switch len(missing) {
	case 0:
		return b.String(), nil
	case 1:
		return "", &expandError{first, fmt.Sprintf("environment variable %s is not set", missing[0])}
	default:
		return "", &expandError{first, fmt.Sprintf("environment variables %s are not set", strings.Join(missing, ", "))}
	}
}

// validEnvName reports whether name is a POSIX-style variable name.
func validEnvName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '_', 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// clip shortens s for an error message.
func clip(s string) string {
	const max = 40
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}
