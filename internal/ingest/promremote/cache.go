package promremote

import (
	"strings"
	"sync"
	"sync/atomic"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"

	"github.com/osprey-aiops/osprey"
)

// DefaultMaxCachedSeries bounds the series cache when Options.MaxCachedSeries
// is zero.
const DefaultMaxCachedSeries = 1_000_000

// cachedSeries is what the receiver remembers of a series it stored: its
// checked labels, its TSDB reference and the labels handed to the next
// stage. Everything but ref is immutable once the entry is in the cache.
type cachedSeries struct {
	// ref is the series' TSDB reference. The TSDB may drop an idle series
	// from its head (and so the ref) after a head compaction; appending
	// with a dropped ref makes the TSDB find or create the series by lset
	// and return a new ref, which replaces this one.
	ref  atomic.Uint64
	lset labels.Labels
	// handoff is lset as osprey.Labels, shared by every batch handed to
	// Next (see Options.Next); nil when there is no Next.
	handoff osprey.Labels
}

// seriesCache maps a series' label fields, as encoded in a WriteRequest, to
// what the receiver knows of it, so that a series seen before skips label
// building, validation, hashing and the TSDB's series lookup. The encoded
// bytes are the key: equal bytes decode to equal labels, so a hit needs no
// further check (two encodings of one label set only cost two entries).
//
// It holds at most max entries; when full it is emptied and refilled by the
// requests that follow (counted in resets), which bounds its memory without
// a per-entry recency list on the hot path. It is tied to one open TSDB
// (generation): refs are meaningless in another, so a new generation
// empties it.
type seriesCache struct {
	max int

	mu      sync.RWMutex
	gen     uint64
	entries map[string]*cachedSeries
	resets  atomic.Uint64
}

func newSeriesCache(max int) *seriesCache {
	return &seriesCache{max: max, entries: make(map[string]*cachedSeries)}
}

// lookup fills out[i] with the entry of series[i], or nil, under one read
// lock for the whole request. gen is the generation of the TSDB the caller
// appends to.
func (c *seriesCache) lookup(gen uint64, series []wireSeries, out []*cachedSeries) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.gen != gen {
		clear(out)
		return
	}
	for i := range series {
		if k := series[i].key; k != "" {
			out[i] = c.entries[k]
		} else {
			out[i] = nil
		}
	}
}

// newEntry is an entry to add, with its key still pointing into the
// request.
type newEntry struct {
	key string
	e   *cachedSeries
}

// add inserts the entries (copying their keys) under one write lock.
func (c *seriesCache) add(gen uint64, add []newEntry) {
	if len(add) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		c.gen = gen
		c.entries = make(map[string]*cachedSeries)
	}
	for _, a := range add {
		if len(c.entries) >= c.max {
			c.entries = make(map[string]*cachedSeries)
			c.resets.Add(1)
		}
		c.entries[strings.Clone(a.key)] = a.e
	}
}

// len returns the number of entries.
func (c *seriesCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}

// seriesRef returns e's ref as a storage.SeriesRef.
func (e *cachedSeries) seriesRef() storage.SeriesRef { return storage.SeriesRef(e.ref.Load()) }
