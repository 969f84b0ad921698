package trace

import (
	"math"
	"slices"
)

// LatencySketch keeps, per key, the distribution of the newest learnt
// values (self times, in seconds) as LatencyProfile keeps their sample:
// between Max/2 and Max of the newest, the oldest half forgotten at once
// when Max is reached. It keeps them as two log-scale histograms (the
// newest half being filled and the half before it) instead of the values:
// a quantile is within SketchAccuracy of the sample's (relative), and a
// key costs a 16-bit count per bucket its values reach instead of 8 bytes
// per value, and no sorted copy (docs/rca.md, "The trace detect stage").
//
// It is not safe for concurrent use.
type LatencySketch struct {
	// Max bounds the values a key's quantile is taken over.
	Max int
	// MaxKeys, if positive, bounds the keys; values of further keys are
	// not learnt (counted in Dropped).
	MaxKeys int
	Dropped int64

	d map[string]*sketch
}

// SketchAccuracy is the relative error of a LatencySketch's quantiles:
// the bucket of a value v spans (g^(i−1), g^i] with g = 1.02, and the
// bucket's value, 2g^i/(g+1), is within (g−1)/(g+1) < 1 % of every value
// in it.
const SketchAccuracy = (sketchGamma - 1) / (sketchGamma + 1)

const (
	sketchGamma = 1.02
	// Values are clamped to [sketchMin, sketchMax] seconds (1 ns to about
	// 3 h), which bounds a histogram to about 1,600 buckets.
	sketchMin = 1e-9
	sketchMax = 1e4
	// MaxLatencySample is the largest Max: a half's counts are 16 bits.
	MaxLatencySample = 2 * math.MaxUint16
)

var sketchLogGamma = math.Log(sketchGamma)

// sketch is one key's two halves.
type sketch struct {
	cur, prev hist
}

// hist is a log-scale histogram: counts[j] counts the values of bucket
// lo+j; zero the values at or below 0.
type hist struct {
	n      int
	zero   uint16
	lo     int16
	counts []uint16
}

// NewLatencySketch returns a sketch keeping up to max values per key
// (at most MaxLatencySample).
func NewLatencySketch(max int) *LatencySketch {
	return &LatencySketch{Max: min(max, MaxLatencySample), d: map[string]*sketch{}}
}

// Keys returns how many keys the sketch holds.
func (p *LatencySketch) Keys() int { return len(p.d) }

// Learn adds v to key's newest half; a full half becomes the older one,
// and the older one is forgotten.
func (p *LatencySketch) Learn(key string, v float64) {
	s := p.d[key]
	if s == nil {
		if p.MaxKeys > 0 && len(p.d) >= p.MaxKeys {
			p.Dropped++
			return
		}
		s = &sketch{}
		p.d[key] = s
	}
	if s.cur.n >= max(p.Max/2, 1) {
		s.prev, s.cur = s.cur, s.prev
		s.cur.reset()
	}
	s.cur.add(v)
}

// Quantile returns the q-quantile of key's values (the value of rank
// ⌊q·n⌋ of n, as LatencyProfile.Quantile, within SketchAccuracy) and n.
func (p *LatencySketch) Quantile(key string, q float64) (float64, int) {
	s := p.d[key]
	if s == nil {
		return 0, 0
	}
	n := s.cur.n + s.prev.n
	if n == 0 {
		return 0, 0
	}
	rank := min(int(q*float64(n)), n-1)
	cum := int(s.cur.zero) + int(s.prev.zero)
	if rank < cum {
		return 0, n
	}
	lo, hi := s.cur.span(&s.prev)
	for i := lo; i <= hi; i++ {
		cum += s.cur.at(i) + s.prev.at(i)
		if rank < cum {
			return bucketValue(i), n
		}
	}
	return bucketValue(hi), n // not reached: the counts sum to n
}

// Bytes returns the bytes the sketch's histograms hold (their counts and
// headers, not the map or the keys), for tests and capacity planning.
func (p *LatencySketch) Bytes() int {
	const header = 2 * (8 + 2 + 2 + 24) // two hists: n, zero, lo, slice header
	b := 0
	for _, s := range p.d {
		b += header + 2*(cap(s.cur.counts)+cap(s.prev.counts))
	}
	return b
}

// bucketOf returns the bucket of v > 0: ⌈log_g v⌉.
func bucketOf(v float64) int16 {
	v = min(max(v, sketchMin), sketchMax)
	return int16(math.Ceil(math.Log(v) / sketchLogGamma))
}

// bucketValue is the value that stands for bucket i.
func bucketValue(i int) float64 {
	return 2 * math.Exp(float64(i)*sketchLogGamma) / (sketchGamma + 1)
}

func (h *hist) reset() {
	h.n, h.zero, h.lo = 0, 0, 0
	clear(h.counts)
	h.counts = h.counts[:0]
}

func (h *hist) add(v float64) {
	h.n++
	if !(v > 0) {
		h.zero++
		return
	}
	i := bucketOf(v)
	switch {
	case len(h.counts) == 0:
		h.lo = i
		h.counts = append(h.counts, 0)
	case i < h.lo:
		grow := int(h.lo - i)
		h.counts = slices.Insert(h.counts, 0, make([]uint16, grow)...)
		h.lo = i
	case int(i-h.lo) >= len(h.counts):
		h.counts = append(h.counts, make([]uint16, int(i-h.lo)-len(h.counts)+1)...)
	}
	h.counts[i-h.lo]++
}

// span returns the bucket range that h and o cover between them.
func (h *hist) span(o *hist) (lo, hi int) {
	lo, hi = math.MaxInt, math.MinInt
	for _, x := range []*hist{h, o} {
		if len(x.counts) > 0 {
			lo = min(lo, int(x.lo))
			hi = max(hi, int(x.lo)+len(x.counts)-1)
		}
	}
	return lo, hi
}

// at returns the count of bucket i.
func (h *hist) at(i int) int {
	j := i - int(h.lo)
	if j < 0 || j >= len(h.counts) {
		return 0
	}
	return int(h.counts[j])
}
