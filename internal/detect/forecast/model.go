package forecast

import (
	"math"
)

// jumpRun is the number of consecutive samples that must all lie more than
// Params.Jump residual deviations on the same side of the fitted line
// before the model accepts a jump (a log rotation, a deleted file, a step)
// and restarts its fit from them. Fewer are treated as outliers and left
// out of the fit.
const jumpRun = 3

// dayBins is the number of half-hour bins of the day-over-day memory.
const dayBins = 48

// binMs is the width of a day bin in milliseconds.
const binMs = 30 * 60 * 1000

// Model is the streaming trend model of one series: an exponentially
// weighted least-squares line over (time, value), with the weights halving
// every Params.HalfLife of sample time, made robust by leaving out single
// outliers and restarting at jumps, plus what the forecast's sanity checks
// need: when the series jumped away from or towards a threshold, and its
// value a day ago. It is updated once per sample with no allocation and
// holds no pointers (about 600 bytes). The zero value is an empty model.
//
// Time comes from the samples' timestamps; samples must arrive in time
// order (older or equal timestamps are ignored, as the TSDB rejects them).
type Model struct {
	// The weighted fit since start (ms): total weight, sum of squared
	// weights, weighted means of x (seconds since start) and y, and the
	// weighted co-moments, all updated with West's incremental algorithm.
	start int64
	// last is the time of the last sample seen, lastFit of the last one
	// added to the fit (outliers are seen but not added).
	last, lastFit  int64
	n              int64
	w, w2          float64
	mx, my         float64
	cxx, cxy, cyy  float64
	lastV          float64
	outliers       int64
	runN, runSign  int8
	run            [jumpRun]point
	jumpsUp        int32
	jumpsDown      int32
	lastUp, lastDn int64
	// cycleUp and cycleDn are the running mean times (ms) between jumps
	// up and down.
	cycleUp, cycleDn float64
	// first is the time of the first sample ever seen (ms).
	first int64
	// The day-over-day memory: the mean of each of the last 48 half-hour
	// bins, and which bin (half-hours since the epoch) each slot holds.
	day    [dayBins]float32
	dayIdx [dayBins]int32
	curBin int32
	binSum float64
	binN   int32
	// dayAgo is the mean of the bin 24 hours before the current one, valid
	// when dayAgoOK.
	dayAgo   float64
	dayAgoOK bool
}

type point struct {
	t int64
	v float64
}

// Params are the model's parameters, the same for every series.
type Params struct {
	// HalfLife is the sample time after which a sample's weight in the fit
	// has halved, in milliseconds.
	HalfLifeMs int64
	// Jump is the residual, in residual standard deviations, beyond which
	// a sample is an outlier (and jumpRun of them in a row on one side a
	// jump).
	Jump float64
	// MinSamples is the number of samples the fit needs before it detects
	// outliers and jumps.
	MinSamples int
	// Huber is the residual, in residual standard deviations, beyond which
	// a sample's weight shrinks in proportion (Huber's weights), so that a
	// bend in the trend tilts the line and widens the deviation less
	// before it is recognised as a jump; 0 weighs every sample fully.
	Huber float64
}

// Samples returns the number of samples in the current fit.
func (m *Model) Samples() int64 { return m.n }

// Last returns the time (ms) and value of the last sample seen.
func (m *Model) Last() (int64, float64) { return m.last, m.lastV }

// Update adds the sample (t ms, v) to the model. NaN and infinite values
// (Prometheus' staleness markers) and samples not after the last one are
// ignored.
func (m *Model) Update(p *Params, t int64, v float64) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return
	}
	if m.n > 0 && t <= m.last {
		return
	}
	if m.first == 0 {
		m.first = t
	}
	m.dayUpdate(t, v)
	m.lastV = v
	if m.n == 0 {
		m.restart(t)
		m.add(p, t, v, 1)
		return
	}
	wt := 1.0
	if m.n >= int64(max(p.MinSamples, jumpRun+1)) {
		f := m.fit()
		r := v - f.levelAt(m.tx(t))
		sd := f.sd
		if a := math.Abs(r); p.Huber > 0 && a > p.Huber*sd {
			wt = p.Huber * sd / a
		}
		if sd > 0 && math.Abs(r) > p.Jump*sd {
			sign := int8(1)
			if r < 0 {
				sign = -1
			}
			if m.runN > 0 && m.runSign != sign {
				m.runN = 0
			}
			m.runSign = sign
			m.run[m.runN] = point{t, v}
			m.runN++
			m.outliers++
			if int(m.runN) < jumpRun {
				m.last = t
				return
			}
			m.jump(p, sign)
			return
		}
	}
	m.runN = 0
	m.add(p, t, v, wt)
}

// jump restarts the fit from the samples of the outlier run, which all lie
// on the side sign of the old fit, and records the jump.
func (m *Model) jump(p *Params, sign int8) {
	at := m.run[0].t
	if sign > 0 {
		if m.jumpsUp > 0 {
			m.cycleUp = runningMean(m.cycleUp, float64(at-m.lastUp), m.jumpsUp)
		} else {
			m.cycleUp = float64(at - m.first)
		}
		m.jumpsUp++
		m.lastUp = at
	} else {
		if m.jumpsDown > 0 {
			m.cycleDn = runningMean(m.cycleDn, float64(at-m.lastDn), m.jumpsDown)
		} else {
			m.cycleDn = float64(at - m.first)
		}
		m.jumpsDown++
		m.lastDn = at
	}
	run := m.run
	n := m.runN
	m.runN = 0
	m.n = 0
	m.restart(run[0].t)
	for i := range n {
		m.add(p, run[i].t, run[i].v, 1)
	}
}

// runningMean averages x into mean (of n values so far), weighting recent
// cycles more once there are four.
func runningMean(mean, x float64, n int32) float64 {
	k := float64(min(n+1, 4))
	return mean + (x-mean)/k
}

func (m *Model) restart(t int64) {
	m.start = t
	m.n = 0
	m.w, m.w2, m.mx, m.my, m.cxx, m.cxy, m.cyy = 0, 0, 0, 0, 0, 0, 0
}

// tx converts a sample time to the fit's x: seconds since the fit started.
func (m *Model) tx(t int64) float64 { return float64(t-m.start) / 1000 }

// add adds (t, v) with weight wt after decaying the old weights.
func (m *Model) add(p *Params, t int64, v, wt float64) {
	if m.n > 0 && p.HalfLifeMs > 0 {
		d := math.Exp2(-float64(t-m.lastFit) / float64(p.HalfLifeMs))
		m.w *= d
		m.w2 *= d * d
		m.cxx *= d
		m.cxy *= d
		m.cyy *= d
	}
	x := m.tx(t)
	m.w += wt
	m.w2 += wt * wt
	dx := x - m.mx
	dy := v - m.my
	m.mx += wt / m.w * dx
	m.my += wt / m.w * dy
	m.cxx += wt * dx * (x - m.mx)
	m.cxy += wt * dx * (v - m.my)
	m.cyy += wt * dy * (v - m.my)
	m.n++
	m.last = t
	m.lastFit = t
}

// dayUpdate keeps the half-hour bin means of the last day.
func (m *Model) dayUpdate(t int64, v float64) {
	bin := int32(t / binMs)
	if m.binN > 0 && bin != m.curBin {
		slot := int(m.curBin % dayBins)
		m.day[slot] = float32(m.binSum / float64(m.binN))
		m.dayIdx[slot] = m.curBin
		m.binSum, m.binN = 0, 0
	}
	if m.binN == 0 {
		m.curBin = bin
		slot := int(bin % dayBins)
		m.dayAgoOK = m.dayIdx[slot] == bin-dayBins && m.dayIdx[slot] != 0
		m.dayAgo = float64(m.day[slot])
	}
	m.binSum += v
	m.binN++
}

// fitted is the line of the current fit.
type fitted struct {
	// slope is per second; level is the fitted value at x = mx.
	slope, mx, my float64
	// sd is the residual standard deviation; se the slope's standard error.
	sd, se float64
	// neff is the effective number of samples; span the equivalent uniform
	// window in seconds: sqrt(12 × the weighted variance of x).
	neff, span float64
}

func (f *fitted) levelAt(x float64) float64 { return f.my + f.slope*(x-f.mx) }

func (m *Model) fit() fitted {
	f := fitted{mx: m.mx, my: m.my}
	if m.n < 2 || m.w <= 0 || m.cxx <= 0 {
		return f
	}
	f.slope = m.cxy / m.cxx
	f.neff = m.w * m.w / m.w2
	varx := m.cxx / m.w
	f.span = math.Sqrt(12 * varx)
	rss := max(m.cyy-f.slope*m.cxy, 0) / m.w // weighted mean squared residual
	// A floor of a few ulps of the level, so a perfectly straight line has
	// a finite deviation.
	rss = max(rss, square(1e-9*math.Abs(m.my)), 1e-300)
	if f.neff > 2 {
		rss *= f.neff / (f.neff - 2)
	}
	f.sd = math.Sqrt(rss)
	f.se = f.sd / math.Sqrt(f.neff*varx)
	return f
}

func square(x float64) float64 { return x * x }
