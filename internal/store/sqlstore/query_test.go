package sqlstore

import (
	"slices"
	"testing"
)

// TestInChunksShapes checks that inChunks passes every row once, in order,
// in parts of at most maxChunkRows rows, more than chunkGranule only in
// multiples of it, so that the statements of batches of any size come in
// a few shapes, and a batch below maxChunkRows in at most two.
func TestInChunksShapes(t *testing.T) {
	const width = 4
	shapes := map[int]bool{}
	for n := range 3*maxChunkRows + 5 {
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
			if rows > maxChunkRows || rows > chunkGranule && rows%chunkGranule != 0 {
				t.Errorf("n=%d: parts of %v rows", n, sizes)
				break
			}
		}
		if n < maxChunkRows && len(sizes) > 2 {
			t.Errorf("n=%d: %d statements, want at most 2", n, len(sizes))
		}
	}
	if want := chunkGranule + (maxChunkRows-chunkGranule)/chunkGranule; len(shapes) != want {
		t.Errorf("%d statement shapes, want %d", len(shapes), want)
	}
	if err := inChunks(make([]any, 5), width, func([]any, int) error { return nil }); err == nil {
		t.Error("5 values in rows of 4: no error")
	}
}
