package metric

import "math"

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
// one that suddenly takes a new path is.
//
// A sequence new only at the longest length counts nothing: that is what
// noise at a level boundary keeps producing in a well-learnt series, a rare
// path through familiar values. Novel lengths run from the shortest new one
// up to the longest (a new sequence stays new when extended), so a real
// change of shape is new at several lengths; the longest length counts only
// together with the next shorter one, as the geometric mean of their
// surprises. Shorter lengths count alone, because a hash collision can hide
// a novelty at any length: requiring two consecutive lengths everywhere
// (NAB FP rows 185 → 176 instead of → 181) missed the synthetic sequence
// break, one of whose two novel lengths collided (docs/detection.md).

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
	// novelRateFloor is the lowest a novelty rate goes (see update):
	// far below novelMinRate, far above the subnormal float32 range.
	novelRateFloor = novelMinRate / 1024
	// novelNear is the weight of a near-miss novelty (see nearSeen).
	novelNear = 0.5
	// Novelty persistence (Model.Update): the novel component's surprise
	// is the geometric mean of this sample's novelty surprise and the
	// strongest of the recent samples' (novRecent, decaying by
	// novelPersistDecay per sample, so it spans about three samples),
	// and at least √novelPersistFloor ≈ 0.32 of its own: an isolated
	// novelty counts a third, one that follows another counts in full.
	novelPersistDecay = 0.7
	novelPersistFloor = 0.1
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
// surprise: 0 when no recent sequence is new, else the largest 1/rate of a
// novel length, where the longest length counts only as √(1/rate · 1/rate')
// with the next shorter length, and only if that one is novel too.
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
	// prev is the surprise of the next shorter order if it was novel.
	prev := 0.0
	// Rates start as plain means, like the predictors' errors.
	alpha := max(float32(cfg.NovelAlpha), 1/float32(max(n, 1)))
	// orders is how many sequence lengths the levels in hist cover.
	orders := min(int(s.have)-1, novelOrders)
	for k := range orders {
		ctx := uint64(s.hist&(1<<(novelBits*(k+2))-1)) | uint64(k)<<40
		h := (ctx * 0x9E3779B97F4A7C15) >> (64 - novelSetLog)
		word, bit := h/64, uint64(1)<<(h%64)
		novel := float32(0)
		surprise := 0.0
		if s.seen[word]&bit == 0 {
			novel = 1
			near := !cfg.novelExact && s.nearSeen(ctx)
			s.seen[word] |= bit
			surprise = 1 / float64(max(s.rate[k], novelMinRate))
			if near {
				// A near miss: the same path with the newest value
				// one level off has been seen.
				surprise *= novelNear
			}
			switch {
			case cfg.novelOneOrder:
				z = max(z, surprise)
			case k < novelOrders-1:
				z = max(z, surprise)
			case prev > 0:
				// The longest length needs the next shorter one.
				z = max(z, math.Sqrt(prev*surprise))
			}
		}
		prev = surprise
		// The floor keeps a well-learnt series' rates out of the
		// subnormal range: without it a rate decays below the smallest
		// normal float32 after about 44,000 samples without a new
		// sequence and stays there (about 3.5e-43), and CPUs that
		// handle subnormals in microcode are many times slower on
		// them. The surprise reads a rate only down to novelMinRate,
		// so the floor changes only the rate a novelty restarts from
		// (by less than 1e-6; on NAB 4 output rows moved in the fifth
		// decimal and no score changed).
		// One comparison rather than the built-in max, which must
		// order −0 and propagate NaN (about eight instructions on
		// amd64); the built-in decides what the comparison does not.
		r := s.rate[k] + alpha*(novel-s.rate[k])
		if r < novelRateFloor {
			r = novelRateFloor
		} else if r != r {
			r = max(r, novelRateFloor) // NaN
		}
		s.rate[k] = r
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

// nearSeen reports whether the sequence ctx (as hashed by update) with its
// newest level moved up or down by one has been seen: then the new sequence
// is a familiar path whose last value fell just across a level boundary,
// which is what noise near a boundary produces, rather than a new shape.
func (s *novelty) nearSeen(ctx uint64) bool {
	lvl := ctx & (novelLevels - 1)
	for _, d := range [2]int{-1, 1} {
		l := int(lvl) + d
		if l < 0 || l >= novelLevels {
			continue
		}
		c := ctx&^uint64(novelLevels-1) | uint64(l)
		h := (c * 0x9E3779B97F4A7C15) >> (64 - novelSetLog)
		if s.seen[h/64]&(uint64(1)<<(h%64)) != 0 {
			return true
		}
	}
	return false
}
