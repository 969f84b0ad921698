package alerts

import (
	"iter"
	"slices"
)

func slicesSorted(seq iter.Seq[string]) []string { return slices.Sorted(seq) }
