package metric

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"unsafe"
)

const step = 5 * 60 * 1000 // five minutes, in ms

// signal returns n samples of Gaussian noise (σ = 1, seeded) around 100,
// with f applied to each index and noise value.
func signal(n int, seed uint64, f func(i int, noise float64) float64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 1))
	out := make([]float64, n)
	for i := range out {
		out[i] = f(i, rng.NormFloat64())
	}
	return out
}

// run feeds values at five-minute steps and returns every result.
func run(cfg Config, values []float64) []Result {
	var m Model
	out := make([]Result, len(values))
	for i, v := range values {
		out[i] = m.Update(&cfg, int64(i)*step, v)
	}
	return out
}

// alarms lists the indexes whose Alarm reaches the threshold.
func alarms(cfg Config, rs []Result) []int {
	var idx []int
	for i, r := range rs {
		if r.Alarm >= cfg.Threshold {
			idx = append(idx, i)
		}
	}
	return idx
}

func TestSyntheticSignals(t *testing.T) {
	const n, at = 4000, 3000
	day := float64(288) // samples per day
	tests := []struct {
		name string
		f    func(i int, e float64) float64
		// want says where the first alarm must fall: [at, at+within]; a
		// negative within means no alarm at all.
		within int
		// comp is the component expected to fire at the first alarm.
		comp Component
		// falseOK is the number of false alarms allowed; 0 means one per
		// 1000 samples.
		falseOK int
	}{
		{"spike", func(i int, e float64) float64 {
			if i == at {
				return 100 + 15
			}
			return 100 + e
		}, 0, CompPoint, 0},
		{"level shift", func(i int, e float64) float64 {
			if i >= at {
				return 106 + e
			}
			return 100 + e
		}, 6, CompPoint, 0},
		{"small level shift", func(i int, e float64) float64 {
			if i >= at {
				return 104 + e
			}
			return 100 + e
		}, 24, CompShift, 0},
		{"variance change", func(i int, e float64) float64 {
			if i >= at {
				return 100 + 6*e
			}
			return 100 + e
		}, 12, CompPoint, 0},
		{"seasonal pattern with a break", func(i int, e float64) float64 {
			s := 20 * math.Sin(2*math.Pi*float64(i)/day)
			if i >= at && i < at+72 { // the daily swing stops for six hours
				s = 0
			}
			return 100 + s + e
		}, 36, CompPoint, 8},
		{"sequence break inside the range", func(i int, e float64) float64 {
			// A noiseless triangle wave of period 40 between 0 and 20
			// that, for 20 samples, holds a middle value instead:
			// every value stays inside the usual range, only the
			// sequence is new.
			p := i % 40
			tri := float64(min(p, 40-p))
			if i >= at && i < at+40 && p >= 10 && p < 30 {
				tri = 12
			}
			return tri
		}, 20, CompNovel, 0},
		{"short run beyond the usual error", func(i int, e float64) float64 {
			// Ten samples 4.5σ high, below the point component's
			// record in this noise: the shift component finds them
			// at the fifth sample, when its sum (at most half an
			// error per sample) first beats cusumRecordFloor by the
			// threshold's margin. (The burst sum, judged against
			// the same floor, does not fire on a run this short.)
			if i >= at && i < at+10 {
				return 104.5 + e
			}
			return 100 + e
		}, 4, CompShift, 0},
		{"slow drift", func(i int, e float64) float64 {
			return 100 + 10*float64(i)/n + e
		}, -1, 0, 0},
		{"flat line", func(int, float64) float64 { return 7 }, -1, 0, 0},
	}
	cfg := DefaultConfig()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rs := run(cfg, signal(n, 42, tc.f))
			// Noise alone makes a new record now and then (see
			// TestNoiseAlarmRate): allow one false alarm per 1000 samples.
			var early, hit []int
			for _, i := range alarms(cfg, rs) {
				switch {
				case tc.within >= 0 && i >= at && i <= at+tc.within:
					hit = append(hit, i)
				case tc.within < 0 || i < at:
					early = append(early, i)
				}
			}
			// The context-novelty component costs a few more on a noisy
			// season: noise at a quantisation boundary makes rare new
			// sequences (docs/detection.md, "what did not help").
			allowed := n / 1000
			if tc.falseOK > 0 {
				allowed = tc.falseOK
			}
			if len(early) > allowed {
				t.Errorf("false alarms at %v, want at most %d", early, allowed)
			}
			if tc.within < 0 {
				return
			}
			if len(hit) == 0 {
				t.Fatalf("no alarm in [%d, %d]", at, at+tc.within)
			}
			got := hit
			r := rs[got[0]]
			if !r.Fired(tc.comp, cfg.Threshold) {
				t.Errorf("component %s did not fire at %d: %v", tc.comp, got[0], r.Components)
			}
		})
	}
}

// TestSeasonFound checks that a daily pattern is learned from the data: after
// a few days the daily predictor is chosen and its band is narrow.
func TestSeasonFound(t *testing.T) {
	cfg := DefaultConfig()
	rs := run(cfg, signal(3000, 7, func(i int, e float64) float64 {
		return 100 + 20*math.Sin(2*math.Pi*float64(i)/288) + e
	}))
	last := rs[len(rs)-1]
	if last.Predictor != PredDaily {
		t.Fatalf("predictor = %s, want daily season", last.Predictor)
	}
	if w := last.Upper - last.Lower; w > 20 {
		t.Errorf("band width %.1f, want well below the daily swing of 40", w)
	}
	if math.Abs(last.Expected-(100+20*math.Sin(2*math.Pi*2999/288))) > 3 {
		t.Errorf("expected %.2f far from the pattern", last.Expected)
	}
}

// TestCalibrationIsPerSeries checks that scores depend on the series' own
// behaviour, not its units: an affine change of the values gives the same
// scores.
func TestCalibrationIsPerSeries(t *testing.T) {
	cfg := DefaultConfig()
	base := signal(2000, 3, func(i int, e float64) float64 {
		if i == 1500 {
			return 110
		}
		return 100 + e
	})
	scaled := make([]float64, len(base))
	for i, v := range base {
		scaled[i] = 5e6 + 1000*v
	}
	a, b := run(cfg, base), run(cfg, scaled)
	for i := range a {
		if math.Abs(a[i].Score-b[i].Score) > 1e-6 {
			t.Fatalf("sample %d: score %.9f vs %.9f after rescaling", i, a[i].Score, b[i].Score)
		}
		if a[i].Score < 0 || a[i].Score > 1 {
			t.Fatalf("sample %d: score %v outside [0, 1]", i, a[i].Score)
		}
	}
	if a[1500].Alarm < cfg.Threshold {
		t.Errorf("the 10σ spike scored %.3f, below the threshold", a[1500].Alarm)
	}
}

func TestWarmupAndStaleness(t *testing.T) {
	cfg := DefaultConfig()
	var m Model
	for i := range cfg.Warmup {
		if r := m.Update(&cfg, int64(i)*step, float64(i%7)); r.Score != 0 || r.Warm {
			t.Fatalf("sample %d scored %v during warm-up", i, r.Score)
		}
	}
	before := m
	if r := m.Update(&cfg, 1e12, math.NaN()); r.Score != 0 || m != before {
		t.Fatal("a NaN (staleness marker) changed the model or scored")
	}
}

func TestDebounce(t *testing.T) {
	cfg := DefaultConfig()
	// Three equal spikes 10 samples apart and a stronger one 30 samples
	// after the first are one incident: one alarm. A spike after the
	// refractory period is a new one.
	late := 1500 + cfg.Refractory + 10
	rs := run(cfg, signal(2000, 9, func(i int, e float64) float64 {
		switch i {
		case 1500, 1510, 1520:
			return 120
		case 1530, late:
			return 400
		}
		return 100 + e
	}))
	var got []int
	for _, i := range alarms(cfg, rs) {
		if i >= 1490 {
			got = append(got, i)
		}
	}
	if len(got) != 2 || got[0] != 1500 || got[1] != late {
		t.Fatalf("alarms from 1490 on at %v, want [1500 %d]", got, late)
	}
}

// TestNoiseAlarmRate measures the false alarm rate of the default threshold
// on Gaussian noise: a new record of surprise by 25 % is rare, not never.
func TestNoiseAlarmRate(t *testing.T) {
	cfg := DefaultConfig()
	const n = 100_000
	got := len(alarms(cfg, run(cfg, signal(n, 5, func(_ int, e float64) float64 { return 100 + e }))))
	if got > n/2000 {
		t.Errorf("%d alarms in %d samples of noise, want at most %d", got, n, n/2000)
	}
	t.Logf("%d alarms in %d samples of Gaussian noise", got, n)
}

func TestConfigValidate(t *testing.T) {
	good := DefaultConfig()
	if err := good.Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	bad := good
	bad.LevelAlpha, bad.Threshold, bad.Warmup = 0, 2, 1
	err := bad.Validate()
	if err == nil {
		t.Fatal("bad config accepted")
	}
	for _, key := range []string{"level_alpha", "threshold", "warmup"} {
		if !contains(err.Error(), key) {
			t.Errorf("error %q does not name %s", err, key)
		}
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// TestNovelty checks the context-novelty component on its own: a
// well-learnt cycle is never novel, a new path through the same values is,
// and its surprise is larger the rarer novelty has been.
func TestNovelty(t *testing.T) {
	cfg := DefaultConfig()
	var s novelty
	cycle := []float64{0, 1, 2, 3, 2, 1}
	n := uint32(0)
	for range 200 {
		for _, v := range cycle {
			n++
			s.update(&cfg, n, v)
		}
	}
	for _, v := range cycle {
		n++
		if z := s.update(&cfg, n, v); z != 0 {
			t.Fatalf("learnt cycle scored novelty %v", z)
		}
	}
	// 0 → 3 is a jump the cycle never made, inside the usual range.
	n++
	if z := s.update(&cfg, n, 3); z < 10 {
		t.Errorf("new transition scored novelty %v, want ≥ 10", z)
	}
	// A fresh model is not surprised by anything: all is new.
	var fresh novelty
	for i := range 20 {
		if z := fresh.update(&cfg, uint32(i+1), float64(i%5)); z > 1.5 {
			t.Fatalf("fresh model sample %d: novelty %v, want ≤ 1.5", i, z)
		}
	}
}

// TestNoveltyNearMiss checks the near-miss rule: a new sequence whose newest
// value is one level off a sequence seen before counts half, a new sequence
// that is not near any seen one counts in full, and with novelExact (the
// rule before) both count in full.
func TestNoveltyNearMiss(t *testing.T) {
	cfg := DefaultConfig()
	exact := cfg
	exact.novelExact = true
	var learnt novelty
	cycle := []float64{0, 1, 2, 3, 2, 1}
	n := uint32(0)
	for range 200 {
		for _, v := range cycle {
			n++
			learnt.update(&cfg, n, v)
		}
	}
	n++
	learnt.update(&cfg, n, 0)
	n++
	tests := []struct {
		name string
		next float64
		// near says whether the sequence ending in next is a near miss.
		near bool
	}{
		// After 0 the cycle always went to 1: 2 is one level off.
		{"one level off the learnt path", 2, true},
		// 3 is two levels off 1, and 0 → 2 was never seen either.
		{"far from every learnt path", 3, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, b := learnt, learnt
			z := a.update(&cfg, n, tc.next)
			zExact := b.update(&exact, n, tc.next)
			if zExact < 10 {
				t.Fatalf("exact novelty %v, want ≥ 10", zExact)
			}
			want := zExact
			if tc.near {
				want = novelNear * zExact
				if !(z < zExact) {
					t.Errorf("near miss scored %v, not less than the exact %v", z, zExact)
				}
			}
			if math.Abs(z-want) > 1e-9*want {
				t.Errorf("novelty %v, want %v (exact %v)", z, want, zExact)
			}
		})
	}
}

// TestNoveltyPersistence checks the persistence rule's arithmetic: an
// isolated novelty counts √novelPersistFloor (about a third) of its
// surprise, one right after another counts in full, one a few samples
// after another by the decayed memory of it; and that a model with
// novelIsolated (the rule before) is unaffected by it.
func TestNoveltyPersistence(t *testing.T) {
	var m Model
	steps := []struct {
		name string
		zn   float64
		want float64
	}{
		{"isolated", 100, 100 * math.Sqrt(novelPersistFloor)},
		{"right after another", 100, 100},
		{"nothing new", 0, 0},
		{"nothing new", 0, 0},
		{"after two samples with nothing new", 100, math.Sqrt(100 * 100 * novelPersistDecay * novelPersistDecay)},
		{"a weak one after a strong one", 1, math.Sqrt(1 * 100)},
	}
	for i, st := range steps {
		if got := m.persist(st.zn); math.Abs(got-st.want) > 1e-9*max(1, st.want) {
			t.Errorf("step %d (%s): persist(%v) = %v, want %v", i, st.name, st.zn, got, st.want)
		}
	}
	// With novelIsolated the model never touches novRecent.
	cfg := DefaultConfig()
	cfg.novelIsolated = true
	var old Model
	for i := range 400 {
		old.Update(&cfg, int64(i)*step, float64(i%7*(i/200+1)))
	}
	if old.novRecent != 0 {
		t.Errorf("novelIsolated model has recent novelty %v", old.novRecent)
	}
}

// TestBurst checks the burst component's arithmetic: noise within the
// allowance keeps both sums at 0, a run on one side adds min(residual,
// BurstClip) − BurstAllowance per sample in units of the running error, a
// single spike adds at most BurstClip − BurstAllowance, and a switch of
// predictor restarts the sums.
func TestBurst(t *testing.T) {
	cfg := DefaultConfig()
	var m Model
	vals := signal(2000, 7, func(_ int, e float64) float64 { return 100 + e })
	for i, v := range vals {
		m.Update(&cfg, int64(i)*step, v)
	}
	if m.burstUp > 2*cfg.BurstClip || m.burstDown > 2*cfg.BurstClip {
		t.Fatalf("noise filled the burst sums: up %v down %v", m.burstUp, m.burstDown)
	}
	at := int64(len(vals))
	spike := func(v float64) {
		m.Update(&cfg, at*step, v)
		at++
	}
	// Drain what noise left, with values at the level.
	for range 20 {
		spike(m.level)
	}
	if m.burstUp != 0 || m.burstDown != 0 {
		t.Fatalf("sums not drained: up %v down %v", m.burstUp, m.burstDown)
	}
	// One huge spike adds at most clip − allowance.
	spike(m.level + 1000*m.err[m.pred])
	if got, bound := m.burstUp, cfg.BurstClip-cfg.BurstAllowance; got <= 0 || got > bound+1e-9 {
		t.Errorf("one spike: burstUp %v, want in (0, %v]", got, bound)
	}
	for range 20 {
		spike(m.level)
	}
	// A run of residuals of 7 errors below the prediction: each adds
	// 7 − 4 to the downward sum.
	for k := 1; k <= 5; k++ {
		scale := max(m.err[m.pred], cfg.Floor*m.swing)
		before := m.burstDown
		r := m.Update(&cfg, at*step, m.level-7*scale)
		at++
		if d := m.burstDown - before; math.Abs(d-(7-cfg.BurstAllowance)) > 0.05 {
			t.Errorf("run sample %d added %v to the downward sum, want about %v", k, d, 7-cfg.BurstAllowance)
		}
		if k == 5 && !r.Fired(CompBurst, cfg.Threshold) {
			t.Errorf("a run of 5 residuals of 7 errors did not fire the burst component: %v", r.Components)
		}
	}
}

// TestBurstExcursion checks both rules of Model.burstExcursion. Runs of 4
// samples 10 errors above the level recur every 400 samples of noise and
// set the burst record; a run of 12 then fills the sum past that record
// gradually. Judged against the record before its excursion it alarms;
// judged against the record it keeps raising itself (burstGrowing, the
// rule before) its burst score stays near 0.5, its growth per sample, and
// never alarms. Once the alarmed run is over, its record falls back to at
// most AlarmGrow times the record before it, so the same run 400 samples
// later alarms again; with the raised record kept (burstNoReturn) it does
// not.
func TestBurstExcursion(t *testing.T) {
	tests := []struct {
		name                  string
		growing, noReturn     bool
		wantFirst, wantSecond bool
	}{
		{"defaults", false, false, true, true},
		{"record kept after an alarmed run", false, true, true, false},
		{"judged against the record the run raises", true, false, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.burstGrowing, cfg.burstNoReturn = tc.growing, tc.noReturn
			var m Model
			noise := signal(6000, 3, func(_ int, e float64) float64 { return e })
			at := 0
			feed := func(v float64) Result {
				r := m.Update(&cfg, int64(at)*step, v)
				at++
				return r
			}
			quiet := func() {
				for range 400 {
					feed(100 + noise[at%len(noise)])
				}
			}
			// run feeds n samples 10 errors above the level and returns
			// the first at which the burst component fired, or -1.
			run := func(n int) int {
				off := 10 * max(m.err[m.pred], cfg.Floor*m.swing)
				base := m.level
				fired := -1
				for k := range n {
					if r := feed(base + off + noise[at%len(noise)]); fired < 0 && r.Fired(CompBurst, cfg.Threshold) {
						fired = k
					}
				}
				return fired
			}
			for range 8 {
				quiet()
				run(4)
			}
			quiet()
			before := m.record[CompBurst]
			first := run(12)
			quiet()
			if !tc.growing && !tc.noReturn && m.record[CompBurst] > cfg.AlarmGrow*before {
				t.Errorf("burst record %v after the alarmed run, want at most %v × %v", m.record[CompBurst], cfg.AlarmGrow, before)
			}
			second := run(12)
			if got := first >= 0; got != tc.wantFirst || (got && (first < 4 || first > 8)) {
				t.Errorf("first long run fired the burst component at its sample %d, want %v (at 4..8)", first, tc.wantFirst)
			}
			if got := second >= 0; got != tc.wantSecond {
				t.Errorf("second long run fired the burst component at its sample %d, want %v", second, tc.wantSecond)
			}
		})
	}
}

// TestModelSize keeps the per-series state within its budget.
func TestModelSize(t *testing.T) {
	if sz := unsafe.Sizeof(Model{}); sz > 2048 {
		t.Errorf("Model is %d bytes, want at most 2048", sz)
	}
}

// TestNoveltyLongestLengthAlone checks that a sequence new only at the
// longest length (a familiar path with an unfamiliar beginning) is not
// novel, while the rule it replaced (novelOneOrder) calls it novel.
func TestNoveltyLongestLengthAlone(t *testing.T) {
	// Levels 0..3 are the values 0..3 once 3 has been seen. Blocks
	// 3,1,1,1,1,1,2 and 0,1,1,1,1,1,2 alternate, so 1,1,1,1,1,2 (length
	// 6) is familiar, while 2,1,1,1,1,1,2 (length 7) never occurs.
	train := func(cfg *Config) (*novelty, uint32) {
		s := &novelty{}
		n := uint32(0)
		for i := range 400 {
			head := 3.0
			if i%2 == 1 {
				head = 0
			}
			for _, v := range []float64{head, 1, 1, 1, 1, 1, 2} {
				n++
				s.update(cfg, n, v)
			}
		}
		return s, n
	}
	// After a block's final 2, feed 1,1,1,1,1,2: only the last sample's
	// length-7 sequence is new.
	last := func(cfg *Config) float64 {
		s, n := train(cfg)
		z := 0.0
		for _, v := range []float64{1, 1, 1, 1, 1, 2} {
			n++
			z = s.update(cfg, n, v)
		}
		return z
	}
	cfg := DefaultConfig()
	if z := last(&cfg); z != 0 {
		t.Errorf("sequence new only at length 7 scored novelty %v, want 0", z)
	}
	one := DefaultConfig()
	one.novelOneOrder = true
	if z := last(&one); z <= 1 {
		t.Errorf("single-order rule scored %v, want > 1 (the case the rule removes)", z)
	}
}

// TestMaterialGate: with MinFactor and MinDelta set, a small change never
// alarms (nor starts a refractory span), and a large one still does.
func TestMaterialGate(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MinFactor, cfg.MinDelta = 2, 5
	for _, c := range []struct {
		v, expected float64
		alarms      bool
	}{
		{400, 10, true}, {0, 100, true}, {15, 10, false}, {3, 0.2, false}, {60, 100, false}, {40, 100, true},
	} {
		if got := material(&cfg, c.v, c.expected, 0.9) > 0; got != c.alarms {
			t.Errorf("material(%v, expected %v) = %v, want %v", c.v, c.expected, got, c.alarms)
		}
	}
	off := DefaultConfig()
	if material(&off, 10.1, 10, 0.9) != 0.9 {
		t.Error("the gate is on in DefaultConfig")
	}
	bad := DefaultConfig()
	bad.MinFactor, bad.MinDelta = 0.5, -1
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "min_factor") || !strings.Contains(err.Error(), "min_delta") {
		t.Errorf("Validate() = %v", err)
	}
}

// TestAR1AlarmRate measures the false alarm rate of the default threshold
// on AR(1) noise (φ = 0.9): autocorrelated noise wanders, so it alarms
// more often than white noise, but a healthy series must stay rare.
func TestAR1AlarmRate(t *testing.T) {
	cfg := DefaultConfig()
	const n = 100_000
	x := 0.0
	vals := signal(n, 9, func(_ int, e float64) float64 {
		x = 0.9*x + e
		return 100 + x
	})
	got := len(alarms(cfg, run(cfg, vals)))
	if got > n/2000 {
		t.Errorf("%d alarms in %d samples of AR(1) noise, want at most %d", got, n, n/2000)
	}
	t.Logf("%d alarms in %d samples of AR(1) noise (φ = 0.9)", got, n)
}

// TestBandCache checks that the cached band ratio (Config.band) is used
// only while it matches the parameters: a Config whose Threshold or
// ScoreOctaves changed after DefaultConfig, validated or not, and one
// whose cache is empty (as a Config literal's) score and band every sample
// alike; the validated one takes the cached path (and skips the logarithm
// of surprises that clamp to 0), the others compute as before.
func TestBandCache(t *testing.T) {
	vals := signal(3000, 11, func(i int, e float64) float64 {
		if i%700 == 650 {
			return 130 + e
		}
		return 100 + float64(i%288)/20 + e
	})
	stale := DefaultConfig()
	stale.Threshold, stale.ScoreOctaves = 0.6, 3
	fresh := stale
	if err := fresh.Validate(); err != nil {
		t.Fatal(err)
	}
	bare := stale
	bare.band = fresh.band
	bare.band.threshold, bare.band.octaves = 0, 0
	if fresh.band.threshold != 0.6 || fresh.band.octaves != 3 || fresh.band.ratio != bandRatio(0.6, 3) || fresh.band.zero != 0.125 {
		t.Fatalf("Validate did not refresh the band cache: %+v", fresh.band)
	}
	a, b, c := run(stale, vals), run(fresh, vals), run(bare, vals)
	for i := range a {
		if a[i] != b[i] || a[i] != c[i] {
			t.Fatalf("sample %d: stale cache %+v, fresh cache %+v, no cache %+v", i, a[i], b[i], c[i])
		}
	}
	if len(alarms(fresh, b)) == 0 || b[len(b)-1].Upper <= b[len(b)-1].Expected {
		t.Fatalf("the signal neither alarms nor has a band: %+v", b[len(b)-1])
	}
}

// TestNoveltyRateFloor checks that the novelty rates of a series that has
// long seen every sequence it makes (here a constant) stop at
// novelRateFloor instead of decaying into the subnormal range, where every
// update of them would be slow on CPUs that handle subnormals in microcode.
// Without the floor they fall below the smallest normal float32 after about
// 44,000 samples and stay there.
func TestNoveltyRateFloor(t *testing.T) {
	cfg := DefaultConfig()
	var m Model
	for i := range 100_000 {
		m.Update(&cfg, int64(i)*step, 42)
	}
	for k, r := range m.nov.rate {
		if r != novelRateFloor {
			t.Errorf("rate of order %d is %g after 100,000 identical samples, want the floor %g", k, r, float32(novelRateFloor))
		}
	}
	if novelRateFloor >= novelMinRate || novelRateFloor < math.SmallestNonzeroFloat32*(1<<23) {
		t.Errorf("novelRateFloor %g must lie between the smallest normal float32 and novelMinRate", novelRateFloor)
	}
}

// TestShiftCUSUM checks the shift component's arithmetic: a spike adds at
// most ShiftClip − ShiftAllowance to its sum (half a typical error), a run
// of residuals beyond ShiftClip adds that much per sample, so the sum
// counts the run's length, and the component fires only once the run has
// lasted long enough for the sum to beat cusumRecordFloor by the
// threshold's margin.
func TestShiftCUSUM(t *testing.T) {
	cfg := DefaultConfig()
	var m Model
	vals := signal(2000, 3, func(_ int, e float64) float64 { return 100 + e })
	at := int64(0)
	feed := func(v float64) Result {
		r := m.Update(&cfg, at*step, v)
		at++
		return r
	}
	for _, v := range vals {
		feed(v)
	}
	for range 20 {
		feed(m.level)
	}
	if m.shiftUp != 0 || m.shiftDown != 0 {
		t.Fatalf("sums not drained: up %v down %v", m.shiftUp, m.shiftDown)
	}
	step := cfg.ShiftClip - cfg.ShiftAllowance
	feed(m.level + 1000*m.err[m.pred])
	if got := m.shiftUp; got <= 0 || got > step+1e-9 {
		t.Errorf("one spike: shiftUp %v, want in (0, %v]", got, step)
	}
	for range 20 {
		feed(m.level)
	}
	// A run 6 errors below the prediction: each sample adds step to the
	// downward sum; the component fires once the sum exceeds the floor
	// by the threshold's factor (1.25), i.e. after 2·1.25/step samples.
	need := int(math.Ceil(cusumRecordFloor * bandRatio(cfg.Threshold, cfg.ScoreOctaves) / step))
	first := -1
	for k := 1; k <= 2*need; k++ {
		scale := max(m.err[m.pred], cfg.Floor*m.swing)
		before := m.shiftDown
		r := feed(m.level - 6*scale)
		if d := m.shiftDown - before; math.Abs(d-step) > 1e-6 {
			t.Errorf("run sample %d added %v to the downward sum, want %v", k, d, step)
		}
		if first < 0 && r.Fired(CompShift, cfg.Threshold) {
			first = k
		}
	}
	if first < need || first > need+1 {
		t.Errorf("shift fired at run sample %d, want %d or %d", first, need, need+1)
	}
}

// TestLog2 holds log2 to math.Log2 bit for bit: scores, and the NAB
// results, must not change with it.
func TestLog2(t *testing.T) {
	xs := []float64{
		0, math.Copysign(0, -1), -1, 1, 0.5, 2, 3, 1.25, 1 / 16.0, 1e-300, 1e300,
		math.SmallestNonzeroFloat64, 0x1p-1022, math.MaxFloat64,
		math.Inf(1), math.Inf(-1), math.NaN(), math.Nextafter(1, 0), math.Nextafter(1, 2),
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	for range 200_000 {
		xs = append(xs, rnd.Float64()*16, math.Exp2(rnd.Float64()*2100-1075))
	}
	for _, x := range xs {
		got, want := log2(x), math.Log2(x)
		if math.Float64bits(got) != math.Float64bits(want) && !(math.IsNaN(got) && math.IsNaN(want)) {
			t.Fatalf("log2(%v) = %v, math.Log2 gives %v", x, got, want)
		}
	}
}

// TestFatigue checks Model.tire and its effect: an alarm adds FatigueStep
// octaves to the components that raised it and to no other, the fatigue
// halves in about 1,386 samples at FatigueDecay 0.9995 and is dropped
// once negligible; a second, identical spike is then judged against a
// point record raised by the fatigue and nothing else, and the band
// widens by as much.
func TestFatigue(t *testing.T) {
	cfg := DefaultConfig()
	var m Model
	alarm := Result{Alarm: 0.6}
	alarm.Components[CompPoint], alarm.Components[CompNovel] = 0.6, 0.3
	m.n = 1
	m.tire(&cfg, &alarm)
	if m.fatigue[CompPoint] != float32(cfg.FatigueStep) || m.fatigue[CompNovel] != 0 {
		t.Fatalf("fatigue after a point alarm %v, want %v for point alone", m.fatigue, cfg.FatigueStep)
	}
	quiet := Result{}
	for range 1386 {
		m.n++
		m.tire(&cfg, &quiet)
	}
	if f := m.fatigue[CompPoint]; math.Abs(float64(f)-cfg.FatigueStep/2) > 0.001 {
		t.Errorf("fatigue after 1,386 quiet samples %v, want about %v", f, cfg.FatigueStep/2)
	}
	for range 10000 {
		m.n++
		m.tire(&cfg, &quiet)
	}
	if m.fatigue != ([numComponents]float32{}) {
		t.Errorf("fatigue after 11,386 quiet samples %v, want none", m.fatigue)
	}

	// Two spikes of 8σ, 300 samples apart, with and without fatigue.
	const first, second = 2000, 2300
	vals := signal(3000, 21, func(i int, e float64) float64 {
		if i == first || i == second {
			return 108
		}
		return 100 + e
	})
	off := cfg
	off.FatigueStep = 0
	with, without := run(cfg, vals), run(off, vals)
	as := alarms(cfg, with)
	if len(as) == 0 || as[len(as)-1] < first {
		t.Fatalf("alarms at %v, want one at the first spike (%d)", as, first)
	}
	for i := range as[0] + 1 {
		if with[i] != without[i] {
			t.Fatalf("sample %d scores %+v with fatigue, %+v without, before any fatigue", i, with[i], without[i])
		}
	}
	if !with[first].Fired(CompPoint, cfg.Threshold) {
		t.Fatalf("the first spike did not alarm on point: %+v", with[first])
	}
	// The fatigue the point component has at the second spike: each
	// point alarm before it added FatigueStep, decayed by FatigueDecay^16
	// at every sample after it whose count (index + 1) is a multiple of 16.
	f := 0.0
	for _, i := range as {
		if i < second && with[i].Fired(CompPoint, cfg.Threshold) {
			steps := (second)/fatigueEvery - (i+1)/fatigueEvery
			f += cfg.FatigueStep * math.Pow(cfg.FatigueDecay, float64(steps*fatigueEvery))
		}
	}
	a, b := with[second].Components[CompPoint], without[second].Components[CompPoint]
	t.Logf("alarms at %v; point fatigue at the second spike %.4f octaves; its point score %.4f, %.4f without", as, f, a, b)
	if !(b > 0 && b < 1) || math.Abs(b-a-0.5*f/cfg.ScoreOctaves) > 1e-6 {
		t.Errorf("second spike's point score %v with fatigue, %v without; want %v less", a, b, 0.5*f/cfg.ScoreOctaves)
	}
	wb, wob := with[second].Upper-with[second].Expected, without[second].Upper-without[second].Expected
	if math.Abs(wb/wob-math.Exp2(f)) > 1e-6 {
		t.Errorf("band %v with fatigue, %v without; want %v times wider", wb, wob, math.Exp2(f))
	}
}
