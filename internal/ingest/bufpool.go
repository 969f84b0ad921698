package ingest

import "sync"

// maxPooledBuf keeps the buffers of a few huge requests from staying pooled
// for good.
const maxPooledBuf = 8 << 20

// BufPool recycles request-body buffers between requests of a receiver. The
// zero value is ready to use and safe for concurrent use.
type BufPool struct{ p sync.Pool }

// Get returns an empty buffer (64 KiB capacity when new).
func (bp *BufPool) Get() *[]byte {
	if b, ok := bp.p.Get().(*[]byte); ok {
		*b = (*b)[:0]
		return b
	}
	b := make([]byte, 0, 64<<10)
	return &b
}

// Put returns b to the pool unless it grew beyond 8 MiB.
func (bp *BufPool) Put(b *[]byte) {
	if cap(*b) <= maxPooledBuf {
		bp.p.Put(b)
	}
}
