package correlate

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
)

// nearest keeps the k incidents that opened nearest to the time given
// (ties to the earlier opening, then the smaller id) and returns them by
// opening time; with k or fewer it only orders them.
func TestNearestConcurrent(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	var incs []*osprey.Incident
	for i, off := range []time.Duration{-4, 3, -1, 1, 2, 0, -3} {
		incs = append(incs, &osprey.Incident{ID: fmt.Sprintf("i%d", i), OpenedAt: t0.Add(off * time.Minute)})
	}
	ids := func(in []*osprey.Incident) []string {
		var out []string
		for _, inc := range in {
			out = append(out, inc.ID)
		}
		return out
	}
	// Distances 0 (i5), 1 (i2 at −1, i3 at +1: the earlier first), 2 (i4).
	if got, want := ids(nearest(slices.Clone(incs), t0, 4)), []string{"i2", "i5", "i3", "i4"}; !slices.Equal(got, want) {
		t.Errorf("nearest 4 = %v, want %v", got, want)
	}
	if got, want := ids(nearest(slices.Clone(incs), t0, 2)), []string{"i2", "i5"}; !slices.Equal(got, want) {
		t.Errorf("nearest 2 = %v, want %v", got, want)
	}
	if got, want := ids(nearest(slices.Clone(incs), t0, 10)), []string{"i0", "i6", "i2", "i5", "i3", "i4", "i1"}; !slices.Equal(got, want) {
		t.Errorf("nearest 10 = %v, want %v (all, by opening)", got, want)
	}
}

// openings.near picks what nearest picks from the incidents a filter
// keeps within the window, on openings with many ties, for every k and
// a time at, between and beyond the openings.
func TestOpeningsNearMatchesNearest(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	const window = 5 * time.Minute
	var o openings
	for i := range 60 {
		// Openings every 30 s from −8 min, two or three to a time.
		off := time.Duration((i*7)%33-16) * 30 * time.Second
		o.incs = append(o.incs, &osprey.Incident{ID: fmt.Sprintf("i%02d", (i*37)%60), OpenedAt: t0.Add(off)})
		o.open = append(o.open, i%5 != 0)
	}
	slices.SortFunc(o.incs, byOpening)
	keepers := map[string]func(*osprey.Incident, bool) bool{
		"all":       func(*osprey.Incident, bool) bool { return true },
		"open":      func(_ *osprey.Incident, open bool) bool { return open },
		"even id":   func(inc *osprey.Incident, _ bool) bool { return inc.ID[2]%2 == 0 },
		"not i07":   func(inc *osprey.Incident, _ bool) bool { return inc.ID != "i07" },
		"none kept": func(*osprey.Incident, bool) bool { return false },
	}
	for name, keep := range keepers {
		for off := -12 * 60; off <= 12*60; off += 15 {
			at := t0.Add(time.Duration(off) * time.Second)
			var cands []*osprey.Incident
			for i, inc := range o.incs {
				if d := inc.OpenedAt.Sub(at); d >= -window && d <= window && keep(inc, o.open[i]) {
					cands = append(cands, inc)
				}
			}
			for _, k := range []int{0, 1, 2, 3, 5, 16, 100} {
				want := nearest(slices.Clone(cands), at, k)
				if k == 0 {
					want = nil
				}
				got := o.near(at, window, k, keep)
				if !slices.Equal(got, want) {
					t.Fatalf("%s, at %+ds, k %d: near = %v, nearest = %v", name, off, k, got, want)
				}
			}
		}
	}
}

// Incidents opened at the same instant are ordered by the member that
// opened them, not by their ids, which carry random bits: the same signals
// must give the same order (and so the same concurrent incidents to a
// ranking) in every run.
func TestByOpeningTiesByOpener(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	opened := func(id string, fp osprey.Fingerprint, at time.Time) *osprey.Incident {
		return &osprey.Incident{ID: id, OpenedAt: at, Members: []*osprey.Member{{Fingerprint: fp}}}
	}
	incs := []*osprey.Incident{
		opened("a-random", 30, t0),
		opened("b-random", 10, t0),
		opened("c-random", 20, t0),
		opened("d-random", 1, t0.Add(time.Second)),
	}
	for _, ids := range [][]string{{"a-random", "b-random", "c-random"}, {"z", "y", "x"}} {
		in := slices.Clone(incs)
		for i, id := range ids {
			in[i] = opened(id, incs[i].Members[0].Fingerprint, t0)
		}
		slices.SortFunc(in, byOpening)
		var fps []osprey.Fingerprint
		for _, inc := range in {
			fps = append(fps, inc.Members[0].Fingerprint)
		}
		if want := []osprey.Fingerprint{10, 20, 30, 1}; !slices.Equal(fps, want) {
			t.Errorf("ids %v: order by opener %v, want %v", ids, fps, want)
		}
	}
}
