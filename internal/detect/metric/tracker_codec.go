package metric

import (
	"bytes"
	"fmt"

	"github.com/osprey-aiops/osprey/internal/snapfile"
)

// ModelVersion is the version of the model record in what
// Tracker.AppendBinary writes (the Engine snapshot's version). A record
// does not tell its version (versions 2 and 3 have records of the same
// size), so a stage that stores Tracker records stores ModelVersion with
// them and hands it back to UnmarshalBinaryVersion.
const ModelVersion = snapVersion

// AppendBinary appends the Tracker's state (its model, feedback included,
// the anomaly it has open and its quiet count) to b, in the record format
// of the Engine snapshot, preceded by the model record size: it is for
// detect stages that keep Trackers of their own (the log detector) and
// snapshot them in their own files. The model record is of version
// ModelVersion; UnmarshalBinary reads it back.
func (t *Tracker) AppendBinary(b []byte) ([]byte, error) {
	enc := snapfile.Encoder{B: b}
	enc.U32(uint32(modelRecordSize))
	encodeTracker(&enc, t)
	return enc.B, nil
}

// UnmarshalBinary replaces the Tracker's state with one that AppendBinary
// wrote in a build of this ModelVersion; it is
// UnmarshalBinaryVersion(data, ModelVersion). A record of an older version
// may have the same size and would be misread: read those with
// UnmarshalBinaryVersion.
func (t *Tracker) UnmarshalBinary(data []byte) error {
	return t.UnmarshalBinaryVersion(data, ModelVersion)
}

// UnmarshalBinaryVersion replaces the Tracker's state with one AppendBinary
// wrote in a build whose ModelVersion was version. This build reads the
// versions Engine.Restore reads and converts the older ones as Restore
// does, so that an upgrade keeps what the model learnt. An error wraps
// ErrSnapshot when version is not read or data is not such a record (a
// model record of another size, truncated, with trailing bytes or values
// out of range); the Tracker is then unchanged.
func (t *Tracker) UnmarshalBinaryVersion(data []byte, version uint32) error {
	if err := readsVersion(version); err != nil {
		return fmt.Errorf("tracker record: %w", err)
	}
	d := newSnapDecoder(bytes.NewReader(data), version)
	if size := d.U32(); d.Err == nil && int(size) != modelRecordSizes[version] {
		d.Fail("model record of %d bytes, a version-%d record has %d", size, version, modelRecordSizes[version])
	}
	tr := d.tracker()
	if err := snapError(d.End(), "tracker record truncated"); err != nil {
		return err
	}
	*t = *tr
	return nil
}
