package metric

import (
	"math"
)

// Component identifies one detector of the ensemble.
type Component uint8

// The components of the ensemble.
const (
	// CompPoint is the surprise of the value against the predictor.
	CompPoint Component = iota
	// CompShift is a sustained shift: a long run of moderate residuals on
	// one side (a narrow CUSUM).
	CompShift
	// CompSpread is a change of the short-term spread.
	CompSpread
	// CompNovel is a never-seen sequence of quantised values.
	CompNovel
	// CompBurst is a run of large residuals on one side (a wide CUSUM).
	CompBurst
	numComponents
)

var componentNames = [numComponents]string{"point", "shift", "spread", "novel", "burst"}

// String returns the component's name as used in Evidence.
func (c Component) String() string {
	if c < numComponents {
		return componentNames[c]
	}
	return "unknown"
}

// Predictor says which model produced the expected value.
type Predictor uint8

// Predictors.
const (
	PredLevel Predictor = iota
	PredDaily
	PredWeekly
)

var predictorNames = [...]string{"level", "daily season", "weekly season"}

// String names the predictor.
func (p Predictor) String() string {
	if int(p) < len(predictorNames) {
		return predictorNames[p]
	}
	return "unknown"
}

const (
	dayBins    = 48  // half hours
	weekBins   = 168 // hours
	dayMs      = 86_400_000
	weekMs     = 7 * dayMs
	numPredict = 3
)

// Result is what Model.Update says about one sample.
type Result struct {
	// Score is the calibrated anomaly score in [0, 1]: the strongest
	// component's surprise against that component's own record in this
	// series (see Config.ScoreOctaves). It is 0 during warm-up.
	Score float64
	// Alarm is Score after debouncing: 0 within Config.Refractory samples
	// after an alarm (a score at or above Config.Threshold) and, below the
	// threshold, unless it is a new high of that span. It is what
	// thresholds act on.
	Alarm float64
	// Expected, Lower and Upper are the prediction and the band of values
	// whose point surprise would have scored below Config.Threshold.
	Expected, Lower, Upper float64
	// Components holds each component's score on the same scale as Score.
	Components [numComponents]float64
	// Predictor names the model Expected came from.
	Predictor Predictor
	// Warm is false while the model is still warming up.
	Warm bool
}

// Fired reports whether component c scored at or above threshold.
func (r *Result) Fired(c Component, threshold float64) bool {
	return r.Components[c] >= threshold
}

// Model is the detector state of one series. The zero value is ready to use
// and every field is a number, so a Model can be copied and snapshotted as
// bytes. It is not safe for concurrent use.
type Model struct {
	n       uint32
	peakAge uint32
	pred    Predictor
	// desens is how much operator feedback raised the surprise this series
	// needs to alarm, in octaves (log2 of the factor); 0 means none. It sits
	// in what would be padding after pred.
	desens  float32
	firstMs int64
	lastMs  int64

	// level predictor: fast robust EWMA and its error.
	level float64
	// base is a baseline over about a day, the origin of the seasonal
	// offsets.
	base float64
	// seasonal predictor levels (fast EWMA of the deseasonalised value).
	dLevel, wLevel float64
	// err holds each predictor's running mean absolute error.
	err [numPredict]float64
	// spread is the short-term mean absolute residual.
	spread float64
	// swing is the long-run mean absolute deviation of the value from base:
	// how much the series moves at all. It floors the error scales, so a
	// perfectly predictable series does not turn rounding into anomalies.
	swing float64
	// record is each component's largest recent surprise, decaying. The
	// point component keeps one per predictor (pointRec), so switching to
	// a season compares like with like.
	record   [numComponents]float64
	pointRec [numPredict]float64
	peak     float64

	nov novelty
	// burstUp and burstDown are the one-sided CUSUMs of the clipped
	// standardised residual (the burst component), shiftUp and shiftDown
	// the narrow ones of the shift component.
	burstUp, burstDown float64
	shiftUp, shiftDown float64
	// novRecent is the strongest novelty surprise of the last few
	// samples, decaying by novelPersistDecay per sample.
	novRecent float64
	// burstBar follows an excursion of the burst sum above its record
	// (see burstExcursion): while it has not alarmed, burstBar is the
	// record before it (> 0), which the burst is judged against; once it
	// has alarmed, minus that record (< 0); 0 when there is none.
	burstBar float64

	day  [dayBins]float32
	week [weekBins]float32

	// fatigue is, per component, how much the alarms it raised in this
	// series lately raise the surprise it needs, in octaves (log2 of the
	// factor), decaying (Config.FatigueStep, FatigueDecay); 0 means none.
	// fatigueBand is 2^fatigue[CompPoint], the factor it widens the band
	// by, kept so that the band costs no exponential per sample; 0 (or 1)
	// means none.
	fatigue     [numComponents]float32
	fatigueBand float32
}

// Update feeds one sample, at tsMs milliseconds since the epoch, and returns
// its score. Samples should come in time order; the model uses timestamps
// only to place a sample in its daily and weekly season. NaN and infinite
// values (staleness markers) leave the model unchanged and score 0.
func (m *Model) Update(cfg *Config, tsMs int64, v float64) (res Result) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return res
	}
	if m.n == 0 {
		m.firstMs = tsMs
		m.level, m.base, m.dLevel, m.wLevel = v, v, v, v
		m.n = 1
		m.lastMs = tsMs
		res.Expected, res.Lower, res.Upper = v, v, v
		return res
	}
	m.n++
	age := tsMs - m.firstMs
	db := phase(tsMs, dayMs, dayBins)
	wb := phase(tsMs, weekMs, weekBins)
	dOff, wOff := float64(m.day[db]), float64(m.week[wb])

	// Choose the predictor: a season is used only when it has had two
	// periods to learn and its running error clearly beats the level's.
	pred := [numPredict]float64{m.level, m.dLevel + dOff, m.wLevel + wOff}
	k := PredLevel
	if !cfg.noSeason && age >= 2*dayMs && m.err[PredDaily] < cfg.SeasonGain*m.err[PredLevel] {
		k = PredDaily
	}
	if !cfg.noSeason && age >= 2*weekMs && m.err[PredWeekly] < cfg.SeasonGain*m.err[k] {
		k = PredWeekly
	}
	scale := m.err[k]
	floor := cfg.Floor*m.swing + 1e-9*math.Abs(m.level) + 1e-12
	if scale < floor {
		scale = floor
	}
	r := v - pred[k]

	// Component surprises, all from the state before this sample.
	var z [numComponents]float64
	z[CompPoint] = math.Abs(r) / scale
	if k != m.pred {
		// A new predictor changes what "residual" means: restart the
		// short-term trackers rather than read the switch itself as a
		// shift.
		m.spread = scale
		m.burstUp, m.burstDown, m.burstBar = 0, 0, 0
		m.shiftUp, m.shiftDown = 0, 0
	}
	spread := m.spread + cfg.ShortAlpha*(math.Abs(r)-m.spread)
	z[CompSpread] = spread / scale
	z[CompNovel] = m.nov.update(cfg, m.n, v)
	if !cfg.novelIsolated {
		z[CompNovel] = m.persist(z[CompNovel])
	}
	// Two CUSUMs of the standardised residual: burst sums large
	// residuals (a burst of activity), shift moderate ones, each adding at
	// most ShiftClip − ShiftAllowance (half a typical error), so its sum
	// measures how long a level has stayed off the prediction.
	xs := r / scale
	z[CompBurst] = cusum(&m.burstUp, &m.burstDown, xs, cfg.BurstAllowance, cfg.BurstClip)
	z[CompShift] = cusum(&m.shiftUp, &m.shiftDown, xs, cfg.ShiftAllowance, cfg.ShiftClip)

	warm := int(m.n) > cfg.Warmup
	res.Warm = warm
	res.Predictor = k
	res.Expected = pred[k]
	// The band: the point surprise that would score Threshold.
	band := m.bandWidth(cfg, k, scale)
	res.Lower, res.Upper = pred[k]-band, pred[k]+band

	best := 0.0
	grow, recording := m.grow(cfg), int(m.n) > cfg.Warmup/2
	// A surprise of at most zeroBelow (2^−ScoreOctaves) times its record
	// scores 0 (clamped), so its logarithm is skipped; zeroBelow is 0,
	// skipping nothing, when the cache in cfg does not apply. So does a
	// surprise of 0 (the usual burst, shift and novelty surprise), whose
	// division is skipped too.
	half, zeroBelow := 0.0, 0.0
	if cfg.band.octaves == cfg.ScoreOctaves {
		half, zeroBelow = cfg.band.half, cfg.band.zero
	} else {
		half = 0.5 / cfg.ScoreOctaves
	}
	// rec is each component's record as this sample is judged against
	// it: never below the typical surprise of 1 (cusumRecordFloor for the
	// CUSUMs), the point component's that of the predictor in use. bar is
	// what the surprise is judged against: the record, except during an
	// excursion of the burst sum (burstExcursion).
	rec := [numComponents]float64{
		CompPoint:  atLeast(m.pointRec[k], 1),
		CompShift:  atLeast(m.record[CompShift], cusumRecordFloor),
		CompSpread: atLeast(m.record[CompSpread], 1),
		CompNovel:  atLeast(m.record[CompNovel], 1),
		CompBurst:  atLeast(m.record[CompBurst], cusumRecordFloor),
	}
	if warm {
		burstExcursion := m.burstBar > 0 && !cfg.burstGrowing
		for c := range numComponents {
			if cfg.disabled[c] {
				continue
			}
			bar := rec[c]
			if c == CompBurst && burstExcursion {
				bar = m.burstBar
			}
			sc := 0.0
			if !(z[c] > 0) {
				// q would be ≤ 0 or NaN: not above zeroBelow.
			} else if q := z[c] / bar; q > zeroBelow {
				sc = clamp(0.5+half*(log2(q)-float64(m.fatigue[c])), 0, 1)
			}
			res.Components[c] = sc
			best = maxOf(best, sc)
		}
	}
	// The record decays slowly, never below the typical surprise of 1,
	// and grows at most RecordGrow-fold per sample. The first half of the
	// warm-up does not count: the errors are not yet meaningful.
	if recording {
		for c := range numComponents {
			m.record[c] = clamp(z[c], rec[c]*cfg.RecordDecay, rec[c]*grow)
		}
		for j := range numPredict {
			r := atLeast(m.pointRec[j], 1)
			zj := math.Abs(v-pred[j]) / atLeast(m.err[j], floor)
			m.pointRec[j] = clamp(zj, r*cfg.RecordDecay, r*grow)
		}
	}
	// The burst component is judged last, after its record moved, as when
	// the components were scored and recorded one after the other.
	if warm && !cfg.disabled[CompBurst] && !cfg.burstGrowing {
		m.burstExcursion(cfg, z[CompBurst], rec[CompBurst], res.Components[CompBurst])
	}
	if warm {
		res.Score = best
		res.Alarm = m.debounce(cfg, material(cfg, v, res.Expected, res.Score))
		m.tire(cfg, &res)
	}

	// Learn from the sample.
	m.learn(cfg, v, dOff, wOff, db, wb, pred, scale, spread)
	m.lastMs = tsMs
	m.pred = k
	return res
}

// cusumRecordFloor is the lowest record the burst and shift components
// are judged against. The other components' surprises are ratios to a
// typical error, so their records rest at 1 (a typical sample); a CUSUM
// is an excess over its allowance and rests at 0, so its record would
// decay to the floor and a run barely past the allowance would score as a
// new record. With 2, a run must exceed the allowance by two typical
// errors in all before it can score above 0.5 (for the shift component,
// whose samples add at most half an error each, five samples in a row).
const cusumRecordFloor = 2

// cusum adds the standardised residual x, clipped to ±clip, less allow, to
// the one-sided sums *up and *down (each restarts at 0 when it would go
// negative) and returns the surprise: the larger sum carried over from the
// sample before. A sum that starts with this sample is one residual, which
// is the point component's to judge (its record knows how large single
// residuals get; a CUSUM's record, mostly at rest, does not).
func cusum(up, down *float64, x, allow, clip float64) float64 {
	x = clamp(x, -clip, clip)
	u, d := *up, *down
	nu, nd := atLeast0(u+x-allow), atLeast0(d-x-allow)
	*up, *down = nu, nd
	z := 0.0
	if u > 0 {
		z = nu
	}
	if d > 0 {
		z = maxOf(z, nd)
	}
	return z
}

// burstExcursion follows an excursion of the burst sum above its record,
// after the burst component scored sc for the sum z against its record
// rec (the record before this sample) and the record was updated.
//
// The burst sum grows over a run, so a run that outlasts the runs before
// it passes its record gradually, and the record, which follows a surprise
// up by at most AlarmGrow per sample, follows the sum: scored against a
// record it keeps raising itself, the run scores only its growth per
// sample (0.52 for a sum growing by 12 % a sample) and never alarms
// however far it goes. So once the sum passes its record without alarming,
// it is judged against the record before the excursion (burstBar), until
// it falls back below that or alarms. After the alarm the record governs
// again (it has followed the run), so the rest of the run does not alarm
// again after the refractory span.
//
// When a run that alarmed is over (its sum has drained to 0), its record
// is brought back to at most AlarmGrow times the record before it: an
// alarmed run raises the bar for the next one as much as an alarmed spike
// raises the point record (a spike is one sample, so AlarmGrow bounds
// that already), and a moderate run after a long incident is judged
// against the runs of ordinary times, not against the incident.
//
// The point component needs no first rule (a spike is one sample, scored
// before the record moves); for shift and spread, averages that settle
// within about ten samples, the first rule raised more false alarms than
// it found windows, and the second rule did not pay for any other
// component (docs/detection.md, Session 5).
func (m *Model) burstExcursion(cfg *Config, z, rec, sc float64) {
	alarmed := sc >= m.threshold(cfg)
	switch b := m.burstBar; {
	case b == 0:
		if z > rec {
			m.burstBar = rec
			if alarmed {
				m.burstBar = -rec
			}
		}
	case b > 0:
		if alarmed {
			m.burstBar = -b
		} else if z < b {
			m.burstBar = 0
		}
	case z == 0:
		// The alarmed run is over.
		if !cfg.burstNoReturn {
			f := cfg.AlarmGrow
			if cfg.burstReturn > 0 {
				f = cfg.burstReturn
			}
			m.record[CompBurst] = min(m.record[CompBurst], -b*f)
		}
		m.burstBar = 0
	}
}

// tire updates each component's fatigue after the sample scored res: an
// alarm adds Config.FatigueStep octaves to that of every component that
// scored at or above the threshold in it, and every fatigueEvery samples
// the fatigue decays by Config.FatigueDecay per sample. It is a
// calibration the records cannot make: a record follows the largest
// surprise of the recent past and returns within a few thousand samples,
// so a component whose surprises in this series keep breaking its record
// (a heavy-tailed series, a novelty rate still falling) raises an alarm
// at each; fatigue remembers that it did, for that component alone, so
// an alarm of another component, or of this one after a quiet spell, is
// judged as before (docs/detection.md, Session 6).
func (m *Model) tire(cfg *Config, res *Result) {
	alarm := res.Alarm >= m.threshold(cfg)
	decay := m.n%fatigueEvery == 0
	if !alarm && (!decay || m.fatigue == [numComponents]float32{}) {
		return
	}
	if decay {
		d := cfg.FatigueDecay
		for range fatigueEveryLog {
			d *= d
		}
		for c := range numComponents {
			if f := m.fatigue[c] * float32(d); f >= fatigueMin {
				m.fatigue[c] = f
			} else {
				m.fatigue[c] = 0
			}
		}
	}
	if alarm {
		for c := range numComponents {
			if res.Components[c] >= m.threshold(cfg) {
				m.fatigue[c] += float32(cfg.FatigueStep)
			}
		}
	}
	m.fatigueBand = 0
	if f := m.fatigue[CompPoint]; f > 0 {
		m.fatigueBand = float32(math.Exp2(float64(f)))
	}
}

// fatigueEvery is how often, in samples, the fatigue decays (by
// FatigueDecay^fatigueEvery): a stale fatigue of at most 15 samples' decay
// (under 1 % of it at the default decay) for an update that pays for
// the decay and the band's exponential once per 16 samples.
const (
	fatigueEveryLog = 4
	fatigueEvery    = 1 << fatigueEveryLog
)

// fatigueMin is the fatigue, in octaves, below which it is dropped (a
// factor of 1.0007), so a series back at rest skips tire's loop.
const fatigueMin = 1e-3

// persist applies novelty persistence (see novelPersistDecay) to zn, this
// sample's novelty surprise: a new shape makes new sequences at several
// consecutive samples, noise at a level boundary mostly an isolated one.
func (m *Model) persist(zn float64) float64 {
	out := 0.0
	if zn > 0 {
		out = math.Sqrt(zn * max(m.novRecent, novelPersistFloor*zn))
	}
	m.novRecent = maxOf(zn, novelPersistDecay*m.novRecent)
	return out
}

// learn updates the predictors and trackers with v.
func (m *Model) learn(cfg *Config, v, dOff, wOff float64, db, wb int, pred [numPredict]float64, scale, spread float64) {
	clip := func(x, s float64) float64 {
		lim := cfg.Clip * s
		return clamp(x, -lim, lim)
	}
	// Running errors start as plain means (1/n) so they are not biased
	// towards zero in a young model.
	ea := maxOf(cfg.ErrAlpha, 1/float64(m.n))
	for k := range numPredict {
		e := math.Abs(v - pred[k])
		if m.err[k] > 0 {
			e = minOf(e, cfg.Clip*m.err[k])
		}
		m.err[k] += ea * (e - m.err[k])
	}
	if m.n <= 2 {
		for k := range numPredict {
			m.err[k] = math.Abs(v - pred[k])
		}
	}
	m.level += cfg.LevelAlpha * clip(v-m.level, scale)
	m.dLevel += cfg.LevelAlpha * clip(v-dOff-m.dLevel, scale)
	m.wLevel += cfg.LevelAlpha * clip(v-wOff-m.wLevel, scale)
	m.spread = spread

	// Seasonal offsets: deviation from a baseline over about a day.
	dev := v - m.base
	m.day[db] += float32(cfg.SeasonAlpha * (dev - float64(m.day[db])))
	m.week[wb] += float32(cfg.SeasonAlpha * (dev - float64(m.week[wb])))
	m.base += cfg.BaseAlpha * (v - dOff - m.base)
	m.swing += ea * (math.Abs(dev) - m.swing)
}

// grow is how much a record may grow with this sample: RecordGrow while
// warming up, AlarmGrow after.
func (m *Model) grow(cfg *Config) float64 {
	if int(m.n) > cfg.Warmup {
		return cfg.AlarmGrow
	}
	return cfg.RecordGrow
}

// material returns score if v differs from the prediction by at least
// Config.MinFactor and Config.MinDelta, else 0: a change too small to
// matter neither alarms nor starts a refractory span.
func material(cfg *Config, v, expected, score float64) float64 {
	d := math.Abs(v - expected)
	if d < cfg.MinDelta {
		return 0
	}
	if f := cfg.MinFactor; f > 0 {
		lo, hi := min(math.Abs(v), math.Abs(expected)), max(math.Abs(v), math.Abs(expected))
		if hi < f*lo {
			return 0
		}
	}
	return score
}

// debounce returns s if it is an alarm worth reporting: nothing for
// Refractory samples after an alarm; otherwise s if it is higher than any
// score in the last Refractory samples.
func (m *Model) debounce(cfg *Config, s float64) float64 {
	m.peakAge++
	if m.peakAge > uint32(cfg.Refractory) {
		m.peak = 0
	}
	if m.peak >= m.threshold(cfg) && m.peakAge <= uint32(cfg.Refractory) {
		// One alarm per incident: a later, stronger score of the
		// same incident would be a second detection of it.
		return 0
	}
	if s > m.peak {
		m.peak = s
		m.peakAge = 0
		return s
	}
	return 0
}

// bandWidth is the distance from the prediction at which the point
// component would reach the threshold.
func (m *Model) bandWidth(cfg *Config, k Predictor, scale float64) float64 {
	var ratio float64
	if m.desens == 0 && cfg.band.threshold == cfg.Threshold && cfg.band.octaves == cfg.ScoreOctaves {
		ratio = cfg.band.ratio
	} else {
		ratio = bandRatio(m.threshold(cfg), cfg.ScoreOctaves)
	}
	if f := m.fatigueBand; f > 1 {
		ratio *= float64(f)
	}
	return atLeast(m.pointRec[k], 1) * ratio * scale
}

// bandRatio is the surprise, relative to the record, that scores threshold.
func bandRatio(threshold, octaves float64) float64 {
	return math.Exp2((threshold - 0.5) * 2 * octaves)
}

// threshold is the alarm threshold in effect for this series:
// Config.Threshold raised by operator feedback (desens octaves of surprise
// more), at most 1.
func (m *Model) threshold(cfg *Config) float64 {
	if m.desens == 0 {
		return cfg.Threshold
	}
	return min(1, cfg.Threshold+0.5*float64(m.desens)/cfg.ScoreOctaves)
}

// desensitise applies a false-positive verdict on an anomaly that reached
// score: from now on the series needs Config.FeedbackStep times the
// surprise the anomaly reached, and at least FeedbackStep times what it
// needed before, capped at Config.FeedbackMax times what Threshold asks.
// A score of 1 is clamped, so for such an anomaly the cap is what holds.
func (m *Model) desensitise(cfg *Config, score float64) {
	over := max(0, (score-cfg.Threshold)*2*cfg.ScoreOctaves) // octaves above the plain threshold
	oct := max(float64(m.desens), over) + math.Log2(cfg.FeedbackStep)
	m.desens = float32(min(oct, math.Log2(cfg.FeedbackMax)))
}

// resensitise applies a true-positive verdict: it halves the feedback's
// rise of the threshold (in octaves: a factor of 4 becomes 2), and drops a
// rise too small to matter.
func (m *Model) resensitise() {
	m.desens /= 2
	if m.desens < 0.01 {
		m.desens = 0
	}
}

// phase returns the bin of ts within a period of periodMs split into bins.
func phase(ts, periodMs int64, bins int) int {
	p := ts % periodMs
	if p < 0 {
		p += periodMs
	}
	return int(p * int64(bins) / periodMs)
}

// The helpers below replace the built-in min and max on the hot path of
// Update. For float64 the built-ins must order −0 below +0 and propagate
// NaN, which takes two MINSD, a POR and sign flips on amd64 (about eight
// instructions a call). The helpers decide with one or two comparisons,
// both false only for a NaN operand, which goes to the built-in. Their
// result is the built-in's for every operand, except that when x and the
// bound are zeros of opposite signs they may return the other zero: never
// the case here (the bounds are positive constants, records, errors and
// scales, all > 0, or their negatives; atLeast0 gives +0 for −0 as max
// does). So the detector's output stays bit for bit what it was
// (docs/detection.md, Speed and memory).

// clamp returns max(min(x, hi), lo).
func clamp(x, lo, hi float64) float64 {
	return atLeast(minOf(x, hi), lo)
}

// minOf returns min(x, y).
func minOf(x, y float64) float64 {
	if x <= y {
		return x
	}
	if y < x {
		return y
	}
	return min(x, y) // a NaN
}

// maxOf returns max(x, y).
func maxOf(x, y float64) float64 {
	if x >= y {
		return x
	}
	if y > x {
		return y
	}
	return max(x, y) // a NaN
}

// atLeast returns max(x, lo).
func atLeast(x, lo float64) float64 { return maxOf(x, lo) }

// atLeast0 returns max(0, x), +0 for x = ±0 as the built-in.
func atLeast0(x float64) float64 {
	if x > 0 {
		return x
	}
	if x <= 0 {
		return 0
	}
	return x // NaN
}

// log2 returns math.Log2(x), bit for bit. The standard library computes it
// (on every architecture but s390x) as Log of the fraction of Frexp(x)
// plus the exponent; this is the same sum, with the general Frexp (zeros,
// infinities, NaN, subnormals) replaced by two bit operations for the
// positive normal numbers Update passes, and without the two calls
// around it: of an update's CPU time, math.Log2 took a quarter, Log
// itself 17 %. Other x go to math.Log2. TestLog2 holds it to math.Log2.
func log2(x float64) float64 {
	const mask, shift, bias = 0x7ff, 52, 1023
	b := math.Float64bits(x)
	e := int(b>>shift) & mask
	if b>>63 != 0 || e == 0 || e == mask {
		return math.Log2(x)
	}
	exp := e - bias + 1
	frac := math.Float64frombits(b&^(mask<<shift) | (bias-1)<<shift)
	if frac == 0.5 {
		return float64(exp - 1)
	}
	return math.Log(frac)*(1/math.Ln2) + float64(exp)
}
