package evidence

import (
	"container/heap"
	"container/list"
	"time"
)

// Limits bound a window. Every field must be positive; the config package
// validates them and gives the defaults.
type Limits struct {
	// PerKey is the most items one key (a log stream, a service) keeps;
	// its oldest item goes when a further one arrives.
	PerKey int
	// MaxKeys is the most keys kept; a new key evicts the key written
	// least recently, with all its items.
	MaxKeys int
	// MaxBytes bounds the estimated memory of all items and keys; beyond
	// it the key holding the most bytes gives up its oldest item.
	MaxBytes int64
	// MaxAge is how long, on the window's clock, an item is kept after it
	// arrived.
	MaxAge time.Duration
}

// Reason says why items were evicted. The values are named after the
// configuration key whose limit evicted them.
type Reason int

// Eviction reasons.
const (
	// ReasonPerKey: the key held Limits.PerKey items.
	ReasonPerKey Reason = iota
	// ReasonMaxKeys: the key was the least recently written when a new
	// key arrived with Limits.MaxKeys keys held.
	ReasonMaxKeys
	// ReasonMaxBytes: the window held more than Limits.MaxBytes.
	ReasonMaxBytes
	// ReasonMaxAge: the item was older than Limits.MaxAge.
	ReasonMaxAge
	numReasons
)

// entryOverhead is the estimated bytes of one item besides its strings: the
// entry struct, its slot in the slice and string headers.
const entryOverhead = 64

// keyOverhead is the estimated bytes of one key besides its strings: the
// bucket, its map entry, list element and heap slot.
const keyOverhead = 256

// entry is one item with when it arrived and its estimated size.
type entry[T any] struct {
	at   time.Time
	seq  uint64
	size int
	v    T
}

// bucket holds the items of one key, oldest first, as a slice whose front
// is cut by advancing head (compacted when more than half is dead).
type bucket[T, M any] struct {
	key   uint64
	meta  M
	items []entry[T]
	head  int
	// bytes is the items' sizes plus the key's own.
	bytes   int64
	lru     *list.Element
	heapIdx int
}

func (b *bucket[T, M]) len() int { return len(b.items) - b.head }

// front returns the oldest item; the bucket must not be empty.
func (b *bucket[T, M]) front() *entry[T] { return &b.items[b.head] }

// popFront removes the oldest item and returns its size.
func (b *bucket[T, M]) popFront() int {
	size := b.items[b.head].size
	var zero entry[T]
	b.items[b.head] = zero // release the item's strings
	b.head++
	if b.head > len(b.items)/2 && b.head > 16 {
		n := copy(b.items, b.items[b.head:])
		clear(b.items[n:])
		b.items = b.items[:n]
		b.head = 0
	}
	return size
}

// byBytes is a max-heap of buckets by bytes.
type byBytes[T, M any] []*bucket[T, M]

func (h byBytes[T, M]) Len() int           { return len(h) }
func (h byBytes[T, M]) Less(i, j int) bool { return h[i].bytes > h[j].bytes }
func (h byBytes[T, M]) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapIdx, h[j].heapIdx = i, j
}
func (h *byBytes[T, M]) Push(x any) {
	b := x.(*bucket[T, M])
	b.heapIdx = len(*h)
	*h = append(*h, b)
}
func (h *byBytes[T, M]) Pop() any {
	old := *h
	b := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	b.heapIdx = -1
	return b
}

// window is the bounded store both LogWindow and SpanWindow are made of:
// items grouped by a 64-bit key, each key with metadata M (a stream's
// labels, a service name). It is not safe for concurrent use; its owner
// holds a lock.
//
// Under the byte cap the key holding the most bytes loses its oldest item
// first, rather than the oldest item overall: a flood in one stream then
// trims that stream and leaves the last lines of quiet streams, which are
// the evidence an incident in another service needs.
type window[T, M any] struct {
	lim     Limits
	buckets map[uint64]*bucket[T, M]
	lru     *list.List // of *bucket, most recently written first
	heap    byBytes[T, M]
	bytes   int64
	items   int
	seq     uint64
	// nextSweep is when expired items are next removed from every key.
	nextSweep time.Time

	added       uint64
	evicted     [numReasons]uint64
	evictedKeys uint64
}

func newWindow[T, M any](lim Limits) *window[T, M] {
	return &window[T, M]{lim: lim, buckets: make(map[uint64]*bucket[T, M]), lru: list.New()}
}

// sweepDivisor sets how often every key is swept for expired items:
// every MaxAge/sweepDivisor (at least a second); between sweeps a key is trimmed when it is written and
// queries skip what expired.
const sweepDivisor = 16

// bucketFor returns the bucket of key, creating it with meta() (and its
// size) if there is none, which may evict the least recently written key.
func (w *window[T, M]) bucketFor(key uint64, meta func() (M, int)) *bucket[T, M] {
	if b := w.buckets[key]; b != nil {
		return b
	}
	for len(w.buckets) >= w.lim.MaxKeys && w.lru.Len() > 0 {
		w.drop(w.lru.Back().Value.(*bucket[T, M]), ReasonMaxKeys)
	}
	m, size := meta()
	b := &bucket[T, M]{key: key, meta: m, bytes: int64(size + keyOverhead)}
	w.buckets[key] = b
	b.lru = w.lru.PushFront(b)
	heap.Push(&w.heap, b)
	w.bytes += b.bytes
	return b
}

// add appends v (size bytes, besides entryOverhead) to b at now and
// enforces the limits.
func (w *window[T, M]) add(b *bucket[T, M], now time.Time, v T, size int) {
	size += entryOverhead
	w.seq++
	b.items = append(b.items, entry[T]{at: now, seq: w.seq, size: size, v: v})
	b.bytes += int64(size)
	w.bytes += int64(size)
	w.items++
	w.added++
	w.lru.MoveToFront(b.lru)
	if b.len() > w.lim.PerKey {
		w.pop(b, ReasonPerKey)
	}
	w.expire(b, now)
	if b.heapIdx >= 0 {
		heap.Fix(&w.heap, b.heapIdx)
	}
	for w.bytes > w.lim.MaxBytes && len(w.heap) > 0 {
		w.pop(w.heap[0], ReasonMaxBytes)
	}
}

// pop evicts b's oldest item for reason, and b itself once it is empty.
func (w *window[T, M]) pop(b *bucket[T, M], reason Reason) {
	size := int64(b.popFront())
	b.bytes -= size
	w.bytes -= size
	w.items--
	w.evicted[reason]++
	if b.len() == 0 {
		w.remove(b)
		return
	}
	heap.Fix(&w.heap, b.heapIdx)
}

// drop evicts b with all its items for reason.
func (w *window[T, M]) drop(b *bucket[T, M], reason Reason) {
	n := b.len()
	w.evicted[reason] += uint64(n)
	w.items -= n
	w.evictedKeys++
	w.remove(b)
}

// remove forgets b and whatever items it still holds (their eviction is
// counted by the caller).
func (w *window[T, M]) remove(b *bucket[T, M]) {
	delete(w.buckets, b.key)
	w.lru.Remove(b.lru)
	if b.heapIdx >= 0 {
		heap.Remove(&w.heap, b.heapIdx)
	}
	w.bytes -= b.bytes
	b.items, b.head, b.bytes = nil, 0, 0
}

// expire evicts b's items that arrived before now - MaxAge.
func (w *window[T, M]) expire(b *bucket[T, M], now time.Time) {
	cutoff := now.Add(-w.lim.MaxAge)
	for b.len() > 0 && b.front().at.Before(cutoff) {
		w.pop(b, ReasonMaxAge)
	}
}

// sweep expires every key's old items when a sweep is due at now.
func (w *window[T, M]) sweep(now time.Time) {
	if now.Before(w.nextSweep) {
		return
	}
	w.nextSweep = now.Add(max(w.lim.MaxAge/sweepDivisor, time.Second))
	for _, b := range w.buckets {
		w.expire(b, now)
	}
}

// live reports whether e has not expired at now.
func (w *window[T, M]) live(e *entry[T], now time.Time) bool {
	return !e.at.Before(now.Add(-w.lim.MaxAge))
}

// WindowStats describe a window's content and what it evicted.
type WindowStats struct {
	// Keys is the number of streams (or services) held; Items the lines
	// (or spans); Bytes their estimated memory.
	Keys, Items int
	Bytes       int64
	// Added counts the items ever added.
	Added uint64
	// Evicted counts the items evicted, by Reason.
	Evicted [numReasons]uint64
	// EvictedKeys counts the keys evicted whole (ReasonMaxKeys).
	EvictedKeys uint64
}

func (w *window[T, M]) stats() WindowStats {
	return WindowStats{Keys: len(w.buckets), Items: w.items, Bytes: w.bytes, Added: w.added,
		Evicted: w.evicted, EvictedKeys: w.evictedKeys}
}
