// Package logs finds anomalies in log streams. It is fed by the template
// miner (logmine.Set's OnMatch and OnUpdate callbacks) one mined line at a
// time and reports three kinds of osprey.AnomalyLog anomalies:
//
//   - a new template: a message never seen before on a source, once the
//     source is past its warm-up (Config.WarmupLines and Config.Warmup), so
//     that a fresh install is not flooded with every template it learns;
//   - a rate surge or drop of one template: lines are counted per template
//     in fixed buckets of record time (Config.Bucket) and each template's
//     count series is scored by the production metric detector
//     (metric.Tracker: the same model, calibration, seasonality and
//     open/close rules as the metric detect stage);
//   - an error burst: the count of error-level lines (error, critical,
//     fatal, ...) per source and service, scored the same way.
//
// The count series are also handed to a SeriesConsumer as
// osprey_log_template_count{source, template_id} and
// osprey_log_error_count{source, service}, so that the query API can chart
// them.
//
// A bucket closes when a line of a later bucket arrives on its source, or,
// for a source that went quiet, once the clock is a bucket past its end
// (Flush, called on a timer). Buckets in which a source had no line at all
// are skipped rather than read as zeros: a source that stops sending is a
// collection problem, not a drop of each of its templates. Lines older than
// the open bucket count in the open bucket (Stats.Late).
//
// Snapshot and Restore keep the detector's state (each series' model, the
// sources' warm-up and open buckets) across restarts, in a versioned,
// checksummed file (snapshot.go).
package logs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/detect/metric"
	"github.com/osprey-aiops/osprey/internal/logmine"
)

// Names of the count series and of the labels the detector sets.
const (
	// MetricTemplateCount counts one template's lines per bucket.
	MetricTemplateCount = "osprey_log_template_count"
	// MetricErrorCount counts a source's (and service's) error-level lines
	// per bucket.
	MetricErrorCount = "osprey_log_error_count"
	// LabelSource names the log source (the miner's source: loki, syslog).
	LabelSource = "source"
	// LabelTemplateID names the template.
	LabelTemplateID = "template_id"
)

// Detector names used in Evidence.
const (
	EvidenceNewTemplate = "log_new_template"
	EvidenceRate        = "log_rate"
	EvidenceErrors      = "log_errors"
	EvidenceTemplate    = osprey.EvidenceLogTemplate
	EvidenceSample      = "log_sample"
)

const (
	// maxSamples is the number of sample lines an anomaly carries.
	maxSamples = 3
	// maxSampleBytes clips a sample line.
	maxSampleBytes = 512
	// newTemplateHold is the most buckets a new-template anomaly stays
	// open; it resolves earlier at the first bucket without the template.
	newTemplateHold = 10
)

// Config holds the detector's parameters.
type Config struct {
	// Bucket is the width of the count buckets, in record time.
	Bucket time.Duration
	// WarmupLines and Warmup: no new-template anomaly is reported on a
	// source until it has sent WarmupLines lines and Warmup has passed (in
	// record time) since its first line.
	WarmupLines int64
	Warmup      time.Duration
	// MaxSeries caps the count series (templates and error series, over
	// all sources) that get a model; the lines of further templates are
	// still counted and written, but not scored (Stats.Dropped).
	MaxSeries int
	// Detector configures the per-series models; see metric.Config.
	Detector metric.Config
}

// DefaultConfig returns the defaults of serve.
func DefaultConfig() Config {
	det := metric.DefaultConfig()
	// A rate anomaly is a change by at least half (a doubling or a
	// halving) and by at least 5 lines a bucket: line counts are noisy, and
	// the detector's novelty component otherwise reads an unusual but small
	// wobble of a busy template as news.
	det.MinFactor, det.MinDelta = 2, 5
	return Config{
		Bucket:      time.Minute,
		WarmupLines: 10_000,
		Warmup:      time.Hour,
		MaxSeries:   100_000,
		Detector:    det,
	}
}

// Validate reports every parameter out of range.
func (c *Config) Validate() error {
	var errs []error
	if c.Bucket < time.Millisecond {
		errs = append(errs, fmt.Errorf("bucket: %s is less than 1ms", c.Bucket))
	}
	if c.WarmupLines < 0 {
		errs = append(errs, fmt.Errorf("warmup_lines: %d is negative", c.WarmupLines))
	}
	if c.Warmup < 0 {
		errs = append(errs, fmt.Errorf("warmup: %s is negative", c.Warmup))
	}
	if c.MaxSeries <= 0 {
		errs = append(errs, fmt.Errorf("max_series: %d is not positive", c.MaxSeries))
	}
	if err := c.Detector.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Options configure a Detector.
type Options struct {
	Config Config
	// Out takes the anomalies; required.
	Out osprey.AnomalyConsumer
	// Counts, if set, takes the count series of every closed bucket.
	Counts osprey.SeriesConsumer
	// Lookup, if set, gives a template's current text for the evidence
	// (logmine.Set.Lookup); without it the evidence names the id only.
	Lookup func(source, id string) (osprey.LogTemplate, bool)
	// Now is the clock for Flush; nil means time.Now.
	Now func() time.Time
	// FlushEvery is how often Start's goroutine calls Flush; 0 means a
	// quarter of the bucket, at least a second.
	FlushEvery time.Duration
	Logger     *slog.Logger
}

// Stats counts what a Detector did.
type Stats struct {
	Lines           int64 // lines observed
	NewTemplates    int64 // new-template anomalies reported
	Suppressed      int64 // new templates not reported: their source was warming up
	Late            int64 // lines older than their source's open bucket
	Series          int   // count series with a model
	Dropped         int64 // bucket counts not scored: MaxSeries reached
	Buckets         int64 // buckets closed
	CountsRejected  int64 // count series batches the SeriesConsumer refused
	AnomaliesFailed int64 // anomaly batches the AnomalyConsumer refused
}

// Detector is the log anomaly detector. Observe and OnUpdate are meant to
// be a logmine.Set's OnMatch and OnUpdate; they only count, under the
// Detector's own lock. What they find is handed on by Emit (after each
// batch the Set mined) and Flush (on a timer): never while a lock of the Set
// is held. A Detector is safe for concurrent use and implements
// osprey.Component for its flush timer.
type Detector struct {
	cfg    Config
	out    osprey.AnomalyConsumer
	counts osprey.SeriesConsumer
	lookup func(source, id string) (osprey.LogTemplate, bool)
	now    func() time.Time
	every  time.Duration
	log    *slog.Logger
	width  int64 // bucket width in ns

	mu      sync.Mutex
	sources map[string]*source
	pending []*finding
	series  []osprey.Series
	stats   Stats
	// emit is the scratch slice of Tracker.Observe's anomalies.
	emit []osprey.Anomaly

	// emitMu keeps hand-offs in the order buckets closed.
	emitMu sync.Mutex

	stopOnce sync.Once
	stop     chan struct{}
	done     chan struct{}
	started  bool
}

var _ osprey.Component = (*Detector)(nil)

// source is the state of one log source.
type source struct {
	name  string
	lines int64
	first time.Time
	warm  bool
	// open is the open bucket's index (record time / bucket), or -1;
	// closed is the last closed bucket's.
	open, closed int64
	tmpls        map[string]*tmpl
	errs         map[string]*errSeries // by service
}

// tmpl is one template's count state.
type tmpl struct {
	id      string
	service string
	n       int64
	samples []string
	tr      *metric.Tracker
	// newOpen is the open new-template anomaly and its age in buckets.
	newOpen *finding
	newAge  int
}

// errSeries is one source's and service's error-level count state.
type errSeries struct {
	service string
	n       int64
	samples []string
	byTmpl  map[string]int64
	tr      *metric.Tracker
}

// finding is an anomaly waiting to be handed on.
type finding struct {
	a      osprey.Anomaly
	source string
	// taken is set when Emit took the finding; it is no longer amended.
	taken bool
}

// New returns a Detector.
func New(opts Options) (*Detector, error) {
	if err := opts.Config.Validate(); err != nil {
		return nil, fmt.Errorf("log detector config: %w", err)
	}
	if opts.Out == nil {
		return nil, errors.New("log detector: nil anomaly consumer")
	}
	d := &Detector{
		cfg:     opts.Config,
		out:     opts.Out,
		counts:  opts.Counts,
		lookup:  opts.Lookup,
		now:     opts.Now,
		every:   opts.FlushEvery,
		log:     opts.Logger,
		width:   int64(opts.Config.Bucket),
		sources: make(map[string]*source),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	if d.now == nil {
		d.now = time.Now
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if d.every <= 0 {
		d.every = max(opts.Config.Bucket/4, time.Second)
	}
	return d, nil
}

// Stats returns the detector's counters.
func (d *Detector) Stats() Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stats
}

// MarkWarm ends the warm-up of source at once: its templates were restored
// from the store, so a template new to it is news.
func (d *Detector) MarkWarm(src string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.source(src).warm = true
}

func (d *Detector) source(name string) *source {
	s := d.sources[name]
	if s == nil {
		s = &source{name: name, open: -1, closed: -1, tmpls: map[string]*tmpl{}, errs: map[string]*errSeries{}}
		d.sources[name] = s
	}
	return s
}

// OnUpdate folds merged templates into the template they merged into, so
// that their counts continue under the surviving id. It is meant to be (part
// of) a logmine.Set's OnUpdate.
func (d *Detector) OnUpdate(u logmine.Update) {
	if len(u.Merged) == 0 {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.sources[u.Source]
	if s == nil {
		return
	}
	into := s.tmpls[u.Template.ID]
	for _, id := range u.Merged {
		old := s.tmpls[id]
		if old == nil || id == u.Template.ID {
			continue
		}
		delete(s.tmpls, id)
		if old.tr != nil {
			d.stats.Series--
		}
		if into == nil {
			// The survivor has no line of its own yet: it takes over the
			// old template's state and model.
			old.id = u.Template.ID
			into = old
			s.tmpls[into.id] = into
			if into.tr != nil {
				d.stats.Series++
			}
			continue
		}
		into.n += old.n
		for _, smp := range old.samples {
			if len(into.samples) < maxSamples {
				into.samples = append(into.samples, smp)
			}
		}
	}
}

// Observe counts one mined line: r of source, with the miner's match m. It
// is meant to be a logmine.Set's OnMatch; it keeps nothing of r but its
// time, level, service label and, as a sample, its body.
func (d *Detector) Observe(src string, m logmine.Match, r *osprey.LogRecord) {
	at := r.Time
	now := d.now()
	if at.IsZero() || at.After(now.Add(time.Duration(d.width))) {
		at = now
	}
	b := floorDiv(at.UnixNano(), d.width)
	service := r.Labels[osprey.LabelService]

	d.mu.Lock()
	defer d.mu.Unlock()
	d.stats.Lines++
	s := d.source(src)
	s.lines++
	if s.first.IsZero() {
		s.first = at
	}
	switch {
	case s.open < 0 && b > s.closed:
		s.open = b
	case s.open < 0:
		s.open = s.closed + 1
		d.stats.Late++
	case b > s.open:
		d.closeLocked(s)
		s.open = b
	case b < s.open:
		d.stats.Late++
	}
	// Every service of a source gets an error series from its first line,
	// so that the series' baseline includes the buckets without errors.
	e := s.errs[service]
	if e == nil {
		e = &errSeries{service: service, byTmpl: map[string]int64{}}
		s.errs[service] = e
	}
	if isError(r.Level) {
		e.n++
		if m.ID != "" {
			e.byTmpl[m.ID]++
		}
		e.samples = addSample(e.samples, r.Body)
	}
	if m.ID == "" {
		return
	}
	tp := s.tmpls[m.ID]
	isNew := tp == nil
	if isNew {
		tp = &tmpl{id: m.ID}
		s.tmpls[m.ID] = tp
	}
	if service != "" {
		tp.service = service
	}
	tp.n++
	tp.samples = addSample(tp.samples, r.Body)
	if f := tp.newOpen; f != nil && !f.taken {
		f.a.Observed++
		if countSamples(f.a.Evidence) < maxSamples {
			f.a.Evidence = append(f.a.Evidence, sampleEvidence(r.Body))
		}
	}
	if !m.New || !isNew {
		return
	}
	if !s.warm && (s.lines < d.cfg.WarmupLines || at.Sub(s.first) < d.cfg.Warmup) {
		d.stats.Suppressed++
		return
	}
	s.warm = true
	d.stats.NewTemplates++
	sev := osprey.SeverityWarning
	score := 0.6
	if isError(r.Level) {
		sev, score = osprey.SeverityError, 0.8
	}
	labels := anomalyLabels(src, tp.service, tp.id)
	f := &finding{source: src, a: osprey.Anomaly{
		ID:         osprey.NewID(at),
		Kind:       osprey.AnomalyLog,
		Labels:     labels,
		TemplateID: tp.id,
		Score:      score,
		Observed:   1,
		Severity:   sev,
		StartsAt:   at.UTC(),
		Evidence: []osprey.Evidence{
			{Detector: EvidenceNewTemplate, Score: score, Reason: fmt.Sprintf(
				"template %s was never seen before on source %s (after %d lines since %s)",
				tp.id, src, s.lines-1, s.first.UTC().Format(time.RFC3339))},
			sampleEvidence(r.Body),
		},
		Fingerprint: fingerprint(labels, EvidenceNewTemplate),
	}}
	tp.newOpen, tp.newAge = f, 0
	d.pending = append(d.pending, f)
}

// closeLocked closes s's open bucket: it scores every count series of s,
// queues their samples and what they found, and resets the counts.
func (d *Detector) closeLocked(s *source) {
	b := s.open
	s.closed, s.open = b, -1
	d.stats.Buckets++
	end := time.Unix(0, (b+1)*d.width).UTC()
	ms := end.UnixMilli()

	ids := make([]string, 0, len(s.tmpls))
	for id := range s.tmpls {
		ids = append(ids, id)
	}
	sort.Strings(ids) // a deterministic order of series and anomalies
	for _, id := range ids {
		tp := s.tmpls[id]
		smp := osprey.Sample{TimestampMs: ms, Value: float64(tp.n)}
		d.series = append(d.series, osprey.Series{
			Labels:  osprey.Labels{osprey.LabelMetric: MetricTemplateCount, LabelSource: s.name, LabelTemplateID: id},
			Samples: []osprey.Sample{smp},
		})
		if f := tp.newOpen; f != nil {
			tp.newAge++
			if tp.n == 0 || tp.newAge >= newTemplateHold {
				c := &finding{a: f.a, source: f.source, taken: true}
				c.a.Evidence = append([]osprey.Evidence(nil), f.a.Evidence...)
				c.a.EndsAt = end
				tp.newOpen = nil
				d.pending = append(d.pending, c)
			}
		}
		if tr := d.tracker(&tp.tr); tr != nil {
			labels := anomalyLabels(s.name, tp.service, id)
			_, d.emit = tr.Observe(&d.cfg.Detector, labels, fingerprint(labels, EvidenceRate), smp, d.emit[:0])
			for _, a := range d.emit {
				if a.Active() { // the last one, when an escalation ended one first
					a = d.rateAnomaly(a, s.name, id, tp.samples)
					*tr.Open() = a
				}
				d.pending = append(d.pending, &finding{a: a, source: s.name})
			}
		}
		tp.n, tp.samples = 0, tp.samples[:0]
	}

	svcs := make([]string, 0, len(s.errs))
	for svc := range s.errs {
		svcs = append(svcs, svc)
	}
	sort.Strings(svcs)
	for _, svc := range svcs {
		e := s.errs[svc]
		smp := osprey.Sample{TimestampMs: ms, Value: float64(e.n)}
		sl := osprey.Labels{osprey.LabelMetric: MetricErrorCount, LabelSource: s.name}
		if svc != "" {
			sl[osprey.LabelService] = svc
		}
		d.series = append(d.series, osprey.Series{Labels: sl, Samples: []osprey.Sample{smp}})
		if tr := d.tracker(&e.tr); tr != nil {
			labels := anomalyLabels(s.name, svc, "")
			_, d.emit = tr.Observe(&d.cfg.Detector, labels, fingerprint(labels, EvidenceErrors), smp, d.emit[:0])
			for _, a := range d.emit {
				if a.Active() { // the last one, when an escalation ended one first
					a = d.errorAnomaly(a, s.name, e)
					*tr.Open() = a
				}
				d.pending = append(d.pending, &finding{a: a, source: s.name})
			}
		}
		e.n, e.samples = 0, e.samples[:0]
		clear(e.byTmpl)
	}
}

// tracker returns *p, giving it a model if the cap allows.
func (d *Detector) tracker(p **metric.Tracker) *metric.Tracker {
	if *p == nil {
		if d.stats.Series >= d.cfg.MaxSeries {
			d.stats.Dropped++
			return nil
		}
		*p = &metric.Tracker{}
		d.stats.Series++
	}
	return *p
}

// rateAnomaly turns the metric detector's anomaly on a template's count
// series into a log anomaly.
func (d *Detector) rateAnomaly(a osprey.Anomaly, src, id string, samples []string) osprey.Anomaly {
	a.Kind = osprey.AnomalyLog
	a.TemplateID = id
	what := "surge"
	if a.Observed < a.Expected {
		what = "drop"
	}
	ev := []osprey.Evidence{{Detector: EvidenceRate, Score: a.Score, Reason: fmt.Sprintf(
		"rate %s of template %s on source %s: %s lines in %s, expected %s (%s)",
		what, id, src, num(a.Observed), d.cfg.Bucket, num(a.Expected), ratio(a.Observed, a.Expected))}}
	ev = append(ev, a.Evidence...)
	for _, smp := range samples {
		ev = append(ev, sampleEvidence(smp))
	}
	a.Evidence = ev
	return a
}

// errorAnomaly turns the metric detector's anomaly on an error count series
// into a log anomaly naming the most frequent error template of the bucket.
func (d *Detector) errorAnomaly(a osprey.Anomaly, src string, e *errSeries) osprey.Anomaly {
	a.Kind = osprey.AnomalyLog
	top, n := "", int64(0)
	for id, c := range e.byTmpl {
		if c > n || (c == n && id < top) {
			top, n = id, c
		}
	}
	a.TemplateID = top
	if top != "" {
		a.Labels = a.Labels.Clone()
		a.Labels[LabelTemplateID] = top
	}
	what := "burst"
	if a.Observed < a.Expected {
		what = "drop"
	}
	where := "source " + src
	if e.service != "" {
		where += ", service " + e.service
	}
	ev := []osprey.Evidence{{Detector: EvidenceErrors, Score: a.Score, Reason: fmt.Sprintf(
		"error-level %s on %s: %s error lines in %s, expected %s (%s); most frequent template %s (%d lines)",
		what, where, num(a.Observed), d.cfg.Bucket, num(a.Expected), ratio(a.Observed, a.Expected), top, n)}}
	ev = append(ev, a.Evidence...)
	for _, smp := range e.samples {
		ev = append(ev, sampleEvidence(smp))
	}
	a.Evidence = ev
	return a
}

// Flush closes the buckets of sources that went quiet (the clock is a
// bucket past their open bucket's end) and hands on what is pending.
func (d *Detector) Flush(ctx context.Context) error {
	now := d.now().UnixNano()
	d.mu.Lock()
	for _, s := range d.sources {
		if s.open >= 0 && now >= (s.open+2)*d.width {
			d.closeLocked(s)
		}
	}
	d.mu.Unlock()
	return d.Emit(ctx)
}

// Emit hands on the count series and anomalies found since the last call:
// the series to Options.Counts (a failure is counted, not returned), then
// the anomalies to Options.Out (whose error is returned; the anomalies are
// not retried).
func (d *Detector) Emit(ctx context.Context) error {
	d.emitMu.Lock()
	defer d.emitMu.Unlock()
	d.mu.Lock()
	found, series := d.pending, d.series
	d.pending, d.series = nil, nil
	for _, f := range found {
		f.taken = true
	}
	d.mu.Unlock()
	var countsErr bool
	if len(series) > 0 && d.counts != nil {
		if err := d.counts.ConsumeSeries(ctx, series); err != nil {
			countsErr = true
			d.log.Warn("write log count series", "series", len(series), "err", err)
		}
	}
	if len(found) == 0 {
		if countsErr {
			d.mu.Lock()
			d.stats.CountsRejected++
			d.mu.Unlock()
		}
		return nil
	}
	batch := make([]osprey.Anomaly, len(found))
	for i, f := range found {
		// The callee owns the batch; the trackers keep their own copy.
		batch[i] = f.a
		batch[i].Labels = f.a.Labels.Clone()
		batch[i].Evidence = d.withTemplate(f.source, f.a.TemplateID, f.a.Evidence)
	}
	err := d.out.ConsumeAnomalies(ctx, batch)
	if countsErr || err != nil {
		d.mu.Lock()
		if countsErr {
			d.stats.CountsRejected++
		}
		if err != nil {
			d.stats.AnomaliesFailed++
		}
		d.mu.Unlock()
	}
	if err != nil {
		return fmt.Errorf("log anomalies: %w", err)
	}
	return nil
}

// withTemplate returns ev with the template's current text as its second
// entry (after the reason), replacing one an earlier hand-off added.
func (d *Detector) withTemplate(src, id string, ev []osprey.Evidence) []osprey.Evidence {
	if id == "" || d.lookup == nil {
		return slices.Clone(ev)
	}
	t, ok := d.lookup(src, id)
	if !ok {
		return slices.Clone(ev)
	}
	entry := osprey.TemplateEvidence(id, t.Template)
	out := make([]osprey.Evidence, 0, len(ev)+1) // a copy: ev is shared with the trackers
	for i, e := range ev {
		if e.Detector == EvidenceTemplate {
			continue
		}
		out = append(out, e)
		if i == 0 {
			out = append(out, entry)
		}
	}
	if len(out) == 0 {
		out = append(out, entry)
	}
	return out
}

// Start starts the timer that calls Flush. It returns at once.
func (d *Detector) Start(ctx context.Context) error {
	d.started = true
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	go func() {
		defer close(d.done)
		defer cancel()
		t := time.NewTicker(d.every)
		defer t.Stop()
		for {
			select {
			case <-d.stop:
				return
			case <-t.C:
				if err := d.Flush(lctx); err != nil {
					d.log.Warn("flush log anomalies", "err", err)
				}
			}
		}
	}()
	return nil
}

// Shutdown stops the timer and hands on what is pending; the open buckets,
// which are incomplete, are not closed. It is idempotent.
func (d *Detector) Shutdown(ctx context.Context) error {
	d.stopOnce.Do(func() { close(d.stop) })
	if d.started {
		select {
		case <-d.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return d.Emit(ctx)
}

// anomalyLabels are a log anomaly's labels: source, service when known,
// template_id when known.
func anomalyLabels(src, service, id string) osprey.Labels {
	l := osprey.Labels{LabelSource: src}
	if service != "" {
		l[osprey.LabelService] = service
	}
	if id != "" {
		l[LabelTemplateID] = id
	}
	return l
}

// fingerprint tells a template's new-template, rate and error anomalies
// apart although they share labels.
func fingerprint(l osprey.Labels, kind string) osprey.Fingerprint {
	c := l.Clone()
	c["__log_anomaly"] = kind
	return c.Fingerprint()
}

// isError reports whether level is error or worse.
func isError(level string) bool {
	switch level {
	case "error", "err", "critical", "crit", "fatal", "panic", "emerg", "emergency", "alert":
		return true
	}
	return false
}

func addSample(dst []string, line string) []string {
	if len(dst) >= maxSamples {
		return dst
	}
	return append(dst, clip(line))
}

func sampleEvidence(line string) osprey.Evidence {
	return osprey.Evidence{Detector: EvidenceSample, Reason: clip(line)}
}

func countSamples(ev []osprey.Evidence) int {
	n := 0
	for _, e := range ev {
		if e.Detector == EvidenceSample {
			n++
		}
	}
	return n
}

// clip shortens a sample line to maxSampleBytes at a rune boundary; it
// always copies, so the sample does not pin the record's buffer.
func clip(s string) string {
	if len(s) <= maxSampleBytes {
		return string([]byte(s))
	}
	cut := maxSampleBytes
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func num(v float64) string { return fmt.Sprintf("%.4g", v) }

// ratio says how far observed is from expected, as a factor.
func ratio(observed, expected float64) string {
	switch {
	case expected <= 0 && observed <= 0:
		return "no change"
	case expected <= 0:
		return "none expected"
	case observed >= expected:
		return fmt.Sprintf("%.3g× expected", observed/expected)
	case observed <= 0:
		return "none seen"
	default:
		return fmt.Sprintf("%.3g× expected", observed/expected)
	}
}
