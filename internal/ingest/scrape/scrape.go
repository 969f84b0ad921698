package scrape

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/textparse"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/storage"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/buildinfo"
	"github.com/osprey-aiops/osprey/internal/ingest"
	"github.com/osprey-aiops/osprey/internal/metricstore"
)

// ReceiverName is the scraper's name in ingest.Stats.
const ReceiverName = "scrape"

// AcceptHeader is the Accept header of every scrape: the one a Prometheus
// server sends with its default scrape protocols (OpenMetrics first), asking
// for metric names escaped to Prometheus' classic syntax.
const AcceptHeader = "application/openmetrics-text;version=1.0.0;escaping=underscores;q=0.6," +
	"application/openmetrics-text;version=0.0.1;q=0.5," +
	"text/plain;version=1.0.0;escaping=underscores;q=0.4," +
	"text/plain;version=0.0.4;q=0.3,*/*;q=0.2"

// Limits bound what one scrape may hold. Zero fields take DefaultLimits'
// values.
type Limits struct {
	// MaxBodyBytes caps the body once decompressed.
	MaxBodyBytes int64
	// MaxLabelsPerSeries caps the labels of a series, __name__ and the
	// target labels included.
	MaxLabelsPerSeries int
	// MaxLabelBytes caps a label name or value.
	MaxLabelBytes int
	// MaxFuture is how far after now an exposed timestamp may be.
	MaxFuture time.Duration
}

// DefaultLimits returns the limits config.Default uses.
func DefaultLimits() Limits {
	return Limits{MaxBodyBytes: 64 << 20, MaxLabelsPerSeries: 64, MaxLabelBytes: 4096, MaxFuture: 10 * time.Minute}
}

// Options configure a Scraper. Store is required.
type Options struct {
	// Targets are scraped each in its own loop.
	Targets []Target
	// Store keeps the samples.
	Store *metricstore.Store
	// Next receives the stored samples of each scrape (and up); it must
	// not block. May be nil.
	Next osprey.SeriesConsumer
	// Stats receives the data-quality counts; nil means a private Stats.
	Stats *ingest.Stats
	// Limits bound scrapes; zero fields take DefaultLimits' values.
	Limits Limits
	// Client does the HTTP requests; default a client with Go's default
	// transport settings and no overall timeout (each scrape has its own).
	Client *http.Client
	// Now is the clock; default time.Now.
	Now func() time.Time
	// After waits on the clock, as time.After; default time.After. Tests
	// inject a channel they control.
	After func(time.Duration) <-chan time.Time
	// Logger receives failures at debug level (a down target is normal
	// and shows as up == 0); default discards.
	Logger *slog.Logger
	// Registerer receives osprey_scrape_*; nil leaves them unregistered.
	Registerer prometheus.Registerer
}

// Scraper scrapes its targets until Shutdown. It is an osprey.Component.
type Scraper struct {
	store  *metricstore.Store
	next   osprey.SeriesConsumer
	recv   *ingest.Receiver
	limits Limits
	client *http.Client
	now    func() time.Time
	after  func(time.Duration) <-chan time.Time
	log    *slog.Logger

	failures        *prometheus.CounterVec
	handoffFailures prometheus.Counter

	loops []*loop

	mu      sync.Mutex
	cancel  context.CancelFunc
	done    chan struct{}
	stopped bool
}

var _ osprey.Component = (*Scraper)(nil)

// New returns a Scraper of opts.Targets.
func New(opts Options) (*Scraper, error) {
	if opts.Store == nil {
		return nil, errors.New("scrape: no metric store")
	}
	l, d := opts.Limits, DefaultLimits()
	if l.MaxBodyBytes < 0 || l.MaxLabelsPerSeries < 0 || l.MaxLabelBytes < 0 || l.MaxFuture < 0 {
		return nil, fmt.Errorf("scrape: negative limit in %+v", l)
	}
	l.MaxBodyBytes = cmp.Or(l.MaxBodyBytes, d.MaxBodyBytes)
	l.MaxLabelsPerSeries = cmp.Or(l.MaxLabelsPerSeries, d.MaxLabelsPerSeries)
	l.MaxLabelBytes = cmp.Or(l.MaxLabelBytes, d.MaxLabelBytes)
	l.MaxFuture = cmp.Or(l.MaxFuture, d.MaxFuture)
	stats := opts.Stats
	if stats == nil {
		stats = ingest.NewStats()
	}
	s := &Scraper{
		store:  opts.Store,
		next:   opts.Next,
		recv:   stats.Receiver(ReceiverName),
		limits: l,
		client: opts.Client,
		now:    opts.Now,
		after:  opts.After,
		log:    opts.Logger,
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "osprey_scrape_failures_total",
			Help: "Scrapes that stored no samples, by job and reason: connect (no reply), http_status (not 200), too_large, malformed, store.",
		}, []string{"job", "reason"}),
		handoffFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "osprey_scrape_handoff_failures_total",
			Help: "Scrapes whose stored samples could not be handed to the detect stage (its queue was full); they are in the TSDB but were not scored.",
		}),
	}
	if s.client == nil {
		s.client = &http.Client{}
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.after == nil {
		s.after = time.After
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	for i := range opts.Targets {
		t := opts.Targets[i]
		if t.Interval <= 0 || t.Timeout <= 0 || t.URL == "" {
			return nil, fmt.Errorf("scrape: target %q of job %q needs a URL, an interval and a timeout", t.URL, t.Job)
		}
		s.loops = append(s.loops, newLoop(s, &t))
	}
	if opts.Registerer != nil {
		for _, c := range []prometheus.Collector{s.failures, s.handoffFailures} {
			if err := opts.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("scrape: register metrics: %w", err)
			}
		}
	}
	return s, nil
}

// Start starts one loop per target and returns.
func (s *Scraper) Start(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancel != nil || s.stopped {
		return errors.New("scrape: already started")
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel, s.done = cancel, make(chan struct{})
	var wg sync.WaitGroup
	for _, l := range s.loops {
		wg.Go(func() { l.run(ctx) })
	}
	go func() {
		wg.Wait()
		close(s.done)
	}()
	return nil
}

// Shutdown cancels the scrapes in flight and waits for the loops, within
// ctx. It is idempotent.
func (s *Scraper) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.stopped = true
	cancel, done := s.cancel, s.done
	s.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("scrape: loops still running: %w", ctx.Err())
	}
}

// Report is what became of one scrape.
type Report struct {
	// Up is true when the target answered with a body that parsed.
	Up bool
	// Err says why the scrape failed.
	Err error
	// Scraped is the number of samples in the body; Stored those
	// appended; Rejected those refused.
	Scraped, Stored, Rejected int
	// Added is the number of series not in the previous scrape.
	Added int
	// Duration is how long fetching and parsing took.
	Duration time.Duration
}

// loop scrapes one target.
type loop struct {
	s   *Scraper
	t   *Target
	buf bytes.Buffer
	st  *labels.SymbolTable
	// prev holds the series of the last scrape (without explicit
	// timestamps), for staleness markers; cur is reused for the next.
	prev, cur map[uint64]labels.Labels
}

func newLoop(s *Scraper, t *Target) *loop {
	return &loop{s: s, t: t, st: labels.NewSymbolTable(), prev: map[uint64]labels.Labels{}, cur: map[uint64]labels.Labels{}}
}

// run scrapes at the target's offset in every interval until ctx is done.
func (l *loop) run(ctx context.Context) {
	iv := l.t.Interval
	now := l.s.now()
	next := now.Truncate(iv).Add(l.t.offset())
	if next.Before(now) {
		next = next.Add(iv)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.s.after(next.Sub(l.s.now())):
		}
		if ctx.Err() != nil {
			return
		}
		l.scrape(ctx)
		next = next.Add(iv)
		if now := l.s.now(); !next.After(now) {
			// Scrapes were missed (a slow target, a suspended host):
			// skip to the next slot in the future, keeping the phase.
			next = next.Add(iv * (now.Sub(next)/iv + 1))
		}
	}
}

// failure reasons of osprey_scrape_failures_total.
const (
	failConnect  = "connect"
	failStatus   = "http_status"
	failTooLarge = "too_large"
	failParse    = "malformed"
	failStore    = "store"
)

// scrapeError is a failed scrape with its reason.
type scrapeError struct {
	reason string
	err    error
}

func (e *scrapeError) Error() string { return e.err.Error() }
func (e *scrapeError) Unwrap() error { return e.err }

// scrape scrapes the target once, stores what it got and the report
// series, and returns the report.
func (l *loop) scrape(ctx context.Context) Report {
	start := l.s.now()
	ts := start.UnixMilli()
	var rep Report
	samples, err := l.fetchAndParse(ctx)
	rep.Duration = l.s.now().Sub(start)
	if ctx.Err() != nil {
		// Shutting down: the target is not down, the scrape was cut.
		rep.Err = ctx.Err()
		return rep
	}
	if err == nil {
		rep.Up = true
		rep.Scraped = len(samples)
	} else {
		rep.Err = err
		samples = nil
	}
	if err := l.store(ctx, ts, samples, &rep); err != nil {
		if rep.Err == nil {
			rep.Err = &scrapeError{failStore, err}
		}
		l.s.log.Warn("store scraped samples", "job", l.t.Job, "url", l.t.URL, "err", err)
	}
	var se *scrapeError
	if errors.As(rep.Err, &se) {
		l.s.failures.WithLabelValues(l.t.Job, se.reason).Inc()
		l.s.log.Debug("scrape failed", "job", l.t.Job, "url", l.t.URL, "reason", se.reason, "err", se.err)
	}
	return rep
}

// sample is one parsed sample, its labels final.
type sample struct {
	lset labels.Labels
	t    *int64
	v    float64
}

// fetchAndParse fetches the body and parses it.
func (l *loop) fetchAndParse(ctx context.Context) ([]sample, error) {
	ctx, cancel := context.WithTimeout(ctx, l.t.Timeout)
	defer cancel()
	ctype, err := l.fetch(ctx)
	if err != nil {
		return nil, err
	}
	out, err := l.parse(l.buf.Bytes(), ctype)
	if err != nil {
		l.s.recv.RejectRequest(ingest.ReasonMalformed)
		return nil, &scrapeError{failParse, err}
	}
	return out, nil
}

// fetch GETs the target into l.buf and returns the Content-Type.
func (l *loop) fetch(ctx context.Context) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, l.t.URL, http.NoBody)
	if err != nil {
		return "", &scrapeError{failConnect, err}
	}
	req.Header.Set("Accept", AcceptHeader)
	req.Header.Set("User-Agent", "Osprey/"+buildinfo.Version)
	req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", strconv.FormatFloat(l.t.Timeout.Seconds(), 'f', -1, 64))
	resp, err := l.s.client.Do(req)
	if err != nil {
		return "", &scrapeError{failConnect, err}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return "", &scrapeError{failStatus, fmt.Errorf("server returned HTTP status %s", resp.Status)}
	}
	l.buf.Reset()
	max := l.s.limits.MaxBodyBytes
	n, err := l.buf.ReadFrom(io.LimitReader(resp.Body, max+1))
	if err != nil {
		return "", &scrapeError{failConnect, fmt.Errorf("read body: %w", err)}
	}
	if n > max {
		l.s.recv.RejectRequest(ingest.ReasonTooLarge)
		return "", &scrapeError{failTooLarge, fmt.Errorf("body larger than %d bytes (scrape.max_body_bytes)", max)}
	}
	return resp.Header.Get("Content-Type"), nil
}

// parse parses body with Prometheus' parser for ctype and applies the
// target labels. Invalid samples are kept with empty labels, to be
// counted when stored.
func (l *loop) parse(body []byte, ctype string) ([]sample, error) {
	p, err := textparse.New(body, ctype, l.st, textparse.ParserOptions{FallbackContentType: "text/plain"})
	if p == nil {
		return nil, fmt.Errorf("content type: %w", err)
	}
	var (
		out  []sample
		lset labels.Labels
		lb   = labels.NewBuilder(labels.EmptyLabels())
	)
	for {
		e, err := p.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		switch e {
		case textparse.EntrySeries:
			_, tp, v := p.Series()
			p.Labels(&lset)
			var t *int64
			if tp != nil {
				tv := *tp
				t = &tv
			}
			out = append(out, sample{lset: l.targetLabels(lb, lset), t: t, v: v})
		case textparse.EntryHistogram:
			// Native histograms are not supported: counted as invalid.
			out = append(out, sample{lset: labels.EmptyLabels(), v: math.NaN()})
		}
	}
}

// targetLabels adds the target labels to lset, resolving clashes as
// honor_labels says.
func (l *loop) targetLabels(lb *labels.Builder, lset labels.Labels) labels.Labels {
	lb.Reset(lset)
	if l.t.HonorLabels {
		l.t.Labels.Range(func(tl labels.Label) {
			if !lset.Has(tl.Name) {
				lb.Set(tl.Name, tl.Value)
			}
		})
		return lb.Labels()
	}
	var clashes []labels.Label
	l.t.Labels.Range(func(tl labels.Label) {
		if v := lset.Get(tl.Name); v != "" {
			clashes = append(clashes, labels.Label{Name: tl.Name, Value: v})
		}
		lb.Set(tl.Name, tl.Value)
	})
	// As Prometheus: shorter names first, exported_ prefixed until free.
	for i := 1; i < len(clashes); i++ {
		for j := i; j > 0 && len(clashes[j].Name) < len(clashes[j-1].Name); j-- {
			clashes[j], clashes[j-1] = clashes[j-1], clashes[j]
		}
	}
	for _, c := range clashes {
		name := c.Name
		for {
			name = "exported_" + name
			if lb.Get(name) == "" {
				lb.Set(name, c.Value)
				break
			}
		}
	}
	return lb.Labels()
}

// check validates a series' labels as remote_write does; it returns the
// rejection reason, or "" when the series is fine.
func (l *loop) check(lset labels.Labels) ingest.Reason {
	if lset.IsEmpty() || !validMetricName(lset.Get(labels.MetricName)) {
		return ingest.ReasonInvalid
	}
	if lset.Len() > l.s.limits.MaxLabelsPerSeries {
		return ingest.ReasonLabelLimit
	}
	var why ingest.Reason
	lset.Range(func(lb labels.Label) {
		switch {
		case why != "":
		case len(lb.Name) > l.s.limits.MaxLabelBytes || len(lb.Value) > l.s.limits.MaxLabelBytes:
			why = ingest.ReasonLabelLimit
		case lb.Name != labels.MetricName && !ingest.ValidLabelName(lb.Name):
			why = ingest.ReasonInvalid
		}
	})
	return why
}

// reasonOf maps TSDB outcomes to ingest reasons.
var reasonOf = map[metricstore.Outcome]ingest.Reason{
	metricstore.OutcomeOutOfOrder:     ingest.ReasonOutOfOrder,
	metricstore.OutcomeDuplicate:      ingest.ReasonDuplicate,
	metricstore.OutcomeTooOld:         ingest.ReasonTooOld,
	metricstore.OutcomeCardinalityCap: ingest.ReasonCardinalityCap,
	// A new series of a metric name at tsdb.max_series_per_metric.
	metricstore.OutcomeSeriesPerMetric: ingest.ReasonSeriesPerMetric,
}

// store appends the scrape's samples (none for a failed scrape), the
// staleness markers of vanished series and the report series at ts, in
// one transaction, then hands the stored samples on.
func (l *loop) store(ctx context.Context, ts int64, samples []sample, rep *Report) error {
	app, err := l.s.store.Appender(ctx)
	if err != nil {
		if rep.Up {
			l.s.recv.Rejected(ingest.ReasonStore, len(samples))
			l.s.recv.Done(0, len(samples))
		}
		return err
	}
	var (
		handoff  []osprey.Series
		rejected = map[ingest.Reason]int{}
		maxT     = l.s.now().Add(l.s.limits.MaxFuture).UnixMilli()
		ref      storage.SeriesRef
	)
	if l.s.next != nil {
		handoff = make([]osprey.Series, 0, len(samples)+1)
	}
	clear(l.cur)
	for i := range samples {
		smp := &samples[i]
		if why := l.check(smp.lset); why != "" {
			rejected[why]++
			continue
		}
		t := ts
		if smp.t != nil {
			t = *smp.t
			if t > maxT {
				rejected[ingest.ReasonTooFarInFuture]++
				continue
			}
		}
		ref = 0
		o, err := app.Append(&ref, smp.lset, t, smp.v)
		if err != nil {
			app.Rollback()
			if rep.Up {
				l.s.recv.Rejected(ingest.ReasonStore, len(samples))
				l.s.recv.Done(0, len(samples))
			}
			return err
		}
		if o != metricstore.OutcomeAppended {
			rejected[reasonOf[o]]++
			continue
		}
		rep.Stored++
		h := smp.lset.Hash()
		if smp.t == nil {
			l.cur[h] = smp.lset
		}
		if _, ok := l.prev[h]; !ok {
			rep.Added++
		}
		if handoff != nil {
			handoff = append(handoff, toSeries(smp.lset, t, smp.v))
		}
	}
	// Staleness: series of the last scrape that this one lacks (all of
	// them when it failed). A marker the TSDB refuses (the series moved
	// on with its own timestamps) is of no consequence.
	for h, lset := range l.prev {
		if _, ok := l.cur[h]; !ok {
			ref = 0
			if _, err := app.Append(&ref, lset, ts, math.Float64frombits(value.StaleNaN)); err != nil {
				app.Rollback()
				return err
			}
		}
	}
	up := 0.0
	if rep.Up {
		up = 1
	}
	for _, r := range []struct {
		name string
		v    float64
	}{
		{"up", up},
		{"scrape_duration_seconds", rep.Duration.Seconds()},
		{"scrape_samples_scraped", float64(rep.Scraped)},
		{"scrape_samples_post_metric_relabeling", float64(rep.Scraped)},
		{"scrape_series_added", float64(rep.Added)},
	} {
		lb := labels.NewBuilder(l.t.Labels)
		lb.Set(labels.MetricName, r.name)
		lset := lb.Labels()
		ref = 0
		o, err := app.Append(&ref, lset, ts, r.v)
		if err != nil {
			app.Rollback()
			return err
		}
		if r.name == "up" && o == metricstore.OutcomeAppended && handoff != nil {
			handoff = append(handoff, toSeries(lset, ts, r.v))
		}
	}
	if _, err := app.Commit(); err != nil {
		if rep.Up {
			l.s.recv.Rejected(ingest.ReasonStore, len(samples))
			l.s.recv.Done(0, len(samples))
		}
		return err
	}
	l.prev, l.cur = l.cur, l.prev
	if rep.Up {
		l.s.recv.Warned(ingest.WarnNonFinite, app.NonFinite())
		for why, n := range rejected {
			l.s.recv.Rejected(why, n)
			rep.Rejected += n
		}
		l.s.recv.Done(rep.Stored, rep.Rejected)
	}
	if len(handoff) > 0 {
		if err := l.s.next.ConsumeSeries(ctx, handoff); err != nil {
			l.s.handoffFailures.Inc()
		}
	}
	return nil
}

// toSeries converts one stored sample for the next stage.
func toSeries(lset labels.Labels, t int64, v float64) osprey.Series {
	m := make(osprey.Labels, lset.Len())
	lset.Range(func(l labels.Label) { m[l.Name] = l.Value })
	return osprey.Series{Labels: m, Samples: []osprey.Sample{{TimestampMs: t, Value: v}}}
}

// validMetricName reports whether s matches [a-zA-Z_:][a-zA-Z0-9_:]*.
func validMetricName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || c == ':' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9' {
			continue
		}
		return false
	}
	return true
}
