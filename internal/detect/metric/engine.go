package metric

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/osprey-aiops/osprey"
)

// DefaultMaxSeries bounds the number of series an Engine keeps a model for.
const DefaultMaxSeries = 1_000_000

// Engine is the metric detect stage: it keeps one Model per series, scores
// every sample of the batches it consumes, and hands the anomalies it opens
// and closes to the next stage. Wire it as
//
//	eng, err := metric.NewEngine(metric.DefaultConfig(), anomalies, 0)
//
// and give eng to the receivers as their osprey.SeriesConsumer.
//
// An anomaly opens when a sample's debounced score (Result.Alarm) reaches
// Config.Threshold; it is emitted at once with EndsAt zero. It closes, and
// is emitted again with EndsAt set, after Config.Refractory consecutive
// samples score below the threshold (a minimum quiet
// duration, so a flapping series yields one anomaly, not many). It
// escalates when a sample's score reaches its highest score by one octave
// of surprise (EscalationStep): it then closes at that sample and a new
// anomaly opens there, the two emitted together (see Tracker.Observe).
//
// Engine is safe for concurrent use. Series are processed under one lock;
// the per-sample work is a few hundred nanoseconds.
type Engine struct {
	cfg       Config
	out       osprey.AnomalyConsumer
	maxSeries int
	dropped   atomic.Uint64

	mu     sync.Mutex
	series map[osprey.Fingerprint]*Tracker
	// byLabels finds a series by the identity of the label map its
	// batches carry (see ConsumeSeries); labelMaps holds, per series, the
	// key it has in byLabels (one at most) and the map it came with last.
	// Restore, which replaces series, empties both.
	byLabels  map[unsafe.Pointer]byLabel
	labelMaps map[osprey.Fingerprint]labelMaps
}

// byLabel is a series found by its label map.
type byLabel struct {
	tr *Tracker
	fp osprey.Fingerprint
}

// labelMaps is what the Engine knows of a series' label maps: key is its
// key in Engine.byLabels (nil if none); last is the identity of the map of
// the last batch that had to be fingerprinted, so that a map is
// remembered the second time it comes, not the first (a producer that
// builds new maps for every batch never fills byLabels).
type labelMaps struct {
	key  unsafe.Pointer
	last uintptr
}

var _ osprey.SeriesConsumer = (*Engine)(nil)

// Tracker is the detector state of one series together with the rules by
// which Engine opens and closes anomalies; it is what Engine keeps per
// series, exported so that other detect stages (the log detector's
// per-template count series) reuse the same model and rules. The zero value
// is ready to use. A Tracker is not safe for concurrent use.
type Tracker struct {
	model Model
	// open is the anomaly being reported, or nil.
	open  *osprey.Anomaly
	quiet int
}

// NewEngine returns an Engine that sends anomalies to out. maxSeries bounds
// the number of series modelled (0 means DefaultMaxSeries); samples of series
// beyond the bound are counted in Dropped and otherwise ignored.
func NewEngine(cfg Config, out osprey.AnomalyConsumer, maxSeries int) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("detector config: %w", err)
	}
	if out == nil {
		return nil, fmt.Errorf("detector: nil anomaly consumer")
	}
	if maxSeries <= 0 {
		maxSeries = DefaultMaxSeries
	}
	return &Engine{cfg: cfg, out: out, maxSeries: maxSeries, series: make(map[osprey.Fingerprint]*Tracker),
		byLabels: make(map[unsafe.Pointer]byLabel), labelMaps: make(map[osprey.Fingerprint]labelMaps)}, nil
}

// Feedback applies an operator's verdict on a metric anomaly to the model of
// its series (looked up by the fingerprint of a.Labels, as ConsumeSeries
// keys series); see Tracker.Feedback. It reports whether a model was
// adjusted: anomalies of other kinds, of series not modelled (beyond the
// series bound, or not in the snapshot restored after a restart), and
// unknown verdicts are ignored. Safe for
// concurrent use with ConsumeSeries.
func (e *Engine) Feedback(a osprey.Anomaly, f osprey.Feedback) bool {
	if a.Kind != osprey.AnomalyMetric {
		return false
	}
	if f != osprey.FeedbackFalsePositive && f != osprey.FeedbackTruePositive {
		return false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	tr := e.series[a.Labels.Fingerprint()]
	if tr == nil {
		return false
	}
	tr.Feedback(&e.cfg, a.Score, f)
	return true
}

// Threshold returns the alarm threshold in effect for the series labelled
// labels (Config.Threshold raised by feedback), and false if the series is
// not modelled.
func (e *Engine) Threshold(labels osprey.Labels) (float64, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	tr := e.series[labels.Fingerprint()]
	if tr == nil {
		return 0, false
	}
	return tr.Threshold(&e.cfg), true
}

// Dropped returns the number of samples ignored because the series bound was
// reached.
func (e *Engine) Dropped() uint64 { return e.dropped.Load() }

// Series returns the number of series modelled.
func (e *Engine) Series() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.series)
}

// ConsumeSeries scores every sample of batch, in order, and passes the
// anomalies opened or closed to the consumer given to NewEngine. An error is
// the consumer's; the models have learned from the batch either way.
//
// A series is keyed by its label fingerprint. When a producer hands the
// same label map with every batch of a series (the remote_write receiver's
// series cache does), the series is fingerprinted twice: the Engine then
// remembers the map itself (by identity, keeping it alive for as long as
// it is the series' latest) and finds the series by it with one lookup
// from then on. This relies on a label map not changing once handed over:
// the receivers never change a map they handed on, and the stages between
// them and the Engine must not. A producer that builds new maps for every
// batch pays a fingerprint per series and batch, as before; callers of
// ConsumeFingerprinted pay none.
func (e *Engine) ConsumeSeries(ctx context.Context, batch []osprey.Series) error {
	var emit []osprey.Anomaly
	e.mu.Lock()
	for i := range batch {
		s := &batch[i]
		id := s.Labels.Identity()
		bl, ok := e.byLabels[id]
		if !ok {
			bl.fp = s.Labels.Fingerprint()
			if bl.tr = e.tracker(bl.fp, len(s.Samples)); bl.tr == nil {
				continue
			}
			e.remember(bl, id)
		}
		emit = e.observe(bl.tr, s, bl.fp, emit)
	}
	e.mu.Unlock()
	if len(emit) == 0 {
		return nil
	}
	return e.out.ConsumeAnomalies(ctx, emit)
}

// ConsumeFingerprinted is ConsumeSeries for a caller that already has each
// series' label fingerprint: fps[i] must be batch[i].Labels.Fingerprint()
// (it keys the series' model and is the anomalies' Fingerprint; it is not
// checked). A caller that sees the same series in many batches (the
// replay) computes them once instead of once per batch. len(fps) must be
// len(batch); otherwise nothing is scored and an error is returned.
func (e *Engine) ConsumeFingerprinted(ctx context.Context, batch []osprey.Series, fps []osprey.Fingerprint) error {
	if len(fps) != len(batch) {
		return fmt.Errorf("detector: %d fingerprints for %d series", len(fps), len(batch))
	}
	var emit []osprey.Anomaly
	e.mu.Lock()
	for i := range batch {
		if tr := e.tracker(fps[i], len(batch[i].Samples)); tr != nil {
			emit = e.observe(tr, &batch[i], fps[i], emit)
		}
	}
	e.mu.Unlock()
	if len(emit) == 0 {
		return nil
	}
	return e.out.ConsumeAnomalies(ctx, emit)
}

// tracker returns the Tracker of the series fp, creating it, or nil
// (counting its n samples as dropped) when the series bound is reached.
// e.mu must be held.
func (e *Engine) tracker(fp osprey.Fingerprint, n int) *Tracker {
	tr := e.series[fp]
	if tr == nil {
		if len(e.series) >= e.maxSeries {
			e.dropped.Add(uint64(n))
			return nil
		}
		tr = &Tracker{}
		e.series[fp] = tr
	}
	return tr
}

// remember notes that the series bl came with the label map id (not in
// byLabels), and makes id the key bl is found by in byLabels if the
// series came with that map the time before too. e.mu must be held.
func (e *Engine) remember(bl byLabel, id unsafe.Pointer) {
	lm := e.labelMaps[bl.fp]
	if id != nil && uintptr(id) == lm.last {
		if lm.key != nil {
			delete(e.byLabels, lm.key)
		}
		e.byLabels[id] = bl
		lm.key = id
	}
	lm.last = uintptr(id)
	e.labelMaps[bl.fp] = lm
}

// observe scores the samples of s, whose series is tracked by tr, and
// appends the anomalies opened, closed or escalated to emit. e.mu must be
// held.
func (e *Engine) observe(tr *Tracker, s *osprey.Series, fp osprey.Fingerprint, emit []osprey.Anomaly) []osprey.Anomaly {
	for _, smp := range s.Samples {
		_, emit = tr.Observe(&e.cfg, s.Labels, fp, smp, emit)
	}
	return emit
}

// EscalationStep returns how far above an open anomaly's highest score a
// sample must score to escalate it: one octave of surprise,
// 0.5/ScoreOctaves (0.125 by default), i.e. twice the surprise the anomaly
// had reached. A score is clamped at 1, so an anomaly escalates at most a
// few times (0.54 → 0.665 → 0.79 → 0.915 by default).
func EscalationStep(cfg *Config) float64 { return 0.5 / cfg.ScoreOctaves }

// Observe scores smp (labelled labels, with fingerprint fp), applies
// Engine's open/close/escalate rules (see Engine) and returns the sample's
// Result and emit with the anomalies this sample changed appended: none; a
// new one (EndsAt zero); a copy of the open one with EndsAt set (closed);
// or, when the open one escalated, that closed copy followed by the new
// anomaly that replaces it, both stamped with the sample's time. The last
// active anomaly appended, if any, is the one Open returns.
//
// An escalation ends the anomaly and opens a new one, rather than raising
// the open one's score, because every consumer treats an anomaly as one
// episode with one onset: the correlator and the RCA take StartsAt (and a
// member's first sighting) as the onset, the store and the API replace an
// anomaly by ID (an updated one would show the new score and values under
// the old start), the score series is a step per anomaly, and feedback
// adjusts a series by the marked anomaly's highest score (a false positive
// on the small first anomaly must not desensitise the series to the
// escalation). The two are linked by an osprey.EvidenceEscalated entry on
// the ended one and an osprey.EvidenceEscalation entry on the new one.
func (t *Tracker) Observe(cfg *Config, labels osprey.Labels, fp osprey.Fingerprint, smp osprey.Sample, emit []osprey.Anomaly) (Result, []osprey.Anomaly) {
	res := t.model.Update(cfg, smp.TimestampMs, smp.Value)
	return res, t.step(cfg, labels, fp, smp, &res, emit)
}

// Open returns the anomaly being reported, or nil. The caller may amend it
// (labels, evidence, kind): the anomaly emitted when it closes or
// escalates is a copy of it.
func (t *Tracker) Open() *osprey.Anomaly { return t.open }

// step applies the open/close/escalate rules to one scored sample.
func (t *Tracker) step(cfg *Config, labels osprey.Labels, fp osprey.Fingerprint, smp osprey.Sample, res *Result, emit []osprey.Anomaly) []osprey.Anomaly {
	at := time.UnixMilli(smp.TimestampMs).UTC()
	thr := t.model.threshold(cfg)
	if t.open == nil {
		if !res.Warm || res.Alarm < thr {
			return emit
		}
		a := NewAnomaly(cfg, labels, fp, smp, res)
		t.open = &a
		t.quiet = 0
		return append(emit, a)
	}
	if res.Score >= thr {
		t.quiet = 0
		// material: a change too small to matter (Config.MinDelta,
		// MinFactor) does not escalate, as it would not alarm.
		if material(cfg, smp.Value, res.Expected, res.Score) >= t.open.Score+EscalationStep(cfg) {
			return t.escalate(cfg, labels, fp, smp, res, at, emit)
		}
		if res.Score > t.open.Score {
			t.open.Score = res.Score
			t.open.Severity = severity(res.Score)
		}
		return emit
	}
	t.quiet++
	if t.quiet < max(1, cfg.Refractory) {
		return emit
	}
	a := *t.open
	a.EndsAt = at
	t.open = nil
	return append(emit, a)
}

// escalate ends the open anomaly at at and opens a new one for smp, which
// scored res (see Observe).
func (t *Tracker) escalate(cfg *Config, labels osprey.Labels, fp osprey.Fingerprint, smp osprey.Sample, res *Result, at time.Time, emit []osprey.Anomaly) []osprey.Anomaly {
	old := *t.open
	old.EndsAt = at
	a := NewAnomaly(cfg, labels, fp, smp, res)
	// Clip: the ended copy shares its evidence with the anomaly emitted
	// when it opened, which must not change. The reasons name times, not
	// ids: ids carry random bits, and the same samples must explain
	// themselves the same way in every run.
	old.Evidence = append(slices.Clip(old.Evidence), osprey.Evidence{Detector: osprey.EvidenceEscalated, Score: a.Score,
		Reason: fmt.Sprintf("ended: escalated at %s UTC to score %.2f, at least twice the surprise", at.Format(time.DateTime), a.Score)})
	a.Evidence = append(a.Evidence, osprey.Evidence{Detector: osprey.EvidenceEscalation, Score: old.Score,
		Reason: fmt.Sprintf("escalates the anomaly of this series open since %s UTC (highest score %.2f): at least twice its surprise",
			old.StartsAt.Format(time.DateTime), old.Score)})
	t.open = &a
	return append(emit, old, a)
}

// Feedback applies an operator's verdict on an anomaly of this series
// whose highest score was score. A false positive makes the series less
// sensitive: it then needs Config.FeedbackStep times the surprise that
// anomaly reached to alarm (at least FeedbackStep times what it needed
// before, at most Config.FeedbackMax times what Config.Threshold alone
// asks), so an anomaly of the same size is not reported again while a
// clearly larger one still is. A true positive halves the rise (in
// octaves), back towards Config.Threshold. Other values are ignored. The
// rise lasts until feedback changes it; it is part of the Model.
func (t *Tracker) Feedback(cfg *Config, score float64, f osprey.Feedback) {
	switch f {
	case osprey.FeedbackFalsePositive:
		t.model.desensitise(cfg, score)
	case osprey.FeedbackTruePositive:
		t.model.resensitise()
	}
}

// Threshold returns the alarm threshold in effect for this series:
// Config.Threshold, raised by false-positive feedback.
func (t *Tracker) Threshold(cfg *Config) float64 { return t.model.threshold(cfg) }

// NewAnomaly builds the anomaly for a sample that scored res, with the
// evidence of every component that contributed.
func NewAnomaly(cfg *Config, labels osprey.Labels, fp osprey.Fingerprint, smp osprey.Sample, res *Result) osprey.Anomaly {
	at := time.UnixMilli(smp.TimestampMs).UTC()
	return osprey.Anomaly{
		ID:   osprey.NewID(at),
		Kind: osprey.AnomalyMetric,
		// A copy: the receivers hand every batch of a series the same
		// label map (promremote's series cache), and an anomaly travels
		// on to stages that may keep or extend its labels.
		Labels:      labels.Clone(),
		Score:       res.Score,
		Observed:    smp.Value,
		Expected:    res.Expected,
		Lower:       res.Lower,
		Upper:       res.Upper,
		Severity:    severity(res.Score),
		StartsAt:    at,
		Evidence:    Evidence(cfg, smp.Value, res),
		Fingerprint: fp,
	}
}

// Evidence explains res: one entry per component that scored at least half
// the threshold, strongest first, each saying what it compared.
func Evidence(cfg *Config, observed float64, res *Result) []osprey.Evidence {
	var ev []osprey.Evidence
	for c := range numComponents {
		s := res.Components[c]
		if s < cfg.Threshold/2 {
			continue
		}
		var why string
		switch Component(c) {
		case CompPoint:
			why = fmt.Sprintf("observed %s, %s predicted %s (band %s..%s)", num(observed), res.Predictor, num(res.Expected), num(res.Lower), num(res.Upper))
		case CompShift:
			why = fmt.Sprintf("the series has stayed on one side of the %s prediction, beyond twice the usual error, for longer than usual: a shift of its level", res.Predictor)
		case CompSpread:
			why = "short-term spread of the residuals grew beyond its usual range"
		case CompNovel:
			why = "the recent sequence of values took a path never seen before in this series"
		case CompBurst:
			why = fmt.Sprintf("a run of residuals on one side of the %s prediction, each beyond the usual error", res.Predictor)
		}
		ev = append(ev, osprey.Evidence{Detector: Component(c).String(), Score: s, Reason: why})
	}
	for i := 1; i < len(ev); i++ { // insertion sort: at most five entries
		for j := i; j > 0 && ev[j].Score > ev[j-1].Score; j-- {
			ev[j], ev[j-1] = ev[j-1], ev[j]
		}
	}
	return ev
}

func num(v float64) string {
	s := fmt.Sprintf("%.4g", v)
	if math.Abs(v) >= 1e5 {
		s = strings.Replace(fmt.Sprintf("%.3e", v), "e+0", "e", 1)
	}
	return s
}

// severity maps a score to a severity: warning from the threshold up,
// error from 0.8, critical at 1.
func severity(score float64) osprey.Severity {
	switch {
	case score >= 1:
		return osprey.SeverityCritical
	case score >= 0.8:
		return osprey.SeverityError
	default:
		return osprey.SeverityWarning
	}
}
