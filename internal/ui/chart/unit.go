package chart

import (
	"math"
	"strconv"
	"strings"
)

// Unit is what a series' values measure, inferred from the metric name's
// suffix as Prometheus' naming conventions have it.
type Unit int

// Units.
const (
	// UnitNone is a plain number, shown with SI prefixes (k, M, G).
	UnitNone Unit = iota
	// UnitSeconds is a duration (_seconds), shown in µs, ms, s, min or h.
	UnitSeconds
	// UnitBytes is a size (_bytes), shown in B, KiB, MiB, GiB, TiB.
	UnitBytes
	// UnitRatio is a fraction of one (_ratio), shown as a percentage.
	UnitRatio
	// UnitPerSecond is a rate (of a _total counter), shown per second.
	UnitPerSecond
)

// UnitOf infers the unit of a metric from its name. For a counter (_total)
// it returns UnitPerSecond and rate true: the chart should show the counter's
// per-second rate rather than its running total. A counter of seconds or
// bytes (…_seconds_total) stays a plain rate.
func UnitOf(metric string) (u Unit, rate bool) {
	switch {
	case strings.HasSuffix(metric, "_total"):
		return UnitPerSecond, true
	case strings.HasSuffix(metric, "_seconds"):
		return UnitSeconds, false
	case strings.HasSuffix(metric, "_bytes"):
		return UnitBytes, false
	case strings.HasSuffix(metric, "_ratio"):
		return UnitRatio, false
	}
	return UnitNone, false
}

// Name says what the unit is, for the value axis' caption.
func (u Unit) Name() string {
	switch u {
	case UnitSeconds:
		return "duration"
	case UnitBytes:
		return "size"
	case UnitRatio:
		return "percent"
	case UnitPerSecond:
		return "per second"
	}
	return ""
}

// scale is a unit's display scale for values up to some magnitude: values
// are divided by factor and followed by suffix.
type scale struct {
	factor float64
	suffix string
}

// scaleFor picks the display scale of u for values of magnitude up to m.
func (u Unit) scaleFor(m float64) scale {
	m = math.Abs(m)
	switch u {
	case UnitSeconds:
		switch {
		case m == 0:
			return scale{1, " s"}
		case m < 1e-3:
			return scale{1e-6, " µs"}
		case m < 1:
			return scale{1e-3, " ms"}
		case m < 120:
			return scale{1, " s"}
		case m < 7200:
			return scale{60, " min"}
		}
		return scale{3600, " h"}
	case UnitBytes:
		units := []string{" B", " KiB", " MiB", " GiB", " TiB", " PiB"}
		f := 1.0
		for i := range units {
			if m < f*1024 || i == len(units)-1 {
				return scale{f, units[i]}
			}
			f *= 1024
		}
	case UnitRatio:
		return scale{0.01, "%"}
	case UnitPerSecond:
		s := siScale(m)
		s.suffix += "/s"
		return s
	}
	return siScale(m)
}

// siScale picks an SI prefix for magnitude m.
func siScale(m float64) scale {
	switch {
	case m >= 1e12:
		return scale{1e12, "T"}
	case m >= 1e9:
		return scale{1e9, "G"}
	case m >= 1e6:
		return scale{1e6, "M"}
	case m >= 1e4:
		return scale{1e3, "k"}
	}
	return scale{1, ""}
}

// Format writes v in unit u with about three significant digits, for labels
// and tooltips.
func (u Unit) Format(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	s := u.scaleFor(v)
	x := v / s.factor
	return trimZeros(strconv.FormatFloat(x, 'f', decimals(math.Abs(x)), 64)) + s.suffix
}

// decimals is how many decimals give about three significant digits.
func decimals(ax float64) int {
	switch {
	case ax == 0 || ax >= 100:
		return 0
	case ax >= 10:
		return 1
	case ax >= 1:
		return 2
	case ax >= 0.01:
		return 3
	}
	return 4
}

// trimZeros drops trailing zeros after a decimal point ("1.50" → "1.5").
func trimZeros(s string) string {
	if !strings.Contains(s, ".") {
		return s
	}
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// valueTicks returns about n readable tick values covering [lo, hi] and
// their labels in unit u, all with the same scale and number of decimals.
func valueTicks(lo, hi float64, n int, u Unit) (ticks []float64, labels []string) {
	s := u.scaleFor(math.Max(math.Abs(lo), math.Abs(hi)))
	a, b := lo/s.factor, hi/s.factor
	step := niceStep((b - a) / float64(max(n, 1)))
	dec := max(0, -int(math.Floor(math.Log10(step)+1e-9)))
	for v := math.Ceil(a/step-1e-9) * step; v <= b+step*1e-9; v += step {
		x := math.Round(v/step) * step // no accumulated error
		if x == 0 {
			x = 0 // not -0
		}
		ticks = append(ticks, x*s.factor)
		labels = append(labels, strconv.FormatFloat(x, 'f', dec, 64)+s.suffix)
	}
	return ticks, labels
}

// niceStep rounds a raw step up to 1, 2 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	if raw <= 0 || math.IsNaN(raw) || math.IsInf(raw, 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= raw*(1-1e-9) {
			return m * p
		}
	}
	return 10 * p
}
