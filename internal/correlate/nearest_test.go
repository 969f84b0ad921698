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
