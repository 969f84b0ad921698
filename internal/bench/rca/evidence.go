package rca

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/osprey-aiops/osprey/internal/rca"
)

// evidencer walks a day's log and span units in time order. Units outside
// every fault window are normal operation and are learnt into the profiles;
// units inside the window being scored are compared with the profiles as
// they stood when the window opened (learning pauses during an incident, so
// a fault never becomes "normal" for the next one). The call graph learns
// from every span up to the window's end.
type evidencer struct {
	windows [][2]time.Time

	logs   []logUnit
	logAt  int
	spans  []spanRec
	spanAt int

	logSeq    *seqProfile
	logLines  map[string]int            // normal lines per service
	logKeys   map[string]map[string]int // normal lines per service and key
	opt       Options
	callSeq   *seqProfile
	lat       *latProfile
	graph     *rca.Graph
	graphSeen map[[2]string]bool
	// via maps a span key "call S op" of a client span to the services
	// its children ran in: a span missing that call missed a call to them.
	via map[string]map[string]bool
}

func newEvidencer(faults []Fault, logs []logUnit, spans []spanRec, opt Options) *evidencer {
	e := &evidencer{
		logs: logs, spans: spans, opt: opt,
		logSeq: newSeqProfile(), logLines: map[string]int{}, logKeys: map[string]map[string]int{},
		callSeq: newSeqProfile(), lat: newLatProfile(),
		graph: rca.NewGraph(), via: map[string]map[string]bool{},
	}
	// Pairs of two log lines are the log profile's to test; the span
	// profile tests operations and calls, and lines against them.
	e.logSeq.Strict, e.callSeq.Strict = opt.strictConf, opt.strictConf
	e.callSeq.Skip = func(a, b string) bool {
		return strings.HasPrefix(a, "log ") && strings.HasPrefix(b, "log ")
	}
	for _, f := range faults {
		e.windows = append(e.windows, [2]time.Time{f.Time.Add(-WindowBefore), f.Time.Add(WindowAfter)})
	}
	return e
}

func (e *evidencer) inWindow(t time.Time) bool {
	for _, w := range e.windows {
		if !t.Before(w[0]) && !t.After(w[1]) {
			return true
		}
	}
	return false
}

// guarded reports whether t is in a window or in the guard band before one,
// where nothing is learnt.
func (e *evidencer) guarded(t time.Time) bool {
	guard := time.Duration(0)
	if e.opt.learnGuard {
		guard = LearnGuard
	}
	for _, w := range e.windows {
		if !t.Before(w[0].Add(-guard)) && !t.After(w[1]) {
			return true
		}
	}
	return false
}

// window learns everything before from that is normal, then returns the
// call graph as of to and the log and trace evidence of [from, to].
func (e *evidencer) window(from, to time.Time) (*rca.Graph, []rca.Evidence) {
	// Units outside incident windows are normal operation (the ablations
	// inlierOnly and learnGuard learn less of them). The reference phase
	// is fault-free and learnt whole.
	for ; e.logAt < len(e.logs) && (e.logs[e.logAt].ref || e.logs[e.logAt].at.Before(from)); e.logAt++ {
		u := &e.logs[e.logAt]
		if u.ref || !e.guarded(u.at) && (!e.opt.inlierOnly || e.logInlier(u)) {
			e.learnLog(u)
		}
	}
	for ; e.spanAt < len(e.spans) && (e.spans[e.spanAt].ref || e.spans[e.spanAt].at.Before(from)); e.spanAt++ {
		s := &e.spans[e.spanAt]
		e.addCall(s)
		if s.ref || !e.guarded(s.at) && (!e.opt.inlierOnly || e.spanInlier(s)) {
			e.learnSpan(s)
		}
	}
	var wl []*logUnit
	for i := e.logAt; i < len(e.logs) && !e.logs[i].at.After(to); i++ {
		wl = append(wl, &e.logs[i])
	}
	var ws []*spanRec
	for i := e.spanAt; i < len(e.spans) && !e.spans[i].at.After(to); i++ {
		ws = append(ws, &e.spans[i])
	}
	g := e.graphWith(ws)
	var ev []rca.Evidence
	ev = append(ev, e.logEvidence(wl)...)
	ev = append(ev, e.traceEvidence(ws)...)
	// Once scored, the window's units that looked normal are learnt too
	// (a detector learns from inliers, never from its outliers): the
	// incident window is most of what some services ever log, and a
	// fault's broken units must not become normal for the next fault.
	for _, u := range wl {
		if e.logInlier(u) {
			e.learnLog(u)
		}
	}
	for _, s := range ws {
		if e.spanInlier(s) {
			e.learnSpan(s)
		}
	}
	return g, ev
}

// logInlier reports whether u looks normal: no expected line missing.
// A unit with a template not seen before is learnt if nothing is missing
// from it (a code path not yet seen, such as a request type the short
// reference phase lacked); otherwise ordinary templates would stay "new"
// for ever. A fault's new lines come with the lines they replace missing.
func (e *evidencer) logInlier(u *logUnit) bool {
	if e.opt.learnKnownOnly {
		return len(e.logSeq.breaks(u.unit)) == 0 && e.allKnown(u)
	}
	return len(e.logSeq.breaks(u.unit)) == 0
}

// spanInlier reports whether s looks normal: not slow for its operation
// and no expected call or line missing.
func (e *evidencer) spanInlier(s *spanRec) bool {
	q, n := e.lat.quantile(s.service+" "+s.op, 0.99)
	slow := n >= 20 && s.self > 2*q
	return !slow && len(e.callSeq.breaks(s.unit)) == 0
}

func (e *evidencer) learnLog(u *logUnit) {
	e.logSeq.learn(u.unit)
	e.logLines[u.service] += len(u.lines)
	keys := e.logKeys[u.service]
	if keys == nil {
		keys = map[string]int{}
		e.logKeys[u.service] = keys
	}
	for _, l := range u.lines {
		keys[l.key]++
	}
}

func (e *evidencer) learnSpan(s *spanRec) {
	e.callSeq.learn(s.unit)
	e.lat.learn(s.service+" "+s.op, s.self)
}

// allKnown reports whether every line of u has a template known to the
// profile.
func (e *evidencer) allKnown(u *logUnit) bool {
	for _, l := range u.lines {
		if !e.logSeq.known(u.service, l.key) {
			return false
		}
	}
	return true
}

func (e *evidencer) addCall(s *spanRec) {
	if s.callerSvc != "" {
		k := "call " + s.callerSvc + " " + s.callerOp
		m := e.via[k]
		if m == nil {
			m = map[string]bool{}
			e.via[k] = m
		}
		m[s.service] = true
		e.graph.AddCall(s.callerSvc, s.service, 1)
	} else {
		e.graph.AddService(s.service)
	}
}

// graphWith returns the learnt graph plus the window's calls.
func (e *evidencer) graphWith(ws []*spanRec) *rca.Graph {
	g := rca.NewGraph()
	for _, s := range e.graph.Services() {
		g.AddService(s)
		for _, c := range e.graph.Callees(s) {
			g.AddCall(s, c, e.graph.Weight(s, c))
		}
	}
	for _, s := range ws {
		if s.callerSvc != "" {
			g.AddCall(s.callerSvc, s.service, 1)
		}
	}
	return g
}

// logEvidence finds, per service, spans whose log sequence broke (an
// expected line missing) and log templates never seen in normal operation.
func (e *evidencer) logEvidence(wl []*logUnit) []rca.Evidence {
	type acc struct {
		tally        *breakTally
		lines, novel int
		firstNovel   time.Time
		novelKeys    map[string]int
		novelText    map[string]string
	}
	per := map[string]*acc{}
	get := func(s string) *acc {
		a := per[s]
		if a == nil {
			a = &acc{tally: newBreakTally(), novelKeys: map[string]int{}, novelText: map[string]string{}}
			per[s] = a
		}
		return a
	}
	for _, u := range wl {
		a := get(u.service)
		a.lines += len(u.lines)
		for _, l := range u.lines {
			if !e.logSeq.known(u.service, l.key) && (e.opt.novelAllLevels || !routineLevel(l.level)) {
				a.novel++
				a.novelKeys[l.key]++
				if _, ok := a.novelText[l.key]; !ok {
					a.novelText[l.key] = l.text
				}
				if a.firstNovel.IsZero() || l.at.Before(a.firstNovel) {
					a.firstNovel = l.at
				}
			}
		}
		if u.lines[0].span != "" {
			a.tally.add(e.logSeq, u.unit)
		}
	}
	var out []rca.Evidence
	for _, svc := range sortedKeys(per) {
		a := per[svc]
		if key, miss, k, n, sp := a.tally.worst(1 - e.logSeq.MinConf); surpriseScore(sp) > 0 {
			out = append(out, rca.Evidence{
				ID: evidenceID("log-seq", svc, a.tally.First), Service: svc, Kind: e.flowKind(rca.KindLog), Score: surpriseScore(sp), Onset: a.tally.First,
				Signal: fmt.Sprintf("log sequence broken: %s without %s in %d of %d spans", key, miss, k, n),
			})
		}
		p0 := e.novelRate(svc)
		if s := surpriseScore(surprise(a.novel, a.lines, p0)); s > 0 {
			k := topKey(a.novelKeys)
			out = append(out, rca.Evidence{
				ID: evidenceID("log-new", svc, a.firstNovel), Service: svc, Kind: rca.KindLog, Score: s, Onset: a.firstNovel,
				Signal: fmt.Sprintf("%d lines of %d new templates, e.g. %q", a.novel, len(a.novelKeys), clip(k+" "+a.novelText[k], 80)),
			})
		}
	}
	return out
}

// routineLevel reports whether a line's level says it is routine (info,
// debug, trace). A new template at such a level is a code path the short
// normal history had not shown yet (a request type, a new order) more
// often than a fault; a fault's new lines are what the code writes when
// something goes wrong, at warning level or above. Lines without a level
// (stack-trace continuations, unstructured output) are not routine.
func routineLevel(level string) bool {
	switch level {
	case "info", "debug", "trace":
		return true
	}
	return false
}

// novelRate is the chance that a normal line of svc has a template not
// seen yet: Good-Turing's missing mass, the share of normal lines whose
// template was seen exactly once (add-one smoothed). A service whose normal
// history is short or varied keeps meeting new templates, so new ones are
// little evidence there; one with a long, repetitive history rarely does.
func (e *evidencer) novelRate(svc string) float64 {
	n := e.logLines[svc]
	if e.opt.noGoodTuring {
		return 1 / float64(n+1)
	}
	once := 0
	for _, c := range e.logKeys[svc] {
		if c == 1 {
			once++
		}
	}
	return float64(once+1) / float64(n+1)
}

// traceEvidence finds, per service, spans much slower than normal (self
// time above twice the normal 99th percentile of their operation) and spans
// that did not make a call they normally make.
func (e *evidencer) traceEvidence(ws []*spanRec) []rca.Evidence {
	type acc struct {
		timed, slow int
		firstSlow   time.Time
		slowOp      map[string]int
		tally       *breakTally
	}
	per := map[string]*acc{}
	// bad holds, per trace, the services with an anomalous span in it
	// (slow or broken), for the ranker's caller-callee test.
	bad := map[string]map[string]bool{}
	// missed holds, per trace and service, the services a broken span
	// of it failed to call: the call that is missing is the one to them.
	missed := map[string]map[string]map[string]bool{}
	last := time.Time{}
	for _, s := range ws {
		if s.at.After(last) {
			last = s.at
		}
	}
	for _, s := range ws {
		a := per[s.service]
		if a == nil {
			a = &acc{slowOp: map[string]int{}, tally: newBreakTally()}
			per[s.service] = a
		}
		// A span that lacks a child it always had is no evidence of
		// slowness: its self time (duration minus children) then
		// includes the missing child's time. The break itself is
		// counted below, once.
		br := e.callSeq.breaks(s.unit)
		key := s.service + " " + s.op
		if q, n := e.lat.quantile(key, 0.99); n >= 20 && (len(br) == 0 || e.opt.latencyOnBroken) {
			a.timed++
			if s.self > 2*q && s.self > 0.005 {
				markBad(bad, s)
				a.slow++
				a.slowOp[s.op]++
				if a.firstSlow.IsZero() || s.at.Before(a.firstSlow) {
					a.firstSlow = s.at
				}
			}
		}
		// A span still running when the data ends may lack children that
		// were never recorded: check only spans that ended before.
		if !s.end.After(last) {
			if a.tally.addBreaks(e.callSeq, s.unit, br) {
				markBad(bad, s)
				for _, pr := range br {
					for callee := range e.calleesOf(pr[1]) {
						markMissed(missed, s, callee)
					}
				}
			}
		}
	}
	requests, along := jointRequests(bad, missed)
	var out []rca.Evidence
	for _, svc := range sortedKeys(per) {
		a := per[svc]
		if s := surpriseScore(surprise(a.slow, a.timed, 0.01)); s > 0 {
			out = append(out, rca.Evidence{
				ID: evidenceID("trace-latency", svc, a.firstSlow), Service: svc, Kind: rca.KindLatency, Score: s, Onset: a.firstSlow,
				Signal:   fmt.Sprintf("self time above twice the normal p99 in %d of %d spans (mostly %s)", a.slow, a.timed, topKey(a.slowOp)),
				Requests: requests[svc], Along: along[svc],
			})
		}
		if key, miss, k, n, sp := a.tally.worst(1 - e.callSeq.MinConf); surpriseScore(sp) > 0 {
			out = append(out, rca.Evidence{
				ID: evidenceID("trace-seq", svc, a.tally.First), Service: svc, Kind: e.flowKind(rca.KindError), Score: surpriseScore(sp), Onset: a.tally.First,
				Signal:   fmt.Sprintf("span pattern broken: %s without %s in %d of %d spans", key, miss, k, n),
				Requests: requests[svc], Along: along[svc],
			})
		}
	}
	return out
}

func markBad(bad map[string]map[string]bool, s *spanRec) {
	m := bad[s.traceID]
	if m == nil {
		m = map[string]bool{}
		bad[s.traceID] = m
	}
	m[s.service] = true
}

func markMissed(missed map[string]map[string]map[string]bool, s *spanRec, callee string) {
	m := missed[s.traceID]
	if m == nil {
		m = map[string]map[string]bool{}
		missed[s.traceID] = m
	}
	if m[s.service] == nil {
		m[s.service] = map[string]bool{}
	}
	m[s.service][callee] = true
}

// calleesOf returns the other services a missing span key stands for: the
// service of a missing call to another service, or the services a missing
// client span of the same service used to call.
func (e *evidencer) calleesOf(key string) map[string]bool {
	svc, _, ok := strings.Cut(strings.TrimPrefix(key, "call "), " ")
	if !ok || !strings.HasPrefix(key, "call ") {
		return nil
	}
	out := map[string]bool{svc: true}
	for c := range e.via[key] {
		out[c] = true
	}
	return out
}

// jointRequests counts, per service, the traces in which it had an
// anomalous span, and per pair of services the traces in which the first
// had one and the second had one too or was the call the first's broken
// span missed.
func jointRequests(bad map[string]map[string]bool, missed map[string]map[string]map[string]bool) (map[string]int, map[string]map[string]int) {
	requests := map[string]int{}
	along := map[string]map[string]int{}
	for trace, svcs := range bad {
		for a := range svcs {
			requests[a]++
			seen := map[string]bool{}
			for b := range svcs {
				seen[b] = true
			}
			for b := range missed[trace][a] {
				seen[b] = true
			}
			for b := range seen {
				if a == b {
					continue
				}
				m := along[a]
				if m == nil {
					m = map[string]int{}
					along[a] = m
				}
				m[b]++
			}
		}
	}
	return requests, along
}

// flowKind is the kind of a broken-sequence finding: rca.KindFlow, one
// modality for the log and the span view of a break (the separateFlow
// ablation keeps the old kinds, log and trace_error, which the ranker
// combined by noisy-or as if independent).
func (e *evidencer) flowKind(old rca.Kind) rca.Kind {
	if e.opt.separateFlow {
		return old
	}
	return rca.KindFlow
}

func evidenceID(kind, svc string, at time.Time) string {
	return fmt.Sprintf("%s/%s/%s", kind, svc, at.UTC().Format("20060102T150405.000Z"))
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func topKey(m map[string]int) string {
	best, n := "", -1
	for _, k := range sortedKeys(m) {
		if m[k] > n {
			best, n = k, m[k]
		}
	}
	return best
}

func topPair(m map[[2]string]int) [2]string {
	var best [2]string
	n := -1
	for p, c := range m {
		if c > n || c == n && (p[0] < best[0] || p[0] == best[0] && p[1] < best[1]) {
			best, n = p, c
		}
	}
	return best
}

func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
