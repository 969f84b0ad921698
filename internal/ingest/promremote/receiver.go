package promremote

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/auth"
	"github.com/osprey-aiops/osprey/internal/ingest"
	"github.com/osprey-aiops/osprey/internal/metricstore"
)

// RouteWrite is the remote_write route.
const RouteWrite = "POST /api/v1/write"

// ReceiverName is the receiver's name in ingest.Stats.
const ReceiverName = "prometheus_remote_write"

// Limits bound what one request may hold. Zero fields take the defaults of
// DefaultLimits.
type Limits struct {
	// MaxBodyBytes caps the compressed body (server.max_body_bytes).
	MaxBodyBytes int64
	// MaxDecodedBytes caps the decompressed body.
	MaxDecodedBytes int64
	// MaxLabelsPerSeries caps the labels of a series, __name__ included.
	MaxLabelsPerSeries int
	// MaxLabelBytes caps a label name or value.
	MaxLabelBytes int
	// MaxFuture is how far after now a sample may be.
	MaxFuture time.Duration
}

// DefaultLimits returns the limits config.Default uses.
func DefaultLimits() Limits {
	return Limits{MaxBodyBytes: 4 << 20, MaxDecodedBytes: 32 << 20, MaxLabelsPerSeries: 64, MaxLabelBytes: 4096, MaxFuture: 10 * time.Minute}
}

// Options configure a Receiver. Store is required.
type Options struct {
	// Store keeps the samples.
	Store *metricstore.Store
	// Next receives the accepted samples of each request after they are
	// committed, and owns the batch (the slice and its Samples) from then
	// on. The Labels maps are shared between batches (one per series, for
	// as long as the receiver caches the series): Next must not modify
	// them. It must not block: the request waits for it. A failure is
	// counted, not returned to the sender, whose samples are stored. May
	// be nil.
	Next osprey.SeriesConsumer
	// Stats receives the data-quality counts; nil means a private Stats.
	Stats *ingest.Stats
	// Limits bound requests; zero fields take DefaultLimits' values.
	Limits Limits
	// Now is the clock for the too-far-in-the-future check; default
	// time.Now.
	Now func() time.Time
	// Logger receives storage failures; default discards.
	Logger *slog.Logger
	// Registerer receives the receiver's own metrics; nil leaves them
	// unregistered.
	Registerer prometheus.Registerer
	// MaxCachedSeries bounds the cache of series seen before; zero means
	// DefaultMaxCachedSeries. An entry of a series of ten labels takes
	// about 390 bytes, 1,050 with a Next (the hand-off label map):
	// BenchmarkSeriesCacheMemory.
	MaxCachedSeries int
}

// Receiver serves POST /api/v1/write. It is safe for concurrent use.
type Receiver struct {
	store  *metricstore.Store
	next   osprey.SeriesConsumer
	recv   *ingest.Receiver
	limits Limits
	now    func() time.Time
	log    *slog.Logger
	cache  *seriesCache

	handoffFailures, handoffSamples prometheus.Counter
	// v2 holds the remote-write 2.0 metrics (v2.go).
	v2 v2Metrics
}

// New returns a Receiver.
func New(opts Options) (*Receiver, error) {
	if opts.Store == nil {
		return nil, errors.New("promremote: no metric store")
	}
	l, d := opts.Limits, DefaultLimits()
	if opts.MaxCachedSeries < 0 {
		return nil, fmt.Errorf("promremote: negative series cache size %d", opts.MaxCachedSeries)
	}
	if l.MaxBodyBytes < 0 || l.MaxDecodedBytes < 0 || l.MaxLabelsPerSeries < 0 || l.MaxLabelBytes < 0 || l.MaxFuture < 0 {
		return nil, fmt.Errorf("promremote: negative limit in %+v", l)
	}
	l.MaxBodyBytes = cmp.Or(l.MaxBodyBytes, d.MaxBodyBytes)
	l.MaxDecodedBytes = cmp.Or(l.MaxDecodedBytes, d.MaxDecodedBytes)
	l.MaxLabelsPerSeries = cmp.Or(l.MaxLabelsPerSeries, d.MaxLabelsPerSeries)
	l.MaxLabelBytes = cmp.Or(l.MaxLabelBytes, d.MaxLabelBytes)
	l.MaxFuture = cmp.Or(l.MaxFuture, d.MaxFuture)
	stats := opts.Stats
	if stats == nil {
		stats = ingest.NewStats()
	}
	r := &Receiver{
		store:  opts.Store,
		next:   opts.Next,
		recv:   stats.Receiver(ReceiverName),
		limits: l,
		now:    opts.Now,
		log:    opts.Logger,
		cache:  newSeriesCache(cmp.Or(opts.MaxCachedSeries, DefaultMaxCachedSeries)),
		handoffFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "osprey_remote_write_handoff_failures_total",
			Help: "Batches of stored remote_write samples that could not be handed to the detect stage (its queue was full); they are in the TSDB but were not scored.",
		}),
		handoffSamples: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "osprey_remote_write_handoff_failed_samples_total",
			Help: "Samples in the batches counted by osprey_remote_write_handoff_failures_total.",
		}),
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if opts.Registerer != nil {
		cacheSize := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "osprey_remote_write_series_cache_series",
			Help: "Series the remote_write receiver remembers (labels checked, TSDB reference known).",
		}, func() float64 { return float64(r.cache.len()) })
		cacheResets := prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "osprey_remote_write_series_cache_resets_total",
			Help: "Times the remote_write series cache was full and emptied; frequent resets mean more active series than its bound.",
		}, func() float64 { return float64(r.cache.resets.Load()) })
		for _, c := range []prometheus.Collector{r.handoffFailures, r.handoffSamples, cacheSize, cacheResets} {
			if err := opts.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("promremote: register metrics: %w", err)
			}
		}
	}
	var err error
	if r.v2, err = newV2Metrics(opts.Registerer); err != nil {
		return nil, err
	}
	return r, nil
}

// Routes returns the route to mount, for the operator role.
func (r *Receiver) Routes() []ingest.Route {
	return []ingest.Route{{Pattern: RouteWrite, Role: auth.RoleOperator, Receiver: r.recv, Handler: http.HandlerFunc(r.serveWrite)}}
}

// serveWrite handles one remote_write request.
func (r *Receiver) serveWrite(w http.ResponseWriter, req *http.Request) {
	if r.serveNegotiated(w, req) { // remote-write 2.0, unknown messages: v2.go
		return
	}
	wr := getWire()
	defer putWire(wr)
	if rerr := r.decodeRequest(w, req, wr); rerr != nil {
		r.recv.RejectRequest(rerr.reason)
		ingest.WriteError(w, rerr.code, rerr.msg, -1)
		return
	}
	res, err := r.write(req.Context(), wr)
	if err != nil {
		n := wr.numSamples()
		r.recv.Rejected(ingest.ReasonStore, n)
		r.recv.Done(0, n)
		r.log.Error("store remote_write samples", "samples", n, "err", err)
		ingest.WriteError(w, http.StatusServiceUnavailable, "store samples: the TSDB is unavailable, nothing was stored; retry", -1)
		return
	}
	if rejected := r.account(req.Context(), &res); rejected > 0 {
		ingest.WriteError(w, http.StatusBadRequest, res.summary(rejected), -1)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// account counts a stored request's accepted and rejected samples by
// reason, hands the accepted ones to the next stage (a failed hand-off is
// counted; the samples are stored either way) and returns how many were
// rejected.
func (r *Receiver) account(ctx context.Context, res *result) int {
	rejected := 0
	for i, n := range res.rejected {
		if n > 0 {
			r.recv.Rejected(reasons[i], n)
			rejected += n
		}
	}
	r.recv.Done(res.accepted, rejected)
	if len(res.handoff) > 0 && r.next != nil {
		n := res.handoffSamples
		if err := r.next.ConsumeSeries(ctx, res.handoff); err != nil {
			r.handoffFailures.Inc()
			r.handoffSamples.Add(float64(n))
		}
	}
	return rejected
}

// rejection indexes the per-request rejection counts.
type rejection int

const (
	rejInvalid rejection = iota
	rejLabelLimit
	rejOutOfOrder
	rejDuplicate
	rejTooOld
	rejFuture
	rejCap
	rejSeriesPerMetric
	numRejections
)

// reasons maps each rejection to its ingest.Reason.
var reasons = [numRejections]ingest.Reason{
	ingest.ReasonInvalid, ingest.ReasonLabelLimit, ingest.ReasonOutOfOrder, ingest.ReasonDuplicate,
	ingest.ReasonTooOld, ingest.ReasonTooFarInFuture, ingest.ReasonCardinalityCap, ingest.ReasonSeriesPerMetric,
}

// fromOutcome maps a TSDB outcome to a rejection.
var fromOutcome = [...]rejection{
	metricstore.OutcomeOutOfOrder:     rejOutOfOrder,
	metricstore.OutcomeDuplicate:      rejDuplicate,
	metricstore.OutcomeTooOld:         rejTooOld,
	metricstore.OutcomeCardinalityCap: rejCap,
	// A new series of a metric name at tsdb.max_series_per_metric.
	metricstore.OutcomeSeriesPerMetric: rejSeriesPerMetric,
}

// result is what became of one request's samples.
type result struct {
	accepted int
	rejected [numRejections]int
	// first describes the first rejection, for the reply.
	first string
	// handoff holds the accepted samples for the next stage.
	handoff        []osprey.Series
	handoffSamples int
	// handoffBuf holds the samples of every series in handoff.
	handoffBuf []osprey.Sample
}

// reject counts n samples rejected as why, remembering the first reason.
func (res *result) reject(why rejection, n int, lset labels.Labels, format string, args ...any) {
	if n <= 0 {
		return
	}
	res.rejected[why] += n
	if res.first == "" {
		res.first = fmt.Sprintf("series %s: %s", ingest.Truncate(lset.String(), 256), fmt.Sprintf(format, args...))
	}
}

// summary is the error message of a reply to a partly rejected request.
func (res *result) summary(rejected int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d of %d samples rejected (", rejected, rejected+res.accepted)
	sep := ""
	for i, n := range res.rejected {
		if n > 0 {
			fmt.Fprintf(&b, "%s%s %d", sep, reasons[i], n)
			sep = ", "
		}
	}
	fmt.Fprintf(&b, "), %d stored; first: %s", res.accepted, res.first)
	return b.String()
}

// write appends the samples of wr to the TSDB and commits them. An error
// means nothing was stored.
func (r *Receiver) write(ctx context.Context, wr *wireRequest) (result, error) {
	var res result
	app, err := r.store.Appender(ctx)
	if err != nil {
		return res, err
	}
	maxT := r.now().Add(r.limits.MaxFuture).UnixMilli()
	if r.next != nil {
		res.handoff = make([]osprey.Series, 0, len(wr.series))
		res.handoffBuf = make([]osprey.Sample, 0, len(wr.samples))
	}
	// Known series first, under one read lock of the cache.
	gen := app.Generation()
	known := make([]*cachedSeries, len(wr.series))
	r.cache.lookup(gen, wr.series, known)
	var (
		added []newEntry
		b     labels.ScratchBuilder
	)
	for i := range wr.series {
		ws := &wr.series[i]
		e := known[i]
		if e == nil {
			if e = r.newSeries(&b, wr, ws, &res); e == nil {
				continue
			}
			if ws.key != "" {
				added = append(added, newEntry{key: ws.key, e: e})
			}
		} else if ws.histograms > 0 {
			res.reject(rejInvalid, int(ws.histograms), e.lset, "native histograms are not supported yet")
		}
		if err := r.appendSamples(app, e, wr.seriesSamples(ws), maxT, &res); err != nil {
			app.Rollback()
			return result{}, err
		}
	}
	if _, err := app.Commit(); err != nil {
		return result{}, err
	}
	r.recv.Warned(ingest.WarnNonFinite, app.NonFinite())
	// Only series the TSDB holds: one refused by the cardinality cap has
	// no ref, and is checked again next time.
	added = slices.DeleteFunc(added, func(a newEntry) bool { return a.e.ref.Load() == 0 })
	r.cache.add(gen, added)
	return res, nil
}

// newSeries builds and checks the labels of a series not in the cache. It
// returns nil, having counted the rejection, when the series is refused.
func (r *Receiver) newSeries(b *labels.ScratchBuilder, wr *wireRequest, ws *wireSeries, res *result) *cachedSeries {
	lset, why, msg := r.seriesLabels(b, wr.seriesLabels(ws))
	if ws.histograms > 0 {
		res.reject(rejInvalid, int(ws.histograms), lset, "native histograms are not supported yet")
	}
	if msg != "" {
		res.reject(why, int(ws.samplesHi-ws.samplesLo), lset, "%s", msg)
		return nil
	}
	e := &cachedSeries{lset: lset}
	if r.next != nil {
		e.handoff = make(osprey.Labels, lset.Len())
		lset.Range(func(l labels.Label) { e.handoff[l.Name] = l.Value })
	}
	return e
}

// appendSamples appends the samples of the series e.
func (r *Receiver) appendSamples(app *metricstore.Appender, e *cachedSeries, samples []wireSample, maxT int64, res *result) error {
	var (
		ref         = e.seriesRef()
		prevT int64 = math.MinInt64
		first       = len(res.handoffBuf)
	)
	for k, s := range samples {
		switch {
		case s.t > maxT:
			res.reject(rejFuture, 1, e.lset, "sample at %s is more than %s after Osprey's clock", time.UnixMilli(s.t).UTC().Format(time.RFC3339), r.limits.MaxFuture)
			continue
		case s.t == prevT:
			res.reject(rejDuplicate, 1, e.lset, "two samples at %d in one request", s.t)
			continue
		case s.t < prevT:
			res.reject(rejOutOfOrder, 1, e.lset, "sample at %d after one at %d in the same request", s.t, prevT)
			continue
		}
		o, err := app.Append(&ref, e.lset, s.t, s.v)
		if err != nil {
			return err
		}
		if o != metricstore.OutcomeAppended {
			why := fromOutcome[o]
			if o == metricstore.OutcomeCardinalityCap || o == metricstore.OutcomeSeriesPerMetric {
				// The series cannot be created: its other samples go
				// the same way.
				msg := "new series while tsdb.max_series series are active"
				if o == metricstore.OutcomeSeriesPerMetric {
					msg = "new series while its metric name has tsdb.max_series_per_metric series"
				}
				res.reject(why, len(samples)-k, e.lset, "%s", msg)
				break
			}
			res.reject(why, 1, e.lset, "sample at %d: %s", s.t, o)
			continue
		}
		prevT = s.t
		res.accepted++
		if r.next != nil {
			res.handoffBuf = append(res.handoffBuf, osprey.Sample{TimestampMs: s.t, Value: s.v})
		}
	}
	if uint64(ref) != e.ref.Load() {
		e.ref.Store(uint64(ref))
	}
	if n := len(res.handoffBuf) - first; n > 0 {
		// A full slice expression, so that the consumer cannot append
		// into the next series' samples.
		res.handoff = append(res.handoff, osprey.Series{Labels: e.handoff, Samples: res.handoffBuf[first:len(res.handoffBuf):len(res.handoffBuf)]})
		res.handoffSamples += n
	}
	return nil
}

// seriesLabels builds and checks a series' labels. On a problem it returns
// the rejection and a message (and the labels as far as they were built).
func (r *Receiver) seriesLabels(b *labels.ScratchBuilder, in []wireLabel) (labels.Labels, rejection, string) {
	b.Reset()
	var problem string
	why := rejInvalid
	for _, w := range in {
		l := labels.Label{Name: w.name, Value: w.value}
		if l.Value == "" {
			continue // absent, as in Prometheus
		}
		switch {
		case len(l.Name) > r.limits.MaxLabelBytes:
			problem, why = fmt.Sprintf("label name %q... longer than %d bytes", ingest.Truncate(l.Name, 32), r.limits.MaxLabelBytes), rejLabelLimit
		case len(l.Value) > r.limits.MaxLabelBytes:
			problem, why = fmt.Sprintf("value of label %s longer than %d bytes", ingest.Truncate(l.Name, 64), r.limits.MaxLabelBytes), rejLabelLimit
		case l.Name == labels.MetricName:
			if !validMetricName(l.Value) && problem == "" {
				problem = fmt.Sprintf("invalid metric name %q (want [a-zA-Z_:][a-zA-Z0-9_:]*)", ingest.Truncate(l.Value, 64))
			}
		case !ingest.ValidLabelName(l.Name) && problem == "":
			problem = fmt.Sprintf("invalid label name %q (want [a-zA-Z_][a-zA-Z0-9_]*)", ingest.Truncate(l.Name, 64))
		}
		b.Add(l.Name, l.Value)
	}
	b.Sort()
	lset := b.Labels()
	switch {
	case why == rejLabelLimit:
		return lset, why, problem
	case lset.Len() > r.limits.MaxLabelsPerSeries:
		return lset, rejLabelLimit, fmt.Sprintf("%d labels, at most %d allowed", lset.Len(), r.limits.MaxLabelsPerSeries)
	case problem != "":
		return lset, rejInvalid, problem
	case lset.Get(labels.MetricName) == "":
		return lset, rejInvalid, "no metric name (__name__ label)"
	}
	if name, dup := lset.HasDuplicateLabelNames(); dup {
		return lset, rejInvalid, fmt.Sprintf("label %s given twice", name)
	}
	return lset, 0, ""
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
