package metric

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"math"
	"slices"
	"time"

	"github.com/osprey-aiops/osprey"
)

// The snapshot format (all integers little-endian):
//
//	header:  magic "OSPRYMET" | version uint32 | model record size uint32
//	series:  tag 1 | fingerprint uint64 | quiet uint32 | model record |
//	         open uint8 (0 or 1) [| open anomaly]
//	trailer: tag 0 | series count uint64 | CRC-32C of every byte before it
//
// The model record is every field of Model, in declaration order, at its
// fixed size (encodeModel); its size in the header makes a file written by
// a build with a different Model layout fail with a clear error. Series are
// stored by fingerprint, not labels: the Engine keys its models by
// fingerprint and keeps no labels (that would cost more memory than the
// model), and osprey.Labels.Fingerprint is a stable FNV-1a hash. Changing
// that hash, or the meaning of any Model field, needs a new version.
//
// The count sits in the trailer, not the header, because Snapshot writes
// the series in chunks without holding the Engine's lock throughout.
const (
	snapMagic = "OSPRYMET"
	// snapVersion 2: the burst component (two CUSUMs and a fifth
	// record) and novelty persistence (novRecent) were added to Model.
	snapVersion = 2
	tagSeries   = 1
	tagEnd      = 0

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

var snapTable = crc32.MakeTable(crc32.Castagnoli)

// ErrSnapshot is wrapped by every error Restore returns for a file that is
// not a complete snapshot of this format and version (foreign, truncated,
// torn or corrupted), as opposed to a read error.
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

	crc := crc32.New(snapTable)
	bw := bufio.NewWriterSize(io.MultiWriter(w, crc), 1<<16)
	var enc encoder
	enc.raw(snapMagic)
	enc.u32(snapVersion)
	enc.u32(uint32(modelRecordSize))
	var count uint64
	for start := 0; start < len(fps); start += snapChunk {
		e.mu.Lock()
		for _, fp := range fps[start:min(start+snapChunk, len(fps))] {
			tr := e.series[fp]
			if tr == nil {
				continue
			}
			enc.u8(tagSeries)
			enc.u64(uint64(fp))
			enc.u32(uint32(tr.quiet))
			enc.model(&tr.model)
			if tr.open == nil {
				enc.u8(0)
			} else {
				enc.u8(1)
				enc.anomaly(tr.open)
			}
			count++
		}
		e.mu.Unlock()
		if _, err := bw.Write(enc.b); err != nil {
			return fmt.Errorf("write detector snapshot: %w", err)
		}
		enc.b = enc.b[:0]
	}
	enc.u8(tagEnd)
	enc.u64(count)
	if _, err := bw.Write(enc.b); err != nil {
		return fmt.Errorf("write detector snapshot: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write detector snapshot: %w", err)
	}
	var sum [4]byte
	binary.LittleEndian.PutUint32(sum[:], crc.Sum32())
	if _, err := w.Write(sum[:]); err != nil {
		return fmt.Errorf("write detector snapshot: %w", err)
	}
	return nil
}

// Restore replaces the Engine's series with those of a snapshot written by
// Snapshot. The whole snapshot is read and its checksum verified before
// anything changes: an error leaves the Engine as it was, and an error
// wrapping ErrSnapshot means the file is not a valid snapshot (foreign,
// truncated, torn, corrupted, or of another version). Series beyond the
// Engine's bound are left out. Restore is meant to run before the Engine
// consumes; series learnt before it are discarded.
func (e *Engine) Restore(r io.Reader) error {
	series, err := decodeSnapshot(r, e.maxSeries)
	if err != nil {
		return err
	}
	e.mu.Lock()
	e.series = series
	e.mu.Unlock()
	return nil
}

// decodeSnapshot reads a snapshot, keeping at most maxSeries series.
func decodeSnapshot(r io.Reader, maxSeries int) (map[osprey.Fingerprint]*Tracker, error) {
	d := decoder{r: bufio.NewReaderSize(r, 1<<16), crc: crc32.New(snapTable)}
	if magic := d.bytes(len(snapMagic)); d.err == nil && string(magic) != snapMagic {
		return nil, fmt.Errorf("%w: not a detector snapshot (bad magic)", ErrSnapshot)
	}
	if v := d.u32(); d.err == nil && v != snapVersion {
		return nil, fmt.Errorf("%w: version %d, this build reads version %d", ErrSnapshot, v, snapVersion)
	}
	if size := d.u32(); d.err == nil && int(size) != modelRecordSize {
		return nil, fmt.Errorf("%w: model record of %d bytes, this build's is %d", ErrSnapshot, size, modelRecordSize)
	}
	series := make(map[osprey.Fingerprint]*Tracker)
	var count uint64
	for d.err == nil {
		tag := d.u8()
		if d.err != nil || tag == tagEnd {
			break
		}
		if tag != tagSeries {
			d.fail("bad record tag %d", tag)
			break
		}
		fp := osprey.Fingerprint(d.u64())
		tr := &Tracker{quiet: int(d.u32())}
		d.model(&tr.model)
		switch open := d.u8(); open {
		case 0:
		case 1:
			a := d.anomaly()
			tr.open = &a
		default:
			d.fail("bad open flag %d", open)
		}
		if d.err != nil {
			break
		}
		if _, dup := series[fp]; dup {
			d.fail("series %016x twice", uint64(fp))
			break
		}
		count++
		if len(series) < maxSeries {
			series[fp] = tr
		}
	}
	if n := d.u64(); d.err == nil && n != count {
		d.fail("trailer counts %d series, file holds %d", n, count)
	}
	sum := d.crc.Sum32()
	var tail [4]byte
	if d.err == nil {
		if _, err := io.ReadFull(d.r, tail[:]); err != nil {
			d.err = err
		}
	}
	if d.err != nil {
		if errors.Is(d.err, io.EOF) || errors.Is(d.err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%w: truncated", ErrSnapshot)
		}
		if errors.Is(d.err, ErrSnapshot) {
			return nil, d.err
		}
		return nil, fmt.Errorf("read detector snapshot: %w", d.err)
	}
	if got := binary.LittleEndian.Uint32(tail[:]); got != sum {
		return nil, fmt.Errorf("%w: checksum mismatch (stored %08x, computed %08x)", ErrSnapshot, got, sum)
	}
	if _, err := d.r.ReadByte(); err != io.EOF {
		return nil, fmt.Errorf("%w: trailing data after checksum", ErrSnapshot)
	}
	return series, nil
}

// encoder appends little-endian fixed-size values to b.
type encoder struct{ b []byte }

func (e *encoder) u8(v uint8)    { e.b = append(e.b, v) }
func (e *encoder) u32(v uint32)  { e.b = binary.LittleEndian.AppendUint32(e.b, v) }
func (e *encoder) u64(v uint64)  { e.b = binary.LittleEndian.AppendUint64(e.b, v) }
func (e *encoder) f32(v float32) { e.u32(math.Float32bits(v)) }
func (e *encoder) f64(v float64) { e.u64(math.Float64bits(v)) }

// raw writes s as it is; the reader knows its length.
func (e *encoder) raw(s string) { e.b = append(e.b, s...) }

// str writes s with its length in front.
func (e *encoder) str(s string) {
	e.u32(uint32(len(s)))
	e.raw(s)
}

// model writes every field of m in declaration order. A field added to
// Model must be added here and in decoder.model (TestModelRecordCoversModel
// fails otherwise).
func (e *encoder) model(m *Model) {
	e.u32(m.n)
	e.u32(m.peakAge)
	e.u8(uint8(m.pred))
	e.f32(m.desens)
	e.u64(uint64(m.firstMs))
	e.u64(uint64(m.lastMs))
	for _, v := range [...]float64{m.level, m.ref, m.base, m.dLevel, m.wLevel} {
		e.f64(v)
	}
	for _, v := range m.err {
		e.f64(v)
	}
	e.f64(m.shortMean)
	e.f64(m.shiftDev)
	e.f64(m.spread)
	e.f64(m.swing)
	for _, v := range m.record {
		e.f64(v)
	}
	for _, v := range m.pointRec {
		e.f64(v)
	}
	e.f64(m.peak)
	e.f64(m.nov.lo)
	e.f64(m.nov.hi)
	e.u32(m.nov.hist)
	e.u8(m.nov.have)
	for _, v := range m.nov.rate {
		e.f32(v)
	}
	for _, v := range m.nov.seen {
		e.u64(v)
	}
	e.f64(m.burstUp)
	e.f64(m.burstDown)
	e.f64(m.novRecent)
	for _, v := range m.day {
		e.f32(v)
	}
	for _, v := range m.week {
		e.f32(v)
	}
}

// anomaly writes the fields of an open anomaly; EndsAt, zero while it is
// open, is not stored.
func (e *encoder) anomaly(a *osprey.Anomaly) {
	e.str(a.ID)
	e.str(string(a.Kind))
	e.str(a.TemplateID)
	e.u32(uint32(len(a.Labels)))
	names := make([]string, 0, len(a.Labels))
	for k := range a.Labels {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		e.str(k)
		e.str(a.Labels[k])
	}
	for _, v := range [...]float64{a.Score, a.Observed, a.Expected, a.Lower, a.Upper} {
		e.f64(v)
	}
	e.u8(uint8(a.Severity))
	e.u64(uint64(a.StartsAt.UnixNano()))
	e.u64(uint64(a.Fingerprint))
	e.u32(uint32(len(a.Evidence)))
	for _, ev := range a.Evidence {
		e.str(ev.Detector)
		e.f64(ev.Score)
		e.str(ev.Reason)
	}
}

// decoder reads little-endian fixed-size values, hashing what it reads.
// The first error sticks; later reads return zero values.
type decoder struct {
	r   *bufio.Reader
	crc hash.Hash32
	err error
	buf [8]byte
	rec []byte // one model record, reused
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", ErrSnapshot, fmt.Sprintf(format, args...))
	}
}

func (d *decoder) read(p []byte) bool {
	if d.err != nil {
		clear(p)
		return false
	}
	if _, err := io.ReadFull(d.r, p); err != nil {
		d.err = err
		clear(p)
		return false
	}
	d.crc.Write(p)
	return true
}

func (d *decoder) bytes(n int) []byte {
	p := make([]byte, n)
	d.read(p)
	return p
}

func (d *decoder) u8() uint8 {
	d.read(d.buf[:1])
	return d.buf[0]
}

func (d *decoder) u32() uint32 {
	d.read(d.buf[:4])
	return binary.LittleEndian.Uint32(d.buf[:4])
}

func (d *decoder) u64() uint64 {
	d.read(d.buf[:8])
	return binary.LittleEndian.Uint64(d.buf[:8])
}

func (d *decoder) f64() float64 { return math.Float64frombits(d.u64()) }

func (d *decoder) str() string {
	n := d.u32()
	if n > maxSnapString {
		d.fail("string of %d bytes", n)
		return ""
	}
	return string(d.bytes(int(n)))
}

// model reads a model record in one read and decodes it field by field, in
// encoder.model's order.
func (d *decoder) model(m *Model) {
	if d.rec == nil {
		d.rec = make([]byte, modelRecordSize)
	}
	rec := d.rec
	if !d.read(rec) {
		return
	}
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
	m.level, m.ref, m.base, m.dLevel, m.wLevel = f64(), f64(), f64(), f64(), f64()
	for i := range m.err {
		m.err[i] = f64()
	}
	m.shortMean, m.shiftDev, m.spread, m.swing = f64(), f64(), f64(), f64()
	for i := range m.record {
		m.record[i] = f64()
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
	m.burstUp, m.burstDown, m.novRecent = f64(), f64(), f64()
	for i := range m.day {
		m.day[i] = f32()
	}
	for i := range m.week {
		m.week[i] = f32()
	}
	// Values no Update produces would index out of range or misreport.
	if m.pred >= numPredict || m.nov.have > novelOrders+1 {
		d.fail("model out of range (predictor %d, novelty depth %d)", m.pred, m.nov.have)
	}
}

// anomaly reads what encoder.anomaly wrote.
func (d *decoder) anomaly() osprey.Anomaly {
	var a osprey.Anomaly
	a.ID = d.str()
	a.Kind = osprey.AnomalyKind(d.str())
	a.TemplateID = d.str()
	n := d.u32()
	if n > maxSnapLabels {
		d.fail("%d labels", n)
		return a
	}
	a.Labels = make(osprey.Labels, n)
	for range n {
		k := d.str()
		a.Labels[k] = d.str()
	}
	a.Score, a.Observed, a.Expected, a.Lower, a.Upper = d.f64(), d.f64(), d.f64(), d.f64(), d.f64()
	a.Severity = osprey.Severity(d.u8())
	a.StartsAt = time.Unix(0, int64(d.u64())).UTC()
	a.Fingerprint = osprey.Fingerprint(d.u64())
	n = d.u32()
	if n > maxSnapEvidence {
		d.fail("%d evidence entries", n)
		return a
	}
	if n > 0 {
		a.Evidence = make([]osprey.Evidence, n)
	}
	for i := range a.Evidence {
		a.Evidence[i] = osprey.Evidence{Detector: d.str(), Score: d.f64(), Reason: d.str()}
	}
	return a
}
