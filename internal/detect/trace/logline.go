package trace

import (
	"cmp"
	"strings"

	"github.com/osprey-aiops/osprey"
)

// ObserveRecord joins a mined log record to the span it was written in,
// as ObserveLog does, when the record carries a trace and a span id (OTLP
// logs: the trace_id and span_id attributes). The line's key is its code
// location: OpenTelemetry's code.* attributes when it has them, else the
// location its layout wrote in the header of content (the text the miner
// mined, HeaderLocation); without either, "template <templateID>" from the
// production miner. The RCA bench keys a span's lines the same way
// (docs/rca.md, "The trace detect stage"). A location names one log
// statement; a template may not: the miner merges the lines of two
// statements whose text differs only in values, and splits one
// statement's lines by a word its data varies in, and either hides a
// missing line. A record without ids, or without a key (templateID is
// empty when the source's template cap was hit), is ignored.
func (d *Detector) ObserveRecord(templateID, content string, r *osprey.LogRecord) {
	tid, sid := r.Attributes["trace_id"], r.Attributes["span_id"]
	if tid == "" || sid == "" {
		return
	}
	key := cmp.Or(CodeLocation(r.Attributes), HeaderLocation(content))
	if key == "" {
		if templateID == "" {
			return
		}
		key = "template " + templateID
	}
	d.ObserveLog(tid, sid, r.Labels[osprey.LabelService], key)
}

// CodeLocation returns "where#line" of a log record's OpenTelemetry code
// attributes (current names first, then the deprecated ones): the file, or
// else the function, and the line number; "" without both.
func CodeLocation(a map[string]string) string {
	line := cmp.Or(a["code.line.number"], a["code.lineno"])
	where := cmp.Or(a["code.file.path"], a["code.filepath"], a["code.function.name"], a["code.function"])
	if line == "" || where == "" {
		return ""
	}
	return where + "#" + line
}

// Bounds of HeaderLocation's scan: the header is at the start of a line.
const (
	headerFields = 8
	headerBytes  = 256
)

// HeaderLocation returns the code location that a log layout wrote among
// the first fields of a line (at most 8, within its first 256 bytes), as
// written, or "" without one. A location is a source file or a class
// name, then ':' or '#' and a line number, possibly in brackets or
// parentheses and followed by ':' or a column:
//
//	logback/log4j %logger:%line, %C{1}.%M(%F:%L), %l: "c.e.CartService:42", "CartService.java:42"
//	Go's log.Lshortfile, zap's caller, klog: "cart.go:42", "handler/cart.go:42:"
//	Python's %(filename)s:%(lineno)d, Rust's tracing: "cart.py:42", "src/cart.rs:42:7"
//	a logger and line joined by '#': "c.e.CartService#42"
//
// A file counts when it ends in a source extension (.go, .java, .py, …),
// a class when it is a dotted name whose last part starts with an upper
// case letter ("com.example.Cart"): "db.example.com:5432", "order#42" or
// "12:30:05" are not locations. A location is one log statement, which
// a template need not be (ObserveRecord).
func HeaderLocation(content string) string {
	s := content[:min(len(content), headerBytes)]
	for n := 0; n < headerFields && s != ""; n++ {
		s = strings.TrimLeft(s, " \t")
		end := strings.IndexAny(s, " \t")
		if end < 0 {
			end = len(s)
		}
		if loc := fieldLocation(s[:end]); loc != "" {
			return loc
		}
		s = s[end:]
	}
	return ""
}

// fieldLocation returns the code location that field f is, or "".
func fieldLocation(f string) string {
	if i := strings.LastIndexByte(f, '('); i >= 0 {
		f = f[i+1:] // log4j's %l: "c.e.Cart.load(Cart.java:42)"
	}
	f = strings.TrimLeft(f, "[(<{\"'")
	f = strings.TrimRight(f, "])>}\"',;:")
	// A trailing column: "cart.rs:42:7".
	if i := strings.LastIndexByte(f, ':'); i > 0 && isLineNumber(f[i+1:]) {
		if j := strings.LastIndexByte(f[:i], ':'); j > 0 && isLineNumber(f[j+1:i]) {
			f = f[:i]
		}
	}
	i := strings.LastIndexAny(f, ":#")
	if i <= 0 || !isLineNumber(f[i+1:]) || !isCodeName(f[:i]) {
		return ""
	}
	return f
}

// isLineNumber reports whether s is a line number: 1 to 6 digits.
func isLineNumber(s string) bool {
	if s == "" || len(s) > 6 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// sourceExts are the extensions of source files that loggers name.
var sourceExts = map[string]bool{
	"go": true, "java": true, "kt": true, "scala": true, "groovy": true, "py": true, "rb": true, "rs": true,
	"js": true, "mjs": true, "cjs": true, "ts": true, "jsx": true, "tsx": true, "c": true, "h": true,
	"cc": true, "cpp": true, "cxx": true, "hpp": true, "cs": true, "php": true, "swift": true, "m": true,
	"ex": true, "exs": true, "erl": true, "clj": true, "lua": true, "pl": true, "dart": true,
}

// isCodeName reports whether s names a source file (a path ending in a
// source extension) or a class (a dotted name whose last part starts with
// an upper case letter).
func isCodeName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("_$./-", c) >= 0) {
			return false
		}
	}
	base := s[strings.LastIndexByte(s, '/')+1:]
	dot := strings.LastIndexByte(base, '.')
	if dot <= 0 || dot == len(base)-1 {
		return false
	}
	if sourceExts[base[dot+1:]] {
		return true
	}
	if strings.ContainsAny(s, "/-") {
		return false
	}
	for _, part := range strings.Split(s, ".") {
		if part == "" || part[0] >= '0' && part[0] <= '9' {
			return false
		}
	}
	last := base[dot+1]
	return last >= 'A' && last <= 'Z'
}
