package forecast

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

// Forecaster is the streaming forecast stage: an osprey.SeriesConsumer
// that keeps a Model for every series named by a rule, predicts after each
// sample when the series crosses its rule's threshold, and hands forecasts
// to the next stage as osprey.Anomaly of kind forecast:
//
//   - one opens (EndsAt zero) when OpenAfter consecutive samples forecast
//     the crossing within the rule's horizon; StartsAt is the first of
//     them. Its severity is warning, or critical when the crossing is
//     within the rule's Critical duration;
//   - it is emitted again (same ID) when it becomes critical;
//   - it closes (EndsAt set to the first sample that no longer forecast)
//     after CloseAfter consecutive samples no longer forecast a crossing
//     within CloseMargin × the horizon, or at once when the series jumps
//     back away from the threshold (a log rotation) or goes stale (a
//     staleness marker: its target is gone).
//
// Series of other metrics cost one map lookup of their name, or less: when
// a producer hands the same label map with every batch of a series (the
// remote_write receiver's series cache does), the Forecaster remembers,
// the second time a map comes, that it names no rule's metric (by the
// map's identity, see skip) and from then on skips the series with one
// lookup by that identity, without reading its labels. This relies on a
// label map not changing once handed over, as the metric engine does. The
// samples of the capacity metrics named by rules are remembered (the last
// value per series) to resolve percentage thresholds.
//
// Forecaster is safe for concurrent use.
type Forecaster struct {
	cfg     Config
	params  Params
	out     osprey.AnomalyConsumer
	byName  map[string]int
	capName map[string]struct{}
	dropped atomic.Uint64
	opened  atomic.Uint64

	mu     sync.Mutex
	series map[osprey.Fingerprint]*tracker
	// caps holds the last value of each capacity series, by capKey.
	caps map[uint64]float64
	// skip holds label maps, by identity, whose __name__ neither a rule
	// nor a rule's capacity names; a key keeps its map alive. seen holds
	// the addresses of maps that were looked up by name once (not keeping
	// them alive), so that a map goes into skip the second time it comes:
	// a producer that builds a new map for every batch fills neither
	// map with maps it never hands again, beyond address reuse. Each is
	// emptied when it reaches maxSkipMaps entries.
	skip map[unsafe.Pointer]struct{}
	seen map[uintptr]struct{}
}

// maxSkipMaps bounds Forecaster.skip and .seen: as many series as the
// remote_write receiver caches by default (promremote.DefaultMaxCachedSeries),
// so that every series it hands on fits.
const maxSkipMaps = 1_000_000

var _ osprey.SeriesConsumer = (*Forecaster)(nil)

// tracker is the state of one forecast series.
type tracker struct {
	model  Model
	rule   int
	labels osprey.Labels
	capKey uint64
	pred   Prediction
	// hits counts consecutive samples forecasting within the horizon,
	// firstHit is the time of the first of them; misses counts
	// consecutive samples no longer holding an open forecast, firstMiss
	// the first of them.
	hits, misses        int
	firstHit, firstMiss int64
	jumpsAway           int32
	open                *osprey.Anomaly
}

// New returns a Forecaster that sends forecasts to out.
func New(cfg Config, out osprey.AnomalyConsumer) (*Forecaster, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("forecast config: %w", err)
	}
	if out == nil {
		return nil, fmt.Errorf("forecast: nil anomaly consumer")
	}
	f := &Forecaster{
		cfg:     cfg,
		params:  cfg.params(),
		out:     out,
		byName:  make(map[string]int, len(cfg.Rules)),
		capName: make(map[string]struct{}),
		series:  make(map[osprey.Fingerprint]*tracker),
		caps:    make(map[uint64]float64),
		skip:    make(map[unsafe.Pointer]struct{}),
		seen:    make(map[uintptr]struct{}),
	}
	f.cfg.Rules = slices.Clone(cfg.Rules)
	for i, r := range f.cfg.Rules {
		f.byName[r.Metric] = i
		if r.Capacity != "" {
			f.capName[r.Capacity] = struct{}{}
		}
	}
	return f, nil
}

// Config returns the forecaster's configuration.
func (f *Forecaster) Config() Config { return f.cfg }

// Dropped returns the number of samples not forecast because MaxSeries
// series already were.
func (f *Forecaster) Dropped() uint64 { return f.dropped.Load() }

// Opened returns the number of forecasts opened.
func (f *Forecaster) Opened() uint64 { return f.opened.Load() }

// Series returns the number of series forecast.
func (f *Forecaster) Series() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.series)
}

// Open returns the number of forecasts open now.
func (f *Forecaster) Open() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, tr := range f.series {
		if tr.open != nil {
			n++
		}
	}
	return n
}

// ConsumeSeries updates the models of the series named by a rule and
// passes the forecasts opened, escalated or closed to the consumer given
// to New. It only reads batch and keeps copies of what it retains, so the
// same batch may be handed to another consumer afterwards. An error is the
// consumer's.
func (f *Forecaster) ConsumeSeries(ctx context.Context, batch []osprey.Series) error {
	var emit []osprey.Anomaly
	f.mu.Lock()
	for i := range batch {
		s := &batch[i]
		id := s.Labels.Identity()
		if _, ok := f.skip[id]; ok {
			continue
		}
		name := s.Labels[osprey.LabelMetric]
		ri, ok := f.byName[name]
		if !ok {
			if _, isCap := f.capName[name]; isCap {
				if len(s.Samples) > 0 {
					f.setCapacity(s.Labels, name, s.Samples)
				}
			} else {
				f.rememberSkip(id)
			}
			continue
		}
		fp := s.Labels.Fingerprint()
		tr := f.series[fp]
		if tr == nil {
			if len(f.series) >= f.cfg.MaxSeries {
				f.dropped.Add(uint64(len(s.Samples)))
				continue
			}
			tr = &tracker{rule: ri, labels: s.Labels.Clone()}
			if c := f.cfg.Rules[ri].Capacity; c != "" {
				tr.capKey = capKey(s.Labels, c)
			}
			f.series[fp] = tr
		}
		for _, smp := range s.Samples {
			if a, ok := f.observe(tr, smp); ok {
				emit = append(emit, a)
			}
		}
	}
	f.mu.Unlock()
	if len(emit) == 0 {
		return nil
	}
	return f.out.ConsumeAnomalies(ctx, emit)
}

// Adopt takes over forecasts that are still open from an earlier process
// (as the store holds them): each active anomaly of kind forecast whose
// series a rule names becomes that series' open forecast, so it is closed
// (or escalated) by this process like one it opened. It returns how many
// were adopted. Call it before the first ConsumeSeries.
func (f *Forecaster) Adopt(open []osprey.Anomaly) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for i := range open {
		a := open[i]
		if a.Kind != osprey.AnomalyForecast || !a.Active() {
			continue
		}
		ri, ok := f.byName[a.Labels[osprey.LabelMetric]]
		fp := a.Labels.Fingerprint()
		if !ok || f.series[fp] != nil || len(f.series) >= f.cfg.MaxSeries {
			continue
		}
		tr := &tracker{rule: ri, labels: a.Labels.Clone(), open: &a}
		if c := f.cfg.Rules[ri].Capacity; c != "" {
			tr.capKey = capKey(a.Labels, c)
		}
		f.series[fp] = tr
		n++
	}
	return n
}

// rememberSkip notes that the label map id names no rule's metric: in skip
// if it came before (its address is in seen), else in seen. f.mu must be
// held.
func (f *Forecaster) rememberSkip(id unsafe.Pointer) {
	if id == nil {
		return
	}
	if _, ok := f.seen[uintptr(id)]; !ok {
		if len(f.seen) >= maxSkipMaps {
			clear(f.seen)
		}
		f.seen[uintptr(id)] = struct{}{}
		return
	}
	delete(f.seen, uintptr(id))
	if len(f.skip) >= maxSkipMaps {
		clear(f.skip)
	}
	f.skip[id] = struct{}{}
}

// setCapacity remembers the last finite value of a capacity series.
func (f *Forecaster) setCapacity(l osprey.Labels, name string, samples []osprey.Sample) {
	v := samples[len(samples)-1].Value
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return
	}
	k := capKey(l, name)
	if _, ok := f.caps[k]; !ok && len(f.caps) >= f.cfg.MaxSeries {
		return
	}
	f.caps[k] = v
}

// threshold resolves tr's rule threshold; ok is false for a percentage
// whose capacity is not known yet.
func (f *Forecaster) threshold(tr *tracker) (thr, capacity float64, ok bool) {
	r := &f.cfg.Rules[tr.rule]
	if tr.capKey != 0 {
		capacity = f.caps[tr.capKey]
	}
	if !r.Percent {
		return r.Threshold, capacity, true
	}
	if capacity <= 0 {
		return 0, capacity, false
	}
	return r.Threshold / 100 * capacity, capacity, true
}

// observe updates tr with smp and applies the open, escalate and close
// rules.
func (f *Forecaster) observe(tr *tracker, smp osprey.Sample) (osprey.Anomaly, bool) {
	r := &f.cfg.Rules[tr.rule]
	if math.IsNaN(smp.Value) && tr.open != nil && smp.TimestampMs > tr.model.last {
		// A staleness marker: the target is gone (a host removed); a
		// forecast of a series that is no longer reported ends.
		a := *tr.open
		a.EndsAt = time.UnixMilli(smp.TimestampMs).UTC()
		a.Evidence = append(slices.Clone(a.Evidence), osprey.Evidence{Detector: "forecast", Reason: "ended: the series went stale (no longer reported)"})
		tr.open, tr.hits, tr.misses = nil, 0, 0
		return a, true
	}
	before := tr.model.last
	tr.model.Update(&f.params, smp.TimestampMs, smp.Value)
	if tr.model.last == before {
		return osprey.Anomaly{}, false // stale marker, or out of order
	}
	thr, capacity, ok := f.threshold(tr)
	if !ok {
		tr.pred = Prediction{Status: StatusWarmingUp, At: time.UnixMilli(smp.TimestampMs).UTC(), Current: smp.Value}
		return osprey.Anomaly{}, false
	}
	tr.pred = f.cfg.Predict(&tr.model, r, thr, capacity)
	p := &tr.pred
	away := tr.model.jumpsUp
	if r.Direction == Up {
		away = tr.model.jumpsDown
	}
	jumpedAway := away != tr.jumpsAway
	tr.jumpsAway = away

	if tr.open == nil {
		if !p.Within() {
			tr.hits = 0
			return osprey.Anomaly{}, false
		}
		if tr.hits == 0 {
			tr.firstHit = smp.TimestampMs
		}
		tr.hits++
		if tr.hits < f.cfg.OpenAfter {
			return osprey.Anomaly{}, false
		}
		a := f.newAnomaly(tr, r)
		tr.open = &a
		tr.misses = 0
		f.opened.Add(1)
		return a, true
	}
	if p.Status == StatusWarmingUp && !jumpedAway {
		// After a restart of the fit (or of Osprey) nothing is known
		// yet: neither keep nor close.
		return osprey.Anomaly{}, false
	}
	if jumpedAway || !f.cfg.holds(p, r) {
		if tr.misses == 0 {
			tr.firstMiss = smp.TimestampMs
		}
		tr.misses++
		if !jumpedAway && tr.misses < f.cfg.CloseAfter {
			return osprey.Anomaly{}, false
		}
		a := *tr.open
		a.EndsAt = time.UnixMilli(tr.firstMiss).UTC()
		a.Evidence = append(slices.Clone(a.Evidence), osprey.Evidence{Detector: "forecast", Reason: "ended: " + p.Reason(r)})
		tr.open, tr.hits, tr.misses = nil, 0, 0
		return a, true
	}
	tr.misses = 0
	if (p.Within() || p.Status == StatusCrossed) && tr.open.Severity != osprey.SeverityCritical && r.Critical > 0 && p.TimeLeft <= r.Critical {
		up := f.newAnomaly(tr, r)
		up.ID, up.StartsAt = tr.open.ID, tr.open.StartsAt
		*tr.open = up
		return up, true
	}
	return osprey.Anomaly{}, false
}

// newAnomaly builds the forecast anomaly of tr's current prediction.
func (f *Forecaster) newAnomaly(tr *tracker, r *Rule) osprey.Anomaly {
	p := &tr.pred
	start := time.UnixMilli(tr.firstHit).UTC()
	a := Anomaly(r, tr.labels, p)
	a.ID = osprey.NewID(start)
	a.StartsAt = start
	return a
}

// Anomaly returns the forecast anomaly of prediction p of the series
// labelled labels under rule r (without ID and StartsAt): Observed is the
// current value, Expected the fitted value at the horizon with Lower and
// Upper its bounds, each limited to the threshold (so Expected is the
// threshold when the crossing is within the horizon), Score 0.5 at the horizon rising to 1 at the crossing,
// Severity critical within r.Critical. Its Fingerprint is the series'
// mixed with "forecast", so a forecast never merges with a metric anomaly
// of the same series.
func Anomaly(r *Rule, labels osprey.Labels, p *Prediction) osprey.Anomaly {
	sev := osprey.SeverityWarning
	if r.Critical > 0 && p.TimeLeft <= r.Critical {
		sev = osprey.SeverityCritical
	}
	score := 0.5 + 0.5*(1-p.TimeLeft.Seconds()/r.Horizon.Seconds())
	score = max(0.5, min(1, score))
	// The fitted values at the horizon, not beyond the threshold (a disk
	// does not fill past full): for a forecast within the horizon the
	// expectation is the threshold itself.
	clamp := func(v float64) float64 {
		if r.Direction == Down {
			return max(v, p.Threshold)
		}
		return min(v, p.Threshold)
	}
	lo, hi := clamp(p.LowerAtHorizon), clamp(p.UpperAtHorizon)
	if lo > hi {
		lo, hi = hi, lo
	}
	return osprey.Anomaly{
		Kind:     osprey.AnomalyForecast,
		Labels:   labels,
		Score:    score,
		Observed: p.Current,
		Expected: clamp(p.ExpectedAtHorizon),
		Lower:    lo,
		Upper:    hi,
		Severity: sev,
		Evidence: []osprey.Evidence{
			{Detector: "forecast", Score: score, Reason: p.Reason(r)},
			{Detector: "rule", Reason: r.String()},
		},
		Fingerprint: Fingerprint(labels),
	}
}

// Fingerprint returns the fingerprint of the forecast of the series
// labelled l: its labels' fingerprint mixed with "forecast".
func Fingerprint(l osprey.Labels) osprey.Fingerprint {
	h := uint64(l.Fingerprint())
	for _, c := range []byte("forecast") {
		h ^= uint64(c)
		h *= fnvPrime
	}
	return osprey.Fingerprint(h)
}

// Forecast is one series' current forecast, as Forecasts lists it.
type Forecast struct {
	Labels osprey.Labels `json:"labels"`
	Rule   Rule          `json:"rule"`
	Prediction
	// AnomalyID is the open forecast anomaly, if any.
	AnomalyID string `json:"anomalyId,omitempty"`
	Severity  string `json:"severity,omitempty"`
	Reason    string `json:"reason"`
}

// Forecasts lists the series whose forecast is open or that forecast a
// crossing within the horizon now (all: every series forecast), soonest
// crossing first.
func (f *Forecaster) Forecasts(all bool) []Forecast {
	f.mu.Lock()
	out := make([]Forecast, 0, 16)
	for _, tr := range f.series {
		if !all && tr.open == nil && !tr.pred.Within() {
			continue
		}
		r := &f.cfg.Rules[tr.rule]
		fc := Forecast{Labels: tr.labels.Clone(), Rule: *r, Prediction: tr.pred, Reason: tr.pred.Reason(r)}
		if tr.open != nil {
			fc.AnomalyID = tr.open.ID
			fc.Severity = tr.open.Severity.String()
		}
		out = append(out, fc)
	}
	f.mu.Unlock()
	SortForecasts(out)
	return out
}

// SortForecasts orders forecasts soonest crossing first (those without a
// crossing last), then by labels.
func SortForecasts(fs []Forecast) {
	slices.SortFunc(fs, func(a, b Forecast) int {
		az, bz := a.CrossesAt.IsZero(), b.CrossesAt.IsZero()
		switch {
		case az != bz:
			if az {
				return 1
			}
			return -1
		case !a.CrossesAt.Equal(b.CrossesAt):
			return a.CrossesAt.Compare(b.CrossesAt)
		}
		return strings.Compare(a.Labels.String(), b.Labels.String())
	})
}

// Fit fits a fresh Model to samples (in time order) and predicts rule r
// with threshold value thr and capacity (0: unknown): the ad hoc forecast
// of the query API, made by the same code as the streaming one.
func (c *Config) Fit(samples []osprey.Sample, r *Rule, thr, capacity float64) Prediction {
	var m Model
	p := c.params()
	for _, s := range samples {
		m.Update(&p, s.TimestampMs, s.Value)
	}
	return c.Predict(&m, r, thr, capacity)
}

// FNV-1a, as osprey.Labels.Fingerprint.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// capKey identifies the series named name with l's other labels: the
// capacity series of a forecast series (same labels, another name). It
// hashes the sorted non-empty pairs except __name__, then name; it never
// returns 0.
func capKey(l osprey.Labels, name string) uint64 {
	var buf [16]string
	names := buf[:0]
	for k, v := range l {
		if v != "" && k != osprey.LabelMetric {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	h := uint64(fnvOffset)
	str := func(s string) {
		for i := 0; i < len(s); i++ {
			h ^= uint64(s[i])
			h *= fnvPrime
		}
		h ^= 0xff // separator: no name or value contains it as a byte of valid UTF-8
		h *= fnvPrime
	}
	for _, k := range names {
		str(k)
		str(l[k])
	}
	str(name)
	if h == 0 {
		h = 1
	}
	return h
}
