package promremote

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"
	"github.com/prometheus/prometheus/storage"

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
	// committed, and owns them from then on. It must not block: the
	// request waits for it. A failure is counted, not returned to the
	// sender, whose samples are stored. May be nil.
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
}

// Receiver serves POST /api/v1/write. It is safe for concurrent use.
type Receiver struct {
	store  *metricstore.Store
	next   osprey.SeriesConsumer
	recv   *ingest.Receiver
	limits Limits
	now    func() time.Time
	log    *slog.Logger

	handoffFailures, handoffSamples prometheus.Counter
}

// New returns a Receiver.
func New(opts Options) (*Receiver, error) {
	if opts.Store == nil {
		return nil, errors.New("promremote: no metric store")
	}
	l, d := opts.Limits, DefaultLimits()
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
		for _, c := range []prometheus.Collector{r.handoffFailures, r.handoffSamples} {
			if err := opts.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("promremote: register metrics: %w", err)
			}
		}
	}
	return r, nil
}

// Routes returns the route to mount, for the operator role.
func (r *Receiver) Routes() []ingest.Route {
	return []ingest.Route{{Pattern: RouteWrite, Role: auth.RoleOperator, Receiver: r.recv, Handler: http.HandlerFunc(r.serveWrite)}}
}

// serveWrite handles one remote_write request.
func (r *Receiver) serveWrite(w http.ResponseWriter, req *http.Request) {
	wr, rerr := r.decodeRequest(w, req)
	if rerr != nil {
		r.recv.RejectRequest(rerr.reason)
		ingest.WriteError(w, rerr.code, rerr.msg, -1)
		return
	}
	res, err := r.write(req.Context(), wr)
	if err != nil {
		n := countSamples(wr)
		r.recv.Rejected(ingest.ReasonStore, n)
		r.recv.Done(0, n)
		r.log.Error("store remote_write samples", "samples", n, "err", err)
		ingest.WriteError(w, http.StatusServiceUnavailable, "store samples: the TSDB is unavailable, nothing was stored; retry", -1)
		return
	}
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
		if err := r.next.ConsumeSeries(req.Context(), res.handoff); err != nil {
			r.handoffFailures.Inc()
			r.handoffSamples.Add(float64(n))
		}
	}
	if rejected > 0 {
		ingest.WriteError(w, http.StatusBadRequest, res.summary(rejected), -1)
		return
	}
	w.WriteHeader(http.StatusNoContent)
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
	numRejections
)

// reasons maps each rejection to its ingest.Reason.
var reasons = [numRejections]ingest.Reason{
	ingest.ReasonInvalid, ingest.ReasonLabelLimit, ingest.ReasonOutOfOrder, ingest.ReasonDuplicate,
	ingest.ReasonTooOld, ingest.ReasonTooFarInFuture, ingest.ReasonCardinalityCap,
}

// fromOutcome maps a TSDB outcome to a rejection.
var fromOutcome = [...]rejection{
	metricstore.OutcomeOutOfOrder:     rejOutOfOrder,
	metricstore.OutcomeDuplicate:      rejDuplicate,
	metricstore.OutcomeTooOld:         rejTooOld,
	metricstore.OutcomeCardinalityCap: rejCap,
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
}

// countSamples returns the number of samples (and histogram samples) in wr.
func countSamples(wr *prompb.WriteRequest) int {
	n := 0
	for i := range wr.Timeseries {
		n += len(wr.Timeseries[i].Samples) + len(wr.Timeseries[i].Histograms)
	}
	return n
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
func (r *Receiver) write(ctx context.Context, wr *prompb.WriteRequest) (result, error) {
	var res result
	app, err := r.store.Appender(ctx)
	if err != nil {
		return res, err
	}
	maxT := r.now().Add(r.limits.MaxFuture).UnixMilli()
	b := labels.NewScratchBuilder(16)
	if r.next != nil {
		res.handoff = make([]osprey.Series, 0, len(wr.Timeseries))
	}
	for i := range wr.Timeseries {
		ts := &wr.Timeseries[i]
		if err := r.appendSeries(app, &b, ts, maxT, &res); err != nil {
			app.Rollback()
			return result{}, err
		}
	}
	if _, err := app.Commit(); err != nil {
		return result{}, err
	}
	return res, nil
}

// appendSeries checks one series and appends its samples.
func (r *Receiver) appendSeries(app *metricstore.Appender, b *labels.ScratchBuilder, ts *prompb.TimeSeries, maxT int64, res *result) error {
	lset, why, msg := r.seriesLabels(b, ts.Labels)
	if len(ts.Histograms) > 0 {
		res.reject(rejInvalid, len(ts.Histograms), lset, "native histograms are not supported yet")
	}
	if msg != "" {
		res.reject(why, len(ts.Samples), lset, "%s", msg)
		return nil
	}
	var (
		ref   storage.SeriesRef
		prevT int64 = math.MinInt64
		keep  []osprey.Sample
	)
	if r.next != nil {
		keep = make([]osprey.Sample, 0, len(ts.Samples))
	}
	for k, s := range ts.Samples {
		switch {
		case s.Timestamp > maxT:
			res.reject(rejFuture, 1, lset, "sample at %s is more than %s after Osprey's clock", time.UnixMilli(s.Timestamp).UTC().Format(time.RFC3339), r.limits.MaxFuture)
			continue
		case s.Timestamp == prevT:
			res.reject(rejDuplicate, 1, lset, "two samples at %d in one request", s.Timestamp)
			continue
		case s.Timestamp < prevT:
			res.reject(rejOutOfOrder, 1, lset, "sample at %d after one at %d in the same request", s.Timestamp, prevT)
			continue
		}
		o, err := app.Append(&ref, lset, s.Timestamp, s.Value)
		if err != nil {
			return err
		}
		if o != metricstore.OutcomeAppended {
			why := fromOutcome[o]
			if o == metricstore.OutcomeCardinalityCap {
				// The series cannot be created: its other samples go
				// the same way.
				res.reject(why, len(ts.Samples)-k, lset, "new series while tsdb.max_series series are active")
				break
			}
			res.reject(why, 1, lset, "sample at %d: %s", s.Timestamp, o)
			continue
		}
		prevT = s.Timestamp
		res.accepted++
		if keep != nil {
			keep = append(keep, osprey.Sample{TimestampMs: s.Timestamp, Value: s.Value})
		}
	}
	if len(keep) > 0 {
		m := make(osprey.Labels, lset.Len())
		lset.Range(func(l labels.Label) { m[l.Name] = l.Value })
		res.handoff = append(res.handoff, osprey.Series{Labels: m, Samples: keep})
		res.handoffSamples += len(keep)
	}
	return nil
}

// seriesLabels builds and checks a series' labels. On a problem it returns
// the rejection and a message (and the labels as far as they were built).
func (r *Receiver) seriesLabels(b *labels.ScratchBuilder, in []prompb.Label) (labels.Labels, rejection, string) {
	b.Reset()
	var problem string
	why := rejInvalid
	for _, l := range in {
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
