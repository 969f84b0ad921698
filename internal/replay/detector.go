package replay

import (
	"fmt"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/detect/metric"
)

// seriesDetector is metric.Engine's ConsumeSeries (the same metric.Tracker
// per series, the same open/close rules and series bound) for windows whose
// series' fingerprints the stream computed once per input series:
// Engine.ConsumeSeries takes no fingerprints and recomputes each series'
// on every batch, which was a sixth of a large replay's CPU time.
// TestDetectorMatchesEngine holds the two to the same anomalies.
//
// One difference: an anomaly's ID is a ULID whose random part is a
// sequence number (see seqID), not random, so that a replay's report does
// not depend on the IDs: the root-cause ranker breaks ties between equally
// strong evidence by ID, and the report lists that evidence in rank order.
// Used by one goroutine.
type seriesDetector struct {
	cfg       metric.Config
	maxSeries int
	dropped   int64
	series    map[osprey.Fingerprint]*metric.Tracker
	seq       uint64
}

// newSeriesDetector is metric.NewEngine's counterpart.
func newSeriesDetector(cfg metric.Config, maxSeries int) (*seriesDetector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("detector config: %w", err)
	}
	if maxSeries <= 0 {
		maxSeries = metric.DefaultMaxSeries
	}
	return &seriesDetector{cfg: cfg, maxSeries: maxSeries, series: make(map[osprey.Fingerprint]*metric.Tracker)}, nil
}

// consume scores every sample of batch, in order, and returns the
// anomalies opened or closed, in a new slice (nil when there are none).
// fps holds each series' fingerprint; nil means compute them.
func (d *seriesDetector) consume(batch []osprey.Series, fps []osprey.Fingerprint) []osprey.Anomaly {
	var emit []osprey.Anomaly
	for i := range batch {
		s := &batch[i]
		var fp osprey.Fingerprint
		if fps != nil {
			fp = fps[i]
		} else {
			fp = s.Labels.Fingerprint()
		}
		tr := d.series[fp]
		if tr == nil {
			if len(d.series) >= d.maxSeries {
				d.dropped += int64(len(s.Samples))
				continue
			}
			tr = &metric.Tracker{}
			d.series[fp] = tr
		}
		for _, smp := range s.Samples {
			if _, a, ok := tr.Observe(&d.cfg, s.Labels, fp, smp); ok {
				if open := tr.Open(); open != nil && a.EndsAt.IsZero() {
					// Opened: the anomaly emitted when it closes is a
					// copy of the tracker's open one.
					d.seq++
					a.ID = seqID(a.StartsAt, d.seq)
					open.ID = a.ID
				}
				emit = append(emit, a)
			}
		}
	}
	return emit
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
