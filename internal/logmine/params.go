package logmine

import "strings"

// maxParamSteps bounds the backtracking of Params on adversarial input.
const maxParamSteps = 1 << 16

// Params extracts the values of a template's variables from a line's
// content: Params("took <*> ms", "took 12 ms") is ["12"]. Each <*> matches
// as little as the rest of the template allows, and a space in the template
// matches any run of whitespace. It reports false when the content does not
// fit the template (for example a line of an older form of a template that
// has since changed its literal text).
func Params(template, content string) ([]string, bool) {
	c := strings.Join(strings.Fields(content), " ")
	p := paramMatcher{t: template, c: c}
	if !p.match(0, 0) {
		return nil, false
	}
	// Values were recorded innermost first.
	for i, j := 0, len(p.vals)-1; i < j; i, j = i+1, j-1 {
		p.vals[i], p.vals[j] = p.vals[j], p.vals[i]
	}
	return p.vals, true
}

type paramMatcher struct {
	t, c  string
	vals  []string
	steps int
}

func (p *paramMatcher) match(ti, ci int) bool {
	p.steps++
	if p.steps > maxParamSteps {
		return false
	}
	for ti < len(p.t) {
		if strings.HasPrefix(p.t[ti:], Wildcard) {
			next := ti + len(Wildcard)
			if next == len(p.t) {
				if ci == len(p.c) {
					return false
				}
				p.vals = append(p.vals, p.c[ci:])
				return true
			}
			for e := ci + 1; e <= len(p.c); e++ {
				if !strings.HasPrefix(p.t[next:], Wildcard) {
					k := strings.IndexByte(p.c[e:], p.t[next])
					if k < 0 {
						return false
					}
					e += k
				}
				if p.match(next, e) {
					p.vals = append(p.vals, p.c[ci:e])
					return true
				}
			}
			return false
		}
		if ci >= len(p.c) || p.t[ti] != p.c[ci] {
			return false
		}
		ti++
		ci++
	}
	return ci == len(p.c)
}
