package rca

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/config"
	"github.com/osprey-aiops/osprey/internal/correlate"
	"github.com/osprey-aiops/osprey/internal/detect/metric"
	"github.com/osprey-aiops/osprey/internal/logmine"
	"github.com/osprey-aiops/osprey/internal/logparse"
	"github.com/osprey-aiops/osprey/internal/rca"
)

// WindowBefore and WindowAfter bound the evidence window around an inject
// time. Nezha's inject_time can trail the first effects by about 40 s, and
// its logs and traces end about two minutes after it.
const (
	WindowBefore = 60 * time.Second
	WindowAfter  = 180 * time.Second
	// LearnGuard is the time before a window in which the learnGuard
	// ablation learns nothing: effects can start more than WindowBefore
	// ahead of the inject time (up to ~80 s on Nezha's first day), but on
	// Nezha that is also most of the normal data between windows, and
	// skipping it cost more than it saved (docs/rca.md).
	LearnGuard = 60 * time.Second
)

// Options select what a replay uses; the zero value uses everything.
type Options struct {
	// NoMetrics, NoLogs and NoTraces leave a modality out (ablations, and
	// the degraded path of days that lack one).
	NoMetrics, NoLogs, NoTraces bool
	// Ranker is the ranker configuration; zero means rca.DefaultConfig().
	Ranker *rca.Config
	// Config is the configuration the serve path (ReplayNezhaServe) wires
	// its stages from, as osprey serve does from its config file: the
	// detect, logs and correlate sections (window, group-by, grace, burst,
	// flapping, rules, inhibit and maintenance). Nil means
	// config.Default(). The harness path does not read it.
	Config *config.Config
	// Progress is called with the number of files done.
	Progress func(n int)

	// Ablations of the evidence (TestNezhaVariants measures each).
	inlierOnly      bool // outside windows too, learn only units that look normal
	learnGuard      bool // learn nothing in the LearnGuard before a window
	strictConf      bool // a companion missed once in fewer than 1/(1-minConf) units is no longer expected
	noGoodTuring    bool // new-template rate 1/(lines+1) instead of Good-Turing
	learnKnownOnly  bool // learn only units whose templates are all known
	noExtreme       bool // metric evidence by anomaly counts only
	separateFlow    bool // log and span breaks as two kinds (noisy-or), not one
	pooledExtreme   bool // extremeness against all metrics, empirical rate only
	novelAllLevels  bool // new templates at any level count, not only warning and above
	latencyOnBroken bool // self-time latency counted on spans missing a child too
	keepDuplicates  bool // keep spans and log lines repeated by overlapping files

	// serveDump, if set, is given the serve path's last snapshot of every
	// incident (in publication order, with its whole timeline: why each
	// member joined) and, per incident id, the graph its last ranking used
	// (serve_dev_test.go re-ranks them offline).
	serveDump func(incs []osprey.Incident, graphs map[string]*rca.Graph)
}

// DayResult is the outcome of replaying one day.
type DayResult struct {
	Cases []Case
	// Causes holds the ranker's full answer per case, for explanations.
	Causes [][]osprey.Cause
	// Counts of what was replayed.
	Samples, LogLines, Spans, Anomalies int
	// Missing lists the modalities absent on this day.
	Missing []string
	// Noise holds the correlator's noise figures, in the order the bench
	// prints them: of the metric anomalies opened in fault windows,
	// grouped by service only; the same with the day's call graph (from
	// traces) as the correlator's topology; with the graph, of every
	// metric anomaly of the replay (those outside fault windows labelled
	// Background) — each with correlate.burst off (the default) and at
	// OptInBurst (noise.go); then the same for the threshold alert stream
	// derived from the day's metric_threshold files (noise_alerts.go).
	Noise []NoiseRun
	// Serve holds, per case, what the serve path saw (ReplayNezhaServe
	// only).
	Serve []ServeCase
}

// Files returns how many files a replay of d reads (for a progress bar).
func (d *NezhaDay) Files() int {
	n := 0
	for _, dir := range []string{d.RCADir, d.RefDir} {
		if dir == "" {
			continue
		}
		n += len(csvFiles(dir+"/metric", ".csv")) + len(csvFiles(dir+"/log", ".csv")) + len(csvFiles(dir+"/trace", ".csv"))
	}
	return n
}

// ReplayNezha replays one day in virtual time and ranks every fault.
func ReplayNezha(ctx context.Context, d *NezhaDay, opt Options) (*DayResult, error) {
	dd, err := loadDay(ctx, d, opt)
	if err != nil {
		return nil, err
	}
	res := &DayResult{Samples: dd.samples, LogLines: dd.logLines, Spans: len(dd.spans), Anomalies: len(dd.anomalies)}
	if res.Samples == 0 {
		res.Missing = append(res.Missing, "metric")
	}
	if res.LogLines == 0 {
		res.Missing = append(res.Missing, "log")
	}
	if res.Spans == 0 {
		res.Missing = append(res.Missing, "trace")
	}
	res.Cases, res.Causes, err = dd.rank(ctx, d, opt)
	if err != nil {
		return nil, err
	}
	stream, spans := dd.stream, dd.spans
	if len(stream) > 0 {
		ws := faultWindows(d.Faults)
		var topo correlate.Topology
		if len(spans) > 0 {
			g := rca.NewGraph()
			for i := range spans {
				if spans[i].callerSvc != "" {
					g.AddCall(spans[i].callerSvc, spans[i].service, 1)
				}
			}
			topo = graphTopology{g}
		}
		for _, v := range []struct {
			name string
			only bool
			topo correlate.Topology
		}{
			{"fault windows, by service", true, nil},
			{"fault windows, by service + call graph", true, topo},
			{"all day incl. background, by service + call graph", false, topo},
		} {
			for _, burst := range noiseBursts() {
				m, err := CorrelateNoise(ctx, stream, ws, v.only, v.topo, burst)
				if err != nil {
					return nil, err
				}
				res.Noise = append(res.Noise, NoiseRun{Name: v.name + burstName(burst), Stats: ScoreNoise(m)})
			}
		}
		alerts, err := ThresholdNoise(ctx, d, ws, topo)
		if err != nil {
			return nil, err
		}
		res.Noise = append(res.Noise, alerts...)
	}
	return res, nil
}

// dayData is what a replay of one day produced before ranking: the metric
// detector's anomalies and the parsed log and span units.
type dayData struct {
	anomalies, stream []osprey.Anomaly
	start             time.Time // first metric sample
	samples, logLines int
	logs              []logUnit
	spans             []spanRec
}

// loadDay replays the metrics of d through the detector and parses its logs
// and spans.
func loadDay(ctx context.Context, d *NezhaDay, opt Options) (*dayData, error) {
	tick := func() {
		if opt.Progress != nil {
			opt.Progress(1)
		}
	}
	dd := &dayData{}
	if !opt.NoMetrics {
		a, all, n, first, err := replayMetrics(ctx, d, tick)
		if err != nil {
			return nil, err
		}
		dd.anomalies, dd.stream, dd.samples, dd.start = a, all, n, first
	}
	if !opt.NoLogs {
		dd.logs, dd.logLines = readLogs(d, opt.keepDuplicates, tick)
	}
	if !opt.NoTraces {
		dd.spans = readSpans(d, opt.keepDuplicates, tick)
		attachLogs(dd.spans, dd.logs)
	}
	return dd, nil
}

// rank walks the day's faults in time order and ranks each one's window.
// It does not change dd, so one load can be ranked several ways.
func (dd *dayData) rank(ctx context.Context, d *NezhaDay, opt Options) ([]Case, [][]osprey.Cause, error) {
	cfg := rca.DefaultConfig()
	if opt.Ranker != nil {
		cfg = *opt.Ranker
	}
	var cases []Case
	var all [][]osprey.Cause
	ev := newEvidencer(d.Faults, dd.logs, dd.spans, opt)
	for _, f := range d.Faults {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		from, to := f.Time.Add(-WindowBefore), f.Time.Add(WindowAfter)
		g, evidence := ev.window(from, to)
		if !opt.NoMetrics {
			evidence = append(evidence, metricEvidence(dd.anomalies, ev.windows, from, to, dd.start, opt)...)
		}
		causes := rca.Rank(g, evidence, cfg)
		c := Case{ID: f.Timestamp, Truth: f.Service, Type: f.Type, Group: d.System + "/" + d.Day}
		for _, cs := range causes {
			c.Ranking = append(c.Ranking, cs.Name)
		}
		cases = append(cases, c)
		all = append(all, causes)
	}
	return cases, all, nil
}

// metricPoint is one sample of a pod metric series (an index into the
// labels loadMetricPoints returns).
type metricPoint struct {
	ts     int64
	series int
	v      float64
}

// loadMetricPoints reads every pod metric of the day, reference phase
// included, deduplicated by series and time and sorted by time then
// series; tick is called once per file.
func loadMetricPoints(d *NezhaDay, tick func()) ([]osprey.Labels, []metricPoint, error) {
	var (
		labels []osprey.Labels
		ids    = map[string]int{}
		seen   = map[[2]int64]bool{}
		points []metricPoint
	)
	for _, dir := range []string{d.RefDir, d.RCADir} {
		if dir == "" {
			continue
		}
		for _, path := range csvFiles(dir+"/metric", ".csv") {
			tick()
			var names []string // col's names in header order
			_, err := readCSV(path, func(col map[string]int, rec []string) {
				pi, ok := col["PodName"]
				ti, ok2 := col["TimeStamp"]
				if !ok || !ok2 {
					return
				}
				sec, err := strconv.ParseFloat(rec[ti], 64)
				if err != nil {
					return
				}
				ts := int64(sec * 1000)
				svc := Deployment(rec[pi])
				if names == nil {
					// Not in map order: series ids, and so the order of
					// a timestamp's series in the detector's batch and
					// of its anomalies, must be the same in every run.
					names = slices.SortedFunc(maps.Keys(col), func(a, b string) int { return cmp.Compare(col[a], col[b]) })
				}
				for _, name := range names {
					i := col[name]
					if name == "Time" || name == "TimeStamp" || name == "PodName" || strings.HasPrefix(name, "Node") {
						continue
					}
					v, err := strconv.ParseFloat(rec[i], 64)
					if err != nil {
						continue
					}
					key := rec[pi] + "\x00" + name
					id, ok := ids[key]
					if !ok {
						id = len(labels)
						ids[key] = id
						labels = append(labels, osprey.Labels{osprey.LabelMetric: name, osprey.LabelService: svc, "pod": rec[pi]})
					}
					if seen[[2]int64{int64(id), ts}] {
						continue
					}
					seen[[2]int64{int64(id), ts}] = true
					points = append(points, metricPoint{ts, id, v})
				}
			})
			if err != nil {
				return nil, nil, err
			}
		}
	}
	slices.SortFunc(points, func(a, b metricPoint) int {
		if a.ts != b.ts {
			return cmp.Compare(a.ts, b.ts)
		}
		return a.series - b.series
	})
	return labels, points, nil
}

// feedMetricPoints hands time-sorted points to eng, one batch per
// timestamp.
func feedMetricPoints(ctx context.Context, eng *metric.Engine, labels []osprey.Labels, points []metricPoint) error {
	for i := 0; i < len(points); {
		j := i
		var batch []osprey.Series
		for j < len(points) && points[j].ts == points[i].ts {
			p := points[j]
			batch = append(batch, osprey.Series{Labels: labels[p.series], Samples: []osprey.Sample{{TimestampMs: p.ts, Value: p.v}}})
			j++
		}
		if err := eng.ConsumeSeries(ctx, batch); err != nil {
			return err
		}
		i = j
	}
	return nil
}

// replayMetrics feeds every pod metric of the day, reference phase
// included (deduplicated by series and time), into the production metric
// detector in time order, one batch per timestamp, and returns the anomalies
// it opened, and every anomaly it emitted (opens and resolves, in order).
func replayMetrics(ctx context.Context, d *NezhaDay, tick func()) ([]osprey.Anomaly, []osprey.Anomaly, int, time.Time, error) {
	labels, points, err := loadMetricPoints(d, tick)
	if err != nil {
		return nil, nil, 0, time.Time{}, err
	}
	var out, all []osprey.Anomaly
	sink := osprey.AnomalyConsumerFunc(func(_ context.Context, batch []osprey.Anomaly) error {
		all = append(all, batch...)
		for _, a := range batch {
			if a.Active() {
				// The detector's ids carry random bits; evidence ids must
				// not, so that a replay's explanations are reproducible.
				a.ID = fmt.Sprintf("metric/%s/%s/%s", a.Labels.Get("pod"), a.Labels.Get(osprey.LabelMetric), a.StartsAt.UTC().Format("20060102T150405.000Z"))
				out = append(out, a)
			}
		}
		return nil
	})
	eng, err := metric.NewEngine(metric.DefaultConfig(), sink, 0)
	if err != nil {
		return nil, nil, 0, time.Time{}, err
	}
	if err := feedMetricPoints(ctx, eng, labels, points); err != nil {
		return nil, nil, 0, time.Time{}, err
	}
	var first time.Time
	if len(points) > 0 {
		first = time.UnixMilli(points[0].ts).UTC()
	}
	return out, all, len(points), first, nil
}

// logLine is one parsed log line.
type logLine struct {
	at      time.Time
	service string
	span    string
	trace   string
	key     string
	level   string
	text    string
	ref     bool // from the fault-free reference phase
}

// logUnit is the lines of one span of one service (or one line without a
// span).
type logUnit struct {
	unit
	lines []*logLine
	ref   bool
}

// loadLogs parses every log line of the day through the header parser and
// one template miner per service, and groups the lines into units by span.
func loadLogs(d *NezhaDay, tick func()) ([]logUnit, int) { return readLogs(d, false, tick) }

// rawLogLine is one line of a day's log files as read.
type rawLogLine struct {
	at          time.Time
	pod, text   string // text: the whole line, header included
	trace, span string
	ref         bool // from the reference phase's folder
}

// scanLogs calls fn for every line of the day's log files, reference phase
// first, in file order; a line that overlapping files repeat (same pod,
// time and text) is passed once unless keepDuplicates (an ablation).
func scanLogs(d *NezhaDay, keepDuplicates bool, tick func(), fn func(rawLogLine)) {
	type lineID struct{ pod, nanos, text string }
	seen := map[lineID]bool{}
	for _, dir := range []string{d.RefDir, d.RCADir} {
		if dir == "" {
			continue
		}
		for _, path := range csvFiles(dir+"/log", ".csv") {
			tick()
			_, _ = readCSV(path, func(col map[string]int, rec []string) {
				ti, pi := col["TimeUnixNano"], col["PodName"]
				li, ok := col["Log"]
				if !ok {
					return
				}
				at, ok := parseNanos(rec[ti])
				if !ok {
					return
				}
				id := lineID{rec[pi], rec[ti], rec[li]}
				if seen[id] && !keepDuplicates {
					return
				}
				seen[id] = true
				l := rawLogLine{at: at, pod: rec[pi], text: rec[li], ref: dir == d.RefDir}
				if i, ok := col["TraceID"]; ok {
					l.trace = rec[i]
				}
				if i, ok := col["SpanID"]; ok {
					l.span = rec[i]
				}
				fn(l)
			})
		}
	}
}

// splitLogLine returns a line's level (from the logback header, else the
// header logparse.Detect recognises, else the message's words), its code
// location (logback's logger#line, "" without one) and its message.
func splitLogLine(text string) (level, loc, body string) {
	h := logparse.Detect(text)
	level, loc, body = javaHeader(h.Message)
	if level == "" {
		level = h.Level
	}
	if level == "" {
		level = logparse.DetectLevel(h.Message)
	}
	return level, loc, body
}

// readLogs is loadLogs; keepDuplicates (an ablation) keeps every copy of a
// line that overlapping files repeat (same pod, time and text).
func readLogs(d *NezhaDay, keepDuplicates bool, tick func()) ([]logUnit, int) {
	miners := map[string]*logmine.Miner{}
	var lines []*logLine
	scanLogs(d, keepDuplicates, tick, func(r rawLogLine) {
		svc := Deployment(r.pod)
		level, loc, body := splitLogLine(r.text)
		m := miners[svc]
		if m == nil {
			m = logmine.NewMiner(svc, logmine.Config{})
			miners[svc] = m
		}
		match := m.Add(r.at, body)
		key := loc
		if key == "" {
			key = "template " + match.ID
		}
		lines = append(lines, &logLine{at: r.at, service: svc, span: r.span, trace: r.trace, key: key, level: level, text: body, ref: r.ref})
	})
	// Group by (service, span); lines without a span are units of one.
	type gk struct{ svc, span string }
	idx := map[gk]int{}
	var units []logUnit
	for _, l := range lines {
		k := gk{l.service, l.span}
		i, ok := idx[k]
		if !ok || l.span == "" {
			i = len(units)
			units = append(units, logUnit{unit: unit{service: l.service, at: l.at}, ref: l.ref})
			if l.span != "" {
				idx[k] = i
			}
		}
		u := &units[i]
		u.lines = append(u.lines, l)
		if l.at.Before(u.at) {
			u.at = l.at
		}
		if !slices.Contains(u.keys, l.key) {
			u.keys = append(u.keys, l.key)
		}
	}
	for i := range units {
		slices.Sort(units[i].keys)
	}
	sortUnits(units, func(u *logUnit) (time.Time, bool) { return u.at, u.ref })
	return units, len(lines)
}

// javaHeader splits a logback line "HH:MM:SS.mmm LEVEL logger#line
// TraceID: x SpanID: y message" into its level, code location and message.
// Other lines come back with an empty level and location and unchanged.
func javaHeader(s string) (level, loc, body string) {
	f := strings.Fields(s)
	if len(f) < 3 || len(f[0]) < 8 || f[0][2] != ':' {
		return "", "", s
	}
	lv := logparse.NormaliseLevel(f[1])
	if lv == "" {
		return "", "", s
	}
	loc = f[2]
	rest := s[strings.Index(s, f[2])+len(f[2]):]
	if i := strings.Index(rest, "SpanID:"); i >= 0 {
		r := strings.TrimLeft(rest[i+len("SpanID:"):], " ")
		if j := strings.IndexByte(r, ' '); j >= 0 {
			rest = r[j:]
		} else {
			rest = ""
		}
	}
	return lv, loc, strings.TrimSpace(rest)
}

// spanRec is one span of a trace with what its children did.
type spanRec struct {
	unit
	traceID, spanID, parent string
	op                      string
	end                     time.Time
	dur, self               float64 // seconds
	callerSvc               string  // parent span's service if different
	callerOp                string  // and its operation
	ref                     bool
}

// loadSpans reads every span of the day once, links parents and children,
// and computes each span's self time and its calls to other services.
func loadSpans(d *NezhaDay, tick func()) []spanRec { return readSpans(d, false, tick) }

// readSpans is loadSpans; keepDuplicates (an ablation) keeps every copy of
// a span that overlapping files repeat.
func readSpans(d *NezhaDay, keepDuplicates bool, tick func()) []spanRec {
	var spans []spanRec
	// Nezha's chunk files overlap (a minute's file can repeat the end of
	// the previous one): a span recorded twice is kept once, or the copy
	// that did not get the children looks like a span that made none of
	// its calls, with its whole duration as self time.
	seen := map[[2]string]bool{}
	for _, dir := range []string{d.RefDir, d.RCADir} {
		if dir == "" {
			continue
		}
		for _, path := range csvFiles(dir+"/trace", ".csv") {
			tick()
			_, _ = readCSV(path, func(col map[string]int, rec []string) {
				need := []string{"TraceID", "SpanID", "ParentID", "PodName", "OperationName", "StartTimeUnixNano", "EndTimeUnixNano"}
				for _, n := range need {
					if _, ok := col[n]; !ok {
						return
					}
				}
				st, ok1 := parseNanos(rec[col["StartTimeUnixNano"]])
				en, ok2 := parseNanos(rec[col["EndTimeUnixNano"]])
				if !ok1 || !ok2 {
					return
				}
				id := [2]string{rec[col["TraceID"]], rec[col["SpanID"]]}
				if seen[id] && !keepDuplicates {
					return
				}
				seen[id] = true
				svc := Deployment(rec[col["PodName"]])
				spans = append(spans, spanRec{
					unit:    unit{service: svc, at: st},
					traceID: rec[col["TraceID"]], spanID: rec[col["SpanID"]], parent: rec[col["ParentID"]],
					op: rec[col["OperationName"]], end: en, dur: en.Sub(st).Seconds(), ref: dir == d.RefDir,
				})
			})
		}
	}
	idx := make(map[[2]string]int, len(spans))
	for i := range spans {
		idx[[2]string{spans[i].traceID, spans[i].spanID}] = i
	}
	childSum := make([]float64, len(spans))
	for i := range spans {
		s := &spans[i]
		s.keys = append(s.keys, "op "+s.op)
		p, ok := idx[[2]string{s.traceID, s.parent}]
		if !ok {
			continue
		}
		childSum[p] += s.dur
		ps := &spans[p]
		if ps.service != s.service {
			s.callerSvc, s.callerOp = ps.service, ps.op
		}
		// Calls within the service (database clients, internal steps)
		// count as much as calls to other services: an exception at the
		// start of a handler shows as a span that made none of them.
		k := "call " + s.service + " " + s.op
		if !slices.Contains(ps.keys, k) {
			ps.keys = append(ps.keys, k)
		}
	}
	for i := range spans {
		spans[i].self = max(spans[i].dur-childSum[i], 0)
		slices.Sort(spans[i].keys)
	}
	sortUnits(spans, func(s *spanRec) (time.Time, bool) { return s.at, s.ref })
	return spans
}

// sortUnits orders reference-phase units first, then by time.
func sortUnits[T any](s []T, key func(*T) (time.Time, bool)) {
	slices.SortStableFunc(s, func(a, b T) int {
		ta, ra := key(&a)
		tb, rb := key(&b)
		if ra != rb {
			if ra {
				return -1
			}
			return 1
		}
		return ta.Compare(tb)
	})
}

// attachLogs adds the log template keys of each span's lines to the span's
// keys, joining the two modalities as Nezha's event graph does: a handler
// that stops logging what it always logged (an exception before the log
// statement) shows as a span of the usual operation without its usual line.
func attachLogs(spans []spanRec, logs []logUnit) {
	idx := make(map[[2]string]int, len(spans))
	for i := range spans {
		idx[[2]string{spans[i].traceID, spans[i].spanID}] = i
	}
	touched := map[int]bool{}
	for _, u := range logs {
		for _, l := range u.lines {
			i, ok := idx[[2]string{l.trace, l.span}]
			if !ok || spans[i].service != l.service {
				continue
			}
			k := "log " + l.key
			if !slices.Contains(spans[i].keys, k) {
				spans[i].keys = append(spans[i].keys, k)
				touched[i] = true
			}
		}
	}
	for i := range touched {
		slices.Sort(spans[i].keys)
	}
}
