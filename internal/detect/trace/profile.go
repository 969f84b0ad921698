package trace

import (
	"math"
	"slices"
	"time"

	"github.com/osprey-aiops/osprey/internal/prob"
)

// Unit is one observed unit of behaviour: one span with its operation and
// the calls it made (or, in the RCA bench, the log lines of one span). Group
// names the profile it is judged against: the detector uses one per service
// and operation, the bench one per service.
type Unit struct {
	Group string
	At    time.Time
	// Keys are sorted and unique.
	Keys []string
}

// FlowProfile learns, per group, which keys occur in a unit and which
// always come together. A unit that has key A but lacks B, where B came with
// A in nearly every learnt unit, is broken: code that used to run did not
// (an exception, an early return, a call not made).
//
// It is not safe for concurrent use.
type FlowProfile struct {
	// MinSupport is how many learnt units with A are needed before A's
	// companions count as expected; MinConf the share of them that must
	// have had B.
	MinSupport int
	MinConf    float64
	// Skip, if set, excludes pairs that another profile already tests.
	Skip func(a, b string) bool
	// Strict (an ablation of the bench) applies MinConf as is. By default
	// a companion missed only once stays expected: below 1/(1−MinConf)
	// units (20 at 0.95) one miss is under the threshold's resolution, and
	// that one miss is often a fault's first unit (docs/rca.md).
	Strict bool
	// MaxGroups and MaxKeys, if positive, bound the state: units of a
	// group beyond MaxGroups are not learnt, keys of a group beyond
	// MaxKeys are not learnt (both counted in Dropped). MaxUnits, if
	// positive, halves a group's counts when it has learnt that many
	// units, so the profile follows the recent normal behaviour and old
	// counts cannot outweigh a lasting change for ever. The bench sets
	// none of them.
	MaxGroups, MaxKeys, MaxUnits int
	// Dropped counts the units and keys not learnt because of the caps.
	Dropped int64

	groups map[string]*flowGroup
}

type flowGroup struct {
	units int
	one   map[string]flowKey
	// pair counts the units with both keys, by their slots (pairKey):
	// two 4-byte slots instead of two strings per pair, which with up to
	// 33 keys and their 1,056 ordered pairs per group is most of the
	// detector's memory per operation (BenchmarkFlowMemory). With
	// MaxKeys set, slots stay below it and dense (row a, column b, width
	// slots wide, grown by doubling up to MaxKeys) holds the counts
	// instead of pair.
	pair  map[uint64]int32
	dense []int32
	width int
	// free holds the slots of keys forgotten by halve; next is the next
	// slot never used.
	free []uint32
	next uint32
}

// flowKey is a key's count and its slot in the group's pairs.
type flowKey struct {
	n    int
	slot uint32
}

func pairKey(a, b flowKey) uint64 { return uint64(a.slot)<<32 | uint64(b.slot) }

// widen makes the dense counts w slots wide.
func (s *flowGroup) widen(w int) {
	d := make([]int32, w*w)
	for a := range s.width {
		copy(d[a*w:a*w+s.width], s.dense[a*s.width:(a+1)*s.width])
	}
	s.dense, s.width = d, w
}

// both returns how many units had a and b.
func (s *flowGroup) both(a, b flowKey) int {
	if s.dense != nil {
		return int(s.dense[int(a.slot)*s.width+int(b.slot)])
	}
	return int(s.pair[pairKey(a, b)])
}

// NewFlowProfile returns a profile with the bench's measured thresholds:
// support 5, confidence 0.95.
func NewFlowProfile() *FlowProfile {
	return &FlowProfile{MinSupport: 5, MinConf: 0.95, groups: map[string]*flowGroup{}}
}

// Groups returns how many groups the profile holds.
func (p *FlowProfile) Groups() int { return len(p.groups) }

// Learn adds u to its group's counts.
func (p *FlowProfile) Learn(u Unit) {
	s := p.groups[u.Group]
	if s == nil {
		if p.MaxGroups > 0 && len(p.groups) >= p.MaxGroups {
			p.Dropped++
			return
		}
		s = &flowGroup{one: map[string]flowKey{}}
		if p.MaxKeys > 0 {
			s.width = min(4, p.MaxKeys)
			s.dense = make([]int32, s.width*s.width)
		} else {
			s.pair = map[uint64]int32{}
		}
		p.groups[u.Group] = s
	}
	keys := u.Keys
	if p.MaxKeys > 0 {
		keys = make([]string, 0, len(u.Keys))
		room := p.MaxKeys - len(s.one)
		for _, k := range u.Keys {
			if s.one[k].n == 0 {
				if room <= 0 {
					p.Dropped++
					continue
				}
				room--
			}
			keys = append(keys, k)
		}
	}
	s.units++
	fk := make([]flowKey, len(keys))
	for i, a := range keys {
		k, ok := s.one[a]
		if !ok {
			if n := len(s.free); n > 0 {
				k.slot, s.free = s.free[n-1], s.free[:n-1]
			} else {
				k.slot = s.next
				s.next++
				if s.dense != nil && int(k.slot) >= s.width {
					s.widen(min(2*s.width, p.MaxKeys))
				}
			}
		}
		k.n++
		s.one[a] = k
		fk[i] = k
	}
	for i := range fk {
		for j := range fk {
			switch {
			case i == j:
			case s.dense != nil:
				s.dense[int(fk[i].slot)*s.width+int(fk[j].slot)]++
			default:
				s.pair[pairKey(fk[i], fk[j])]++
			}
		}
	}
	if p.MaxUnits > 0 && s.units >= p.MaxUnits {
		s.halve()
	}
}

// halve divides every count by two (rounding down, dropping zeros): the
// shares the thresholds read are kept, the weight of the past is halved.
func (s *flowGroup) halve() {
	s.units /= 2
	// A key whose count halves to 0 had at most 1, so had each of its
	// pairs: they go too, and its slot is free.
	for k, v := range s.one {
		if v.n/2 == 0 {
			delete(s.one, k)
			s.free = append(s.free, v.slot)
		} else {
			v.n /= 2
			s.one[k] = v
		}
	}
	for k, v := range s.pair {
		if v/2 == 0 {
			delete(s.pair, k)
		} else {
			s.pair[k] = v / 2
		}
	}
	for i := range s.dense {
		s.dense[i] /= 2
	}
}

// Breaks returns the expected companions missing from u, as (A, B) pairs
// (at most one per A: the most expected B), in the order of u's keys.
func (p *FlowProfile) Breaks(u Unit) [][2]string {
	s := p.groups[u.Group]
	if s == nil {
		return nil
	}
	var out [][2]string
	for _, a := range u.Keys {
		ka := s.one[a]
		na := ka.n
		if na < p.MinSupport {
			continue
		}
		best, bestConf := "", 0.0
		for b, kb := range s.one {
			if kb.n < p.MinSupport || slices.Contains(u.Keys, b) || p.Skip != nil && p.Skip(a, b) {
				continue
			}
			both := s.both(ka, kb)
			conf := float64(both) / float64(na)
			if !p.Strict && na-both <= 1 {
				conf = max(conf, p.MinConf)
			}
			if conf >= p.MinConf && (conf > bestConf || conf == bestConf && b < best) {
				best, bestConf = b, conf
			}
		}
		if best != "" {
			out = append(out, [2]string{a, best})
		}
	}
	return out
}

// Expects reports whether any key of u has enough support to have expected
// companions, so that u can be checked at all.
func (p *FlowProfile) Expects(u Unit) bool {
	s := p.groups[u.Group]
	if s == nil {
		return false
	}
	for _, a := range u.Keys {
		if s.one[a].n >= p.MinSupport {
			return true
		}
	}
	return false
}

// Known reports whether key was learnt in group.
func (p *FlowProfile) Known(group, key string) bool {
	s := p.groups[group]
	return s != nil && s.one[key].n > 0
}

// Support returns how many learnt units of group had key (since the
// group's last halving, halved with it).
func (p *FlowProfile) Support(group, key string) int {
	s := p.groups[group]
	if s == nil {
		return 0
	}
	return s.one[key].n
}

// Checkable returns the keys of u with enough support to have expected
// companions.
func (p *FlowProfile) Checkable(u Unit) []string {
	s := p.groups[u.Group]
	if s == nil {
		return nil
	}
	var out []string
	for _, a := range u.Keys {
		if s.one[a].n >= p.MinSupport {
			out = append(out, a)
		}
	}
	return out
}

// LatencyProfile keeps, per key, a bounded sample of learnt values (self
// times): the most recent Max, thinned by dropping the oldest half when
// full.
//
// It is not safe for concurrent use.
type LatencyProfile struct {
	// Max bounds one key's sample.
	Max int
	// MaxKeys, if positive, bounds the keys; values of further keys are
	// not learnt (counted in Dropped).
	MaxKeys int
	Dropped int64

	d map[string][]float64
	// sorted caches a sorted copy of d[key] until key learns again.
	sorted map[string][]float64
}

// NewLatencyProfile returns a profile keeping up to max values per key.
func NewLatencyProfile(max int) *LatencyProfile {
	return &LatencyProfile{Max: max, d: map[string][]float64{}, sorted: map[string][]float64{}}
}

// Keys returns how many keys the profile holds.
func (p *LatencyProfile) Keys() int { return len(p.d) }

// Learn adds v to key's sample.
func (p *LatencyProfile) Learn(key string, v float64) {
	s, ok := p.d[key]
	if !ok && p.MaxKeys > 0 && len(p.d) >= p.MaxKeys {
		p.Dropped++
		return
	}
	if len(s) >= p.Max {
		// Keep the sample bounded and recent: drop the oldest half.
		s = append(s[:0], s[len(s)/2:]...)
	}
	p.d[key] = append(s, v)
	delete(p.sorted, key)
}

// Quantile returns the q-quantile of key's sample and the sample's size.
func (p *LatencyProfile) Quantile(key string, q float64) (float64, int) {
	s := p.d[key]
	if len(s) == 0 {
		return 0, 0
	}
	c, ok := p.sorted[key]
	if !ok {
		c = slices.Clone(s)
		slices.Sort(c)
		p.sorted[key] = c
	}
	i := min(int(q*float64(len(c))), len(c)-1)
	return c[i], len(c)
}

// Surprise is −log10 of the binomial upper tail P(X ≥ k) for X ~ Bin(n, p):
// how unlikely k or more hits in n trials are at the normal rate p.
func Surprise(k, n int, p float64) float64 {
	if k <= 0 || n <= 0 {
		return 0
	}
	p = min(max(p, 1e-9), 1-1e-9)
	if float64(k) <= float64(n)*p {
		return 0
	}
	return -prob.LogBinomTail(n, k, p) / math.Ln10
}

// MinSurprise is the least surprise (−log10 p) that counts as evidence:
// with dozens of services and keys per incident, weaker results are
// expected by chance.
const MinSurprise = 3

// SurpriseScore maps a surprise (−log10 p) to an evidence score in [0, 1):
// p = 1e-3 → 0.23, 1e-10 → 0.5, 1e-30 → 0.75; below MinSurprise, 0.
func SurpriseScore(s float64) float64 {
	if s < MinSurprise {
		return 0
	}
	return s / (s + 10)
}

// Tally counts, per key A, the units that had A with expected companions
// and those where one was missing, with the missing pairs.
type Tally struct {
	Checked, Broken map[string]int
	Pairs           map[[2]string]int
	// Support is, per key, how many learnt units its expectation rests on
	// (0 or absent: unknown, judged at p0).
	Support map[string]int
	// First is when the earliest broken unit began.
	First time.Time
}

// NewTally returns an empty tally.
func NewTally() *Tally {
	return &Tally{Checked: map[string]int{}, Broken: map[string]int{}, Pairs: map[[2]string]int{}, Support: map[string]int{}}
}

// Add counts u against p and reports whether u is broken.
func (t *Tally) Add(p *FlowProfile, u Unit) bool {
	return t.AddBreaks(p.Checkable(u), u.At, p.Breaks(u))
}

// AddBreaks counts a unit at `at` whose checkable keys and breaks are
// already known, and reports whether it is broken.
func (t *Tally) AddBreaks(checkable []string, at time.Time, br [][2]string) bool {
	for _, a := range checkable {
		t.Checked[a]++
	}
	for _, pr := range br {
		t.Broken[pr[0]]++
		t.Pairs[pr]++
	}
	if len(br) > 0 && (t.First.IsZero() || at.Before(t.First)) {
		t.First = at
	}
	return len(br) > 0
}

// Rate is the normal break rate key is judged at: p0, or for an
// expectation learnt from n < 3/p0 units (Support) 3/n. An expectation
// learnt from n units with no miss bounds its miss rate by about 3/n
// (95 %, the rule of three), not by p0: a young one cannot be broken as
// surprisingly as an old one.
func (t *Tally) Rate(key string, p0 float64) float64 {
	if n := t.Support[key]; n > 0 {
		return min(max(p0, 3/float64(n)), 1)
	}
	return p0
}

// Worst returns the key whose units broke most surprisingly at the normal
// break rate p0 — or, for a key whose expectation rests on n < 3/p0 learnt
// units (Support), at 3/n — with the surprise, its counts and its most
// common missing companion.
func (t *Tally) Worst(p0 float64) (a, missing string, k, n int, s float64) {
	keys := make([]string, 0, len(t.Broken))
	for key := range t.Broken {
		keys = append(keys, key)
	}
	slices.Sort(keys)
	for _, key := range keys {
		p := t.Rate(key, p0)
		if v := Surprise(t.Broken[key], t.Checked[key], p); v > s {
			a, k, n, s = key, t.Broken[key], t.Checked[key], v
		}
	}
	best := -1
	for pr, c := range t.Pairs {
		if pr[0] == a && (c > best || c == best && pr[1] < missing) {
			missing, best = pr[1], c
		}
	}
	return a, missing, k, n, s
}
