package logs

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/detect/metric"
	"github.com/osprey-aiops/osprey/internal/snapfile"
)

// The snapshot format (integers little-endian, strings and blobs with a
// uint32 length in front; framed by internal/snapfile):
//
//	header:   magic "OSPRYLOG" | version uint32 | model version uint32
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
//
// The model version is the version of the metric model records in the
// tracker records (metric.ModelVersion when written), which do not tell it
// themselves: Restore hands it to metric.Tracker.UnmarshalBinaryVersion,
// which reads every version the metric detector reads and converts the
// older ones, so that an upgrade that changes the metric model keeps these
// models too, and a new metric model version needs no new version here.
//
// Version 1 had no model version in its header: its tracker records are
// metric model version 2 (the only one written with it), and are read as
// such.
const (
	snapMagic   = "OSPRYLOG"
	snapVersion = 2
	// snapVersion1Model is the metric model version of a version-1 file.
	snapVersion1Model = 2
	tagSource         = 1
	tagEnd            = 0
	// maxSnapBlob bounds a string or blob Restore accepts, so that a
	// crafted length cannot make it allocate without limit.
	maxSnapBlob = 1 << 20
)

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

	sw := snapfile.NewWriter(w)
	enc := snapEncoder{snapfile.Encoder{B: make([]byte, 0, 1<<16)}}
	enc.Raw(snapMagic)
	enc.U32(snapVersion)
	enc.U32(metric.ModelVersion)
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
		if err := sw.Write(enc.B); err != nil {
			return fmt.Errorf("write log detector snapshot: %w", err)
		}
		enc.B = enc.B[:0]
	}
	enc.U8(tagEnd)
	enc.U64(count)
	if err := sw.Write(enc.B); err != nil {
		return fmt.Errorf("write log detector snapshot: %w", err)
	}
	if err := sw.Close(); err != nil {
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

// snapEncoder appends the snapshot's records.
type snapEncoder struct{ snapfile.Encoder }

func (e *snapEncoder) tracker(tr *metric.Tracker) error {
	if tr == nil {
		e.U32(0)
		return nil
	}
	return e.Blob(tr.AppendBinary)
}

// source encodes one source; the caller holds the detector's lock.
func (e *snapEncoder) source(s *source) error {
	e.U8(tagSource)
	e.String(s.name)
	e.I64(s.lines)
	first := int64(0)
	if !s.first.IsZero() {
		first = s.first.UnixNano()
	}
	e.I64(first)
	e.Bool(s.warm)
	e.I64(s.open)
	e.I64(s.closed)

	ids := make([]string, 0, len(s.tmpls))
	for id := range s.tmpls {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	e.U32(uint32(len(ids)))
	for _, id := range ids {
		tp := s.tmpls[id]
		e.String(tp.id)
		e.String(tp.service)
		e.I64(tp.n)
		if err := e.tracker(tp.tr); err != nil {
			return err
		}
		if tp.newOpen == nil {
			e.U32(0)
		} else if err := e.Blob(func(b []byte) ([]byte, error) {
			raw, err := json.Marshal(tp.newOpen.a)
			return append(b, raw...), err
		}); err != nil {
			return err
		}
		e.U32(uint32(tp.newAge))
	}

	svcs := make([]string, 0, len(s.errs))
	for svc := range s.errs {
		svcs = append(svcs, svc)
	}
	sort.Strings(svcs)
	e.U32(uint32(len(svcs)))
	for _, svc := range svcs {
		es := s.errs[svc]
		e.String(es.service)
		e.I64(es.n)
		tids := make([]string, 0, len(es.byTmpl))
		for id := range es.byTmpl {
			tids = append(tids, id)
		}
		sort.Strings(tids)
		e.U32(uint32(len(tids)))
		for _, id := range tids {
			e.String(id)
			e.I64(es.byTmpl[id])
		}
		if err := e.tracker(es.tr); err != nil {
			return err
		}
	}
	return nil
}

// snapDecoder reads the snapshot's records; the first error sticks (in
// Err) and later reads return zero values.
type snapDecoder struct {
	*snapfile.Decoder
	// model is the metric model version of the tracker records.
	model uint32
}

func (d *snapDecoder) tracker() *metric.Tracker {
	raw := d.Bytes(maxSnapBlob)
	if d.Err != nil || raw == nil {
		return nil
	}
	tr := &metric.Tracker{}
	if err := tr.UnmarshalBinaryVersion(raw, d.model); err != nil {
		if d.Err == nil {
			d.Err = fmt.Errorf("log detector: %w", err)
		}
		return nil
	}
	return tr
}

// decodeSnapshot reads a whole snapshot and checks its trailer.
func decodeSnapshot(r io.Reader) (map[string]*source, error) {
	d := snapDecoder{Decoder: snapfile.NewDecoder(r)}
	d.Invalid = fmt.Errorf("%w: log detector", ErrSnapshot)
	if m := d.Raw(len(snapMagic)); d.Err == nil && m != snapMagic {
		return nil, fmt.Errorf("%w: not a log detector snapshot (bad magic)", ErrSnapshot)
	}
	switch v := d.U32(); {
	case d.Err != nil:
	case v == 1:
		d.model = snapVersion1Model
	case v == snapVersion:
		// A newer model version is refused here, an older one the metric
		// detector no longer reads by the first tracker record.
		if d.model = d.U32(); d.Err == nil && d.model > metric.ModelVersion {
			return nil, fmt.Errorf("%w: log detector snapshot of metric model version %d, this build reads up to %d",
				ErrSnapshot, d.model, metric.ModelVersion)
		}
	default:
		return nil, fmt.Errorf("%w: log detector snapshot version %d, this build reads versions 1 to %d", ErrSnapshot, v, snapVersion)
	}
	sources := map[string]*source{}
	var count uint64
	for d.Err == nil {
		tag := d.U8()
		if d.Err != nil || tag == tagEnd {
			break
		}
		if tag != tagSource {
			d.Fail("bad record tag %d", tag)
			break
		}
		s := d.source()
		if d.Err != nil {
			break
		}
		if _, dup := sources[s.name]; dup {
			d.Fail("source %q twice", s.name)
			break
		}
		sources[s.name] = s
		count++
	}
	if n := d.U64(); d.Err == nil && n != count {
		d.Fail("trailer counts %d sources, file holds %d", n, count)
	}
	switch err := d.Finish(); {
	case err == nil:
		return sources, nil
	case errors.Is(err, ErrSnapshot):
		return nil, err
	case errors.Is(err, io.ErrUnexpectedEOF):
		return nil, fmt.Errorf("%w: log detector snapshot truncated", ErrSnapshot)
	default:
		return nil, fmt.Errorf("read log detector snapshot: %w", err)
	}
}

// source reads one source record after its tag.
func (d *snapDecoder) source() *source {
	s := &source{tmpls: map[string]*tmpl{}, errs: map[string]*errSeries{}}
	s.name = d.String(maxSnapBlob)
	s.lines = d.I64()
	if first := d.I64(); first != 0 {
		s.first = time.Unix(0, first).UTC()
	}
	s.warm = d.Bool()
	s.open, s.closed = d.I64(), d.I64()
	if d.Err == nil && (s.open < -1 || (s.open >= 0 && s.open <= s.closed)) {
		d.Fail("source %q: open bucket %d after closed bucket %d", s.name, s.open, s.closed)
	}
	for n := d.U32(); n > 0 && d.Err == nil; n-- {
		tp := &tmpl{}
		tp.id = d.String(maxSnapBlob)
		tp.service = d.String(maxSnapBlob)
		tp.n = d.I64()
		tp.tr = d.tracker()
		if raw := d.Bytes(maxSnapBlob); raw != nil && d.Err == nil {
			var a osprey.Anomaly
			if err := json.Unmarshal(raw, &a); err != nil {
				d.Fail("template %q: open new-template anomaly: %v", tp.id, err)
				break
			}
			// It was handed on before the snapshot: only its close is to come.
			tp.newOpen = &finding{a: a, source: s.name, taken: true}
		}
		tp.newAge = int(d.U32())
		if d.Err == nil && (tp.id == "" || s.tmpls[tp.id] != nil) {
			d.Fail("source %q: template id %q empty or twice", s.name, tp.id)
		}
		s.tmpls[tp.id] = tp
	}
	for n := d.U32(); n > 0 && d.Err == nil; n-- {
		es := &errSeries{byTmpl: map[string]int64{}}
		es.service = d.String(maxSnapBlob)
		es.n = d.I64()
		for m := d.U32(); m > 0 && d.Err == nil; m-- {
			id := d.String(maxSnapBlob)
			es.byTmpl[id] = d.I64()
		}
		es.tr = d.tracker()
		if d.Err == nil && s.errs[es.service] != nil {
			d.Fail("source %q: error series of service %q twice", s.name, es.service)
		}
		s.errs[es.service] = es
	}
	return s
}
