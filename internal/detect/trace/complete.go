package trace

import "strings"

// A trace is judged by what it shows; what it lacks is evidence only when
// it is whole. Spans are lost on their way (sampling, a collector or agent
// restart, a batch dropped under load, a file or query cut by time), and
// log lines more often still, through a separate pipeline: a span that
// lacks a call or a line because it never reached the detector looks
// exactly like one whose code did not run. cut tells the two apart per
// trace, by the trace's own structure, not by time (a guard after gaps in
// the feed was tried and hid real faults, docs/rca.md, session 8).

// cut says which parts of a trace are known to be incomplete.
type cut struct {
	// spans: spans of the trace are missing. A whole trace has one top
	// span (one whose parent is not in the trace: the root, or the first
	// span the detector saw of a trace entered from elsewhere); two or
	// more tops hang from spans that never arrived, and the span that
	// lost them as callees is not known. No missing call of the trace
	// is judged, no span is timed (a lost child's time counts as its
	// parent's self time), and nothing of it is learnt.
	spans bool
	// logs: the trace's log lines are missing. Spans that wrote none of
	// the lines their operation writes (silent) are where a fault stops
	// a handler before its first line, and their callers that failed
	// with them; but the deepest silent spans of one fault are the
	// faulty service's. Deepest silent spans of two services (none a
	// caller of the other, by construction) cannot be one fault's
	// doing: the trace's lines were lost, as happens when a log shipper
	// restarts or a log query starts after the trace did. No missing
	// line of the trace is judged and its flows are not learnt; its
	// calls and self times are judged and learnt as usual.
	logs bool
	// untimed: the unit is a span's log lines without the span
	// (judgeUnspanned): it has no self time, so it is neither timed nor
	// is its time learnt.
	untimed bool
}

// isLogKey reports whether a unit key is a log line's (judgeTrace).
func isLogKey(k string) bool { return strings.HasPrefix(k, "log ") }

// isOpKey reports whether a unit key is its operation's (judgeTrace).
func isOpKey(k string) bool { return strings.HasPrefix(k, "op ") }

// isCallKey reports whether a unit key is a call's (judgeTrace).
func isCallKey(k string) bool { return strings.HasPrefix(k, "call ") }

// tops counts the spans whose parent is not in the trace.
func tops(spans []span, idx map[string]int) int {
	n := 0
	for i := range spans {
		if p, ok := idx[spans[i].parent]; !ok || spans[i].parent == "" || p == i {
			n++
		}
	}
	return n
}

// logsCut reports whether the deepest silent spans of a trace (silent[i]:
// span i wrote none of the lines its operation writes) belong to two
// services or more (cut.logs).
func logsCut(spans []span, idx map[string]int, silent []bool) bool {
	// above marks the spans with a silent span below them.
	above := make([]bool, len(spans))
	found := false
	for i := range spans {
		if !silent[i] {
			continue
		}
		found = true
		cur := i
		// The step bound guards against a cycle of parent ids.
		for range len(spans) {
			p, ok := idx[spans[cur].parent]
			if !ok || spans[cur].parent == "" || p == cur || above[p] {
				break
			}
			above[p] = true
			cur = p
		}
	}
	if !found {
		return false
	}
	first := ""
	for i := range spans {
		if !silent[i] || above[i] {
			continue
		}
		switch s := spans[i].service; {
		case first == "":
			first = s
		case s != first:
			return true
		}
	}
	return false
}
