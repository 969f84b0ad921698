package logmine

import (
	"fmt"
	"hash/fnv"
	"strings"
	"time"
	"unicode/utf8"
)

// Config tunes a Miner. The zero value means the defaults; there is one
// configuration for every source, with nothing keyed on a system's name.
type Config struct {
	// MaxTemplates caps the templates of one source (aliases included).
	// When it is reached, lines that match no template are counted in
	// Stats.Overflow and get no template. Default 10000.
	MaxTemplates int
	// MaxCacheLines caps the cache of masked lines already seen; it is
	// emptied when full. Default 65536.
	MaxCacheLines int
	// MaxCacheBytes caps the bytes of the masked lines in that cache, which
	// is emptied when they would exceed it. Default 16 MiB.
	MaxCacheBytes int
	// MaxLineBytes caps a line's masked form: the masker stops after the
	// last whole token within the limit (a stack trace keeps its first
	// frames), and the line is mined on that part and counted in
	// Stats.Truncated. With MaxTemplates and MaxCacheBytes it bounds a
	// miner's memory and time per line whatever the input. Default 16 KiB.
	MaxLineBytes int
	// MergeAfter is how many distinct words a position must show, in lines
	// that are otherwise alike, before it becomes a variable. Words (tokens
	// of letters only) are kept apart until then, because log templates
	// often differ only in a word ("state LOOKING" vs "state LEADING");
	// tokens with digits or punctuation merge at once. Default 4.
	MergeAfter int
	// MinSimilarity is the fraction of a template's literal tokens a line
	// must share with it to join it. Default 0.6.
	MinSimilarity float64
}

func (c Config) withDefaults() Config {
	if c.MaxTemplates <= 0 {
		c.MaxTemplates = 10000
	}
	if c.MaxCacheLines <= 0 {
		c.MaxCacheLines = 1 << 16
	}
	if c.MaxCacheBytes <= 0 {
		c.MaxCacheBytes = 16 << 20
	}
	if c.MaxLineBytes <= 0 {
		c.MaxLineBytes = 16 << 10
	}
	if c.MergeAfter <= 0 {
		c.MergeAfter = 4
	}
	if c.MinSimilarity <= 0 {
		c.MinSimilarity = 0.6
	}
	return c
}

// Match is what the miner says about one line.
type Match struct {
	// ID is the template's id at the time of the call. A later merge may
	// make it an alias: Miner.Resolve follows aliases.
	ID string
	// New is true when the line started a new template.
	New bool
	// Overflow is true when the template cap was reached and the line got
	// no template (ID is empty).
	Overflow bool
	// Index is the template's position in the miner, for Resolve.
	Index int
	// Content is the text that was mined (SetOptions.Content of the
	// record), set by Set.Mine for OnMatch: a listener that needs more of
	// the line than its template (the trace stage reads the code location
	// a layout wrote in the header) need not extract it again.
	Content string
}

// Stats counts what a miner did.
type Stats struct {
	Lines      int64 // lines added
	CacheHits  int64 // lines whose masked form was seen before
	Templates  int   // templates created (aliases included)
	Merges     int64 // templates merged into another
	Overflow   int64 // lines dropped because MaxTemplates was reached
	CacheFlush int64 // times the masked-line cache was emptied
	Truncated  int64 // lines whose masked form was cut to MaxLineBytes
}

// maxSampleBytes caps a template's sample line.
const maxSampleBytes = 4096

// template is one mined pattern. Fields are owned by the Miner.
type template struct {
	id     string
	tokens []string // current form; variables are Wildcard
	count  int64
	first  time.Time
	last   time.Time
	sample string
	alias  int // index of the template this one was merged into, or -1
	// evidence maps a position to the distinct words that lines which
	// were otherwise this template's have shown there, with the templates
	// holding them.
	evidence map[int]*evidence
}

type evidence struct {
	words   []string
	members []int
}

// Miner mines templates from the lines of one source, online: each Add
// returns at once with the line's template, and templates generalise as
// lines arrive. It is deterministic: the same lines in the same order give
// the same templates and ids.
//
// The work per line is: mask the content (one pass of a hand-written
// scanner), look the masked line up in a cache, and only on a miss compare it
// with the templates of the same length. Most lines are cache hits.
//
// A Miner is not safe for concurrent use; Set serialises access per source.
type Miner struct {
	source string
	cfg    Config
	tmpls  []*template
	byLen  map[int][]int // live (non-alias) templates by token count
	cache  map[string]int
	// cacheBytes is the length of cache's keys, for MaxCacheBytes.
	cacheBytes int
	ids        map[string]int // template id → index
	buf        []byte
	toks       []string
	stats      Stats
	// trackMerges makes mergeInto record merges for Set's listener.
	trackMerges bool
	merged      []merged
}

// NewMiner returns a miner for the lines of source (the name only enters the
// template ids, so that equal templates of two sources differ).
func NewMiner(source string, cfg Config) *Miner {
	return &Miner{
		source: source,
		cfg:    cfg.withDefaults(),
		byLen:  map[int][]int{},
		cache:  map[string]int{},
		ids:    map[string]int{},
	}
}

// Add mines one line's content (the message without its header) seen at t.
func (m *Miner) Add(t time.Time, content string) Match {
	m.stats.Lines++
	if cap(m.buf) > 4*m.cfg.MaxLineBytes {
		m.buf = nil // one huge token of the last line grew it: let it go
	}
	var cut bool
	m.buf, cut = maskLimit(m.buf[:0], content, m.cfg.MaxLineBytes)
	if cut {
		m.stats.Truncated++
	}
	if idx, ok := m.cache[string(m.buf)]; ok {
		m.stats.CacheHits++
		idx = m.resolve(idx)
		m.touch(idx, t, content)
		return Match{ID: m.tmpls[idx].id, Index: idx}
	}
	masked := string(m.buf)
	m.toks = appendFields(m.toks[:0], masked)
	idx, isNew, ok := m.place(m.toks, masked)
	if !ok {
		m.stats.Overflow++
		return Match{Overflow: true, Index: -1}
	}
	if len(m.cache) >= m.cfg.MaxCacheLines || m.cacheBytes+len(masked) > m.cfg.MaxCacheBytes {
		clear(m.cache)
		m.cacheBytes = 0
		m.stats.CacheFlush++
	}
	m.cache[masked] = idx
	m.cacheBytes += len(masked)
	idx = m.resolve(idx)
	m.touch(idx, t, content)
	return Match{ID: m.tmpls[idx].id, New: isNew, Index: idx}
}

func (m *Miner) touch(idx int, t time.Time, content string) {
	tp := m.tmpls[idx]
	tp.count++
	if tp.first.IsZero() || t.Before(tp.first) {
		tp.first = t
	}
	if t.After(tp.last) {
		tp.last = t
	}
	if tp.sample == "" {
		tp.sample = strings.Clone(cutLine(content, maxSampleBytes))
	}
}

// cutLine shortens s to at most n bytes: at the last whitespace within the
// limit, or else at the last character boundary.
func cutLine(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for i := n; i > n/2; i-- {
		if isSpaceByte(s[i]) {
			return s[:i]
		}
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// appendFields splits s at single spaces (maskLine's output has no others).
func appendFields(dst []string, s string) []string {
	for s != "" {
		k := strings.IndexByte(s, ' ')
		if k < 0 {
			return append(dst, s)
		}
		dst = append(dst, s[:k])
		s = s[k+1:]
	}
	return dst
}

// place finds or makes the template for a masked line that missed the cache.
func (m *Miner) place(toks []string, masked string) (idx int, isNew, ok bool) {
	cands := m.byLen[len(toks)]
	// 1. A template that already covers the line; the most specific wins.
	best, bestWild := -1, 0
	for _, c := range cands {
		if w, ok := covers(m.tmpls[c].tokens, toks); ok && (best < 0 || w < bestWild) {
			best, bestWild = c, w
		}
	}
	if best >= 0 {
		return best, false, true
	}
	// 2. The most similar template; it absorbs the line when every token
	// that differs is a value, and collects evidence when words differ.
	best, bestSim, bestWords := -1, -1.0, 0
	for _, c := range cands {
		sim, words, ok := m.similarity(m.tmpls[c].tokens, toks)
		if ok && sim > bestSim {
			best, bestSim, bestWords = c, sim, words
		}
	}
	if best >= 0 && bestWords == 0 {
		m.generalise(best, toks)
		return best, false, true
	}
	if len(m.tmpls) >= m.cfg.MaxTemplates {
		return -1, false, false
	}
	idx = m.newTemplate(toks, masked)
	if best >= 0 && bestWords == 1 {
		m.addEvidence(best, idx)
	}
	return idx, true, true
}

// covers reports whether template t matches toks as it is, and how many
// wildcards it has.
func covers(t, toks []string) (wild int, ok bool) {
	for i, tt := range t {
		if tt == Wildcard {
			wild++
			continue
		}
		if tt != toks[i] && !globMatch(tt, toks[i]) {
			return 0, false
		}
	}
	return wild, true
}

// globMatch reports whether token s matches pattern p, a token with
// variables in it ("name=<*>,"), each variable standing for one or more
// characters. It is the linear-time wildcard match: on a mismatch it only
// ever backs up to the last variable seen.
func globMatch(p, s string) bool {
	if !strings.Contains(p, Wildcard) {
		return p == s
	}
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		switch {
		case strings.HasPrefix(p[pi:], Wildcard):
			pi += len(Wildcard)
			si++ // a variable takes at least one character
			star, mark = pi, si
		case pi < len(p) && p[pi] == s[si]:
			pi++
			si++
		case star >= 0:
			mark++
			pi, si = star, mark
		default:
			return false
		}
	}
	return pi == len(p)
}

// similarity compares a template with a line of the same length. It returns
// the fraction of the template's literal tokens the line shares, how many
// differing positions hold words on both sides, and whether the template is
// a candidate at all (similar enough, at most one word differs, the first
// token agrees unless it is a value).
func (m *Miner) similarity(t, toks []string) (sim float64, words int, ok bool) {
	literal, same := 0, 0
	for i, tt := range t {
		if tt == Wildcard {
			continue
		}
		literal++
		if tt == toks[i] || globMatch(tt, toks[i]) {
			same++
			continue
		}
		if !valueChange(tt, toks[i]) {
			words++
			if words > 1 {
				return 0, 0, false
			}
		}
	}
	if literal == 0 {
		return 1, 0, true
	}
	sim = float64(same) / float64(literal)
	if sim < m.cfg.MinSimilarity || same == 0 {
		return 0, 0, false
	}
	return sim, words, true
}

func (m *Miner) newTemplate(toks []string, masked string) int {
	idx := len(m.tmpls)
	tp := &template{
		id:     m.templateID(masked),
		tokens: append([]string(nil), toks...),
		alias:  -1,
	}
	m.tmpls = append(m.tmpls, tp)
	m.ids[tp.id] = idx
	m.byLen[len(toks)] = append(m.byLen[len(toks)], idx)
	m.stats.Templates++
	return idx
}

// templateID derives a stable id from the source and the template's first
// form: the same first line on the same source gets the same id on every
// run. A clash (another first form with the same hash) takes a suffix.
func (m *Miner) templateID(first string) string {
	h := fnv.New64a()
	h.Write([]byte(m.source))
	h.Write([]byte{0})
	h.Write([]byte(first))
	id := fmt.Sprintf("%016x", h.Sum64())
	for n := 1; m.idTaken(id); n++ {
		id = fmt.Sprintf("%016x-%d", h.Sum64(), n)
	}
	return id
}

func (m *Miner) idTaken(id string) bool {
	_, ok := m.ids[id]
	return ok
}

// generalise makes template idx cover toks by turning differing tokens into
// variables.
func (m *Miner) generalise(idx int, toks []string) {
	t := m.tmpls[idx].tokens
	for i := range t {
		if t[i] != toks[i] {
			t[i] = mergeToken(t[i], toks[i])
		}
	}
}

// addEvidence records that template n differs from template base in exactly
// one word; when MergeAfter distinct words have been seen at a position, the
// templates that showed them merge into base with a variable there.
func (m *Miner) addEvidence(base, n int) {
	bt, nt := m.tmpls[base], m.tmpls[n]
	pos := -1
	for i := range bt.tokens {
		if bt.tokens[i] != Wildcard && bt.tokens[i] != nt.tokens[i] && !valueChange(bt.tokens[i], nt.tokens[i]) {
			pos = i
			break
		}
	}
	if pos < 0 {
		return
	}
	if bt.evidence == nil {
		bt.evidence = map[int]*evidence{}
	}
	ev := bt.evidence[pos]
	if ev == nil {
		ev = &evidence{words: []string{bt.tokens[pos]}}
		bt.evidence[pos] = ev
	}
	ev.members = append(ev.members, n)
	w := nt.tokens[pos]
	for _, x := range ev.words {
		if x == w {
			return
		}
	}
	ev.words = append(ev.words, w)
	if len(ev.words) < m.cfg.MergeAfter {
		return
	}
	delete(bt.evidence, pos)
	merged := ev.words[0]
	for _, w := range ev.words[1:] {
		merged = mergeToken(merged, w)
	}
	bt.tokens[pos] = merged
	for _, mem := range ev.members {
		if m.compatible(base, mem) {
			m.mergeInto(mem, base)
		}
	}
}

// compatible reports whether template mem (followed to its live form) may
// merge into base: the same length, and every token that differs is a value
// or a variable of base.
func (m *Miner) compatible(base, mem int) bool {
	bt, mt := m.tmpls[m.resolve(base)].tokens, m.tmpls[m.resolve(mem)].tokens
	if len(bt) != len(mt) {
		return false
	}
	for i := range bt {
		if bt[i] != Wildcard && bt[i] != mt[i] && !valueChange(bt[i], mt[i]) {
			return false
		}
	}
	return true
}

// mergeInto makes template from an alias of template to, which generalises
// to cover it.
func (m *Miner) mergeInto(from, to int) {
	from, to = m.resolve(from), m.resolve(to)
	if from == to {
		return
	}
	ft, tt := m.tmpls[from], m.tmpls[to]
	if len(ft.tokens) == len(tt.tokens) {
		m.generalise(to, ft.tokens)
	}
	ft.alias = to
	tt.count += ft.count
	if !ft.first.IsZero() && (tt.first.IsZero() || ft.first.Before(tt.first)) {
		tt.first = ft.first
	}
	if ft.last.After(tt.last) {
		tt.last = ft.last
	}
	ft.count = 0
	l := m.byLen[len(ft.tokens)]
	for i, x := range l {
		if x == from {
			m.byLen[len(ft.tokens)] = append(l[:i], l[i+1:]...)
			break
		}
	}
	m.stats.Merges++
	if m.trackMerges {
		m.merged = append(m.merged, merged{into: to, ids: []string{ft.id}})
	}
}

// resolve follows aliases to the live template, shortening the chain.
func (m *Miner) resolve(idx int) int {
	root := idx
	for m.tmpls[root].alias >= 0 {
		root = m.tmpls[root].alias
	}
	for m.tmpls[idx].alias >= 0 {
		next := m.tmpls[idx].alias
		m.tmpls[idx].alias = root
		idx = next
	}
	return root
}

// mergeToken generalises two differing tokens: the punctuation-delimited
// ends they share stay ("name=<*>,"), the rest becomes a variable.
func mergeToken(a, b string) string {
	if a == Wildcard || b == Wildcard {
		return Wildcard
	}
	n := min(len(a), len(b))
	p := 0
	for p < n && a[p] == b[p] {
		p++
	}
	for p > 0 && !isKeepDelim(a[p-1]) {
		p--
	}
	s := 0
	for s < n-p && a[len(a)-1-s] == b[len(b)-1-s] {
		s++
	}
	for s > 0 && !isKeepDelim(a[len(a)-s]) {
		s--
	}
	out := make([]byte, 0, p+len(Wildcard)+s)
	out = append(out, a[:p]...)
	out = append(out, Wildcard...)
	out = append(out, a[len(a)-s:]...)
	return collapse(string(out))
}

// collapse merges variables that touch or are joined by "." ("<*><*>",
// "<*>.<*>"), as the masker does.
func collapse(s string) string {
	for {
		t := strings.ReplaceAll(s, "<*><*>", Wildcard)
		t = strings.ReplaceAll(t, "<*>.<*>", Wildcard)
		if t == s {
			return s
		}
		s = t
	}
}

// valueChange reports whether two differing tokens differ in a value rather
// than a word: after their common beginning and end, what remains on either
// side holds a digit, a variable or address punctuation. "mapred.tip.id"
// and "mapred.task.id" differ in a word, as do "(uid=<*>)" and
// "LOGIN(uid=<*>)"; "rdd_1" and "rdd_2" in a value.
func valueChange(a, b string) bool {
	if strings.ContainsAny(a, "/\\") || strings.ContainsAny(b, "/\\") {
		return true // paths
	}
	n := min(len(a), len(b))
	p := 0
	for p < n && a[p] == b[p] {
		p++
	}
	s := 0
	for s < n-p && a[len(a)-1-s] == b[len(b)-1-s] {
		s++
	}
	// Widen to whole wildcards so that "<*>" is never cut.
	ma, mb := a[p:len(a)-s], b[p:len(b)-s]
	if strings.Contains(a, Wildcard) || strings.Contains(b, Wildcard) {
		ma, mb = widen(a, p, len(a)-s), widen(b, p, len(b)-s)
	}
	return valueLike(ma) || valueLike(mb)
}

func widen(t string, lo, hi int) string {
	for lo > 0 && (t[lo-1] == '<' || t[lo-1] == '*') {
		lo--
	}
	for hi < len(t) && (t[hi] == '>' || t[hi] == '*') {
		hi++
	}
	return t[lo:hi]
}

func valueLike(m string) bool {
	for i := 0; i < len(m); i++ {
		switch c := m[i]; {
		case isDigit(c), c == '<', c == '/', c == '\\', c == ':', c == '@', c == '=', c == '.' && dottedValues:
			return true
		}
	}
	return false
}

// dottedValues makes "a.b" vs "c.d" a value change. Dotted names (class and
// package names) are more often fixed text than variables.
const dottedValues = false

func isKeepDelim(c byte) bool { return isPathDelim(c) || isPieceDelim(c) }

// Resolve returns the live template that idx (a Match.Index) now belongs to,
// following merges.
func (m *Miner) Resolve(idx int) int {
	if idx < 0 || idx >= len(m.tmpls) {
		return -1
	}
	return m.resolve(idx)
}

// TemplateText returns the current text of the template at idx, following
// merges, with <*> for variables.
func (m *Miner) TemplateText(idx int) string {
	idx = m.Resolve(idx)
	if idx < 0 {
		return ""
	}
	return strings.Join(m.tmpls[idx].tokens, " ")
}

// Stats returns the miner's counters.
func (m *Miner) Stats() Stats { return m.stats }
