package logparse

import (
	"fmt"
	"strings"
	"sync"
)

// ContentField is the name of the field that holds the message in a format.
const ContentField = "Content"

// maxOptionalGroups bounds the optional groups of a format: each doubles the
// number of alternatives tried on a line that does not match.
const maxOptionalGroups = 4

// Format is a compiled user header format in logparser notation, for example
//
//	<Date> <Time> <Level> <Component>: <Content>
//
// Each <Name> is a field. Fields match lazily (as few characters as the rest
// of the format allows), literal text between fields must match exactly, a run
// of spaces matches a run of whitespace, a backslash escapes the next character
// (\[ is a literal "["), and a parenthesised part followed by ? is optional:
// (\[<PID>\])? matches "[123]" or nothing. These are the meanings logparser's
// benchmark gives the notation, where the format is turned into a regular
// expression; here it is compiled into a backtracking matcher that finds
// separators with strings.Index and never allocates on a match.
//
// A Format is immutable and safe for concurrent use.
type Format struct {
	src     string
	names   []string
	content int      // index of the Content field in names, or -1
	alts    [][]node // alternatives: optional groups present, then absent
	absent  [][]int  // absent[i]: the fields that alts[i] does not set
	// memos recycles the failure memos of matches that needed one, so that
	// a line that backtracks does not allocate.
	memos sync.Pool // of *[]uint64
}

type nodeKind uint8

const (
	nodeField nodeKind = iota
	nodeLiteral
	nodeSpace
)

type node struct {
	kind  nodeKind
	field int    // index into names for nodeField
	lit   string // text for nodeLiteral
}

// part is a parsed element before optional groups are expanded.
type part struct {
	node
	group []part // non-nil: an optional group
}

// Compile parses a format in logparser notation. It rejects an empty format,
// unbalanced or nested groups, a field name that is not a word, the same field
// twice, and two fields with nothing between them (the first would always be
// empty).
func Compile(format string) (*Format, error) {
	if strings.TrimSpace(format) == "" {
		return nil, fmt.Errorf("compile format: empty")
	}
	f := &Format{src: format, content: -1}
	seen := map[string]bool{}
	var top []part
	var group []part
	inGroup := false
	ngroups := 0
	emit := func(p part) {
		if inGroup {
			group = append(group, p)
		} else {
			top = append(top, p)
		}
	}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			emit(part{node: node{kind: nodeLiteral, lit: lit.String()}})
			lit.Reset()
		}
	}
	for i := 0; i < len(format); i++ {
		c := format[i]
		switch {
		case c == '\\':
			if i+1 >= len(format) {
				return nil, fmt.Errorf("compile format: trailing backslash")
			}
			i++
			if format[i] == 's' { // \s and \s+ as written in some formats
				flush()
				emit(part{node: node{kind: nodeSpace}})
				if i+1 < len(format) && format[i+1] == '+' {
					i++
				}
				continue
			}
			lit.WriteByte(format[i])
		case c == ' ' || c == '\t':
			flush()
			for i+1 < len(format) && (format[i+1] == ' ' || format[i+1] == '\t') {
				i++
			}
			emit(part{node: node{kind: nodeSpace}})
		case c == '<':
			end := strings.IndexByte(format[i:], '>')
			name := ""
			if end > 0 {
				name = format[i+1 : i+end]
			}
			if end < 0 || !isWord(name) {
				lit.WriteByte(c) // not a field: a literal "<"
				continue
			}
			if seen[name] {
				return nil, fmt.Errorf("compile format: field <%s> appears twice", name)
			}
			seen[name] = true
			flush()
			if n := len(group); inGroup && n > 0 && group[n-1].kind == nodeField && group[n-1].group == nil ||
				!inGroup && len(top) > 0 && top[len(top)-1].kind == nodeField && top[len(top)-1].group == nil {
				return nil, fmt.Errorf("compile format: fields before <%s> and <%s> need a separator", name, name)
			}
			if name == ContentField {
				f.content = len(f.names)
			}
			emit(part{node: node{kind: nodeField, field: len(f.names)}})
			f.names = append(f.names, name)
			i += end
		case c == '(':
			if inGroup {
				return nil, fmt.Errorf("compile format: nested group at offset %d", i)
			}
			flush()
			inGroup = true
			group = nil
		case c == ')':
			if !inGroup {
				return nil, fmt.Errorf("compile format: unbalanced ) at offset %d", i)
			}
			flush()
			inGroup = false
			if i+1 < len(format) && format[i+1] == '?' {
				i++
				ngroups++
				if ngroups > maxOptionalGroups {
					return nil, fmt.Errorf("compile format: more than %d optional groups", maxOptionalGroups)
				}
				top = append(top, part{group: append([]part{}, group...)})
			} else {
				top = append(top, group...) // a plain group: its parts are required
			}
		default:
			lit.WriteByte(c)
		}
	}
	if inGroup {
		return nil, fmt.Errorf("compile format: unclosed group")
	}
	flush()
	if len(f.names) == 0 {
		return nil, fmt.Errorf("compile format: no <Field> in %q", format)
	}
	f.alts = expand(top)
	f.absent = make([][]int, len(f.alts))
	for i, alt := range f.alts {
		set := make([]bool, len(f.names))
		for _, n := range alt {
			if n.kind == nodeField {
				set[n.field] = true
			}
		}
		for field, ok := range set {
			if !ok {
				f.absent[i] = append(f.absent[i], field)
			}
		}
	}
	return f, nil
}

// expand turns optional groups into alternatives, group present first (as a
// greedy regexp ? tries it first), merging adjacent literals.
func expand(parts []part) [][]node {
	alts := [][]node{nil}
	for _, p := range parts {
		if p.group == nil {
			for i := range alts {
				alts[i] = appendNode(alts[i], p.node)
			}
			continue
		}
		var next [][]node
		for _, a := range alts {
			with := append([]node(nil), a...)
			for _, g := range p.group {
				with = appendNode(with, g.node)
			}
			next = append(next, with, append([]node(nil), a...))
		}
		alts = next
	}
	return alts
}

func appendNode(ns []node, n node) []node {
	if k := len(ns); k > 0 {
		last := &ns[k-1]
		switch {
		case n.kind == nodeLiteral && last.kind == nodeLiteral:
			last.lit += n.lit
			return ns
		case n.kind == nodeSpace && last.kind == nodeSpace:
			return ns
		}
	}
	return append(ns, n)
}

func isWord(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// String returns the format as it was written.
func (f *Format) String() string { return f.src }

// Fields returns the field names in the order they appear. The caller must
// not modify the slice.
func (f *Format) Fields() []string { return f.names }

// ContentIndex returns the index of the Content field in Fields, or -1 when the
// format has none.
func (f *Format) ContentIndex() int { return f.content }

// Parse matches line against the format and stores each field's value in
// dst[i] for Fields()[i], reusing dst's storage when it is large enough. Values
// are substrings of line; fields in an absent optional group are empty. It
// reports whether the line matched; on a mismatch the returned slice's
// contents are unspecified.
func (f *Format) Parse(line string, dst []string) ([]string, bool) {
	if cap(dst) < len(f.names) {
		dst = make([]string, len(f.names))
	}
	dst = dst[:len(f.names)]
	for i, alt := range f.alts {
		if matchFirst(line, alt, dst) {
			// It set every field of alt; the others are empty.
			for _, field := range f.absent[i] {
				dst[field] = ""
			}
			return dst, true
		}
		clear(dst)
		m := f.matcher(line, alt, dst)
		ok := m.match(0, 0)
		if m.box != nil && cap(*m.box) <= maxPooledMemo {
			f.memos.Put(m.box)
		}
		if ok {
			return dst, true
		}
	}
	return dst, false
}

// Content returns the Content field of line, or the whole line when the
// format does not match or has no Content field, and whether it matched.
func (f *Format) Content(line string, dst []string) (string, []string, bool) {
	vals, ok := f.Parse(line, dst)
	if !ok || f.content < 0 {
		return line, vals, ok
	}
	return vals[f.content], vals, true
}

// matchFirst follows the first choice at every node, without recursion: a
// field ends at the first place where the next node can start, a space run
// is taken whole. That is the path the backtracking matcher tries first, so
// when it matches, its values are the backtracking matcher's; most lines of
// a well-chosen format match this way. When it does not match, the caller
// backtracks.
func matchFirst(line string, nodes []node, vals []string) bool {
	pos := 0
	for i := range nodes {
		n := &nodes[i]
		switch n.kind {
		case nodeLiteral:
			if !strings.HasPrefix(line[pos:], n.lit) {
				return false
			}
			pos += len(n.lit)
		case nodeSpace:
			end := pos
			for end < len(line) && isSpace(line[end]) {
				end++
			}
			if end == pos {
				return false
			}
			pos = end
		default: // nodeField
			if i+1 == len(nodes) {
				vals[n.field] = line[pos:]
				return true
			}
			end := pos
			switch next := &nodes[i+1]; next.kind {
			case nodeLiteral:
				k := strings.Index(line[pos:], next.lit)
				if k < 0 {
					return false
				}
				end += k
			case nodeSpace:
				for end < len(line) && !isSpace(line[end]) {
					end++
				}
				if end == len(line) {
					return false
				}
			}
			vals[n.field] = line[pos:end]
			pos = end
		}
	}
	return pos == len(line)
}

// matcher is one backtracking match of a flat node list against a line.
// Failed (node, position) pairs are remembered once the search has taken more
// than a few steps, which bounds the work by nodes × line length: a line that
// almost matches cannot make it exponential.
type matcher struct {
	line  string
	nodes []node
	vals  []string
	steps int
	// work counts the bytes scanned and the candidates tried; past budget
	// the match gives up (see workBudget).
	work, budget int
	memo         []uint64   // bit (i*(len(line)+1)+pos): node i failed at pos
	pool         *sync.Pool // of *[]uint64
	box          *[]uint64  // memo's storage, taken from pool
}

const memoAfterSteps = 64

// workBudget bounds the work of one backtracking match, in bytes scanned
// and candidates tried, to a multiple of the line's length. The memo keeps
// the number of (node, position) states at nodes × length, but a lazy field
// tries every later separator from each state it enters, which on a long
// line that almost matches (a megabyte of "a: b " against "<A> <B>: <C>")
// is quadratic. Past the budget the alternative counts as not matching and
// the line is mined whole. Real headers match on the first path
// (matchFirst) or after a few hundred steps, far below the budget.
func workBudget(line string) int { return 64*len(line) + 1<<16 }

func (f *Format) matcher(line string, nodes []node, vals []string) matcher {
	return matcher{line: line, nodes: nodes, vals: vals, pool: &f.memos, budget: workBudget(line)}
}

// maxPooledMemo is the largest memo (in words, 128 KiB) kept for reuse; the
// memo of a huge line is left to the garbage collector.
const maxPooledMemo = 1 << 14

func (m *matcher) failedBefore(i, pos int) bool {
	if m.memo == nil {
		return false
	}
	b := i*(len(m.line)+1) + pos
	return m.memo[b>>6]&(1<<(b&63)) != 0
}

func (m *matcher) markFailed(i, pos int) {
	if m.memo == nil {
		if m.steps < memoAfterSteps {
			return
		}
		n := (len(m.nodes)*(len(m.line)+1) + 63) / 64
		box, _ := m.pool.Get().(*[]uint64)
		if box == nil {
			box = new([]uint64)
		}
		if cap(*box) < n {
			*box = make([]uint64, n)
		} else {
			*box = (*box)[:n]
			clear(*box)
		}
		m.box, m.memo = box, *box
	}
	b := i*(len(m.line)+1) + pos
	m.memo[b>>6] |= 1 << (b & 63)
}

func (m *matcher) match(i, pos int) bool {
	if i == len(m.nodes) {
		return pos == len(m.line)
	}
	if m.work > m.budget {
		return false // given up: see workBudget
	}
	if m.failedBefore(i, pos) {
		return false
	}
	m.steps++
	if m.matchNode(i, pos) {
		return true
	}
	m.markFailed(i, pos)
	return false
}

func (m *matcher) matchNode(i, pos int) bool {
	n := &m.nodes[i]
	line := m.line
	switch n.kind {
	case nodeLiteral:
		return strings.HasPrefix(line[pos:], n.lit) && m.match(i+1, pos+len(n.lit))
	case nodeSpace:
		end := pos
		for end < len(line) && isSpace(line[end]) {
			end++
		}
		m.work += end - pos + 1
		// Greedy like \s+, giving back one character at a time.
		for e := end; e > pos; e-- {
			if m.match(i+1, e) {
				return true
			}
		}
		return false
	}
	// A field: lazy, so try the shortest value first.
	if i+1 == len(m.nodes) {
		m.vals[n.field] = line[pos:]
		return true
	}
	next := &m.nodes[i+1]
	for e := pos; e <= len(line); {
		from := e
		switch next.kind {
		case nodeLiteral:
			k := strings.Index(line[e:], next.lit)
			if k < 0 {
				m.work += len(line) - e
				return false
			}
			e += k
		case nodeSpace:
			for e < len(line) && !isSpace(line[e]) {
				e++
			}
			if e == len(line) {
				m.work += e - from
				return false
			}
		}
		m.work += e - from + 1
		if m.match(i+1, e) {
			m.vals[n.field] = line[pos:e]
			return true
		}
		e++
	}
	return false
}

// isSpace reports ASCII whitespace: space, \t, \n, \v, \f, \r. Most bytes
// are above ' ' and cost one comparison.
func isSpace(c byte) bool {
	return c <= ' ' && (uint64(1)<<c)&spaceBits != 0
}

const spaceBits = 1<<' ' | 1<<'\t' | 1<<'\n' | 1<<'\v' | 1<<'\f' | 1<<'\r'
