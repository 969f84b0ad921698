package metric

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

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
// duration, so a flapping series yields one anomaly, not many).
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
	return &Engine{cfg: cfg, out: out, maxSeries: maxSeries, series: make(map[osprey.Fingerprint]*Tracker)}, nil
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
// the consumer's; the models have learned from the batch either way. It is
// ConsumeFingerprinted with each series' label fingerprint computed here.
func (e *Engine) ConsumeSeries(ctx context.Context, batch []osprey.Series) error {
	var buf [64]osprey.Fingerprint // no allocation for most batches
	fps := buf[:0]
	for i := range batch {
		fps = append(fps, batch[i].Labels.Fingerprint())
	}
	return e.ConsumeFingerprinted(ctx, batch, fps)
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
		s := &batch[i]
		fp := fps[i]
		tr := e.series[fp]
		if tr == nil {
			if len(e.series) >= e.maxSeries {
				e.dropped.Add(uint64(len(s.Samples)))
				continue
			}
			tr = &Tracker{}
			e.series[fp] = tr
		}
		for _, smp := range s.Samples {
			if _, a, ok := tr.Observe(&e.cfg, s.Labels, fp, smp); ok {
				emit = append(emit, a)
			}
		}
	}
	e.mu.Unlock()
	if len(emit) == 0 {
		return nil
	}
	return e.out.ConsumeAnomalies(ctx, emit)
}

// Observe scores smp (labelled labels, with fingerprint fp) and applies
// Engine's open/close rules (see Engine). It returns the sample's Result and,
// when an anomaly opened or closed with this sample, that anomaly: a new
// one with EndsAt zero, or a copy of the open one with EndsAt set.
func (t *Tracker) Observe(cfg *Config, labels osprey.Labels, fp osprey.Fingerprint, smp osprey.Sample) (Result, osprey.Anomaly, bool) {
	res := t.model.Update(cfg, smp.TimestampMs, smp.Value)
	a, ok := t.step(cfg, labels, fp, smp, &res)
	return res, a, ok
}

// Open returns the anomaly being reported, or nil. The caller may amend it
// (labels, evidence, kind): the anomaly emitted when it closes is a copy of
// it.
func (t *Tracker) Open() *osprey.Anomaly { return t.open }

// step applies the open/close rules to one scored sample.
func (t *Tracker) step(cfg *Config, labels osprey.Labels, fp osprey.Fingerprint, smp osprey.Sample, res *Result) (osprey.Anomaly, bool) {
	at := time.UnixMilli(smp.TimestampMs).UTC()
	thr := t.model.threshold(cfg)
	if t.open == nil {
		if !res.Warm || res.Alarm < thr {
			return osprey.Anomaly{}, false
		}
		a := NewAnomaly(cfg, labels, fp, smp, res)
		t.open = &a
		t.quiet = 0
		return a, true
	}
	if res.Score >= thr {
		t.quiet = 0
		if res.Score > t.open.Score {
			t.open.Score = res.Score
			t.open.Severity = severity(res.Score)
		}
		return osprey.Anomaly{}, false
	}
	t.quiet++
	if t.quiet < max(1, cfg.Refractory) {
		return osprey.Anomaly{}, false
	}
	a := *t.open
	a.EndsAt = at
	t.open = nil
	return a, true
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
			why = fmt.Sprintf("short-term mean moved away from the slower reference level (%s model)", res.Predictor)
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
