package metric

import (
	"errors"
	"fmt"
	"math"
)

// Config holds the detector's parameters. The same values apply to every
// series; DefaultConfig gives the measured defaults (docs/detection.md).
type Config struct {
	// Warmup is the number of samples a series must have before it is
	// scored.
	Warmup int
	// LevelAlpha is the smoothing of the fast level predictors.
	LevelAlpha float64
	// ShortAlpha is the smoothing of the short-term spread.
	ShortAlpha float64
	// ErrAlpha is the smoothing of the predictors' running errors.
	ErrAlpha float64
	// BaseAlpha is the smoothing of the seasonal baseline.
	BaseAlpha float64
	// SeasonAlpha is the learning rate of a seasonal bin per visit.
	SeasonAlpha float64
	// SeasonGain is how much smaller a season's running error must be than
	// the plain level's (as a ratio) before the season is used.
	SeasonGain float64
	// Clip bounds how far one sample moves a level or an error, in units of
	// the current error (Huber-style robustness).
	Clip float64
	// Floor is the smallest error scale, as a fraction of the series' long-run
	// mean absolute deviation.
	Floor float64
	// RecordDecay is the per-sample decay of each component's record, the
	// largest surprise of the recent past (0.9998: halves in about 3,500
	// samples).
	RecordDecay float64
	// RecordGrow bounds the growth of a record per sample during warm-up,
	// so that a series that sat perfectly still is not blinded by its first
	// movement.
	RecordGrow float64
	// AlarmGrow bounds the growth of a record per sample once the model is
	// warm, so that an anomaly raises the bar for the next one only a
	// little (by about the threshold's margin) and a second, smaller
	// anomaly in the same series is still seen. A lasting change of
	// regime raises the record by AlarmGrow per alarm.
	AlarmGrow float64
	// FatigueStep and FatigueDecay calibrate each component to how often
	// it alarms in this series: every alarm raises, for each component
	// that scored at or above the threshold in it, the surprise that
	// component needs by FatigueStep octaves (0.1: about 7 %), and the
	// rise decays by FatigueDecay per sample (0.9995: halves in about
	// 1,400 samples, a day at one sample a minute). A component that keeps
	// raising alarms in a series asks a little more of its next one; the
	// other components, and the series after a quiet spell, are as before.
	// FatigueStep 0 disables it.
	FatigueStep, FatigueDecay float64
	// ScoreOctaves maps the ratio of a surprise to its record to a score:
	// score = 0.5 + 0.5·log2(surprise/record)/ScoreOctaves, clamped to
	// [0, 1]. A score of 0.5 equals the record; 1 is 2^ScoreOctaves times it.
	ScoreOctaves float64
	// BurstAllowance and BurstClip shape the burst component, a two-sided
	// CUSUM of the residual in units of the predictor's running error:
	// each sample adds its standardised residual, clipped to ±BurstClip,
	// less BurstAllowance, and the sum restarts at 0 whenever it would
	// go negative. Residuals within the allowance (about 3σ for Gaussian
	// noise at 4) drain it; a run of larger ones on one side fills it,
	// and the clip keeps one spike, the point component's business, from
	// filling it alone.
	BurstAllowance, BurstClip float64
	// ShiftAllowance and ShiftClip shape the shift component, a second,
	// narrow CUSUM of the same standardised residual: at 2 and 2.5 a
	// sample adds at most half a typical error, a residual below about
	// 1.6σ of Gaussian noise drains the sum, and the sum measures how
	// long the series has stayed off its prediction by more than that.
	// It finds level shifts too small for the point and burst components
	// (4σ) before the level predictor has adapted to them. With a step of
	// a whole error (clip 3) the runs of a smoothed series (a rate over a
	// minute sampled every second) alarmed in a healthy history
	// (docs/detection.md, session 5).
	ShiftAllowance, ShiftClip float64
	// NovelAlpha is the smoothing of the context-novelty rates (the share
	// of never-seen value sequences; see CompNovel).
	NovelAlpha float64
	// Threshold is the alarm threshold on Result.Alarm.
	Threshold float64
	// Refractory is the number of samples after an alarm (a score at or
	// above Threshold) during which nothing is reported; below the
	// threshold only a stronger score is reported within it.
	Refractory int
	// MinFactor and MinDelta gate alarms on the size of the change: a
	// sample alarms only if it is at least MinFactor times the prediction
	// or at most 1/MinFactor of it (in absolute value), and differs from it
	// by at least MinDelta. Zero disables each, as in DefaultConfig; the log
	// detector sets them for line counts, where a statistically unusual but
	// small change is no news.
	MinFactor, MinDelta float64
	// FeedbackStep and FeedbackMax govern operator feedback (see
	// Tracker.Feedback): a false-positive verdict raises the surprise a
	// series needs to alarm to FeedbackStep times what the marked anomaly
	// reached (and at least FeedbackStep times the bar before), never
	// beyond FeedbackMax times what Threshold alone asks. FeedbackMax 1
	// disables feedback.
	FeedbackStep, FeedbackMax float64

	// band caches bandRatio(Threshold, ScoreOctaves), an Exp2 that took
	// about a sixth of an update's CPU profile; it is used only while the two
	// parameters still match (DefaultConfig and Validate fill it), so a
	// Config changed afterwards is still right, only slower.
	// band.zero is 2^−ScoreOctaves, the surprise ratio below which a
	// component scores 0, for the same purpose (the logarithm is skipped),
	// and band.half is 0.5/ScoreOctaves, the score of an octave of
	// surprise (a division saved per update).
	band struct{ threshold, octaves, ratio, zero, half float64 }

	// Ablation switches for measurements; zero values enable everything.
	disabled [numComponents]bool
	noSeason bool
	// novelOneOrder lets a sequence new at the longest length alone
	// count (the rule before the two-length rule of novelty.go).
	novelOneOrder bool
	// novelExact counts a near miss (see novelNear) as fully novel.
	novelExact bool
	// novelIsolated counts an isolated novelty in full (see
	// novelPersistFloor), the rule before novelty persistence.
	novelIsolated bool
	// burstGrowing scores the burst sum against its record throughout,
	// also while the excursion raises it, and keeps the record an
	// alarmed run raised (the rules before Model.burstExcursion).
	burstGrowing bool
	// burstNoReturn keeps the record an alarmed run raised (the second
	// rule of Model.burstExcursion off).
	burstNoReturn bool
	// burstReturn, if positive, replaces AlarmGrow as the factor the
	// burst record returns to after an alarmed run.
	burstReturn float64
}

// DefaultConfig returns the defaults used by serve and by the NAB bench.
func DefaultConfig() Config {
	c := Config{
		Warmup:         100,
		LevelAlpha:     0.03,
		ShortAlpha:     0.1,
		ErrAlpha:       0.01,
		BaseAlpha:      0.002,
		SeasonAlpha:    0.2,
		SeasonGain:     0.8,
		Clip:           5,
		Floor:          0.01,
		RecordDecay:    0.9998,
		RecordGrow:     4,
		AlarmGrow:      1.5,
		FatigueStep:    0.1,
		FatigueDecay:   0.9995,
		ScoreOctaves:   4,
		BurstAllowance: 4,
		BurstClip:      10,
		ShiftAllowance: 2,
		ShiftClip:      2.5,
		NovelAlpha:     0.002,
		Threshold:      0.54, // a new record by 25 %: 0.5 + 0.5·log2(1.25)/4
		Refractory:     60,
		FeedbackStep:   1.25, // as far above the marked anomaly as Threshold is above the record
		FeedbackMax:    8,    // Threshold 0.54 becomes at most 0.915
	}
	c.prepare()
	return c
}

// prepare fills the values derived from the parameters (the band cache).
func (c *Config) prepare() {
	c.band.threshold, c.band.octaves = c.Threshold, c.ScoreOctaves
	c.band.ratio = bandRatio(c.Threshold, c.ScoreOctaves)
	c.band.zero = math.Exp2(-c.ScoreOctaves)
	c.band.half = 0.5 / c.ScoreOctaves
}

// Validate reports every parameter out of range. It also refreshes the
// values the detector derives from the parameters, so a Config changed
// after DefaultConfig runs at full speed once validated.
func (c *Config) Validate() error {
	c.prepare()
	var errs []error
	unit := func(name string, v float64) {
		if !(v > 0 && v <= 1) {
			errs = append(errs, fmt.Errorf("%s: %v is not in (0, 1]", name, v))
		}
	}
	unit("level_alpha", c.LevelAlpha)
	unit("short_alpha", c.ShortAlpha)
	unit("err_alpha", c.ErrAlpha)
	unit("base_alpha", c.BaseAlpha)
	unit("season_alpha", c.SeasonAlpha)
	unit("season_gain", c.SeasonGain)
	unit("novel_alpha", c.NovelAlpha)
	if !(c.RecordDecay > 0 && c.RecordDecay < 1) {
		errs = append(errs, fmt.Errorf("record_decay: %v is not in (0, 1)", c.RecordDecay))
	}
	if !(c.FatigueStep >= 0) {
		errs = append(errs, fmt.Errorf("fatigue_step: %v is negative", c.FatigueStep))
	}
	if !(c.FatigueDecay >= 0 && c.FatigueDecay < 1) {
		errs = append(errs, fmt.Errorf("fatigue_decay: %v is not in [0, 1)", c.FatigueDecay))
	}
	if !(c.AlarmGrow > 1) {
		errs = append(errs, fmt.Errorf("alarm_grow: %v must be above 1", c.AlarmGrow))
	}
	if !(c.RecordGrow > 1) {
		errs = append(errs, fmt.Errorf("record_grow: %v must be above 1", c.RecordGrow))
	}
	if c.Threshold < 0 || c.Threshold > 1 {
		errs = append(errs, fmt.Errorf("threshold: %v is not in [0, 1]", c.Threshold))
	}
	if c.Warmup < 2 {
		errs = append(errs, fmt.Errorf("warmup: %d is less than 2", c.Warmup))
	}
	if c.Refractory < 0 {
		errs = append(errs, fmt.Errorf("refractory: %d is negative", c.Refractory))
	}
	if c.MinFactor != 0 && !(c.MinFactor >= 1) {
		errs = append(errs, fmt.Errorf("min_factor: %v must be 0 or at least 1", c.MinFactor))
	}
	if !(c.MinDelta >= 0) {
		errs = append(errs, fmt.Errorf("min_delta: %v is negative", c.MinDelta))
	}
	if !(c.FeedbackStep >= 1) {
		errs = append(errs, fmt.Errorf("feedback_step: %v must be at least 1", c.FeedbackStep))
	}
	if !(c.FeedbackMax >= 1) {
		errs = append(errs, fmt.Errorf("feedback_max: %v must be at least 1", c.FeedbackMax))
	}
	if !(c.Clip > 0) {
		errs = append(errs, fmt.Errorf("clip: %v must be positive", c.Clip))
	}
	if !(c.BurstAllowance > 0) {
		errs = append(errs, fmt.Errorf("burst_allowance: %v must be positive", c.BurstAllowance))
	}
	if !(c.BurstClip > c.BurstAllowance) {
		errs = append(errs, fmt.Errorf("burst_clip: %v must be above burst_allowance %v", c.BurstClip, c.BurstAllowance))
	}
	if !(c.ShiftAllowance > 0) {
		errs = append(errs, fmt.Errorf("shift_allowance: %v must be positive", c.ShiftAllowance))
	}
	if !(c.ShiftClip > c.ShiftAllowance) {
		errs = append(errs, fmt.Errorf("shift_clip: %v must be above shift_allowance %v", c.ShiftClip, c.ShiftAllowance))
	}
	if !(c.ScoreOctaves > 0) {
		errs = append(errs, fmt.Errorf("score_octaves: %v must be positive", c.ScoreOctaves))
	}
	return errors.Join(errs...)
}
