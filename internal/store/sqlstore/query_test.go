package sqlstore

import (
	"slices"
	"testing"
)

// TestInChunksPowersOfTwo checks that inChunks passes every row once, in
// order, in parts whose row counts are powers of two up to maxChunkRows, so that the statements of batches of any size
// come in a few shapes.
func TestInChunksPowersOfTwo(t *testing.T) {
	const width = 4
	most := maxChunkRows
	shapes := map[int]bool{}
	for _, n := range []int{0, 1, 2, 3, 7, 100, 437, 4999, 5000, most, most + 1, 3*most + 5} {
		vals := make([]any, n*width)
		for i := range vals {
			vals[i] = i
		}
		var got []any
		var sizes []int
		err := inChunks(vals, width, func(part []any, rows int) error {
			if len(part) != rows*width {
				t.Errorf("n=%d: part of %d values for %d rows", n, len(part), rows)
			}
			got = append(got, part...)
			sizes = append(sizes, rows)
			shapes[rows] = true
			return nil
		})
		if err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		if !slices.Equal(got, vals) {
			t.Errorf("n=%d: rows not passed once each in order", n)
		}
		for _, rows := range sizes {
			if rows&(rows-1) != 0 || rows > most {
				t.Errorf("n=%d: parts of %v rows, want powers of two up to %d", n, sizes, most)
				break
			}
		}
	}
	if len(shapes) > 9 {
		t.Errorf("%d statement shapes, want at most 9 (1 to %d rows)", len(shapes), most)
	}
	if err := inChunks(make([]any, 5), width, func([]any, int) error { return nil }); err == nil {
		t.Error("5 values in rows of 4: no error")
	}
}
