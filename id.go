package osprey

import (
	"crypto/rand"
	"time"
)

// crockford is the Crockford base32 alphabet used by ULIDs: no I, L, O, U.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// NewID returns a new 26-character ULID for time t: 48 bits of milliseconds then
// 80 random bits. IDs sort by time to the millisecond as strings, and two IDs
// made in the same millisecond differ with overwhelming probability. Callers pass
// the time from their injected clock.
func NewID(t time.Time) string {
	var b [16]byte
	ms := uint64(t.UnixMilli())
	for i := range 6 {
		b[5-i] = byte(ms >> (8 * i))
	}
	_, _ = rand.Read(b[6:]) // crypto/rand.Read never returns an error.
	return encodeULID(b)
}

// encodeULID writes the 128 bits of b as 26 base32 digits, most significant
// first (the first digit carries only 3 bits).
func encodeULID(b [16]byte) string {
	var out [26]byte
	// Treat b as a 130-bit big-endian number padded with 2 zero bits on top.
	var acc uint64
	bits := 2 // 2 padding bits
	j := 0
	for _, c := range b {
		acc = acc<<8 | uint64(c)
		bits += 8
		for bits >= 5 {
			bits -= 5
			out[j] = crockford[(acc>>uint(bits))&31]
			j++
		}
	}
	return string(out[:])
}
