package logs

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"sort"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/detect/metric"
)

// The snapshot format (integers little-endian, strings and blobs with a
// uint32 length in front):
//
//	header:   magic "OSPRYLOG" | version uint32
//	source:   tag 1 | name | lines int64 | first (unix ns, 0 for none) int64 |
//	          warm uint8 | open int64 | closed int64 |
//	          templates uint32 | template* | error series uint32 | error series*
//	template: id | service | n int64 | tracker | new-template anomaly
//	errors:   service | n int64 | by-template uint32 | (id | n int64)* | tracker
//	tracker:  blob: metric.Tracker.AppendBinary, empty for none
//	new-template anomaly: blob: JSON of the open anomaly, empty for none |
//	          age uint32
//	trailer:  tag 0 | source count uint64 | CRC-32C of every byte before it
//
// It keeps what a restart would otherwise lose: each count series' model
// (the learnt baseline of each template's rate and of each service's error
// lines, with its open anomaly), each source's warm-up state, and the counts
// of the open bucket, so that the bucket open at shutdown continues rather
// than closing short. Sample lines are not kept. Changing the meaning of any
// field needs a new version.
const (
	snapMagic   = "OSPRYLOG"
	snapVersion = 1
	tagSource   = 1
	tagEnd      = 0
	// maxSnapBlob bounds a string or blob Restore accepts, so that a
	// crafted length cannot make it allocate without limit.
	maxSnapBlob = 1 << 20
)

var snapTable = crc32.MakeTable(crc32.Castagnoli)

// ErrSnapshot is wrapped by every error Restore returns for a file that is
// not a complete snapshot of this format and version (foreign, truncated,
// corrupted), as opposed to a read error. It is metric.ErrSnapshot, so that
// the code that saves the metric detector's models saves these the same way.
var ErrSnapshot = metric.ErrSnapshot

// Series returns the number of count series with a model.
func (d *Detector) Series() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stats.Series
}

// Snapshot writes the detector's state to w in the format Restore reads.
// It is safe to call while the detector observes: each source is encoded
// under the detector's lock, so a source's state is consistent; sources are
// written one at a time. Anomalies found but not yet handed on (Emit) are
// not part of it.
func (d *Detector) Snapshot(w io.Writer) error {
	d.mu.Lock()
	names := make([]string, 0, len(d.sources))
	for name := range d.sources {
		names = append(names, name)
	}
	d.mu.Unlock()
	sort.Strings(names) // the same state gives the same bytes

	crc := crc32.New(snapTable)
	bw := bufio.NewWriterSize(io.MultiWriter(w, crc), 1<<16)
	enc := snapEncoder{b: make([]byte, 0, 1<<16)}
	enc.raw(snapMagic)
	enc.u32(snapVersion)
	var count uint64
	for _, name := range names {
		d.mu.Lock()
		s := d.sources[name]
		var err error
		if s != nil {
			err = enc.source(s)
			count++
		}
		d.mu.Unlock()
		if err != nil {
			return fmt.Errorf("snapshot log detector source %q: %w", name, err)
		}
		if _, err := bw.Write(enc.b); err != nil {
			return fmt.Errorf("write log detector snapshot: %w", err)
		}
		enc.b = enc.b[:0]
	}
	enc.u8(tagEnd)
	enc.u64(count)
	if _, err := bw.Write(enc.b); err != nil {
		return fmt.Errorf("write log detector snapshot: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write log detector snapshot: %w", err)
	}
	var sum [4]byte
	binary.LittleEndian.PutUint32(sum[:], crc.Sum32())
	if _, err := w.Write(sum[:]); err != nil {
		return fmt.Errorf("write log detector snapshot: %w", err)
	}
	return nil
}

// Restore replaces the detector's state with a snapshot written by
// Snapshot. The whole snapshot is read and its checksum verified before
// anything changes: an error leaves the detector as it was, and an error
// wrapping ErrSnapshot means the file is not a valid snapshot. Series
// beyond Config.MaxSeries lose their model (they learn again). A source
// marked warm before Restore (MarkWarm, from the restored templates) stays
// warm. Restore is meant to run before the detector observes.
func (d *Detector) Restore(r io.Reader) error {
	sources, err := decodeSnapshot(r)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for name, s := range d.sources {
		if r := sources[name]; r != nil {
			r.warm = r.warm || s.warm
		} else {
			sources[name] = s
		}
	}
	series := 0
	names := make([]string, 0, len(sources))
	for name := range sources {
		names = append(names, name)
	}
	sort.Strings(names) // which models survive a lowered cap is deterministic
	keep := func(tr **metric.Tracker) {
		if *tr == nil {
			return
		}
		if series >= d.cfg.MaxSeries {
			*tr = nil
			return
		}
		series++
	}
	for _, name := range names {
		s := sources[name]
		ids := make([]string, 0, len(s.tmpls))
		for id := range s.tmpls {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			keep(&s.tmpls[id].tr)
		}
		svcs := make([]string, 0, len(s.errs))
		for svc := range s.errs {
			svcs = append(svcs, svc)
		}
		sort.Strings(svcs)
		for _, svc := range svcs {
			keep(&s.errs[svc].tr)
		}
	}
	d.sources = sources
	d.stats.Series = series
	return nil
}

// snapEncoder appends the snapshot's values to b.
type snapEncoder struct{ b []byte }

func (e *snapEncoder) u8(v uint8)   { e.b = append(e.b, v) }
func (e *snapEncoder) u32(v uint32) { e.b = binary.LittleEndian.AppendUint32(e.b, v) }
func (e *snapEncoder) u64(v uint64) { e.b = binary.LittleEndian.AppendUint64(e.b, v) }
func (e *snapEncoder) i64(v int64)  { e.u64(uint64(v)) }
func (e *snapEncoder) raw(s string) { e.b = append(e.b, s...) }
func (e *snapEncoder) str(s string) { e.u32(uint32(len(s))); e.raw(s) }

// blob appends a length and the bytes fill appends after it.
func (e *snapEncoder) blob(fill func([]byte) ([]byte, error)) error {
	at := len(e.b)
	e.u32(0)
	b, err := fill(e.b)
	if err != nil {
		return err
	}
	binary.LittleEndian.PutUint32(b[at:], uint32(len(b)-at-4))
	e.b = b
	return nil
}

func (e *snapEncoder) tracker(tr *metric.Tracker) error {
	if tr == nil {
		e.u32(0)
		return nil
	}
	return e.blob(tr.AppendBinary)
}

// source encodes one source; the caller holds the detector's lock.
func (e *snapEncoder) source(s *source) error {
	e.u8(tagSource)
	e.str(s.name)
	e.i64(s.lines)
	first := int64(0)
	if !s.first.IsZero() {
		first = s.first.UnixNano()
	}
	e.i64(first)
	warm := uint8(0)
	if s.warm {
		warm = 1
	}
	e.u8(warm)
	e.i64(s.open)
	e.i64(s.closed)

	ids := make([]string, 0, len(s.tmpls))
	for id := range s.tmpls {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	e.u32(uint32(len(ids)))
	for _, id := range ids {
		tp := s.tmpls[id]
		e.str(tp.id)
		e.str(tp.service)
		e.i64(tp.n)
		if err := e.tracker(tp.tr); err != nil {
			return err
		}
		if tp.newOpen == nil {
			e.u32(0)
		} else if err := e.blob(func(b []byte) ([]byte, error) {
			raw, err := json.Marshal(tp.newOpen.a)
			return append(b, raw...), err
		}); err != nil {
			return err
		}
		e.u32(uint32(tp.newAge))
	}

	svcs := make([]string, 0, len(s.errs))
	for svc := range s.errs {
		svcs = append(svcs, svc)
	}
	sort.Strings(svcs)
	e.u32(uint32(len(svcs)))
	for _, svc := range svcs {
		es := s.errs[svc]
		e.str(es.service)
		e.i64(es.n)
		tids := make([]string, 0, len(es.byTmpl))
		for id := range es.byTmpl {
			tids = append(tids, id)
		}
		sort.Strings(tids)
		e.u32(uint32(len(tids)))
		for _, id := range tids {
			e.str(id)
			e.i64(es.byTmpl[id])
		}
		if err := e.tracker(es.tr); err != nil {
			return err
		}
	}
	return nil
}

// snapDecoder reads the snapshot's values, hashing what it reads. The
// first error sticks; later reads return zero values.
type snapDecoder struct {
	r   *bufio.Reader
	crc hash.Hash32
	err error
	buf [8]byte
}

func (d *snapDecoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: log detector: %s", ErrSnapshot, fmt.Sprintf(format, args...))
	}
}

func (d *snapDecoder) read(p []byte) {
	if d.err != nil {
		clear(p)
		return
	}
	if _, err := io.ReadFull(d.r, p); err != nil {
		d.err = err
		clear(p)
		return
	}
	d.crc.Write(p)
}

func (d *snapDecoder) u8() uint8   { d.read(d.buf[:1]); return d.buf[0] }
func (d *snapDecoder) u32() uint32 { d.read(d.buf[:4]); return binary.LittleEndian.Uint32(d.buf[:4]) }
func (d *snapDecoder) u64() uint64 { d.read(d.buf[:8]); return binary.LittleEndian.Uint64(d.buf[:8]) }
func (d *snapDecoder) i64() int64  { return int64(d.u64()) }

func (d *snapDecoder) blob() []byte {
	n := d.u32()
	if n > maxSnapBlob {
		d.fail("field of %d bytes", n)
		return nil
	}
	if d.err != nil || n == 0 {
		return nil
	}
	p := make([]byte, n)
	d.read(p)
	return p
}

func (d *snapDecoder) str() string { return string(d.blob()) }

func (d *snapDecoder) tracker() *metric.Tracker {
	raw := d.blob()
	if d.err != nil || raw == nil {
		return nil
	}
	tr := &metric.Tracker{}
	if err := tr.UnmarshalBinary(raw); err != nil {
		if d.err == nil {
			d.err = fmt.Errorf("log detector: %w", err)
		}
		return nil
	}
	return tr
}

// decodeSnapshot reads a whole snapshot and checks its trailer.
func decodeSnapshot(r io.Reader) (map[string]*source, error) {
	d := snapDecoder{r: bufio.NewReaderSize(r, 1<<16), crc: crc32.New(snapTable)}
	magic := make([]byte, len(snapMagic))
	if d.read(magic); d.err == nil && string(magic) != snapMagic {
		return nil, fmt.Errorf("%w: not a log detector snapshot (bad magic)", ErrSnapshot)
	}
	if v := d.u32(); d.err == nil && v != snapVersion {
		return nil, fmt.Errorf("%w: log detector snapshot version %d, this build reads version %d", ErrSnapshot, v, snapVersion)
	}
	sources := map[string]*source{}
	var count uint64
	for d.err == nil {
		tag := d.u8()
		if d.err != nil || tag == tagEnd {
			break
		}
		if tag != tagSource {
			d.fail("bad record tag %d", tag)
			break
		}
		s := d.source()
		if d.err != nil {
			break
		}
		if _, dup := sources[s.name]; dup {
			d.fail("source %q twice", s.name)
			break
		}
		sources[s.name] = s
		count++
	}
	if n := d.u64(); d.err == nil && n != count {
		d.fail("trailer counts %d sources, file holds %d", n, count)
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
			return nil, fmt.Errorf("%w: log detector snapshot truncated", ErrSnapshot)
		}
		if errors.Is(d.err, ErrSnapshot) {
			return nil, d.err
		}
		return nil, fmt.Errorf("read log detector snapshot: %w", d.err)
	}
	if got := binary.LittleEndian.Uint32(tail[:]); got != sum {
		return nil, fmt.Errorf("%w: log detector snapshot checksum mismatch (stored %08x, computed %08x)", ErrSnapshot, got, sum)
	}
	if _, err := d.r.ReadByte(); err != io.EOF {
		return nil, fmt.Errorf("%w: trailing data after the log detector snapshot's checksum", ErrSnapshot)
	}
	return sources, nil
}

// source reads one source record after its tag.
func (d *snapDecoder) source() *source {
	s := &source{tmpls: map[string]*tmpl{}, errs: map[string]*errSeries{}}
	s.name = d.str()
	s.lines = d.i64()
	if first := d.i64(); first != 0 {
		s.first = time.Unix(0, first).UTC()
	}
	switch w := d.u8(); w {
	case 0:
	case 1:
		s.warm = true
	default:
		d.fail("bad warm flag %d", w)
	}
	s.open, s.closed = d.i64(), d.i64()
	if d.err == nil && (s.open < -1 || (s.open >= 0 && s.open <= s.closed)) {
		d.fail("source %q: open bucket %d after closed bucket %d", s.name, s.open, s.closed)
	}
	for n := d.u32(); n > 0 && d.err == nil; n-- {
		tp := &tmpl{}
		tp.id = d.str()
		tp.service = d.str()
		tp.n = d.i64()
		tp.tr = d.tracker()
		if raw := d.blob(); raw != nil && d.err == nil {
			var a osprey.Anomaly
			if err := json.Unmarshal(raw, &a); err != nil {
				d.fail("template %q: open new-template anomaly: %v", tp.id, err)
				break
			}
			// It was handed on before the snapshot: only its close is to come.
			tp.newOpen = &finding{a: a, source: s.name, taken: true}
		}
		tp.newAge = int(d.u32())
		if d.err == nil && (tp.id == "" || s.tmpls[tp.id] != nil) {
			d.fail("source %q: template id %q empty or twice", s.name, tp.id)
		}
		s.tmpls[tp.id] = tp
	}
	for n := d.u32(); n > 0 && d.err == nil; n-- {
		es := &errSeries{byTmpl: map[string]int64{}}
		es.service = d.str()
		es.n = d.i64()
		for m := d.u32(); m > 0 && d.err == nil; m-- {
			id := d.str()
			es.byTmpl[id] = d.i64()
		}
		es.tr = d.tracker()
		if d.err == nil && s.errs[es.service] != nil {
			d.fail("source %q: error series of service %q twice", s.name, es.service)
		}
		s.errs[es.service] = es
	}
	return s
}
