// Package chart renders time-series charts as SVG on the server: a time axis
// with readable ticks and the time zone named, a value axis in the unit the
// metric name implies, the model's expected band and the anomalous stretch
// marked. The output is static markup (no script, no inline style), safe to
// embed in a page served under a strict Content-Security-Policy; every piece of
// text in it is escaped.
package chart

import (
	"fmt"
	"html/template"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Point is one sample.
type Point struct {
	T time.Time
	V float64
}

// Line is one series drawn as a line.
type Line struct {
	Name   string
	Points []Point
}

// Band is a range of expected values over a stretch of time: the model's
// band (Lower..Upper) and its expectation. A zero To extends to the chart's
// end.
type Band struct {
	From, To               time.Time
	Lower, Upper, Expected float64
}

// Mark highlights a stretch of time (an anomaly). A zero To extends to the
// chart's end (still ongoing).
type Mark struct {
	From, To time.Time
	Label    string
}

// Dot marks one value at one time (the observed value of an anomaly).
type Dot struct {
	T     time.Time
	V     float64
	Label string
}

// Chart is what to draw.
type Chart struct {
	// Title is drawn above the plot.
	Title string
	// Unit formats the value axis; see UnitOf.
	Unit  Unit
	Lines []Line
	Bands []Band
	Marks []Mark
	Dots  []Dot
	// From and To bound the time axis; zero values take the data's range.
	From, To time.Time
	// Location is the time zone of the time axis; nil means UTC.
	Location *time.Location
	// Width and Height are the SVG's size in pixels; zero means 560×230.
	// The page's stylesheet may scale it down to a narrow container.
	Width, Height int
	// Note is a short remark shown under the plot (what is not drawn, and
	// why).
	Note string
}

// Layout constants, in SVG user units.
const (
	marginLeft   = 80
	marginRight  = 14
	marginTop    = 26
	marginBottom = 40
	maxPathGap   = 5 // a gap of more than this many typical steps breaks the line
)

// SVG renders c. The markup carries classes (chart, line-N, band, expected,
// anomaly, dot, axis, grid) for the page's stylesheet to colour.
func SVG(c Chart) template.HTML {
	if c.Width <= 0 {
		c.Width = 560
	}
	if c.Height <= 0 {
		c.Height = 230
	}
	if c.Location == nil {
		c.Location = time.UTC
	}
	r := newRenderer(&c)
	return template.HTML(r.render()) //nolint:gosec // every text is escaped by esc
}

type renderer struct {
	c          *Chart
	b          strings.Builder
	x0, x1     float64 // plot area in user units
	y0, y1     float64 // y0 top, y1 bottom
	from, to   time.Time
	vmin, vmax float64
	empty      bool
}

func newRenderer(c *Chart) *renderer {
	r := &renderer{c: c, x0: marginLeft, x1: float64(c.Width - marginRight), y0: marginTop, y1: float64(c.Height - marginBottom)}
	r.from, r.to = c.From, c.To
	var tmin, tmax time.Time
	vmin, vmax := math.Inf(1), math.Inf(-1)
	seeT := func(t time.Time) {
		if t.IsZero() {
			return
		}
		if tmin.IsZero() || t.Before(tmin) {
			tmin = t
		}
		if tmax.IsZero() || t.After(tmax) {
			tmax = t
		}
	}
	seeV := func(v float64) {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return
		}
		vmin, vmax = math.Min(vmin, v), math.Max(vmax, v)
	}
	n := 0
	for _, l := range c.Lines {
		for _, p := range l.Points {
			seeT(p.T)
			seeV(p.V)
			n++
		}
	}
	for _, b := range c.Bands {
		seeT(b.From)
		seeT(b.To)
		seeV(b.Lower)
		seeV(b.Upper)
		seeV(b.Expected)
	}
	for _, d := range c.Dots {
		seeT(d.T)
		seeV(d.V)
	}
	for _, m := range c.Marks {
		seeT(m.From)
		seeT(m.To)
	}
	if r.from.IsZero() {
		r.from = tmin
	}
	if r.to.IsZero() {
		r.to = tmax
	}
	if r.from.IsZero() || !r.to.After(r.from) {
		now := r.to
		if now.IsZero() {
			now = time.Unix(0, 0)
		}
		r.from, r.to = now.Add(-30*time.Minute), now.Add(30*time.Minute)
	}
	r.empty = n == 0
	if math.IsInf(vmin, 1) {
		vmin, vmax = 0, 1
	}
	if vmin == vmax {
		pad := math.Abs(vmin) * 0.1
		if pad == 0 {
			pad = 1
		}
		vmin, vmax = vmin-pad, vmax+pad
	} else {
		pad := (vmax - vmin) * 0.06
		// Keep a non-negative series' axis at zero when zero is near.
		if vmin >= 0 && vmin-pad < 0 || vmin >= 0 && vmin < (vmax-vmin)*0.5 {
			vmin = 0
		} else {
			vmin -= pad
		}
		vmax += pad
	}
	if c.Unit == UnitRatio && vmin >= 0 && vmax <= 1.05 && vmax > 0.5 {
		vmin, vmax = 0, 1
	}
	r.vmin, r.vmax = vmin, vmax
	return r
}

func (r *renderer) x(t time.Time) float64 {
	f := float64(t.Sub(r.from)) / float64(r.to.Sub(r.from))
	return r.x0 + math.Max(0, math.Min(1, f))*(r.x1-r.x0)
}

func (r *renderer) y(v float64) float64 {
	f := (v - r.vmin) / (r.vmax - r.vmin)
	return r.y1 - math.Max(-0.02, math.Min(1.02, f))*(r.y1-r.y0)
}

func (r *renderer) printf(format string, args ...any) { fmt.Fprintf(&r.b, format, args...) }

func (r *renderer) render() string {
	c := r.c
	desc := c.Title
	if desc == "" {
		desc = "chart"
	}
	r.printf(`<svg class="chart" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg">`,
		c.Width, c.Height, c.Width, c.Height, esc(desc))
	r.printf(`<title>%s</title>`, esc(desc))
	if c.Title != "" {
		r.printf(`<text class="title" x="%g" y="16">%s</text>`, r.x0, esc(truncate(c.Title, 70)))
	}
	r.marks()
	r.bands()
	r.valueAxis()
	r.timeAxis()
	r.lines()
	r.dots()
	if r.empty {
		r.printf(`<text class="nodata" x="%.1f" y="%.1f" text-anchor="middle">no samples in this window</text>`, (r.x0+r.x1)/2, (r.y0+r.y1)/2)
	}
	r.printf(`</svg>`)
	return r.b.String()
}

func (r *renderer) marks() {
	for _, m := range r.c.Marks {
		to := m.To
		if to.IsZero() {
			to = r.to
		}
		xa, xb := r.x(m.From), r.x(to)
		if xb-xa < 4 {
			xa = xb - 4
		}
		label := m.Label
		if label == "" {
			label = "anomaly"
		}
		r.printf(`<g class="anomaly"><title>%s: %s – %s</title><rect x="%.1f" y="%.1f" width="%.1f" height="%.1f"/>`,
			esc(label), esc(r.stamp(m.From)), esc(r.endStamp(m.To)), xa, r.y0, xb-xa, r.y1-r.y0)
		// The label goes right of the stretch's start, or left of it
		// when the stretch is near the right edge.
		if xa > r.x0+(r.x1-r.x0)*0.7 {
			r.printf(`<text x="%.1f" y="%.1f" text-anchor="end">%s</text></g>`, xa-3, r.y0+12, esc(truncate(label, 24)))
		} else {
			r.printf(`<text x="%.1f" y="%.1f">%s</text></g>`, xa+3, r.y0+12, esc(truncate(label, 24)))
		}
	}
}

func (r *renderer) bands() {
	for _, b := range r.c.Bands {
		to := b.To
		if to.IsZero() {
			to = r.to
		}
		xa, xb := r.x(b.From), r.x(to)
		if xb-xa < 6 {
			xa = xb - 6
		}
		ya, yb := r.y(b.Upper), r.y(b.Lower)
		r.printf(`<g class="band"><title>expected %s (band %s to %s)</title><rect x="%.1f" y="%.1f" width="%.1f" height="%.1f"/></g>`,
			esc(r.c.Unit.Format(b.Expected)), esc(r.c.Unit.Format(b.Lower)), esc(r.c.Unit.Format(b.Upper)), xa, ya, xb-xa, math.Max(yb-ya, 1))
		ye := r.y(b.Expected)
		r.printf(`<line class="expected" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`, xa, ye, xb, ye)
	}
}

func (r *renderer) valueAxis() {
	ticks, labels := valueTicks(r.vmin, r.vmax, 5, r.c.Unit)
	r.printf(`<g class="axis y">`)
	for i, v := range ticks {
		if v < r.vmin || v > r.vmax {
			continue
		}
		y := r.y(v)
		r.printf(`<line class="grid" x1="%g" y1="%.1f" x2="%g" y2="%.1f"/>`, r.x0, y, r.x1, y)
		r.printf(`<text x="%g" y="%.1f" text-anchor="end" dominant-baseline="middle">%s</text>`, r.x0-6, y, esc(labels[i]))
	}
	if name := r.c.Unit.Name(); name != "" {
		r.printf(`<text class="caption" x="4" y="16">%s</text>`, esc(name))
	}
	r.printf(`<line class="frame" x1="%g" y1="%g" x2="%g" y2="%g"/></g>`, r.x0, r.y0, r.x0, r.y1)
}

// timeSteps are the time axis' tick intervals, smallest first.
var timeSteps = []time.Duration{
	10 * time.Second, 15 * time.Second, 30 * time.Second,
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour,
	24 * time.Hour, 48 * time.Hour, 7 * 24 * time.Hour,
}

// TimeTicks returns the tick times of the axis from..to in loc (about n of
// them, on round times of that zone) and the layout of their labels.
func TimeTicks(from, to time.Time, loc *time.Location, n int) ([]time.Time, string) {
	span := to.Sub(from)
	step := timeSteps[len(timeSteps)-1]
	for _, s := range timeSteps {
		if span/s <= time.Duration(n) {
			step = s
			break
		}
	}
	layout := "15:04"
	switch {
	case step < time.Minute:
		layout = "15:04:05"
	case span > 20*time.Hour && step < 24*time.Hour:
		layout = "Jan 2 15:04"
	case step >= 24*time.Hour:
		layout = "Jan 2"
	}
	lf := from.In(loc)
	var t time.Time
	if step >= 24*time.Hour {
		t = time.Date(lf.Year(), lf.Month(), lf.Day(), 0, 0, 0, 0, loc)
	} else {
		// Round in the zone's wall clock, so that ticks fall on :00, :15…
		// also in zones with a half-hour offset.
		_, off := lf.Zone()
		shift := time.Duration(off) * time.Second
		t = lf.Add(shift).Truncate(step).Add(-shift)
	}
	var out []time.Time
	for ; !t.After(to); t = t.Add(step) {
		if !t.Before(from) {
			out = append(out, t)
		}
	}
	return out, layout
}

func (r *renderer) timeAxis() {
	ticks, layout := TimeTicks(r.from, r.to, r.c.Location, 6)
	r.printf(`<g class="axis x">`)
	for _, t := range ticks {
		x := r.x(t)
		r.printf(`<line class="grid" x1="%.1f" y1="%g" x2="%.1f" y2="%g"/>`, x, r.y0, x, r.y1)
		// A label at either end of the axis is aligned to stay clear of
		// the value axis' labels and inside the chart.
		anchor := "middle"
		switch {
		case x-r.x0 < 24:
			anchor = "start"
		case r.x1-x < 24:
			anchor = "end"
		}
		r.printf(`<text x="%.1f" y="%g" text-anchor="%s">%s</text>`, x, r.y1+17, anchor, esc(t.In(r.c.Location).Format(layout)))
	}
	zone, _ := r.to.In(r.c.Location).Zone()
	r.printf(`<text class="caption" x="%g" y="%g" text-anchor="end">time (%s)</text>`, r.x1, r.y1+33, esc(zone))
	if r.c.Note != "" {
		r.printf(`<text class="caption" x="%g" y="%g">%s</text>`, r.x0, r.y1+33, esc(truncate(r.c.Note, 70)))
	}
	r.printf(`<line class="frame" x1="%g" y1="%g" x2="%g" y2="%g"/></g>`, r.x0, r.y1, r.x1, r.y1)
}

func (r *renderer) lines() {
	for i, l := range r.c.Lines {
		pts := slices.Clone(l.Points)
		slices.SortFunc(pts, func(a, b Point) int { return a.T.Compare(b.T) })
		pts = downsample(pts, int(r.x1-r.x0))
		gap := typicalStep(pts) * maxPathGap
		d := make([]byte, 0, 16*len(pts))
		var prev time.Time
		for j, p := range pts {
			if math.IsNaN(p.V) || math.IsInf(p.V, 0) {
				prev = time.Time{}
				continue
			}
			cmd := byte('L')
			if j == 0 || prev.IsZero() || (gap > 0 && p.T.Sub(prev) > gap) {
				cmd = 'M'
			}
			d = append(d, cmd)
			d = strconv.AppendFloat(d, r.x(p.T), 'f', 1, 64)
			d = append(d, ' ')
			d = strconv.AppendFloat(d, r.y(p.V), 'f', 1, 64)
			prev = p.T
		}
		if len(d) == 0 {
			continue
		}
		r.printf(`<path class="line line-%d" d="%s"><title>%s</title></path>`, i%6, d, esc(l.Name))
		if len(pts) == 1 {
			r.printf(`<circle class="line-%d" cx="%.1f" cy="%.1f" r="2.5"/>`, i%6, r.x(pts[0].T), r.y(pts[0].V))
		}
	}
}

func (r *renderer) dots() {
	for _, d := range r.c.Dots {
		r.printf(`<circle class="dot" cx="%.1f" cy="%.1f" r="4"><title>%s: %s at %s</title></circle>`,
			r.x(d.T), r.y(d.V), esc(d.Label), esc(r.c.Unit.Format(d.V)), esc(r.stamp(d.T)))
	}
}

func (r *renderer) stamp(t time.Time) string {
	return t.In(r.c.Location).Format("2006-01-02 15:04:05 MST")
}

func (r *renderer) endStamp(t time.Time) string {
	if t.IsZero() {
		return "ongoing"
	}
	return r.stamp(t)
}

// typicalStep is the median interval between points.
func typicalStep(pts []Point) time.Duration {
	if len(pts) < 3 {
		return 0
	}
	d := make([]time.Duration, 0, len(pts)-1)
	for i := 1; i < len(pts); i++ {
		d = append(d, pts[i].T.Sub(pts[i-1].T))
	}
	slices.Sort(d)
	return d[len(d)/2]
}

// downsample keeps at most about 2·width points: per column of the plot, the
// first, lowest and highest, so that spikes survive.
func downsample(pts []Point, width int) []Point {
	if width <= 0 || len(pts) <= 2*width {
		return pts
	}
	from, to := pts[0].T, pts[len(pts)-1].T
	span := float64(to.Sub(from))
	out := make([]Point, 0, 3*width)
	col := -1
	var lo, hi Point
	flush := func() {
		if col < 0 {
			return
		}
		if lo.T.After(hi.T) {
			lo, hi = hi, lo
		}
		out = append(out, lo)
		if hi.T != lo.T {
			out = append(out, hi)
		}
	}
	for _, p := range pts {
		c := int(float64(p.T.Sub(from)) / span * float64(width-1))
		if c != col {
			flush()
			col, lo, hi = c, p, p
			continue
		}
		if p.V < lo.V {
			lo = p
		}
		if p.V > hi.V {
			hi = p
		}
	}
	flush()
	return out
}

// Rate turns a counter's samples into per-second rates between consecutive
// samples; a drop is a counter reset, after which the new value is the
// increase.
func Rate(pts []Point) []Point {
	if len(pts) < 2 {
		return nil
	}
	out := make([]Point, 0, len(pts)-1)
	for i := 1; i < len(pts); i++ {
		dt := pts[i].T.Sub(pts[i-1].T).Seconds()
		if dt <= 0 {
			continue
		}
		inc := pts[i].V - pts[i-1].V
		if inc < 0 {
			inc = pts[i].V
		}
		out = append(out, Point{T: pts[i].T, V: inc / dt})
	}
	return out
}

func esc(s string) string { return template.HTMLEscapeString(s) }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8Start(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }
