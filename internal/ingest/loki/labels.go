package loki

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/osprey-aiops/osprey"
)

// parseLabels parses a stream's labels as the protobuf push carries them: a
// Prometheus series selector with equality matchers only, {a="b", c="d"},
// which is what Promtail and Alloy write (Prometheus' labels.String). Values
// are double-quoted with Go escapes, or back-quoted raw strings as PromQL
// allows; a trailing comma is accepted, a repeated name is not. The error
// says where the text went wrong. Label names are checked later, with the
// other label rules, by ingest.CheckLabels.
func parseLabels(s string) (osprey.Labels, error) {
	p := labelParser{s: s}
	p.space()
	if !p.eat('{') {
		return nil, p.errorf("want '{'")
	}
	labels := make(osprey.Labels, 8)
	for {
		p.space()
		if p.eat('}') {
			break
		}
		name := p.name()
		if name == "" {
			return nil, p.errorf("want a label name or '}'")
		}
		p.space()
		if !p.eat('=') {
			if p.i < len(p.s) && (p.s[p.i] == '!' || p.s[p.i] == '~') {
				return nil, p.errorf("only = matchers are allowed in stream labels")
			}
			return nil, p.errorf("want '=' after %q", name)
		}
		p.space()
		value, err := p.quoted()
		if err != nil {
			return nil, err
		}
		if _, dup := labels[name]; dup {
			return nil, fmt.Errorf("duplicate label name %q", name)
		}
		labels[name] = value
		p.space()
		if p.eat(',') {
			continue
		}
		p.space()
		if !p.eat('}') {
			return nil, p.errorf("want ',' or '}'")
		}
		break
	}
	p.space()
	if p.i != len(p.s) {
		return nil, p.errorf("text after '}'")
	}
	return labels, nil
}

type labelParser struct {
	s string
	i int
}

func (p *labelParser) errorf(format string, args ...any) error {
	return fmt.Errorf("at byte %d: %s", p.i, fmt.Sprintf(format, args...))
}

func (p *labelParser) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n' || p.s[p.i] == '\r') {
		p.i++
	}
}

func (p *labelParser) eat(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

// name reads [a-zA-Z_][a-zA-Z0-9_]*.
func (p *labelParser) name() string {
	start := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || p.i > start && '0' <= c && c <= '9' {
			p.i++
			continue
		}
		break
	}
	return p.s[start:p.i]
}

var errUnterminated = errors.New("unterminated label value")

// quoted reads a "..." or `...` value. A value without escapes is a
// substring of the input; the others are unquoted with strconv.Unquote.
func (p *labelParser) quoted() (string, error) {
	if p.i >= len(p.s) || p.s[p.i] != '"' && p.s[p.i] != '`' {
		return "", p.errorf("want a quoted label value")
	}
	q := p.s[p.i]
	start := p.i
	escaped := false
	for j := start + 1; j < len(p.s); j++ {
		c := p.s[j]
		if q == '"' && c == '\\' {
			escaped = true
			j++
			continue
		}
		if q == '"' && c == '\n' {
			break
		}
		if c == q {
			p.i = j + 1
			if !escaped {
				return p.s[start+1 : j], nil
			}
			v, err := strconv.Unquote(p.s[start:p.i])
			if err != nil {
				p.i = start
				return "", p.errorf("bad escape in label value")
			}
			return v, nil
		}
	}
	return "", fmt.Errorf("at byte %d: %w", start, errUnterminated)
}

// formatLabels renders labels for an error message, as Loki names streams.
func formatLabels(l osprey.Labels) string {
	return l.String()
}

// quoteForError shortens s for an error message.
func quoteForError(s string, n int) string {
	if len(s) > n {
		s = s[:n] + "..."
	}
	return strings.ToValidUTF8(strconv.Quote(s), "?")
}
