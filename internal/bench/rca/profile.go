package rca

import (
	"math"
	"slices"
	"time"
)

// unit is one observed unit of behaviour of a service: the log lines of one
// span (keys = log template keys) or one span with its child calls (keys =
// the operation and the calls it made).
type unit struct {
	service string
	at      time.Time
	keys    []string // sorted, unique
}

// seqProfile learns, per service, which keys occur in a unit and which
// always come together, from units of normal operation. A unit of the
// incident window that has key A but lacks B, where B came with A in nearly
// every normal unit, is broken: code that used to run did not (an exception,
// an early return, a call not made). Keys never seen in normal operation are
// new.
type seqProfile struct {
	// minSupport is how many normal units with A are needed before A's
	// companions count as expected; minConf the share of them that must
	// have had B.
	minSupport int
	minConf    float64
	// skip, if set, excludes pairs that another profile already tests.
	skip func(a, b string) bool
	// strict (an ablation) applies minConf as is. By default a companion
	// missed only once stays expected: below 1/(1-minConf) units (20 at
	// 0.95) one miss is under the threshold's resolution, and that one
	// miss is often the fault's first unit, learnt just before its
	// incident window opened (docs/rca.md).
	strict bool
	svc    map[string]*svcSeq
}

type svcSeq struct {
	units int
	one   map[string]int
	pair  map[[2]string]int
}

func newSeqProfile() *seqProfile {
	return &seqProfile{minSupport: 5, minConf: 0.95, svc: map[string]*svcSeq{}}
}

func (p *seqProfile) learn(u unit) {
	s := p.svc[u.service]
	if s == nil {
		s = &svcSeq{one: map[string]int{}, pair: map[[2]string]int{}}
		p.svc[u.service] = s
	}
	s.units++
	for i, a := range u.keys {
		s.one[a]++
		for j, b := range u.keys {
			if i != j {
				s.pair[[2]string{a, b}]++
			}
		}
	}
}

// breaks returns the expected companions missing from u, as "A→B" pairs
// (at most one per A: the most expected B), sorted.
func (p *seqProfile) breaks(u unit) [][2]string {
	s := p.svc[u.service]
	if s == nil {
		return nil
	}
	var out [][2]string
	for _, a := range u.keys {
		na := s.one[a]
		if na < p.minSupport {
			continue
		}
		best, bestConf := "", 0.0
		for b, nb := range s.one {
			if nb < p.minSupport || slices.Contains(u.keys, b) || p.skip != nil && p.skip(a, b) {
				continue
			}
			conf := float64(s.pair[[2]string{a, b}]) / float64(na)
			if !p.strict && na-s.pair[[2]string{a, b}] <= 1 {
				conf = max(conf, p.minConf)
			}
			if conf >= p.minConf && (conf > bestConf || conf == bestConf && b < best) {
				best, bestConf = b, conf
			}
		}
		if best != "" {
			out = append(out, [2]string{a, best})
		}
	}
	return out
}

// expects reports whether any key of u has enough support to have expected
// companions, so that u can be checked at all.
func (p *seqProfile) expects(u unit) bool {
	s := p.svc[u.service]
	if s == nil {
		return false
	}
	for _, a := range u.keys {
		if s.one[a] >= p.minSupport {
			return true
		}
	}
	return false
}

// known reports whether key was seen in the service's normal units.
func (p *seqProfile) known(service, key string) bool {
	s := p.svc[service]
	return s != nil && s.one[key] > 0
}

// latProfile keeps, per key (service and operation), a bounded sample of
// normal self-times.
type latProfile struct {
	max int
	d   map[string][]float64
	// sorted caches a sorted copy of d[key] until key learns again.
	sorted map[string][]float64
}

func newLatProfile() *latProfile {
	return &latProfile{max: 4096, d: map[string][]float64{}, sorted: map[string][]float64{}}
}

func (p *latProfile) learn(key string, v float64) {
	s := p.d[key]
	if len(s) >= p.max {
		// Keep the sample bounded and recent: drop the oldest half.
		s = append(s[:0], s[len(s)/2:]...)
	}
	p.d[key] = append(s, v)
	delete(p.sorted, key)
}

// quantile returns the q-quantile of key's sample and its size.
func (p *latProfile) quantile(key string, q float64) (float64, int) {
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

// surprise is −log10 of the binomial upper tail P(X ≥ k) for X ~ Bin(n, p):
// how unlikely k or more hits in n trials are at the normal rate p.
func surprise(k, n int, p float64) float64 {
	if k <= 0 || n <= 0 {
		return 0
	}
	p = min(max(p, 1e-9), 1-1e-9)
	if float64(k) <= float64(n)*p {
		return 0
	}
	// Sum the tail in log space.
	lp, lq := math.Log(p), math.Log1p(-p)
	lgn, _ := math.Lgamma(float64(n + 1))
	tail := math.Inf(-1)
	for i := k; i <= n; i++ {
		a, _ := math.Lgamma(float64(i + 1))
		b, _ := math.Lgamma(float64(n - i + 1))
		t := lgn - a - b + float64(i)*lp + float64(n-i)*lq
		tail = logAdd(tail, t)
		if t < tail-30 {
			break
		}
	}
	return -tail / math.Ln10
}

func logAdd(a, b float64) float64 {
	if math.IsInf(a, -1) {
		return b
	}
	if a < b {
		a, b = b, a
	}
	return a + math.Log1p(math.Exp(b-a))
}

// surpriseScore maps a surprise (−log10 p) to an evidence score in [0, 1):
// p = 1e-3 → 0.23, 1e-10 → 0.5, 1e-30 → 0.75. Below p = 1e-3 nothing
// counts: with dozens of services and keys per incident, weaker results are
// expected by chance.
func surpriseScore(s float64) float64 {
	if s < 3 {
		return 0
	}
	return s / (s + 10)
}

// checkable returns the keys of u with enough support to have expected
// companions.
func (p *seqProfile) checkable(u unit) []string {
	s := p.svc[u.service]
	if s == nil {
		return nil
	}
	var out []string
	for _, a := range u.keys {
		if s.one[a] >= p.minSupport {
			out = append(out, a)
		}
	}
	return out
}

// breakTally counts, per key A of one service, the window's units that
// had A with expected companions and those where one was missing.
type breakTally struct {
	checked, broken map[string]int
	pairs           map[[2]string]int
	first           time.Time
}

func newBreakTally() *breakTally {
	return &breakTally{checked: map[string]int{}, broken: map[string]int{}, pairs: map[[2]string]int{}}
}

func (t *breakTally) add(p *seqProfile, u unit) bool {
	return t.addBreaks(p, u, p.breaks(u))
}

// addBreaks is add with u's breaks already computed.
func (t *breakTally) addBreaks(p *seqProfile, u unit, br [][2]string) bool {
	for _, a := range p.checkable(u) {
		t.checked[a]++
	}
	for _, pr := range br {
		t.broken[pr[0]]++
		t.pairs[pr]++
	}
	if len(br) > 0 && (t.first.IsZero() || u.at.Before(t.first)) {
		t.first = u.at
	}
	return len(br) > 0
}

// worst returns the key whose units broke most surprisingly, with the
// surprise, its counts and its most common missing companion.
func (t *breakTally) worst(p0 float64) (a, missing string, k, n int, s float64) {
	for _, key := range sortedKeys(t.broken) {
		if v := surprise(t.broken[key], t.checked[key], p0); v > s {
			a, k, n, s = key, t.broken[key], t.checked[key], v
		}
	}
	best := -1
	for pr, c := range t.pairs {
		if pr[0] == a && (c > best || c == best && pr[1] < missing) {
			missing, best = pr[1], c
		}
	}
	return a, missing, k, n, s
}
