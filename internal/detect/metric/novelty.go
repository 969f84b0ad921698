package metric

// Context novelty, after CAD OSE (Smirnov's contextual anomaly detector, the
// best low-false-positive detector on NAB). The value is quantised into
// novelLevels levels of its running range: from the smallest to the largest
// value seen so far (never the whole series'), always including zero. For the
// usual non-negative metric (a count, a utilisation, bytes, a latency) a
// level is then a quarter of the largest magnitude seen, so a series that
// wobbles far from zero stays on one level and only large relative moves
// make new sequences (measured: +2 NAB points over a plain min..max range).
// Then each recent sequence of levels
// (the last 2, 3, … novelOrders+1 of them) is looked up in a fixed-size bit
// set of the sequences seen before. A sequence never seen is novel. The
// surprise of a novel sequence is 1/rate, where rate is the running share
// of novel sequences of that length in this series: a young or chaotic
// series, where most sequences are new, is not surprised, and a well-learnt
// one that suddenly takes a new path is. The strongest order counts.
//
// Four levels and sequences of up to seven values were measured best on NAB
// (docs/detection.md): finer levels make noise look novel, longer sequences
// add little.

const (
	novelBits   = 2 // bits per level
	novelLevels = 1 << novelBits
	novelOrders = 6 // sequence lengths 2..novelOrders+1
	novelSetLog = 12
	novelSet    = 1 << novelSetLog // bits in the seen-set: 512 bytes
	// novelMinRate bounds the surprise of one novel sequence to 1000.
	novelMinRate = 1e-3
)

// novelty is the context-novelty state of one series: the running range,
// the recent levels, each order's novelty rate and the set of sequences
// seen (hashed, so distinct sequences may collide; a collision only hides
// a novelty).
type novelty struct {
	lo, hi float64
	// hist packs the last levels, novelBits each, newest lowest.
	hist uint32
	// have counts the levels in hist, up to novelOrders+1.
	have uint8
	// rate is each order's running share of novel sequences.
	rate [novelOrders]float32
	seen [novelSet / 64]uint64
}

// update adds v, the n-th sample of the series, and returns its novelty
// surprise: 0 when every recent sequence was seen before, else 1/rate of
// the most surprising novel order.
func (s *novelty) update(cfg *Config, n uint32, v float64) float64 {
	if s.have == 0 {
		// A young series finds everything new: rates start at 1.
		s.lo, s.hi = min(0, v), max(0, v)
		s.rate = [novelOrders]float32{1, 1, 1, 1, 1, 1}
	}
	s.hist = s.hist<<novelBits | s.level(v)
	s.lo, s.hi = min(s.lo, v), max(s.hi, v)
	if s.have <= novelOrders {
		s.have++
	}
	z := 0.0
	// Rates start as plain means, like the predictors' errors.
	alpha := max(float32(cfg.NovelAlpha), 1/float32(max(n, 1)))
	for k := range novelOrders {
		if int(s.have) < k+2 {
			break
		}
		ctx := uint64(s.hist&(1<<(novelBits*(k+2))-1)) | uint64(k)<<40
		h := (ctx * 0x9E3779B97F4A7C15) >> (64 - novelSetLog)
		word, bit := h/64, uint64(1)<<(h%64)
		novel := float32(0)
		if s.seen[word]&bit == 0 {
			novel = 1
			s.seen[word] |= bit
			z = max(z, 1/float64(max(s.rate[k], novelMinRate)))
		}
		s.rate[k] += alpha * (novel - s.rate[k])
	}
	return z
}

// level quantises v into the running range [lo, hi]; values beyond it fall
// into the outer levels.
func (s *novelty) level(v float64) uint32 {
	w := s.hi - s.lo
	if !(w > 0) {
		return 0
	}
	f := (v - s.lo) / w * novelLevels
	switch {
	case f >= novelLevels:
		return novelLevels - 1
	case f > 0:
		return uint32(f)
	}
	return 0
}
