package otlp

import (
	"context"
	"errors"
	"math"
	"strconv"

	"github.com/prometheus/otlptranslator"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/storage"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/ingest"
	"github.com/osprey-aiops/osprey/internal/metricstore"
)

// ExportMetrics takes one OTLP metrics request (from HTTP or gRPC): it
// converts the data points to series, appends them to the TSDB and hands the
// accepted ones on. Rejected data points are reported in the response's
// partial_success. An error means nothing was kept and the sender should
// retry (the TSDB failed).
func (r *Receiver) ExportMetrics(ctx context.Context, req pmetricotlp.ExportRequest) (pmetricotlp.ExportResponse, error) {
	var t tally
	series := r.convertMetrics(req.Metrics(), &t)
	if r.store != nil && len(series) > 0 {
		kept, err := r.appendSeries(ctx, series, &t)
		if err != nil {
			t.handoffFailed(r.recvMetrics)
			r.log.Error("store otlp samples", "series", len(series), "err", err)
			return pmetricotlp.NewExportResponse(), handoffError(err)
		}
		series = kept
	} else {
		t.accepted = len(series)
	}
	t.done(r.recvMetrics)
	if r.series != nil && len(series) > 0 {
		// Non-blocking by contract; a failure only means these samples
		// are not scored, they are in the TSDB.
		if err := r.series.ConsumeSeries(ctx, series); err != nil {
			r.log.Debug("hand off otlp series", "series", len(series), "err", err)
		}
	}
	resp := pmetricotlp.NewExportResponse()
	if t.n > 0 {
		resp.PartialSuccess().SetRejectedDataPoints(int64(t.n))
		resp.PartialSuccess().SetErrorMessage(t.message())
	}
	return resp, nil
}

// appendSeries appends every sample to the TSDB in one transaction and
// returns the series whose samples were appended. Each series holds one
// sample.
func (r *Receiver) appendSeries(ctx context.Context, series []osprey.Series, t *tally) ([]osprey.Series, error) {
	app, err := r.store.Appender(ctx)
	if err != nil {
		return nil, err
	}
	b := labels.NewScratchBuilder(16)
	kept := series[:0]
	for _, s := range series {
		lset := metricstore.LabelsFrom(&b, s.Labels)
		var ref storage.SeriesRef
		smp := s.Samples[0]
		o, err := app.Append(&ref, lset, smp.TimestampMs, smp.Value)
		if err != nil {
			app.Rollback()
			return nil, err
		}
		if o != metricstore.OutcomeAppended {
			t.reject(outcomeReason[o], 1, "series %s: sample at %d: %s", ingest.Truncate(s.Labels.String(), 256), smp.TimestampMs, o)
			continue
		}
		t.accepted++
		kept = append(kept, s)
	}
	if _, err := app.Commit(); err != nil {
		return nil, err
	}
	r.recvMetrics.Warned(ingest.WarnNonFinite, app.NonFinite())
	return kept, nil
}

// outcomeReason maps a TSDB outcome to an ingest reason.
var outcomeReason = map[metricstore.Outcome]ingest.Reason{
	metricstore.OutcomeOutOfOrder:     ingest.ReasonOutOfOrder,
	metricstore.OutcomeDuplicate:      ingest.ReasonDuplicate,
	metricstore.OutcomeTooOld:         ingest.ReasonTooOld,
	metricstore.OutcomeCardinalityCap: ingest.ReasonCardinalityCap,
	// A new series of a metric name at tsdb.max_series_per_metric.
	metricstore.OutcomeSeriesPerMetric: ingest.ReasonSeriesPerMetric,
}

// metricConv converts the data points of one request.
type metricConv struct {
	r    *Receiver
	t    *tally
	out  []osprey.Series
	maxT int64
	nowT int64
}

// convertMetrics turns md into one single-sample series per data point
// (and per bucket, quantile, count and sum), counting what it rejects.
func (r *Receiver) convertMetrics(md pmetric.Metrics, t *tally) []osprey.Series {
	now := r.now()
	c := metricConv{r: r, t: t, out: make([]osprey.Series, 0, md.DataPointCount()), maxT: now.Add(r.maxFuture).UnixMilli(), nowT: now.UnixMilli()}
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		rm := rms.At(i)
		res := resourceLabels(rm.Resource().Attributes())
		sms := rm.ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			ms := sms.At(j).Metrics()
			for k := 0; k < ms.Len(); k++ {
				c.metric(res, ms.At(k))
			}
		}
	}
	return c.out
}

// metric converts one metric.
func (c *metricConv) metric(res osprey.Labels, m pmetric.Metric) {
	mt := otlptranslator.Metric{Name: m.Name(), Unit: m.Unit()}
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		mt.Type = otlptranslator.MetricTypeGauge
		c.numbers(res, c.name(mt), m.Gauge().DataPoints())
	case pmetric.MetricTypeSum:
		s := m.Sum()
		if s.AggregationTemporality() == pmetric.AggregationTemporalityDelta {
			c.t.reject(ingest.ReasonInvalid, s.DataPoints().Len(), "metric %q: delta temporality is not supported (send cumulative)", ingest.Truncate(m.Name(), 128))
			return
		}
		mt.Type = otlptranslator.MetricTypeNonMonotonicCounter
		if s.IsMonotonic() {
			mt.Type = otlptranslator.MetricTypeMonotonicCounter
		}
		c.numbers(res, c.name(mt), s.DataPoints())
	case pmetric.MetricTypeHistogram:
		h := m.Histogram()
		if h.AggregationTemporality() == pmetric.AggregationTemporalityDelta {
			c.t.reject(ingest.ReasonInvalid, h.DataPoints().Len(), "metric %q: delta temporality is not supported (send cumulative)", ingest.Truncate(m.Name(), 128))
			return
		}
		mt.Type = otlptranslator.MetricTypeHistogram
		c.histograms(res, c.name(mt), h.DataPoints())
	case pmetric.MetricTypeExponentialHistogram:
		h := m.ExponentialHistogram()
		if h.AggregationTemporality() == pmetric.AggregationTemporalityDelta {
			c.t.reject(ingest.ReasonInvalid, h.DataPoints().Len(), "metric %q: delta temporality is not supported (send cumulative)", ingest.Truncate(m.Name(), 128))
			return
		}
		mt.Type = otlptranslator.MetricTypeExponentialHistogram
		name := c.name(mt)
		dps := h.DataPoints()
		for i := 0; i < dps.Len(); i++ {
			dp := dps.At(i)
			l, ok := c.labels(res, name, dp.Attributes(), dp.Timestamp())
			if !ok {
				continue
			}
			stale := dp.Flags().NoRecordedValue()
			c.emit(l, name+"_count", "", "", dp.Timestamp(), float64(dp.Count()), stale)
			if dp.HasSum() {
				c.emit(l, name+"_sum", "", "", dp.Timestamp(), dp.Sum(), stale)
			}
		}
	case pmetric.MetricTypeSummary:
		mt.Type = otlptranslator.MetricTypeSummary
		name := c.name(mt)
		dps := m.Summary().DataPoints()
		for i := 0; i < dps.Len(); i++ {
			dp := dps.At(i)
			l, ok := c.labels(res, name, dp.Attributes(), dp.Timestamp())
			if !ok {
				continue
			}
			stale := dp.Flags().NoRecordedValue()
			c.emit(l, name+"_count", "", "", dp.Timestamp(), float64(dp.Count()), stale)
			c.emit(l, name+"_sum", "", "", dp.Timestamp(), dp.Sum(), stale)
			qs := dp.QuantileValues()
			for q := 0; q < qs.Len(); q++ {
				c.emit(l, name, "quantile", formatFloat(qs.At(q).Quantile()), dp.Timestamp(), qs.At(q).Value(), stale)
			}
		}
	default:
		c.t.reject(ingest.ReasonInvalid, 1, "metric %q has no data", ingest.Truncate(m.Name(), 128))
	}
}

// name builds the Prometheus name of a metric; "" when none can be built
// (the data points are then rejected by labels).
func (c *metricConv) name(m otlptranslator.Metric) string {
	n, err := c.r.namer.Build(m)
	if err != nil {
		return ""
	}
	return n
}

// numbers converts gauge and sum data points.
func (c *metricConv) numbers(res osprey.Labels, name string, dps pmetric.NumberDataPointSlice) {
	for i := 0; i < dps.Len(); i++ {
		dp := dps.At(i)
		l, ok := c.labels(res, name, dp.Attributes(), dp.Timestamp())
		if !ok {
			continue
		}
		v := dp.DoubleValue()
		if dp.ValueType() == pmetric.NumberDataPointValueTypeInt {
			v = float64(dp.IntValue())
		}
		c.emit(l, name, "", "", dp.Timestamp(), v, dp.Flags().NoRecordedValue())
	}
}

// histograms converts explicit-bucket histogram data points.
func (c *metricConv) histograms(res osprey.Labels, name string, dps pmetric.HistogramDataPointSlice) {
	for i := 0; i < dps.Len(); i++ {
		dp := dps.At(i)
		l, ok := c.labels(res, name, dp.Attributes(), dp.Timestamp())
		if !ok {
			continue
		}
		ts, stale := dp.Timestamp(), dp.Flags().NoRecordedValue()
		c.emit(l, name+"_count", "", "", ts, float64(dp.Count()), stale)
		if dp.HasSum() {
			c.emit(l, name+"_sum", "", "", ts, dp.Sum(), stale)
		}
		bounds, counts := dp.ExplicitBounds(), dp.BucketCounts()
		if counts.Len() == 0 {
			continue
		}
		var cum uint64
		for b := 0; b < bounds.Len() && b < counts.Len(); b++ {
			cum += counts.At(b)
			c.emit(l, name+"_bucket", "le", formatFloat(bounds.At(b)), ts, float64(cum), stale)
		}
		c.emit(l, name+"_bucket", "le", "+Inf", ts, float64(dp.Count()), stale)
	}
}

// labels builds and checks the labels (without __name__) of one data
// point; false means it was rejected.
func (c *metricConv) labels(res osprey.Labels, name string, attrs pcommon.Map, ts pcommon.Timestamp) (osprey.Labels, bool) {
	if name == "" {
		c.t.reject(ingest.ReasonInvalid, 1, "a metric without a usable name")
		return nil, false
	}
	l := make(osprey.Labels, len(res)+attrs.Len()+2)
	for k, v := range res {
		l[k] = v
	}
	addAttributes(l, attrs)
	if err := ingest.CheckLabels(l, &c.r.lim); err != nil {
		c.t.reject(reasonOf(err), 1, "metric %s: %v", ingest.Truncate(name, 128), err)
		return nil, false
	}
	if len(name) > c.r.lim.MaxLabelValueBytes {
		c.t.reject(ingest.ReasonLabelLimit, 1, "metric name %s... longer than %d bytes", ingest.Truncate(name, 64), c.r.lim.MaxLabelValueBytes)
		return nil, false
	}
	if ms := timestampMs(ts, c.nowT); ms > c.maxT {
		c.t.reject(ingest.ReasonTooFarInFuture, 1, "metric %s: data point at %d ms is more than %s after Osprey's clock", ingest.Truncate(name, 128), ms, c.r.maxFuture)
		return nil, false
	}
	return l, true
}

// emit adds one sample of name, with the extra label (le, quantile) if
// set. Counts per data point: a data point is accepted or rejected whole by
// labels, and its samples are then appended one by one.
func (c *metricConv) emit(l osprey.Labels, name, extraName, extraValue string, ts pcommon.Timestamp, v float64, stale bool) {
	sl := make(osprey.Labels, len(l)+2)
	for k, val := range l {
		sl[k] = val
	}
	sl[osprey.LabelMetric] = name
	if extraName != "" {
		sl[extraName] = extraValue
	}
	if stale {
		v = math.Float64frombits(value.StaleNaN)
	}
	c.out = append(c.out, osprey.Series{Labels: sl, Samples: []osprey.Sample{{TimestampMs: timestampMs(ts, c.nowT), Value: v}}})
}

// timestampMs converts an OTLP timestamp to milliseconds; a zero timestamp
// (not set) is now.
func timestampMs(ts pcommon.Timestamp, now int64) int64 {
	if ts == 0 {
		return now
	}
	return int64(ts / 1e6)
}

// formatFloat writes a bound or quantile as Prometheus does.
func formatFloat(f float64) string {
	if math.IsInf(f, +1) {
		return "+Inf"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// reasonOf classifies a label check error.
func reasonOf(err error) ingest.Reason {
	if errors.Is(err, ingest.ErrLabelLimit) {
		return ingest.ReasonLabelLimit
	}
	return ingest.ReasonInvalid
}
