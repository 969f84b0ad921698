package trace

import (
	"cmp"

	"github.com/osprey-aiops/osprey"
)

// ObserveRecord joins a mined log record to the span it was written in,
// as ObserveLog does, when the record carries a trace and a span id (OTLP
// logs: the trace_id and span_id attributes). The line's key is its code
// location when it has one (OpenTelemetry's code.* attributes), else
// "template <templateID>" from the production miner, as the RCA bench keys
// a span's lines (docs/rca.md, "The trace detect stage"). A record without
// ids, or without a key (templateID is empty when the source's template
// cap was hit), is ignored.
func (d *Detector) ObserveRecord(templateID string, r *osprey.LogRecord) {
	tid, sid := r.Attributes["trace_id"], r.Attributes["span_id"]
	if tid == "" || sid == "" {
		return
	}
	key := CodeLocation(r.Attributes)
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
