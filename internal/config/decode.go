package config

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"
)

// The YAML library parses the file into a node tree, which decoder then
// walks against the Config type itself instead of calling yaml's own Decode
// (even with KnownFields). That costs a few hundred lines and buys what a
// user needs from an error message: every problem at once, not only the
// first; the key path of each (yaml says "line 7: field lisen not found in
// type config.ServerConfig"); durations without a unit explained; and ${VAR}
// expansion per value, with the path and line of an unset variable.

// Short tags of the YAML core schema, as yaml.Node.ShortTag returns them.
const (
	tagNull  = "!!null"
	tagInt   = "!!int"
	tagFloat = "!!float"
	tagBool  = "!!bool"
	tagMerge = "!!merge"
)

var durationType = reflect.TypeFor[time.Duration]()

// decoder decodes a node tree into a Config, collecting problems.
type decoder struct {
	lookup LookupFunc
	errs   Errors
	// failed holds the paths of the values that could not be decoded.
	failed []string
	// lines maps the key path of each decoded value to its line, to give
	// validation problems a line too.
	lines map[string]int
	// budget bounds the nodes visited, aliases included, so that a small
	// file of nested aliases (a "billion laughs") cannot make Parse run for
	// hours. It is far above what any real configuration needs.
	budget int
	// merging holds the mappings being merged, to reject a merge key that
	// refers to its own mapping.
	merging map[*yaml.Node]bool
}

func newDecoder(lookup LookupFunc, size int) *decoder {
	return &decoder{
		lookup:  lookup,
		lines:   make(map[string]int),
		budget:  10_000 + 4*size,
		merging: make(map[*yaml.Node]bool),
	}
}

// fail records a problem with the value at path.
func (d *decoder) fail(path string, line int, format string, args ...any) {
	d.errs = append(d.errs, &FieldError{Path: path, Line: line, Err: fmt.Errorf(format, args...)})
	d.failed = append(d.failed, path)
}

// spend takes one node from the budget, reporting false (and, the first
// time, a problem) when it is used up.
func (d *decoder) spend() bool {
	if d.budget <= 0 {
		return false
	}
	d.budget--
	if d.budget == 0 {
		d.fail("", 0, "document too complex: too many nodes or aliases")
		return false
	}
	return true
}

// failedUnder reports whether a value at path, above it or below it could
// not be decoded, in which case a validation problem at path is likely a
// consequence and not worth reporting.
func (d *decoder) failedUnder(path string) bool {
	related := func(outer, inner string) bool {
		return outer == "" || inner == outer ||
			strings.HasPrefix(inner, outer) && (inner[len(outer)] == '.' || inner[len(outer)] == '[')
	}
	for _, f := range d.failed {
		if related(f, path) || related(path, f) {
			return true
		}
	}
	return false
}

// lineOf returns the line of the value at path or, when the file does not
// set it, of its nearest ancestor that the file sets; 0 when there is none.
func (d *decoder) lineOf(path string) int {
	for path != "" {
		if line, ok := d.lines[path]; ok {
			return line
		}
		path = path[:max(strings.LastIndexAny(path, ".["), 0)]
	}
	return 0
}

// value decodes n into out, the value at path.
func (d *decoder) value(n *yaml.Node, out reflect.Value, path string) {
	if !d.spend() {
		return
	}
	n, ok := d.deref(n, path)
	if !ok {
		return
	}
	switch t := out.Type(); {
	case t == durationType:
		d.duration(n, out, path)
	case t.Kind() == reflect.Struct:
		d.mapping(n, out, path)
	case t.Kind() == reflect.Slice:
		d.sequence(n, out, path)
	case t.Kind() == reflect.Map && t.Key().Kind() == reflect.String:
		d.dict(n, out, path)
	case t.Kind() == reflect.String:
		if s, ok := d.scalar(n, path); ok {
			if s.ShortTag() == tagNull {
				out.SetString("")
			} else {
				out.SetString(s.Value)
			}
		}
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
		d.integer(n, out, path)
	case t.Kind() == reflect.Bool:
		d.boolean(n, out, path)
	case t.Kind() == reflect.Float64:
		d.number(n, out, path)
	default:
		// A field type this decoder does not know; TestDecoderSupportsConfig
		// keeps this from happening.
		d.fail(path, n.Line, "cannot decode into %s", t)
	}
}

// deref follows aliases to the anchored node.
func (d *decoder) deref(n *yaml.Node, path string) (*yaml.Node, bool) {
	// An anchor cannot be on an alias, so one step is enough; the loop only
	// guards against a malformed tree.
	for i := 0; n.Kind == yaml.AliasNode; i++ {
		if n.Alias == nil || i > 8 {
			d.fail(path, n.Line, "unresolved alias *%s", n.Value)
			return nil, false
		}
		n = n.Alias
	}
	return n, true
}

// mapping decodes a mapping into the struct out. Keys that are absent keep
// the value out already has (its default).
func (d *decoder) mapping(n *yaml.Node, out reflect.Value, path string) {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == tagNull {
		return // "server:" with every key commented out: keep the defaults
	}
	if n.Kind != yaml.MappingNode {
		d.fail(path, n.Line, "want a mapping of keys (%s), got %s", strings.Join(yamlKeys(out.Type()), ", "), describe(n))
		return
	}
	seen := make(map[string]int)
	d.pairs(n, out, path, seen, true)
}

// pairs decodes the key/value pairs of the mapping n into out. seen holds the
// keys already set and their lines: an explicit key set twice is an error, a
// key that a merge ("<<: *base") would set again is skipped, as YAML merges
// never override.
func (d *decoder) pairs(n *yaml.Node, out reflect.Value, path string, seen map[string]int, explicit bool) {
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		k, ok := d.deref(k, path)
		if !ok {
			continue
		}
		if k.Kind != yaml.ScalarNode {
			d.fail(path, k.Line, "a key must be a plain name, got %s", describe(k))
			continue
		}
		if k.ShortTag() == tagMerge {
			merges = append(merges, v)
			continue
		}
		name := k.Value
		kpath := joinPath(path, keyPath(name))
		if line, dup := seen[name]; dup {
			if explicit {
				d.fail(kpath, k.Line, "key already set on line %d", line)
			}
			continue
		}
		f, ok := fieldByKey(out.Type(), name)
		if !ok {
			d.fail(kpath, k.Line, "unknown key%s", suggest(name, yamlKeys(out.Type())))
			continue
		}
		seen[name] = k.Line
		d.lines[kpath] = k.Line
		d.value(v, out.FieldByIndex(f.Index), kpath)
	}
	// Explicit keys win over merged ones and an earlier merge wins over a
	// later one, whatever their order in the file: the YAML merge rule.
	for _, m := range merges {
		m, ok := d.deref(m, path)
		if !ok {
			continue
		}
		srcs := []*yaml.Node{m}
		if m.Kind == yaml.SequenceNode {
			srcs = m.Content
		}
		for _, src := range srcs {
			src, ok := d.deref(src, path)
			if !ok {
				continue
			}
			if src.Kind != yaml.MappingNode {
				d.fail(path, src.Line, "a merge (<<) needs a mapping or a list of mappings, got %s", describe(src))
				continue
			}
			if d.merging[src] || src == n {
				d.fail(path, src.Line, "a merge (<<) refers to the mapping that contains it")
				continue
			}
			if !d.spend() {
				return
			}
			d.merging[src] = true
			d.pairs(src, out, path, seen, false)
			delete(d.merging, src)
		}
	}
}

// sequence decodes a list into the slice out, replacing any default.
func (d *decoder) sequence(n *yaml.Node, out reflect.Value, path string) {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == tagNull {
		out.SetZero()
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.fail(path, n.Line, "want a list, got %s", describe(n))
		return
	}
	s := reflect.MakeSlice(out.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		ipath := indexPath(path, i)
		d.lines[ipath] = item.Line
		d.value(item, s.Index(i), ipath)
	}
	out.Set(s)
}

// dict decodes a mapping with free-form keys (labels: {team: db}) into the
// map out, replacing any default. Keys are plain scalars, not expanded; a key
// given twice is an error.
func (d *decoder) dict(n *yaml.Node, out reflect.Value, path string) {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == tagNull {
		out.SetZero()
		return
	}
	if n.Kind != yaml.MappingNode {
		d.fail(path, n.Line, "want a mapping, got %s", describe(n))
		return
	}
	m := reflect.MakeMapWithSize(out.Type(), len(n.Content)/2)
	seen := make(map[string]int)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, ok := d.deref(n.Content[i], path)
		if !ok {
			continue
		}
		if k.Kind != yaml.ScalarNode || k.ShortTag() == tagMerge {
			d.fail(path, k.Line, "a key must be a plain name, got %s", describe(k))
			continue
		}
		kpath := joinPath(path, keyPath(k.Value))
		if line, dup := seen[k.Value]; dup {
			d.fail(kpath, k.Line, "key already set on line %d", line)
			continue
		}
		seen[k.Value] = k.Line
		d.lines[kpath] = k.Line
		v := reflect.New(out.Type().Elem()).Elem()
		d.value(n.Content[i+1], v, kpath)
		m.SetMapIndex(reflect.ValueOf(k.Value).Convert(out.Type().Key()), v)
	}
	if m.Len() == 0 {
		out.SetZero() // {} is no entries, as an absent key
		return
	}
	out.Set(m)
}

// scalar returns n, which must be a scalar, with ${VAR} references in its
// value expanded. The returned node resolves its tag afresh from the expanded
// value unless it is quoted or explicitly tagged, so an unquoted ${N} whose
// value is 5 is the integer 5.
func (d *decoder) scalar(n *yaml.Node, path string) (*yaml.Node, bool) {
	if n.Kind != yaml.ScalarNode {
		d.fail(path, n.Line, "want a single value, got %s", describe(n))
		return nil, false
	}
	v, err := expand(n.Value, d.lookup)
	if err != nil {
		line := n.Line
		if e, ok := err.(*expandError); ok && n.Style&yaml.LiteralStyle != 0 {
			// A literal block's text starts on the line after its "|".
			line += 1 + strings.Count(n.Value[:e.offset], "\n")
		}
		d.fail(path, line, "%v", err)
		return nil, false
	}
	if v == n.Value {
		return n, true
	}
	s := *n
	s.Value = v
	if s.Style&yaml.TaggedStyle == 0 {
		s.Tag = ""
	}
	return &s, true
}

// integer decodes an integer scalar into out, which has an integer kind.
func (d *decoder) integer(n *yaml.Node, out reflect.Value, path string) {
	s, ok := d.scalar(n, path)
	if !ok {
		return
	}
	switch s.ShortTag() {
	case tagNull:
		out.SetInt(0)
		return
	case tagInt:
		var i int64
		if err := s.Decode(&i); err == nil && !out.OverflowInt(i) {
			out.SetInt(i)
			return
		}
		d.fail(path, n.Line, "%s is out of range for a %d-bit integer", describe(s), out.Type().Bits())
	default:
		d.fail(path, n.Line, "%s is not an integer", describe(s))
	}
}

// number decodes an integer or a finite decimal number into out.
func (d *decoder) number(n *yaml.Node, out reflect.Value, path string) {
	s, ok := d.scalar(n, path)
	if !ok {
		return
	}
	switch s.ShortTag() {
	case tagNull:
		out.SetFloat(0)
	case tagInt, tagFloat:
		var f float64
		if err := s.Decode(&f); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			out.SetFloat(f)
			return
		}
		d.fail(path, n.Line, "%s is not a finite number", describe(s))
	default:
		d.fail(path, n.Line, "%s is not a number", describe(s))
	}
}

// boolean decodes true or false (YAML 1.2: not yes, no, on or off, which
// are strings) into out.
func (d *decoder) boolean(n *yaml.Node, out reflect.Value, path string) {
	s, ok := d.scalar(n, path)
	if !ok {
		return
	}
	switch s.ShortTag() {
	case tagNull:
		out.SetBool(false)
	case tagBool:
		var b bool
		if err := s.Decode(&b); err == nil {
			out.SetBool(b)
			return
		}
		d.fail(path, n.Line, "%s is not true or false", describe(s))
	default:
		d.fail(path, n.Line, "%s is not true or false", describe(s))
	}
}

// duration decodes a Go duration string ("30s", "5m", "1h30m") into out.
func (d *decoder) duration(n *yaml.Node, out reflect.Value, path string) {
	s, ok := d.scalar(n, path)
	if !ok {
		return
	}
	switch s.ShortTag() {
	case tagNull:
		out.SetInt(0)
		return
	case tagInt, tagFloat:
		d.fail(path, n.Line, "%s is a bare number: a duration needs a unit, such as \"30s\" or \"5m\"", describe(s))
		return
	}
	v, err := time.ParseDuration(s.Value)
	if err != nil {
		d.fail(path, n.Line, "%s is not a duration (want a number with a unit, such as \"30s\", \"5m\" or \"1h30m\")", describe(s))
		return
	}
	out.SetInt(int64(v))
}

// describe names a node for an error message, quoting (and shortening) a
// scalar's value.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.ShortTag() == tagNull {
			return "an empty value"
		}
		return strconv.Quote(clip(n.Value))
	}
	return "an unexpected node"
}

// keyPath renders a mapping key as a path element, quoting it when it is not
// a plain name so that odd keys stay readable in messages.
func keyPath(name string) string {
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c == '_' || c == '-' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return strconv.Quote(clip(name))
		}
	}
	if name == "" {
		return `""`
	}
	return name
}

// fieldByKey returns the field of struct type t whose yaml tag is key.
func fieldByKey(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if f.IsExported() && yamlKey(f) == key {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// yamlKeys lists the keys of struct type t in declaration order.
func yamlKeys(t reflect.Type) []string {
	var keys []string
	for i := range t.NumField() {
		if f := t.Field(i); f.IsExported() {
			if k := yamlKey(f); k != "" {
				keys = append(keys, k)
			}
		}
	}
	return keys
}

// yamlKey returns the key of field f: the name in its yaml tag, or "" when
// it has none or is skipped with "-".
func yamlKey(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "-" {
		return ""
	}
	return name
}

// suggest returns a hint for an unknown key: the closest valid key when it
// is a likely typo, else the list of valid keys.
func suggest(name string, keys []string) string {
	best, bestDist := "", 3
	for _, k := range keys {
		if dist := editDistance(name, k); dist < bestDist {
			best, bestDist = k, dist
		}
	}
	if best != "" {
		return fmt.Sprintf(" (did you mean %s?)", best)
	}
	return fmt.Sprintf(" (valid keys: %s)", strings.Join(keys, ", "))
}

// editDistance is the Levenshtein distance between short strings a and b;
// long ones (never a typo of a key) count as far apart.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 30
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = slices.Min([]int{prev[j] + 1, cur[j-1] + 1, prev[j-1] + cost})
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
