package metric

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// AppendBinary appends the Tracker's state (its model, feedback included,
// the anomaly it has open and its quiet count) to b, in the record format
// of the Engine snapshot, preceded by the model record size: it is for
// detect stages that keep Trackers of their own (the log detector) and
// snapshot them in their own files. UnmarshalBinary reads it back.
func (t *Tracker) AppendBinary(b []byte) ([]byte, error) {
	enc := encoder{b: b}
	enc.u32(uint32(modelRecordSize))
	enc.u32(uint32(t.quiet))
	enc.model(&t.model)
	if t.open == nil {
		enc.u8(0)
	} else {
		enc.u8(1)
		enc.anomaly(t.open)
	}
	return enc.b, nil
}

// UnmarshalBinary replaces the Tracker's state with one AppendBinary
// wrote. An error wraps ErrSnapshot when data is not such a record (of
// another model layout, truncated, with trailing bytes or values out of
// range); the Tracker is then unchanged.
func (t *Tracker) UnmarshalBinary(data []byte) error {
	d := decoder{r: bufio.NewReaderSize(bytes.NewReader(data), 512), crc: crc32.New(snapTable)}
	if size := d.u32(); d.err == nil && int(size) != modelRecordSize {
		return fmt.Errorf("%w: model record of %d bytes, this build's is %d", ErrSnapshot, size, modelRecordSize)
	}
	var tr Tracker
	tr.quiet = int(d.u32())
	d.model(&tr.model)
	switch open := d.u8(); open {
	case 0:
	case 1:
		a := d.anomaly()
		tr.open = &a
	default:
		d.fail("bad open flag %d", open)
	}
	if d.err == nil {
		if _, err := d.r.ReadByte(); err != io.EOF {
			d.fail("trailing data after the tracker record")
		}
	}
	if d.err != nil {
		if errors.Is(d.err, io.EOF) || errors.Is(d.err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("%w: tracker record truncated", ErrSnapshot)
		}
		if errors.Is(d.err, ErrSnapshot) {
			return d.err
		}
		return fmt.Errorf("%w: %v", ErrSnapshot, d.err)
	}
	*t = tr
	return nil
}
