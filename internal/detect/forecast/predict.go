package forecast

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// Status says what a prediction concluded.
type Status string

// Statuses, in the order the checks run.
const (
	// StatusWarmingUp: the fit has fewer than MinSamples samples or spans
	// less than MinHistory (also right after a jump).
	StatusWarmingUp Status = "warming_up"
	// StatusCrossed: the fitted value is already at or past the
	// threshold. A forecast never opens on it (a read-only file system
	// always has 0 bytes available) but an open one stays open.
	StatusCrossed Status = "crossed"
	// StatusNotApproaching: the trend is flat or points away from the
	// threshold.
	StatusNotApproaching Status = "not_approaching"
	// StatusNotSignificant: the trend points towards the threshold but is
	// within Z standard errors of flat: noise.
	StatusNotSignificant Status = "not_significant"
	// StatusBeyondHorizon: the crossing is forecast after the horizon.
	StatusBeyondHorizon Status = "beyond_horizon"
	// StatusBeyondExtrapolation: the crossing is further ahead than
	// MaxExtrapolation × the fit's window.
	StatusBeyondExtrapolation Status = "beyond_extrapolation"
	// StatusResetsFirst: the series has jumped back away from the
	// threshold at a regular interval (a log rotation, a cleanup job) and
	// the next jump is due before the crossing.
	StatusResetsFirst Status = "resets_first"
	// StatusDailyPattern: the fitted value is no closer to the threshold
	// than 24 hours ago: the trend is the daily cycle's.
	StatusDailyPattern Status = "daily_pattern"
	// StatusForecast: the crossing is forecast within the horizon.
	StatusForecast Status = "forecast"
)

// Prediction is what the trend fit of one series says about its threshold.
type Prediction struct {
	Status Status `json:"status"`
	// At is the time of the last sample; Current its value; Level the
	// fitted value at At.
	At      time.Time `json:"at"`
	Current float64   `json:"current"`
	Level   float64   `json:"level"`
	// Threshold is the value forecast (a percentage threshold resolved
	// against Capacity, the capacity series' last value, 0 if unknown).
	Threshold float64 `json:"threshold"`
	Capacity  float64 `json:"capacity,omitempty"`
	// SlopePerHour is the fitted trend per hour; SlopeLow and SlopeHigh
	// its bounds at Z standard errors.
	SlopePerHour     float64 `json:"slopePerHour"`
	SlopeLowPerHour  float64 `json:"slopeLowPerHour"`
	SlopeHighPerHour float64 `json:"slopeHighPerHour"`
	// ResidualSD is the residuals' standard deviation around the line.
	ResidualSD float64 `json:"residualSd"`
	// Samples is the number of samples in the fit, Since when it started
	// (the first sample, or the last jump), Window its equivalent uniform
	// window.
	Samples int64         `json:"samples"`
	Since   time.Time     `json:"since"`
	Window  time.Duration `json:"window"`
	// CrossesAt is the forecast crossing at the fitted slope, Earliest and
	// Latest under the slope's bounds (Latest zero: the slower bound never
	// reaches the threshold). Zero when the trend does not approach the
	// threshold.
	CrossesAt time.Time `json:"crossesAt,omitzero"`
	Earliest  time.Time `json:"earliest,omitzero"`
	Latest    time.Time `json:"latest,omitzero"`
	// TimeLeft is CrossesAt - At.
	TimeLeft time.Duration `json:"timeLeft,omitempty"`
	// ExpectedAtHorizon is the fitted value at At + the rule's horizon,
	// LowerAtHorizon and UpperAtHorizon under the slope's bounds.
	ExpectedAtHorizon float64 `json:"expectedAtHorizon"`
	LowerAtHorizon    float64 `json:"lowerAtHorizon"`
	UpperAtHorizon    float64 `json:"upperAtHorizon"`
	// NextReset is when the series is expected to jump back away from
	// the threshold (StatusResetsFirst).
	NextReset time.Time `json:"nextReset,omitzero"`
	// DayAgo is the series' mean over the half hour 24 hours before At's,
	// when DayAgoKnown.
	DayAgo      float64 `json:"dayAgo,omitempty"`
	DayAgoKnown bool    `json:"dayAgoKnown,omitempty"`
}

// Within reports whether the prediction forecasts a crossing within the
// horizon.
func (p *Prediction) Within() bool { return p.Status == StatusForecast }

// Predict returns what m says about rule r with threshold value thr
// (already resolved from a percentage) and capacity (0: unknown).
func (c *Config) Predict(m *Model, r *Rule, thr, capacity float64) Prediction {
	p := Prediction{Threshold: thr, Capacity: capacity, Samples: m.n}
	if m.n == 0 {
		p.Status = StatusWarmingUp
		return p
	}
	p.At = time.UnixMilli(m.last).UTC()
	p.Current = m.lastV
	p.Since = time.UnixMilli(m.start).UTC()
	f := m.fit()
	x := m.tx(m.last)
	p.Level = f.levelAt(x)
	p.SlopePerHour = f.slope * 3600
	lo, hi := f.slope-c.Z*f.se, f.slope+c.Z*f.se
	p.SlopeLowPerHour, p.SlopeHighPerHour = lo*3600, hi*3600
	p.ResidualSD = f.sd
	p.Window = time.Duration(f.span * float64(time.Second))
	h := r.Horizon.Seconds()
	p.ExpectedAtHorizon = p.Level + f.slope*h
	p.LowerAtHorizon, p.UpperAtHorizon = p.Level+lo*h, p.Level+hi*h
	if m.dayAgoOK {
		p.DayAgo, p.DayAgoKnown = m.dayAgo, true
	}
	if m.n < int64(c.MinSamples) || m.last-m.start < c.MinHistory.Milliseconds() || f.span <= 0 {
		p.Status = StatusWarmingUp
		return p
	}
	dir := r.Direction.sign()
	dist := dir * (thr - p.Level)
	if dist <= 0 {
		p.Status = StatusCrossed
		p.CrossesAt = p.At
		return p
	}
	toward := dir * f.slope
	if toward <= 0 {
		p.Status = StatusNotApproaching
		return p
	}
	t := dist / toward
	p.TimeLeft = secs(t).Round(time.Second)
	p.CrossesAt = p.At.Add(p.TimeLeft)
	fast := toward + c.Z*f.se
	slow := toward - c.Z*f.se
	p.Earliest = p.At.Add(secs(dist / fast).Round(time.Second))
	if slow > 0 {
		p.Latest = p.At.Add(secs(dist / slow).Round(time.Second))
	}
	switch {
	case slow <= 0:
		p.Status = StatusNotSignificant
	case t > h:
		p.Status = StatusBeyondHorizon
	case t > c.MaxExtrapolation*f.span:
		p.Status = StatusBeyondExtrapolation
	default:
		p.Status = StatusForecast
		// A series that jumps back away from the threshold at a regular
		// interval, and whose next jump is due (not overdue) before the
		// crossing, resets first.
		last, cycle := m.lastUp, m.cycleUp
		if r.Direction == Up {
			last, cycle = m.lastDn, m.cycleDn
		}
		if last > 0 && cycle > 0 {
			next := float64(last) + cycle
			overdue := next + cycle/4
			if float64(m.last) < overdue && float64(m.last)+t*1000 > next {
				p.Status = StatusResetsFirst
				p.NextReset = time.UnixMilli(int64(next)).UTC()
				return p
			}
		}
		if m.dayAgoOK && dir*(p.Level-m.dayAgo) <= c.Z*f.sd {
			p.Status = StatusDailyPattern
		}
	}
	return p
}

// holds reports whether an open forecast still holds: the crossing is
// forecast within CloseMargin × the horizon at a slope at least Z/2
// standard errors from flat, or the threshold is crossed. The other checks
// apply only to opening.
func (c *Config) holds(p *Prediction, r *Rule) bool {
	switch p.Status {
	case StatusForecast, StatusCrossed, StatusBeyondExtrapolation, StatusResetsFirst, StatusDailyPattern:
		return true
	case StatusBeyondHorizon:
		return p.TimeLeft.Seconds() <= c.CloseMargin*r.Horizon.Seconds()
	case StatusNotSignificant:
		// Half the confidence: the slope is at least Z/2 standard errors
		// from flat.
		se := (p.SlopeHighPerHour - p.SlopeLowPerHour) / (2 * c.Z)
		toward := r.Direction.sign() * p.SlopePerHour
		return toward > c.Z/2*se && p.TimeLeft.Seconds() <= c.CloseMargin*r.Horizon.Seconds()
	default:
		return false
	}
}

func secs(s float64) time.Duration {
	if s > float64(math.MaxInt64/int64(time.Second)) {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(s * float64(time.Second))
}

// Reason explains p for rule r (the metric named metric) in words a person
// can check: the rate per hour in the series' unit with its bounds, the
// fit window, the current value, and the crossing time in UTC with the time
// left.
func (p *Prediction) Reason(r *Rule) string {
	u := unitOf(r.Metric)
	var b strings.Builder
	lo, hi := p.SlopeLowPerHour, p.SlopeHighPerHour
	if lo*hi > 0 {
		verb := "rising"
		if p.SlopePerHour < 0 {
			verb = "falling"
		}
		lo, hi = math.Abs(lo), math.Abs(hi)
		if lo > hi {
			lo, hi = hi, lo
		}
		fmt.Fprintf(&b, "%s %s/h (%s to %s/h at the slope's bounds)", verb, u.format(math.Abs(p.SlopePerHour)), u.format(lo), u.format(hi))
	} else {
		fmt.Fprintf(&b, "no clear trend: %s/h (%s to %s/h at the slope's bounds)", u.format(p.SlopePerHour), u.format(lo), u.format(hi))
	}
	fmt.Fprintf(&b, ", fitted over %s (%d samples since %s)", FormatDuration(p.Window), p.Samples, p.Since.Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&b, "; now %s", u.format(p.Current))
	if p.Capacity > 0 {
		fmt.Fprintf(&b, " of %s (%.1f%%)", u.format(p.Capacity), 100*p.Current/p.Capacity)
	}
	thr := u.format(p.Threshold)
	if r.Percent {
		thr = fmt.Sprintf("%s (%g%% of %s)", thr, r.Threshold, u.format(p.Capacity))
	}
	switch p.Status {
	case StatusWarmingUp:
		fmt.Fprintf(&b, "; not enough history yet to forecast")
	case StatusCrossed:
		fmt.Fprintf(&b, "; already at or past %s", thr)
	case StatusNotApproaching:
		fmt.Fprintf(&b, "; not moving towards %s", thr)
	default:
		fmt.Fprintf(&b, "; at this rate it reaches %s in %s, at %s", thr, FormatDuration(p.TimeLeft), p.CrossesAt.Round(time.Minute).Format("2006-01-02 15:04 UTC"))
		if e, l := clock(p.Earliest, p.CrossesAt), clock(p.Latest, p.CrossesAt); !p.Earliest.IsZero() && e != l {
			fmt.Fprintf(&b, " (between %s and ", e)
			if p.Latest.IsZero() {
				b.WriteString("never at the slower bound)")
			} else {
				fmt.Fprintf(&b, "%s)", l)
			}
		}
		switch p.Status {
		case StatusNotSignificant:
			b.WriteString("; but the trend is within the noise")
		case StatusBeyondHorizon:
			fmt.Fprintf(&b, "; beyond the %s horizon", FormatDuration(r.Horizon))
		case StatusBeyondExtrapolation:
			fmt.Fprintf(&b, "; too far ahead to trust a trend fitted over %s", FormatDuration(p.Window))
		case StatusResetsFirst:
			fmt.Fprintf(&b, "; but the series jumps back at a regular interval and the next jump is due at %s", clock(p.NextReset, p.At))
		case StatusDailyPattern:
			fmt.Fprintf(&b, "; but it is no closer than 24h ago (%s): a daily pattern", u.format(p.DayAgo))
		}
	}
	return b.String()
}

// clock writes t as "15:04 UTC" when it is on ref's day, else with its
// date.
func clock(t, ref time.Time) string {
	t, ref = t.Round(time.Minute), ref.Round(time.Minute)
	if t.YearDay() == ref.YearDay() && t.Year() == ref.Year() {
		return t.Format("15:04 UTC")
	}
	return t.Format("2006-01-02 15:04 UTC")
}

// unit is how a series' values are written.
type unit int

const (
	unitNone unit = iota
	unitBytes
	unitSeconds
)

func unitOf(metric string) unit {
	switch {
	case strings.HasSuffix(metric, "_bytes"):
		return unitBytes
	case strings.HasSuffix(metric, "_seconds"):
		return unitSeconds
	}
	return unitNone
}

func (u unit) format(v float64) string {
	switch u {
	case unitBytes:
		return formatBytes(v)
	case unitSeconds:
		return fmt.Sprintf("%.4gs", v)
	}
	return fmt.Sprintf("%.4g", v)
}

// formatBytes writes v in binary units: 1.5 GiB.
func formatBytes(v float64) string {
	a := math.Abs(v)
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB"}
	i := 0
	for a >= 999.5 && i < len(units)-1 { // 1000 MiB is written 0.977 GiB

		a /= 1024
		v /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%.4g B", v)
	}
	return fmt.Sprintf("%.3g %s", v, units[i])
}

// FormatDuration writes d as people read a time left: "3h10m", "2d4h",
// "8m20s", "45s".
func FormatDuration(d time.Duration) string {
	if d == time.Duration(math.MaxInt64) {
		return "forever"
	}
	neg := ""
	if d < 0 {
		neg, d = "-", -d
	}
	switch {
	case d >= 48*time.Hour:
		d = d.Round(time.Hour)
		return fmt.Sprintf("%s%dd%dh", neg, d/(24*time.Hour), d%(24*time.Hour)/time.Hour)
	case d >= time.Hour:
		d = d.Round(time.Minute)
		if d%time.Hour == 0 {
			return fmt.Sprintf("%s%dh", neg, d/time.Hour)
		}
		return fmt.Sprintf("%s%dh%02dm", neg, d/time.Hour, d%time.Hour/time.Minute)
	case d >= 10*time.Minute:
		d = d.Round(time.Minute)
		return fmt.Sprintf("%s%dm", neg, d/time.Minute)
	case d >= time.Minute:
		d = d.Round(time.Second)
		return fmt.Sprintf("%s%dm%02ds", neg, d/time.Minute, d%time.Minute/time.Second)
	default:
		return fmt.Sprintf("%s%ds", neg, int64(d.Round(time.Second)/time.Second))
	}
}
