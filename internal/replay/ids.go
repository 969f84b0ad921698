package replay

import (
	"time"

	"github.com/osprey-aiops/osprey"
)

// seqIDs gives the metric detector's anomalies IDs that do not depend on
// chance: a ULID (as osprey.NewID makes) whose random part is a sequence
// number, counted in the order the anomalies open, instead of
// metric.Engine's random one. A replay's report then does not depend on
// the IDs: the root-cause ranker breaks ties between equally strong
// evidence by ID, and the report lists that evidence in rank order.
// Used by one goroutine.
type seqIDs struct {
	seq uint64
	// open maps the engine's ID of each open anomaly to its sequence ID;
	// the engine emits a closed anomaly with the ID it opened with.
	open map[string]string
}

// renumber replaces the engine's IDs in batch, in place: an anomaly that
// opens (EndsAt zero) gets the next sequence ID, one that closes the ID it
// opened with.
func (s *seqIDs) renumber(batch []osprey.Anomaly) {
	if s.open == nil {
		s.open = make(map[string]string)
	}
	for i := range batch {
		a := &batch[i]
		if a.EndsAt.IsZero() {
			s.seq++
			id := seqID(a.StartsAt, s.seq)
			s.open[a.ID] = id
			a.ID = id
			continue
		}
		if id, ok := s.open[a.ID]; ok {
			delete(s.open, a.ID)
			a.ID = id
		}
	}
}

// crockford is the ULID alphabet.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// seqID is a ULID (as osprey.NewID makes) of t's milliseconds whose 80
// "random" bits hold seq, so IDs made in order sort in that order.
func seqID(t time.Time, seq uint64) string {
	var b [16]byte
	ms := uint64(t.UnixMilli())
	for i := range 6 {
		b[5-i] = byte(ms >> (8 * i))
	}
	for i := range 8 {
		b[15-i] = byte(seq >> (8 * i))
	}
	// 128 bits as 26 base-32 digits, most significant first (the first
	// digit carries 3 bits, over 2 padding bits).
	var out [26]byte
	var acc uint64
	bits, j := 2, 0
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
