package rca

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/config"
	logdetect "github.com/osprey-aiops/osprey/internal/detect/logs"
	"github.com/osprey-aiops/osprey/internal/detect/metric"
	tracedetect "github.com/osprey-aiops/osprey/internal/detect/trace"
	"github.com/osprey-aiops/osprey/internal/logmine"
	"github.com/osprey-aiops/osprey/internal/logparse"
	"github.com/osprey-aiops/osprey/internal/rca"
	"github.com/osprey-aiops/osprey/internal/topology"
)

// Paths of the Nezha bench: how a fault's ranking is computed.
const (
	// PathHarness ranks the evidence the harness builds for each fault's
	// window (flow profiles learnt outside the windows, request shares):
	// ReplayNezha.
	PathHarness = "harness"
	// PathServe ranks what serve computes: the incident the production
	// stages open for the fault, ranked by rca.IncidentRanker:
	// ReplayNezhaServe.
	PathServe = "serve"
)

// logSource is the source label of the replayed log lines: the OTLP
// receiver's, which labels every record it takes source="otlp".
const logSource = "otlp"

// logFlushEvery is the period of the log detector's flush timer in serve:
// a quarter of its bucket, at least a second (logdetect.Options.FlushEvery's
// default).
func logFlushEvery(c logdetect.Config) time.Duration { return max(c.Bucket/4, time.Second) }

// traceFlushEvery is the period of the trace detector's flush timer in
// serve: half its settle time.
func traceFlushEvery(c tracedetect.Config) time.Duration {
	return max(c.Settle/2, time.Millisecond)
}

// logRec is one raw log line of the day with the level its header names.
type logRec struct {
	rawLogLine
	level string
}

// readLogRecords reads every log line of the day (reference phase first,
// then the fault day; a line repeated by overlapping files once), as the
// lines a log shipper would send: the raw line, the pod, the trace and
// span ids, and the level its header names (what a collector's parser
// sets; the same level readLogs reads). They come back in time order.
func readLogRecords(d *NezhaDay, tick func()) []logRec {
	var out []logRec
	scanLogs(d, false, tick, func(r rawLogLine) {
		level, _, _ := splitLogLine(r.text)
		out = append(out, logRec{rawLogLine: r, level: level})
	})
	slices.SortStableFunc(out, func(a, b logRec) int { return a.at.Compare(b.at) })
	return out
}

// serveStep is one batch of the virtual-time replay: the metric points of
// one timestamp, or the log lines or spans of one second.
type serveStep struct {
	at     time.Time
	kind   int // stepMetric, stepLog, stepSpan: the order within an instant
	lo, hi int // the batch's range in its slice
}

const (
	stepMetric = iota
	stepLog
	stepSpan
)

// snapshot is an incident as the correlator last published it.
type snapshot struct {
	inc osprey.Incident
	seq int // publication order of the incident's first snapshot
}

// incidentLog keeps the latest snapshot of every incident.
type incidentLog struct {
	mu   sync.Mutex
	last map[string]*snapshot
	// timeline, when set, keeps every incident's timeline entries (each
	// snapshot carries only its new ones), for the dump's reader.
	timeline bool
}

// ConsumeIncidents implements osprey.IncidentConsumer.
func (l *incidentLog) ConsumeIncidents(_ context.Context, batch []osprey.Incident) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, inc := range batch {
		s := l.last[inc.ID]
		if s == nil {
			s = &snapshot{seq: len(l.last)}
			l.last[inc.ID] = s
		}
		var tl []osprey.TimelineEntry
		if l.timeline {
			tl = append(s.inc.Timeline, inc.Timeline...)
		}
		s.inc = inc
		s.inc.Timeline = tl
		s.inc.Members = slices.Clone(inc.Members)
		s.inc.Causes = slices.Clone(inc.Causes)
	}
	return nil
}

// inOrder returns the last snapshot of every incident, in the order of
// their first publication.
func (l *incidentLog) inOrder() []osprey.Incident {
	l.mu.Lock()
	defer l.mu.Unlock()
	snaps := make([]*snapshot, 0, len(l.last))
	for _, s := range l.last {
		snaps = append(snaps, s)
	}
	slices.SortFunc(snaps, func(a, b *snapshot) int { return cmp.Compare(a.seq, b.seq) })
	out := make([]osprey.Incident, len(snaps))
	for i, s := range snaps {
		out[i] = s.inc
	}
	return out
}

// ServeCase is what the serve path saw of one fault, for the report of
// its misses.
type ServeCase struct {
	// AtWindowEnd is the ranking of the fault's incident as it stood when
	// the virtual clock passed inject + WindowAfter (what serve showed
	// then), chosen by the same rule as the final one.
	AtWindowEnd []string
	// Members is how many members of the chosen incident (final snapshot)
	// have their onset in the fault's window, and Total its members.
	Members, Total int
	// BestRank is the best rank of the root cause over every incident
	// with a member whose onset is in the window (0: in none): the figure
	// a perfect choice among serve's incidents would reach.
	BestRank int
	// TruthKinds lists the kinds of the anomalies of the root-cause
	// service that opened in the window, in any incident ("metric",
	// "log", "trace"): empty when no stage found anything there.
	TruthKinds []string
}

// ReplayNezhaServe replays one day in virtual time through the production
// stages as serve wires them and ranks every fault by the incident serve
// opened for it (docs/rca.md, "The serve path"):
//
//   - metric samples, one batch per timestamp, into metric.Engine
//     (metric.DefaultConfig());
//   - log lines, one batch per second, through a logmine.Set whose OnMatch
//     is the log detector's Observe (config.Default().Logs.Detector()),
//     Emit after each batch and Flush on the detector's timer, each line
//     labelled as the OTLP receiver labels it (source "otlp", service the
//     pod's deployment, pod);
//   - spans, one batch per second of their start, into the trace detector
//     (config.Default().Detect.Traces) and the topology graph;
//   - every anomaly into a correlate.Correlator with config.Default()'s
//     correlate settings (opt.Config's, if set), the topology graph as its Topology, and an
//     rca.IncidentRanker over the graph (request-weighted, as serve's
//     topology.Graph.RankGraph) as its Causes;
//
// all on one virtual clock, the time of the batch being fed. rca.history
// is not wired (it reads the TSDB asynchronously); the day has no deploy
// events. A fault's incident is the one with the most members whose onset
// lies in [inject − WindowBefore, inject + WindowAfter], ties to the one
// published first; its ranking is that incident's causes in its last
// snapshot (when the day ends), as service names via Deployment. A fault
// without such an incident has an empty ranking.
func ReplayNezhaServe(ctx context.Context, d *NezhaDay, opt Options) (*DayResult, error) {
	tick := func() {
		if opt.Progress != nil {
			opt.Progress(1)
		}
	}
	var (
		labels []osprey.Labels
		points []metricPoint
		logs   []logRec
		spans  []spanRec
		err    error
	)
	if !opt.NoMetrics {
		if labels, points, err = loadMetricPoints(d, tick); err != nil {
			return nil, err
		}
	}
	if !opt.NoLogs {
		logs = readLogRecords(d, tick)
	}
	if !opt.NoTraces {
		spans = readSpans(d, false, tick)
		slices.SortStableFunc(spans, func(a, b spanRec) int { return a.at.Compare(b.at) })
	}
	res := &DayResult{Samples: len(points), LogLines: len(logs), Spans: len(spans)}
	for _, m := range []struct {
		name string
		n    int
	}{{"metric", len(points)}, {"log", len(logs)}, {"trace", len(spans)}} {
		if m.n == 0 {
			res.Missing = append(res.Missing, m.name)
		}
	}
	steps := serveSteps(points, logs, spans)
	var now time.Time
	if len(steps) > 0 {
		now = steps[0].at
	}
	clock := func() time.Time { return now }

	cfg := config.Default()
	if opt.Config != nil {
		cfg = *opt.Config
	}
	graph := topology.New(topology.Options{Now: clock})
	rankCfg := rca.DefaultConfig()
	if opt.Ranker != nil {
		rankCfg = *opt.Ranker
	}
	base := rca.IncidentRanker{Graph: graph.RankGraph, Config: rankCfg}
	incidents := &incidentLog{last: map[string]*snapshot{}}
	causes := cfg.RCA.Concurrent.Ranker(base)
	var graphs map[string]*rca.Graph
	if opt.serveDump != nil {
		// The dump re-ranks with concurrent incidents (serve_dev_test.go).
		graphs = map[string]*rca.Graph{}
		incidents.timeline = true
		causes = recordingRanker{ranker: rca.ConcurrentIncidentRanker{IncidentRanker: base, Hops: cfg.RCA.Concurrent.Hops}, graphs: graphs}
	}
	nc, cleanup, err := startNoiseCorrelator(ctx, cfg.Correlate, graph, causes, clock, incidents)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	corr := nc.c
	var opened []openedAnomaly
	sink := osprey.AnomalyConsumerFunc(func(ctx context.Context, batch []osprey.Anomaly) error {
		for i := range batch {
			if a := &batch[i]; a.Active() {
				opened = append(opened, openedAnomaly{service: a.Labels.Get(osprey.LabelService), kind: string(a.Kind), at: a.StartsAt})
			}
		}
		return corr.ConsumeAnomalies(ctx, batch)
	})
	eng, err := metric.NewEngine(metric.DefaultConfig(), sink, cfg.Detect.MaxSeries)
	if err != nil {
		return nil, fmt.Errorf("serve path: %w", err)
	}
	logCfg := cfg.Logs.Detector()
	var set *logmine.Set
	logDet, err := logdetect.New(logdetect.Options{
		Config: logCfg,
		Out:    sink,
		Lookup: func(source, id string) (osprey.LogTemplate, bool) { return set.Lookup(source, id) },
		Now:    clock,
	})
	if err != nil {
		return nil, fmt.Errorf("serve path: %w", err)
	}
	traceCfg := cfg.Detect.Traces.Detector()
	var traceDet *tracedetect.Detector
	if cfg.Detect.Traces.Enabled {
		if traceDet, err = tracedetect.New(tracedetect.Options{Config: traceCfg, Out: sink, Now: clock}); err != nil {
			return nil, fmt.Errorf("serve path: %w", err)
		}
	}
	// The miner's per-line hook, as serve wires it (internal/app,
	// buildLogStage): the log detector observes every line, and the trace
	// stage joins the lines that carry trace and span ids to their spans.
	onMatch := logDet.Observe
	if traceDet != nil {
		onMatch = func(source string, m logmine.Match, r *osprey.LogRecord) {
			logDet.Observe(source, m, r)
			traceDet.ObserveRecord(m.ID, m.Content, r)
		}
	}
	set = logmine.NewSet(logmine.SetOptions{
		Config:   logmine.Config{MaxTemplates: cfg.Logs.MaxTemplatesPerSource},
		Content:  mineContent,
		OnUpdate: logDet.OnUpdate,
		OnMatch:  onMatch,
	})

	// The stages' flush timers, fired when the virtual clock passes them.
	type timer struct {
		every time.Duration
		next  time.Time
		fire  func(context.Context) error
	}
	timers := []*timer{{every: logFlushEvery(logCfg), fire: logDet.Flush}}
	if traceDet != nil {
		timers = append(timers, &timer{every: traceFlushEvery(traceCfg), fire: traceDet.Flush})
	}
	advance := func(to time.Time) error {
		for {
			// Fire the earliest due timer at its own time.
			var due *timer
			for _, t := range timers {
				if t.next.IsZero() {
					t.next = to.Truncate(t.every).Add(t.every)
				}
				if !t.next.After(to) && (due == nil || t.next.Before(due.next)) {
					due = t
				}
			}
			if due == nil {
				break
			}
			if due.next.After(now) {
				now = due.next
			}
			if err := due.fire(ctx); err != nil {
				return err
			}
			due.next = due.next.Add(due.every)
		}
		if to.After(now) {
			now = to
		}
		return nil
	}

	// The rankings at each fault's window end, taken when the clock
	// passes it.
	atEnd := make([][]string, len(d.Faults))
	nextEnd := 0
	takeEnds := func(to time.Time) {
		for ; nextEnd < len(d.Faults) && to.After(d.Faults[nextEnd].Time.Add(WindowAfter)); nextEnd++ {
			if s, _ := pickIncident(incidents, d.Faults[nextEnd]); s != nil {
				atEnd[nextEnd] = causeNames(s.inc.Causes)
			}
		}
	}
	for n, st := range steps {
		if n&1023 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if err := advance(st.at); err != nil {
			return nil, fmt.Errorf("serve path: %w", err)
		}
		takeEnds(now)
		switch st.kind {
		case stepMetric:
			if err := feedMetricPoints(ctx, eng, labels, points[st.lo:st.hi]); err != nil {
				return nil, fmt.Errorf("serve path: metrics: %w", err)
			}
		case stepLog:
			batch := make([]osprey.LogRecord, 0, st.hi-st.lo)
			for _, l := range logs[st.lo:st.hi] {
				r := osprey.LogRecord{Time: l.at, Level: l.level, Body: l.text, Labels: osprey.Labels{
					logmine.LabelSource: logSource, osprey.LabelService: Deployment(l.pod), "pod": l.pod,
				}}
				if l.trace != "" {
					r.Attributes = map[string]string{"trace_id": l.trace, "span_id": l.span}
				}
				batch = append(batch, r)
			}
			if err := set.ConsumeLogs(ctx, batch); err != nil {
				return nil, fmt.Errorf("serve path: logs: %w", err)
			}
			if err := logDet.Emit(ctx); err != nil {
				return nil, fmt.Errorf("serve path: %w", err)
			}
		case stepSpan:
			batch := make([]osprey.Span, 0, st.hi-st.lo)
			for i := st.lo; i < st.hi; i++ {
				s := &spans[i]
				batch = append(batch, osprey.Span{TraceID: s.traceID, SpanID: s.spanID, ParentSpanID: s.parent, Service: s.service,
					Name: s.op, Start: s.at, Duration: time.Duration(s.dur * float64(time.Second))})
			}
			if err := graph.ConsumeSpans(ctx, batch); err != nil {
				return nil, fmt.Errorf("serve path: topology: %w", err)
			}
			if traceDet != nil {
				if err := traceDet.ConsumeSpans(ctx, batch); err != nil {
					return nil, fmt.Errorf("serve path: %w", err)
				}
			}
		}
	}
	// Let the last buckets and traces close, as the running server would
	// a while after the data ends.
	if err := advance(now.Add(10 * time.Minute)); err != nil {
		return nil, fmt.Errorf("serve path: %w", err)
	}
	takeEnds(now.Add(time.Nanosecond))
	if err := corr.Shutdown(ctx); err != nil {
		return nil, fmt.Errorf("serve path: %w", err)
	}
	res.Anomalies = len(opened)
	if opt.serveDump != nil {
		opt.serveDump(incidents.inOrder(), graphs)
	}
	res.Cases, res.Causes, res.Serve = serveCases(d, incidents)
	for i := range res.Serve {
		f := d.Faults[i]
		res.Serve[i].AtWindowEnd = atEnd[i]
		for _, a := range opened {
			if a.service == f.Service && !a.at.Before(f.Time.Add(-WindowBefore)) && !a.at.After(f.Time.Add(WindowAfter)) &&
				!slices.Contains(res.Serve[i].TruthKinds, a.kind) {
				res.Serve[i].TruthKinds = append(res.Serve[i].TruthKinds, a.kind)
			}
		}
		slices.Sort(res.Serve[i].TruthKinds)
	}
	return res, nil
}

// recordingRanker ranks as ranker does and keeps, per incident id, the
// graph of its last ranking (Options.serveDump). The correlator calls it
// under its lock, so the map needs none.
type recordingRanker struct {
	ranker rca.ConcurrentIncidentRanker
	graphs map[string]*rca.Graph
}

func (r recordingRanker) RankCauses(inc *osprey.Incident) []osprey.Cause {
	return r.record(inc).RankCauses(inc)
}

func (r recordingRanker) RankCausesAmong(inc *osprey.Incident, concurrent []*osprey.Incident) []osprey.Cause {
	return r.record(inc).RankCausesAmong(inc, concurrent)
}

// record keeps the graph of inc's ranking and returns the ranker over it.
func (r recordingRanker) record(inc *osprey.Incident) rca.ConcurrentIncidentRanker {
	g := r.ranker.Graph()
	r.graphs[inc.ID] = g
	rk := r.ranker
	rk.Graph = func() *rca.Graph { return g }
	return rk
}

// openedAnomaly is what the serve path keeps of an anomaly that opened.
type openedAnomaly struct {
	service, kind string
	at            time.Time
}

// pickIncident returns the incident with the most members whose onset lies
// in f's window (ties to the one published first), and that count; nil
// when no incident has such a member.
func pickIncident(incidents *incidentLog, f Fault) (*snapshot, int) {
	incidents.mu.Lock()
	defer incidents.mu.Unlock()
	from, to := f.Time.Add(-WindowBefore), f.Time.Add(WindowAfter)
	var best *snapshot
	bestN := 0
	for _, s := range incidents.last {
		n := 0
		for i := range s.inc.Members {
			if at := s.inc.Members[i].FirstSeen; !at.Before(from) && !at.After(to) {
				n++
			}
		}
		if n > bestN || n == bestN && n > 0 && s.seq < best.seq {
			best, bestN = s, n
		}
	}
	return best, bestN
}

// bestRank returns the best rank of f's root cause in the causes of any
// incident with a member whose onset lies in f's window, or 0.
func bestRank(incidents *incidentLog, f Fault) int {
	incidents.mu.Lock()
	defer incidents.mu.Unlock()
	from, to := f.Time.Add(-WindowBefore), f.Time.Add(WindowAfter)
	best := 0
	for _, s := range incidents.last {
		if !slices.ContainsFunc(s.inc.Members, func(m *osprey.Member) bool {
			return !m.FirstSeen.Before(from) && !m.FirstSeen.After(to)
		}) {
			continue
		}
		if i := slices.Index(causeNames(s.inc.Causes), f.Service); i >= 0 && (best == 0 || i+1 < best) {
			best = i + 1
		}
	}
	return best
}

// causeNames returns the causes' services as deployments, each once.
func causeNames(causes []osprey.Cause) []string {
	var out []string
	for _, cs := range causes {
		if name := Deployment(cs.Name); !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}

// serveCases picks each fault's incident from the correlator's final
// snapshots (pickIncident) and returns its ranking.
func serveCases(d *NezhaDay, incidents *incidentLog) ([]Case, [][]osprey.Cause, []ServeCase) {
	var cases []Case
	var all [][]osprey.Cause
	var sc []ServeCase
	for _, f := range d.Faults {
		c := Case{ID: f.Timestamp, Truth: f.Service, Type: f.Type, Group: d.System + "/" + d.Day}
		var causes []osprey.Cause
		var x ServeCase
		if best, n := pickIncident(incidents, f); best != nil {
			causes = best.inc.Causes
			c.Ranking = causeNames(causes)
			x.Members, x.Total = n, len(best.inc.Members)
		}
		x.BestRank = bestRank(incidents, f)
		cases = append(cases, c)
		all = append(all, causes)
		sc = append(sc, x)
	}
	return cases, all, sc
}

// serveSteps cuts the time-sorted points, lines and spans into batches and
// orders them by time (metrics, then logs, then spans within an instant).
func serveSteps(points []metricPoint, logs []logRec, spans []spanRec) []serveStep {
	steps := appendRuns(nil, stepMetric, len(points), func(i int) time.Time { return time.UnixMilli(points[i].ts).UTC() })
	steps = appendRuns(steps, stepLog, len(logs), func(i int) time.Time { return logs[i].at.Truncate(time.Second) })
	steps = appendRuns(steps, stepSpan, len(spans), func(i int) time.Time { return spans[i].at.Truncate(time.Second) })
	slices.SortStableFunc(steps, func(a, b serveStep) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return cmp.Compare(a.kind, b.kind)
	})
	return steps
}

// appendRuns appends a step of kind for every run of consecutive items
// 0..n-1 that share at(i), the step's time.
func appendRuns(steps []serveStep, kind, n int, at func(i int) time.Time) []serveStep {
	for i := 0; i < n; {
		t := at(i)
		j := i + 1
		for j < n && at(j).Equal(t) {
			j++
		}
		steps = append(steps, serveStep{at: t, kind: kind, lo: i, hi: j})
		i = j
	}
	return steps
}

// mineContent is serve's text to mine of a record (internal/app,
// mineContent): the line without the header logparse.Detect recognises.
func mineContent(r *osprey.LogRecord) string {
	if m := logparse.Detect(r.Body).Message; m != "" {
		return m
	}
	return r.Body
}
