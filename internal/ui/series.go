package ui

import (
	"context"
	"html/template"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/tsdb/chunkenc"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/ui/chart"
)

// Chart query bounds.
const (
	maxChartSeries  = 4     // series drawn in one chart
	maxChartSamples = 20000 // samples read for one chart
	// chartLead and chartTail are shown before and after an anomaly.
	chartLead = 45 * time.Minute
	chartTail = 15 * time.Minute
)

// Log anomaly series, as internal/detect/logs writes them to the TSDB.
const (
	logTemplateCount = "osprey_log_template_count"
	logErrorCount    = "osprey_log_error_count"
	labelSource      = "source"
	labelTemplateID  = "template_id"
)

// chartView is one chart on a page.
type chartView struct {
	Title string
	SVG   template.HTML
	// Anomaly is the anomaly charted, when there is one.
	Anomaly *osprey.Anomaly
	// Values says what was observed and expected, in the chart's unit.
	Values string
}

// seriesOf returns the labels of the stored series that an anomaly was found
// in, as matchers, and a title: a metric anomaly's own labels; a log
// anomaly's template count (or error count) series.
func seriesOf(a *osprey.Anomaly) (ms []*labels.Matcher, metric, title string) {
	eq := func(n, v string) *labels.Matcher { return labels.MustNewMatcher(labels.MatchEqual, n, v) }
	if a.Kind == osprey.AnomalyLog {
		src := a.Labels[labelSource]
		if a.TemplateID != "" {
			return []*labels.Matcher{eq(labels.MetricName, logTemplateCount), eq(labelSource, src), eq(labelTemplateID, a.TemplateID)},
				logTemplateCount, "lines of log template " + a.TemplateID + " (" + src + ")"
		}
		ms = []*labels.Matcher{eq(labels.MetricName, logErrorCount), eq(labelSource, src)}
		if svc := a.Labels[osprey.LabelService]; svc != "" {
			ms = append(ms, eq(osprey.LabelService, svc))
		}
		return ms, logErrorCount, "error lines (" + src + ")"
	}
	metric = a.Labels[osprey.LabelMetric]
	for _, n := range a.Labels.Names() {
		ms = append(ms, eq(n, a.Labels[n]))
	}
	return ms, metric, seriesName(a.Labels)
}

// anomalyChart draws the series an anomaly was found in from before it
// started until after it ended (or now), with the model's band at the
// anomaly, the anomalous stretch and the observed value marked.
func (u *UI) anomalyChart(ctx context.Context, a *osprey.Anomaly, from, to time.Time) chartView {
	ms, metric, title := seriesOf(a)
	now := u.opts.Now()
	if from.IsZero() {
		from = a.StartsAt.Add(-chartLead)
	}
	if to.IsZero() {
		to = a.EndsAt
		if to.IsZero() || to.Before(a.StartsAt) {
			to = a.StartsAt
		}
		to = to.Add(chartTail)
		if a.EndsAt.IsZero() || to.After(now) {
			to = now
		}
	}
	if !to.After(from) {
		to = from.Add(time.Minute)
	}
	unit, rate := chart.UnitOf(metric)
	c := chart.Chart{Title: title, Unit: unit, From: from, To: to, Location: u.opts.Location}
	lines, note := u.readSeries(ctx, ms, from, to, rate)
	c.Lines, c.Note = lines, note
	label := "anomaly"
	if a.Kind == osprey.AnomalyForecast {
		label = "forecast"
	}
	c.Marks = []chart.Mark{{From: a.StartsAt, To: a.EndsAt, Label: label + " " + scoreText(a.Score)}}
	switch {
	case rate:
		// The detector models the counter's raw value; its band is not
		// in the rate's unit.
		if c.Note == "" {
			c.Note = "rate of the counter; the model's band is for its raw value"
		}
	case a.Kind == osprey.AnomalyForecast:
		// Its expectation and band are at the forecast's horizon, in the
		// future: only the value it started from is marked.
		c.Dots = []chart.Dot{{T: a.StartsAt, V: a.Observed, Label: "value when the forecast opened"}}
	case a.Kind == osprey.AnomalyMetric || (a.Kind == osprey.AnomalyLog && (a.Upper != 0 || a.Lower != 0)):
		end := a.EndsAt
		if end.IsZero() {
			end = to
		}
		if a.Upper >= a.Lower && (a.Upper != 0 || a.Lower != 0 || a.Expected != 0) {
			c.Bands = []chart.Band{{From: a.StartsAt, To: end, Lower: a.Lower, Upper: a.Upper, Expected: a.Expected}}
		}
		c.Dots = []chart.Dot{{T: a.StartsAt, V: a.Observed, Label: "observed"}}
	}
	cv := chartView{Title: title, SVG: chart.SVG(c), Anomaly: a}
	switch u := unitOf(metric); {
	case a.Kind == osprey.AnomalyForecast:
		cv.Values = "value " + u.Format(a.Observed) + ", forecast at the horizon " + u.Format(a.Expected) +
			" (" + u.Format(a.Lower) + " to " + u.Format(a.Upper) + ")"
	case a.Kind != osprey.AnomalyLog || a.Upper != 0:
		cv.Values = "observed " + u.Format(a.Observed) + ", expected " + u.Format(a.Expected) +
			" (" + u.Format(a.Lower) + " to " + u.Format(a.Upper) + ")"
	}
	return cv
}

// unitOf is the unit of a metric's raw values (a counter's too: the
// detector models the counter itself).
func unitOf(metric string) chart.Unit {
	u, rate := chart.UnitOf(metric)
	if rate {
		return chart.UnitNone
	}
	return u
}

func scoreText(s float64) string {
	return "score " + strconv.FormatFloat(s, 'f', 2, 64)
}

// readSeries reads up to maxChartSeries series matching ms between from and
// to; rate turns counters into per-second rates. The note says what was
// left out.
func (u *UI) readSeries(ctx context.Context, ms []*labels.Matcher, from, to time.Time, rate bool) ([]chart.Line, string) {
	if u.opts.Metrics == nil {
		return nil, "no metric store"
	}
	q, err := u.opts.Metrics.Querier(from.UnixMilli(), to.UnixMilli())
	if err != nil {
		u.log.Warn("ui chart query", "err", err)
		return nil, "metric store unavailable"
	}
	defer q.Close()
	set := q.Select(ctx, true, nil, ms...)
	var lines []chart.Line
	var note string
	total := 0
	var it chunkenc.Iterator
	for set.Next() {
		if len(lines) == maxChartSeries {
			note = "more series match; the first are shown"
			break
		}
		s := set.At()
		var pts []chart.Point
		it = s.Iterator(it)
		for it.Next() == chunkenc.ValFloat {
			t, v := it.At()
			pts = append(pts, chart.Point{T: time.UnixMilli(t), V: v})
			total++
			if total >= maxChartSamples {
				note = "sample limit reached"
				break
			}
		}
		if rate {
			pts = chart.Rate(pts)
		}
		lines = append(lines, chart.Line{Name: s.Labels().String(), Points: pts})
		if total >= maxChartSamples {
			break
		}
	}
	if err := set.Err(); err != nil {
		u.log.Warn("ui chart query", "err", err)
		note = "reading the series failed"
	}
	slices.SortFunc(lines, func(a, b chart.Line) int { return strings.Compare(a.Name, b.Name) })
	return lines, note
}
