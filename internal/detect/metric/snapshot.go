package metric

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"time"
	"unsafe"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/snapfile"
)

// The snapshot format (all integers little-endian, strings with a uint32
// length in front; framed by internal/snapfile):
//
//	header:  magic "OSPRYMET" | version uint32 | model record size uint32
//	series:  tag 1 | fingerprint uint64 | quiet uint32 | model record |
//	         open uint8 (0 or 1) [| open anomaly]
//	trailer: tag 0 | series count uint64 | CRC-32C of every byte before it
//
// The model record is every field of Model, in declaration order, at its
// fixed size (encodeModel); its size in the header makes a file written by
// a build with a different Model layout fail with a clear error. Snapshot
// always writes snapVersion; Restore reads every version from
// snapVersionMin on, each with its own model record (decodeModel knows
// which fields each version holds): a field a version lacks starts at its
// zero value, so an upgrade keeps what the models learnt. Series are
// stored by fingerprint, not labels: the Engine keys its models by
// fingerprint and keeps no labels (that would cost more memory than the
// model), and osprey.Labels.Fingerprint is a stable FNV-1a hash. Changing
// that hash, or the meaning of any Model field, needs a new version.
//
// The count sits in the trailer, not the header, because Snapshot writes
// the series in chunks without holding the Engine's lock throughout.
const (
	snapMagic = "OSPRYMET"
	// snapVersion is the version Snapshot writes. 2: the burst component
	// (two CUSUMs and a fifth record) and novelty persistence (novRecent)
	// were added to Model. 3: the shift component became a CUSUM (shiftUp,
	// shiftDown replace ref, shortMean and shiftDev; record[CompShift]
	// holds the CUSUM's record), and the burst excursion's bar (burstBar)
	// was added. Versions 2 and 3 have model records of the same size
	// (1,642 bytes), so a record does not tell its version: whoever stores
	// records (the header here, the log detector's header for its
	// Tracker records) stores the version with them. 4: each component's
	// fatigue and the band's factor from it (Model.fatigue, fatigueBand,
	// 24 bytes at the end of the record) were added; a version-3 model
	// has none.
	//
	// Adding a field to Model: encode it in encodeModel, decode it in
	// decodeModel under `if v >= <new version>`, bump snapVersion, write
	// the new golden files (TestSnapshotGolden) and keep the previous ones
	// as fixtures of a test that they are still read (as
	// TestSnapshotReadsVersion2 does for version 2).
	// Its zero value must be neutral (what the field is for a model that
	// never saw the new code), or decodeModel sets the neutral value for
	// older versions. A change of a field's meaning or type, or a removed
	// field, needs a conversion in decodeModel (as version 2's shift
	// fields have) or a higher snapVersionMin.
	snapVersion = 4
	// snapVersionMin is the oldest version Restore reads. Version 1
	// (before the burst component) is still refused: no fixture of it is
	// kept to test a reader against.
	snapVersionMin = 2
	tagSeries      = 1
	tagEnd         = 0

	// Bounds on what Restore accepts, so that a crafted file cannot make
	// it allocate without limit.
	maxSnapString   = 1 << 16
	maxSnapLabels   = 1 << 10
	maxSnapEvidence = 64
	// snapChunk is how many series Snapshot encodes per hold of the lock.
	snapChunk = 512
)

// modelRecordSize is the size of an encoded Model: the sum of its fields'
// sizes, without padding.
var modelRecordSize = binary.Size(Model{})

// modelRecordSizes holds, for each version Restore reads, the size of its
// model record (0 for the others). It is measured by decoding a record with
// decodeModel, so that decodeModel's version checks are the one place that
// says which versions hold which fields.
var modelRecordSizes = func() (sizes [snapVersion + 1]int) {
	// Twice the current size: room for an older, longer record.
	zero := make([]byte, 2*modelRecordSize)
	for v := snapVersionMin; v <= snapVersion; v++ {
		var m Model
		sizes[v] = len(zero) - len(decodeModel(zero, uint32(v), &m))
	}
	return sizes
}()

// ErrSnapshot is wrapped by every error Restore returns for a file that is
// not a complete snapshot of this format and of a version it reads
// (foreign, truncated, torn, corrupted, too old or too new), as opposed to
// a read error.
var ErrSnapshot = errors.New("invalid detector snapshot")

// Snapshot writes the state of every series the Engine models (each model,
// with its feedback adjustments, and the anomaly it has open) to w in the
// format Restore reads. It is safe to call while the Engine consumes: the
// series are copied a chunk at a time under the Engine's lock, so each
// series' state is consistent, and a series that learns while the snapshot
// is written is saved as of one moment of that interval. Series created
// after Snapshot began are not included.
func (e *Engine) Snapshot(w io.Writer) error {
	e.mu.Lock()
	fps := make([]osprey.Fingerprint, 0, len(e.series))
	for fp := range e.series {
		fps = append(fps, fp)
	}
	e.mu.Unlock()
	// Sorted, so that the same state gives the same bytes.
	slices.Sort(fps)

	sw := snapfile.NewWriter(w)
	var enc snapfile.Encoder
	enc.Raw(snapMagic)
	enc.U32(snapVersion)
	enc.U32(uint32(modelRecordSize))
	var count uint64
	for start := 0; start < len(fps); start += snapChunk {
		e.mu.Lock()
		for _, fp := range fps[start:min(start+snapChunk, len(fps))] {
			tr := e.series[fp]
			if tr == nil {
				continue
			}
			enc.U8(tagSeries)
			enc.U64(uint64(fp))
			encodeTracker(&enc, tr)
			count++
		}
		e.mu.Unlock()
		if err := sw.Write(enc.B); err != nil {
			return fmt.Errorf("write detector snapshot: %w", err)
		}
		enc.B = enc.B[:0]
	}
	enc.U8(tagEnd)
	enc.U64(count)
	if err := sw.Write(enc.B); err != nil {
		return fmt.Errorf("write detector snapshot: %w", err)
	}
	if err := sw.Close(); err != nil {
		return fmt.Errorf("write detector snapshot: %w", err)
	}
	return nil
}

// Restore replaces the Engine's series with those of a snapshot written by
// Snapshot. The whole snapshot is read and its checksum verified before
// anything changes: an error leaves the Engine as it was, and an error
// wrapping ErrSnapshot means the file is not a valid snapshot (foreign,
// truncated, torn, corrupted, or of a version it does not read: it reads
// snapVersionMin to snapVersion). Series beyond the Engine's bound are
// left out. Restore is meant to run before the Engine consumes; series
// learnt before it are discarded.
func (e *Engine) Restore(r io.Reader) error {
	series, err := decodeSnapshot(r, e.maxSeries)
	if err != nil {
		return err
	}
	e.mu.Lock()
	e.series = series
	// The series found by label map are the old Trackers: forget them.
	e.byLabels = make(map[unsafe.Pointer]byLabel)
	e.labelMaps = make(map[osprey.Fingerprint]labelMaps)
	e.mu.Unlock()
	return nil
}

// decodeSnapshot reads a snapshot, keeping at most maxSeries series.
func decodeSnapshot(r io.Reader, maxSeries int) (map[osprey.Fingerprint]*Tracker, error) {
	d := newSnapDecoder(r, snapVersion)
	if magic := d.Raw(len(snapMagic)); d.Err == nil && magic != snapMagic {
		return nil, fmt.Errorf("%w: not a detector snapshot (bad magic)", ErrSnapshot)
	}
	v := d.U32()
	if d.Err == nil {
		if err := readsVersion(v); err != nil {
			return nil, err
		}
		d.version = v
	}
	if size := d.U32(); d.Err == nil && int(size) != modelRecordSizes[v] {
		return nil, fmt.Errorf("%w: model record of %d bytes, a version-%d record has %d", ErrSnapshot, size, v, modelRecordSizes[v])
	}
	series := make(map[osprey.Fingerprint]*Tracker)
	var count uint64
	for d.Err == nil {
		tag := d.U8()
		if d.Err != nil || tag == tagEnd {
			break
		}
		if tag != tagSeries {
			d.Fail("bad record tag %d", tag)
			break
		}
		fp := osprey.Fingerprint(d.U64())
		tr := d.tracker()
		if d.Err != nil {
			break
		}
		if _, dup := series[fp]; dup {
			d.Fail("series %016x twice", uint64(fp))
			break
		}
		count++
		if len(series) < maxSeries {
			series[fp] = tr
		}
	}
	if n := d.U64(); d.Err == nil && n != count {
		d.Fail("trailer counts %d series, file holds %d", n, count)
	}
	if err := snapError(d.Finish(), "truncated"); err != nil {
		return nil, err
	}
	return series, nil
}

// snapError returns err, an error of a snapDecoder, as Restore and
// UnmarshalBinary return it: one wrapping ErrSnapshot for a truncated or
// invalid record, the read error otherwise.
func snapError(err error, truncated string) error {
	switch {
	case err == nil, errors.Is(err, ErrSnapshot):
		return err
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: %s", ErrSnapshot, truncated)
	default:
		return fmt.Errorf("read detector snapshot: %w", err)
	}
}

// encodeTracker appends a Tracker's record: its quiet count, its model and
// the anomaly it has open.
func encodeTracker(e *snapfile.Encoder, tr *Tracker) {
	e.U32(uint32(tr.quiet))
	encodeModel(e, &tr.model)
	if tr.open == nil {
		e.U8(0)
	} else {
		e.U8(1)
		encodeAnomaly(e, tr.open)
	}
}

// encodeModel appends every field of m in declaration order. A field added
// to Model must be added here and in snapDecoder.model
// (TestModelRecordCoversModel fails otherwise).
func encodeModel(e *snapfile.Encoder, m *Model) {
	e.U32(m.n)
	e.U32(m.peakAge)
	e.U8(uint8(m.pred))
	e.F32(m.desens)
	e.I64(m.firstMs)
	e.I64(m.lastMs)
	for _, v := range [...]float64{m.level, m.base, m.dLevel, m.wLevel} {
		e.F64(v)
	}
	for _, v := range m.err {
		e.F64(v)
	}
	e.F64(m.spread)
	e.F64(m.swing)
	for _, v := range m.record {
		e.F64(v)
	}
	for _, v := range m.pointRec {
		e.F64(v)
	}
	e.F64(m.peak)
	e.F64(m.nov.lo)
	e.F64(m.nov.hi)
	e.U32(m.nov.hist)
	e.U8(m.nov.have)
	for _, v := range m.nov.rate {
		e.F32(v)
	}
	for _, v := range m.nov.seen {
		e.U64(v)
	}
	e.F64(m.burstUp)
	e.F64(m.burstDown)
	e.F64(m.shiftUp)
	e.F64(m.shiftDown)
	e.F64(m.novRecent)
	e.F64(m.burstBar)
	for _, v := range m.day {
		e.F32(v)
	}
	for _, v := range m.week {
		e.F32(v)
	}
	for _, v := range m.fatigue {
		e.F32(v)
	}
	e.F32(m.fatigueBand)
}

// encodeAnomaly appends the fields of an open anomaly; EndsAt, zero while
// it is open, is not stored.
func encodeAnomaly(e *snapfile.Encoder, a *osprey.Anomaly) {
	e.String(a.ID)
	e.String(string(a.Kind))
	e.String(a.TemplateID)
	e.U32(uint32(len(a.Labels)))
	names := make([]string, 0, len(a.Labels))
	for k := range a.Labels {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		e.String(k)
		e.String(a.Labels[k])
	}
	for _, v := range [...]float64{a.Score, a.Observed, a.Expected, a.Lower, a.Upper} {
		e.F64(v)
	}
	e.U8(uint8(a.Severity))
	e.I64(a.StartsAt.UnixNano())
	e.U64(uint64(a.Fingerprint))
	e.U32(uint32(len(a.Evidence)))
	for _, ev := range a.Evidence {
		e.String(ev.Detector)
		e.F64(ev.Score)
		e.String(ev.Reason)
	}
}

// snapDecoder reads the records encodeTracker writes, with model records
// of the given version. Its errors for invalid content wrap ErrSnapshot.
type snapDecoder struct {
	*snapfile.Decoder
	version uint32 // of the model records, snapVersionMin to snapVersion
	rec     []byte // one model record, reused
}

// newSnapDecoder returns a decoder of records whose model records are of
// version v, which the caller has checked (readsVersion).
func newSnapDecoder(r io.Reader, v uint32) snapDecoder {
	d := snapDecoder{Decoder: snapfile.NewDecoder(r), version: v}
	d.Invalid = ErrSnapshot
	return d
}

// readsVersion returns an error wrapping ErrSnapshot unless this build
// reads model records of version v.
func readsVersion(v uint32) error {
	if v < snapVersionMin || v > snapVersion {
		return fmt.Errorf("%w: version %d, this build reads versions %d to %d", ErrSnapshot, v, snapVersionMin, snapVersion)
	}
	return nil
}

// tracker reads what encodeTracker wrote.
func (d *snapDecoder) tracker() *Tracker {
	tr := &Tracker{quiet: int(d.U32())}
	d.model(&tr.model)
	switch open := d.U8(); open {
	case 0:
	case 1:
		a := d.anomaly()
		tr.open = &a
	default:
		d.Fail("bad open flag %d", open)
	}
	return tr
}

// model reads a model record of d's version in one read and decodes it.
func (d *snapDecoder) model(m *Model) {
	size := modelRecordSizes[d.version]
	if cap(d.rec) < size {
		d.rec = make([]byte, size)
	}
	rec := d.rec[:size]
	if !d.ReadFull(rec) {
		return
	}
	*m = Model{}
	decodeModel(rec, d.version, m)
	// Values no Update produces would index out of range or misreport.
	if m.pred >= numPredict || m.nov.have > novelOrders+1 {
		d.Fail("model out of range (predictor %d, novelty depth %d)", m.pred, m.nov.have)
	}
}

// decodeModel decodes a model record of version v, field by field in
// encodeModel's order, into m, and returns what follows the record in rec,
// which must hold at least modelRecordSizes[v] bytes. The fields version v
// lacks are left as they are in m (the caller passes a zero Model: the zero
// value of each such field is its neutral value, see snapVersion); the
// fields it has that this version no longer has are skipped.
//
// Version 2 to 3: ref, shortMean and shiftDev are dropped; shiftUp,
// shiftDown (no run under way) and burstBar (no burst excursion under way)
// start at 0; record[CompShift] is reset to 0 (see below); every other
// field is read as stored (the burst CUSUMs and the other records mean
// what they meant).
//
// Version 3 to 4: fatigue and fatigueBand start at 0 (no alarm has tired
// a component);
// every other field is read as stored.
func decodeModel(rec []byte, v uint32, m *Model) []byte {
	le := binary.LittleEndian
	u32 := func() uint32 { v := le.Uint32(rec); rec = rec[4:]; return v }
	u64 := func() uint64 { v := le.Uint64(rec); rec = rec[8:]; return v }
	f32 := func() float32 { return math.Float32frombits(u32()) }
	f64 := func() float64 { return math.Float64frombits(u64()) }
	u8 := func() uint8 { v := rec[0]; rec = rec[1:]; return v }

	m.n = u32()
	m.peakAge = u32()
	m.pred = Predictor(u8())
	m.desens = f32()
	m.firstMs = int64(u64())
	m.lastMs = int64(u64())
	m.level = f64()
	if v < 3 {
		f64() // ref, the old shift component's slow reference level
	}
	m.base, m.dLevel, m.wLevel = f64(), f64(), f64()
	for i := range m.err {
		m.err[i] = f64()
	}
	if v < 3 {
		f64() // shortMean, the old shift component's short mean
		f64() // shiftDev, its running deviation from ref
	}
	m.spread, m.swing = f64(), f64()
	for i := range m.record {
		m.record[i] = f64()
	}
	if v < 3 {
		// Before version 3 the shift record was the largest ratio of
		// |shortMean − ref| to shiftDev, its running mean (so a ratio of
		// about 1 is typical), unrelated to the CUSUM's sum (which rests
		// at 0 and grows by at most ShiftClip − ShiftAllowance per
		// sample): kept,
		// a high old record would mute the shift component, a low one
		// would not matter. 0 judges the CUSUM against cusumRecordFloor,
		// where the record of a series without sustained runs rests
		// anyway; a series whose runs go further raises it again, by at
		// most AlarmGrow per sample, its first such run after the
		// upgrade judged against the floor.
		m.record[CompShift] = 0
	}
	for i := range m.pointRec {
		m.pointRec[i] = f64()
	}
	m.peak = f64()
	m.nov.lo, m.nov.hi = f64(), f64()
	m.nov.hist = u32()
	m.nov.have = u8()
	for i := range m.nov.rate {
		m.nov.rate[i] = f32()
	}
	for i := range m.nov.seen {
		m.nov.seen[i] = u64()
	}
	m.burstUp, m.burstDown = f64(), f64()
	if v >= 3 {
		m.shiftUp, m.shiftDown = f64(), f64()
	}
	m.novRecent = f64()
	if v >= 3 {
		m.burstBar = f64()
	}
	for i := range m.day {
		m.day[i] = f32()
	}
	for i := range m.week {
		m.week[i] = f32()
	}
	if v >= 4 {
		for i := range m.fatigue {
			m.fatigue[i] = f32()
		}
		m.fatigueBand = f32()
	}
	return rec
}

// anomaly reads what encodeAnomaly wrote.
func (d *snapDecoder) anomaly() osprey.Anomaly {
	var a osprey.Anomaly
	a.ID = d.String(maxSnapString)
	a.Kind = osprey.AnomalyKind(d.String(maxSnapString))
	a.TemplateID = d.String(maxSnapString)
	n := d.U32()
	if n > maxSnapLabels {
		d.Fail("%d labels", n)
		return a
	}
	a.Labels = make(osprey.Labels, n)
	for range n {
		k := d.String(maxSnapString)
		a.Labels[k] = d.String(maxSnapString)
	}
	a.Score, a.Observed, a.Expected, a.Lower, a.Upper = d.F64(), d.F64(), d.F64(), d.F64(), d.F64()
	a.Severity = osprey.Severity(d.U8())
	a.StartsAt = time.Unix(0, d.I64()).UTC()
	a.Fingerprint = osprey.Fingerprint(d.U64())
	n = d.U32()
	if n > maxSnapEvidence {
		d.Fail("%d evidence entries", n)
		return a
	}
	if n > 0 {
		a.Evidence = make([]osprey.Evidence, n)
	}
	for i := range a.Evidence {
		a.Evidence[i] = osprey.Evidence{Detector: d.String(maxSnapString), Score: d.F64(), Reason: d.String(maxSnapString)}
	}
	return a
}
