package topology

import (
	"math"
	"strconv"
	"time"
)

// Latency histogram: numBuckets buckets growing by √2 from bucketBase, so
// bucket i holds (base·√2^(i-1), base·√2^i]; the first holds everything up
// to base, the last everything above ~74 s. A quantile read from it is off
// by at most a factor √2 (about 41 %), enough to tell a slow edge from a
// fast one at 160 bytes per window.
const (
	numBuckets = 40
	bucketBase = 100 * time.Microsecond
)

// bucketOf returns the histogram bucket of d.
func bucketOf(d time.Duration) int {
	if d <= bucketBase {
		return 0
	}
	i := int(math.Ceil(2 * math.Log2(float64(d)/float64(bucketBase))))
	return min(i, numBuckets-1)
}

// bucketUpper is the upper bound of bucket i.
func bucketUpper(i int) time.Duration {
	return time.Duration(float64(bucketBase) * math.Pow(math.Sqrt2, float64(i)))
}

// window is one window's statistics of an edge.
type window struct {
	index    int64 // windowOf; 0 and requests 0 for an unused slot
	requests uint32
	errors   uint32
	hist     [numBuckets]uint32
}

// edge keeps a ring of windows, and a request count that decays by half
// every len(ring) windows (weight, as of window weightAt).
type edge struct {
	ring     []window
	last     int64 // index of the newest window with a request
	weight   float64
	weightAt int64
}

func newEdge(n int) *edge { return &edge{ring: make([]window, n)} }

// decayed returns e's weight as of window w, halved for every half windows
// since weightAt.
func (e *edge) decayed(w int64, half int) float64 {
	if w <= e.weightAt {
		return e.weight
	}
	return e.weight * math.Exp2(-float64(w-e.weightAt)/float64(half))
}

// add counts one call in window w; half is the weight's half-life in
// windows.
func (e *edge) add(w int64, d time.Duration, isErr bool, half int) {
	if w > e.weightAt {
		e.weight, e.weightAt = e.decayed(w, half), w
	}
	e.weight++
	slot := &e.ring[int(w%int64(len(e.ring)))]
	if slot.index != w {
		*slot = window{index: w}
	}
	slot.requests++
	if isErr {
		slot.errors++
	}
	slot.hist[bucketOf(d)]++
	e.last = max(e.last, w)
}

// quantile reads quantile q of hist, interpolating within the bucket; 0
// for an empty histogram.
func quantile(hist *[numBuckets]uint32, q float64) time.Duration {
	var total uint64
	for _, n := range hist {
		total += uint64(n)
	}
	if total == 0 {
		return 0
	}
	rank := q * float64(total)
	var cum float64
	for i, n := range hist {
		if n == 0 {
			continue
		}
		if cum+float64(n) >= rank {
			lo := time.Duration(0)
			if i > 0 {
				lo = bucketUpper(i - 1)
			}
			hi := bucketUpper(i)
			frac := (rank - cum) / float64(n)
			return lo + time.Duration(frac*float64(hi-lo))
		}
		cum += float64(n)
	}
	return bucketUpper(numBuckets - 1)
}

// appendFloat writes f as a JSON number.
func appendFloat(b []byte, f float64) []byte {
	return strconv.AppendFloat(b, f, 'g', -1, 64)
}
