package evidence

import (
	"container/heap"
	"slices"
)

// topK keeps the k best of the items offered to it, in O(log k) per item,
// so that a query over a large window allocates for its answer only.
type topK[T any] struct {
	k int
	h topHeap[T]
	// cand holds the item being offered, so that passing its address to
	// worse does not move every candidate to the heap.
	cand T
}

// topHeap is a heap whose top is the worst item kept.
type topHeap[T any] struct {
	items []T
	// worse reports whether a is a worse pick than b.
	worse func(a, b *T) bool
}

func (h topHeap[T]) Len() int           { return len(h.items) }
func (h topHeap[T]) Less(i, j int) bool { return h.worse(&h.items[i], &h.items[j]) }
func (h topHeap[T]) Swap(i, j int)      { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *topHeap[T]) Push(x any)        { h.items = append(h.items, x.(T)) }
func (h *topHeap[T]) Pop() any {
	n := len(h.items) - 1
	x := h.items[n]
	var zero T
	h.items[n] = zero
	h.items = h.items[:n]
	return x
}

func newTopK[T any](k int, worse func(a, b *T) bool) *topK[T] {
	return &topK[T]{k: k, h: topHeap[T]{worse: worse}}
}

// offer keeps x if it is among the k best so far.
func (t *topK[T]) offer(x T) {
	if len(t.h.items) < t.k {
		heap.Push(&t.h, x)
		return
	}
	t.cand = x
	if t.h.worse(&t.h.items[0], &t.cand) {
		t.h.items[0] = t.cand
		heap.Fix(&t.h, 0)
	}
}

// sorted returns the items kept, best first.
func (t *topK[T]) sorted() []T {
	out := make([]T, 0, len(t.h.items))
	for len(t.h.items) > 0 {
		out = append(out, heap.Pop(&t.h).(T))
	}
	slices.Reverse(out)
	return out
}
