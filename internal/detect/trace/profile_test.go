package trace

import (
	"testing"
	"time"
)

// A break of an expectation learnt from few units is not as surprising as
// one of an expectation learnt from many: its normal miss rate is only
// known to be below about 3/n (the rule of three), so three broken spans
// of three against 10 learnt units are not evidence, against 1,000 they
// are.
func TestWorstBoundsYoungExpectations(t *testing.T) {
	for _, tc := range []struct {
		support int
		want    bool
	}{{0, true}, {10, false}, {59, true}, {1000, true}} {
		tally := NewTally()
		for range 3 {
			tally.AddBreaks([]string{"op GET"}, time.Time{}, [][2]string{{"op GET", "call db"}})
		}
		if tc.support > 0 {
			tally.Support["op GET"] = tc.support
		}
		_, _, k, n, s := tally.Worst(0.05)
		if got := s >= MinSurprise; got != tc.want || k != 3 || n != 3 {
			t.Errorf("support %d: surprise %.2f (%d of %d), evidence %v, want %v", tc.support, s, k, n, got, tc.want)
		}
	}
}
