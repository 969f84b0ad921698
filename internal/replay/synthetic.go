package replay

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/osprey-aiops/osprey"
)

// SyntheticStart is the time of a synthetic input's first sample.
var SyntheticStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// syntheticServices is the number of services the synthetic series are
// spread over.
const syntheticServices = 50

// SyntheticSource generates Series series of Samples samples each, one a
// minute from SyntheticStart: a per-series level with a daily cycle and
// deterministic noise, labelled synthetic_requests{service="svc-NN",
// instance="i-NNNNN"} over 50 services. Three anomalies are injected, each
// a 10-minute step of twelve standard deviations on every series of one service
// (svc-01, svc-02, svc-03), at 60 %, 75 % and 90 % of the range (when the
// range is at least 300 samples, so that the models are warm). The values
// are computed as they are read; nothing is held in memory.
type SyntheticSource struct {
	Series, Samples int
}

// ParseSynthetic parses "<series>x<samples>", such as 10000x1440.
func ParseSynthetic(spec string) (SyntheticSource, error) {
	a, b, ok := strings.Cut(spec, "x")
	n, err1 := strconv.Atoi(a)
	m, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || n <= 0 || m <= 0 || n > 10_000_000 || m > 10_000_000 {
		return SyntheticSource{}, fmt.Errorf("synthetic: %q is not <series>x<samples>, such as 10000x1440", spec)
	}
	return SyntheticSource{Series: n, Samples: m}, nil
}

// Kind implements Source.
func (s SyntheticSource) Kind() string { return KindSynthetic }

// Name implements Source.
func (s SyntheticSource) Name() string { return fmt.Sprintf("%dx%d", s.Series, s.Samples) }

// Injected describes the anomalies the source injects, for the report.
func (s SyntheticSource) Injected() []string {
	var out []string
	for _, inj := range s.injections() {
		n := 0
		for i := inj.service; i < s.Series; i += syntheticServices {
			n++
		}
		if n == 0 {
			continue
		}
		at := SyntheticStart.Add(time.Duration(inj.from) * time.Minute)
		out = append(out, fmt.Sprintf("service svc-%02d: +12 standard deviations from %s for 10 min on %d series",
			inj.service, at.Format(time.RFC3339), n))
	}
	return out
}

type injection struct{ service, from, to int }

func (s SyntheticSource) injections() []injection {
	if s.Samples < 300 {
		return nil
	}
	var out []injection
	for j, pct := range []int{60, 75, 90} {
		k := s.Samples * pct / 100
		out = append(out, injection{service: j + 1, from: k, to: k + 10})
	}
	return out
}

// Open implements Source.
func (s SyntheticSource) Open(_ context.Context, w Window) (Stream, error) {
	inj := s.injections()
	cursors := make([]seriesCursor, s.Series)
	start := SyntheticStart.UnixMilli()
	for i := range cursors {
		svc := i % syntheticServices
		labels := osprey.Labels{
			osprey.LabelMetric:   "synthetic_requests",
			osprey.LabelService:  fmt.Sprintf("svc-%02d", svc),
			osprey.LabelInstance: fmt.Sprintf("i-%05d", i),
		}
		c := &synthCursor{series: uint64(i), n: s.Samples, start: start,
			level: 100 + float64(mix(uint64(i))%900), noise: 1 + float64(mix(uint64(i)+7)%20)}
		for _, in := range inj {
			if in.service == svc {
				c.spikes = append(c.spikes, [2]int{in.from, in.to})
			}
		}
		cursors[i] = seriesCursor{labels: labels, cursor: c}
	}
	return newWindowStream(cursors, w, nil), nil
}

// synthCursor computes one synthetic series.
type synthCursor struct {
	series       uint64
	k, n         int
	start        int64
	level, noise float64
	spikes       [][2]int
}

const synthStep = int64(time.Minute / time.Millisecond)

func (c *synthCursor) peek() (int64, bool) {
	if c.k >= c.n {
		return 0, false
	}
	return c.start + int64(c.k)*synthStep, true
}

func (c *synthCursor) take(dst []osprey.Sample, limit int64) []osprey.Sample {
	for c.k < c.n {
		t := c.start + int64(c.k)*synthStep
		if t >= limit {
			break
		}
		dst = append(dst, osprey.Sample{TimestampMs: t, Value: c.value()})
		c.k++
	}
	return dst
}

func (c *synthCursor) skip(limit int64) {
	for c.k < c.n && c.start+int64(c.k)*synthStep < limit {
		c.k++
	}
}

func (c *synthCursor) err() error { return nil }

// value is the series' value at sample k: level, a daily cycle of a fifth
// of the level, and noise of about c.noise standard deviations.
func (c *synthCursor) value() float64 {
	h := mix(c.series<<32 ^ uint64(c.k))
	u1 := float64(h>>40) / (1 << 24)
	u2 := float64(h>>16&0xffffff) / (1 << 24)
	u3 := float64(h&0xffff) / (1 << 16)
	noise := (u1 + u2 + u3 - 1.5) * 2 // about N(0, 1)
	day := float64(c.k%1440) / 1440
	v := c.level*(1+0.2*math.Sin(2*math.Pi*day)) + c.noise*noise
	for _, sp := range c.spikes {
		if c.k >= sp[0] && c.k < sp[1] {
			v += 12 * c.noise
		}
	}
	return v
}

// mix is SplitMix64's finaliser.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}
