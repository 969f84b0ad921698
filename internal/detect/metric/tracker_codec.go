package metric

import (
	"bytes"

	"github.com/osprey-aiops/osprey/internal/snapfile"
)

// AppendBinary appends the Tracker's state (its model, feedback included,
// the anomaly it has open and its quiet count) to b, in the record format
// of the Engine snapshot, preceded by the model record size: it is for
// detect stages that keep Trackers of their own (the log detector) and
// snapshot them in their own files. UnmarshalBinary reads it back.
func (t *Tracker) AppendBinary(b []byte) ([]byte, error) {
	enc := snapfile.Encoder{B: b}
	enc.U32(uint32(modelRecordSize))
	encodeTracker(&enc, t)
	return enc.B, nil
}

// UnmarshalBinary replaces the Tracker's state with one AppendBinary
// wrote, by this build or by one of an older snapshot version Restore
// reads (the model record size tells the version). An error wraps
// ErrSnapshot when data is not such a record (of another model layout,
// truncated, with trailing bytes or values out of range); the Tracker is
// then unchanged.
func (t *Tracker) UnmarshalBinary(data []byte) error {
	d := newSnapDecoder(bytes.NewReader(data))
	d.recordSize(d.U32())
	tr := d.tracker()
	if err := snapError(d.End(), "tracker record truncated"); err != nil {
		return err
	}
	*t = *tr
	return nil
}
