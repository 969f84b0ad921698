package forecast

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/snapfile"
)

// The snapshot format (integers little-endian, strings length-prefixed,
// framed by internal/snapfile):
//
//	header:  magic "OSPRYFCT" | version uint32 | model field count uint32
//	series:  tag 1 | rule metric | label count uint32 | (name, value)... |
//	         hits, misses uint32 | firstHit, firstMiss int64 |
//	         jumpsAway int32 | model (every field of Model in order)
//	capacity: tag 2 | key uint64 | last value float64
//	trailer: tag 0 | series count uint64 | CRC-32C of every byte before it
//
// A series is stored with its labels and the metric of its rule, so that a
// restart with other rules keeps only the series a rule still names. The
// open forecast is not stored: the store holds it, and Adopt takes it over.
const (
	snapMagic   = "OSPRYFCT"
	snapVersion = 1
	// modelFields is the number of fields of Model the codec writes; a
	// test fails when Model gains one, so that the codec follows.
	modelFields = 30

	tagEnd      = 0
	tagSeries   = 1
	tagCapacity = 2

	maxSnapString = 1 << 16
	maxSnapLabels = 1 << 10
)

// ErrSnapshot is wrapped by every error Restore returns for a file that is
// not a complete forecaster snapshot of this version, as opposed to a read
// error. It wraps snapfile.ErrInvalid.
var ErrSnapshot = fmt.Errorf("forecaster: %w", snapfile.ErrInvalid)

// Snapshot writes the trend model of every series and the last value of
// every capacity series to w, in the format Restore reads. It holds the
// Forecaster's lock while it encodes (models are small: about 600 bytes
// each) but not while it writes.
func (f *Forecaster) Snapshot(w io.Writer) error {
	var enc snapfile.Encoder
	enc.Raw(snapMagic)
	enc.U32(snapVersion)
	enc.U32(modelFields)
	f.mu.Lock()
	fps := slices.Sorted(maps.Keys(f.series))
	for _, fp := range fps {
		tr := f.series[fp]
		enc.U8(tagSeries)
		enc.String(f.cfg.Rules[tr.rule].Metric)
		names := slices.Sorted(maps.Keys(tr.labels))
		enc.U32(uint32(len(names)))
		for _, n := range names {
			enc.String(n)
			enc.String(tr.labels[n])
		}
		enc.U32(uint32(tr.hits))
		enc.U32(uint32(tr.misses))
		enc.I64(tr.firstHit)
		enc.I64(tr.firstMiss)
		enc.U32(uint32(tr.jumpsAway))
		encodeModel(&enc, &tr.model)
	}
	for _, k := range slices.Sorted(maps.Keys(f.caps)) {
		enc.U8(tagCapacity)
		enc.U64(k)
		enc.F64(f.caps[k])
	}
	f.mu.Unlock()
	enc.U8(tagEnd)
	enc.U64(uint64(len(fps)))
	sw := snapfile.NewWriter(w)
	if err := sw.Write(enc.B); err != nil {
		return fmt.Errorf("write forecaster snapshot: %w", err)
	}
	if err := sw.Close(); err != nil {
		return fmt.Errorf("write forecaster snapshot: %w", err)
	}
	return nil
}

// savedSeries is one series read from a snapshot.
type savedSeries struct {
	rule                string
	labels              osprey.Labels
	hits, misses        int
	firstHit, firstMiss int64
	jumpsAway           int32
	model               Model
}

// Restore loads the models of a snapshot written by Snapshot. The whole
// file is read and its checksum verified before anything changes: an error
// leaves the Forecaster as it was, and one wrapping ErrSnapshot means the
// file is not a valid snapshot. Series whose rule is gone are left out, as
// are series beyond MaxSeries. A series already tracked (a forecast Adopt
// took over) keeps its open forecast and gets the saved model. Call it
// before the first ConsumeSeries.
func (f *Forecaster) Restore(r io.Reader) error {
	series, caps, err := decodeSnapshot(r)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range series {
		ri, ok := f.byName[s.rule]
		if !ok || s.labels[osprey.LabelMetric] != s.rule {
			continue
		}
		fp := s.labels.Fingerprint()
		tr := f.series[fp]
		if tr == nil {
			if len(f.series) >= f.cfg.MaxSeries {
				continue
			}
			tr = &tracker{labels: s.labels}
			f.series[fp] = tr
		}
		tr.rule = ri
		tr.capKey = 0
		if c := f.cfg.Rules[ri].Capacity; c != "" {
			tr.capKey = capKey(tr.labels, c)
		}
		tr.model = s.model
		tr.hits, tr.misses, tr.firstHit, tr.firstMiss, tr.jumpsAway = s.hits, s.misses, s.firstHit, s.firstMiss, s.jumpsAway
	}
	for k, v := range caps {
		if _, ok := f.caps[k]; ok || len(f.caps) < f.cfg.MaxSeries {
			f.caps[k] = v
		}
	}
	return nil
}

func decodeSnapshot(r io.Reader) ([]savedSeries, map[uint64]float64, error) {
	d := snapfile.NewDecoder(r)
	d.Invalid = ErrSnapshot
	if m := d.Raw(len(snapMagic)); d.Err == nil && m != snapMagic {
		return nil, nil, fmt.Errorf("%w: not a forecaster snapshot (bad magic)", ErrSnapshot)
	}
	if v := d.U32(); d.Err == nil && v != snapVersion {
		return nil, nil, fmt.Errorf("%w: version %d, this build reads version %d", ErrSnapshot, v, snapVersion)
	}
	if n := d.U32(); d.Err == nil && n != modelFields {
		return nil, nil, fmt.Errorf("%w: models of %d fields, this build's have %d", ErrSnapshot, n, modelFields)
	}
	var series []savedSeries
	caps := map[uint64]float64{}
	for d.Err == nil {
		tag := d.U8()
		if d.Err != nil || tag == tagEnd {
			break
		}
		switch tag {
		case tagSeries:
			s := savedSeries{rule: d.String(maxSnapString)}
			n := d.U32()
			if n > maxSnapLabels {
				d.Fail("%d labels, at most %d allowed", n, maxSnapLabels)
				break
			}
			s.labels = make(osprey.Labels, n)
			for range n {
				name := d.String(maxSnapString)
				s.labels[name] = d.String(maxSnapString)
			}
			s.hits, s.misses = int(d.U32()), int(d.U32())
			s.firstHit, s.firstMiss = d.I64(), d.I64()
			s.jumpsAway = int32(d.U32())
			decodeModel(d, &s.model)
			series = append(series, s)
		case tagCapacity:
			k := d.U64()
			caps[k] = d.F64()
		default:
			d.Fail("bad record tag %d", tag)
		}
	}
	if n := d.U64(); d.Err == nil && n != uint64(len(series)) {
		d.Fail("trailer counts %d series, file holds %d", n, len(series))
	}
	if err := d.Finish(); err != nil {
		if errors.Is(err, ErrSnapshot) {
			return nil, nil, err
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, nil, fmt.Errorf("%w: truncated", ErrSnapshot)
		}
		return nil, nil, fmt.Errorf("read forecaster snapshot: %w", err)
	}
	return series, caps, nil
}

// encodeModel writes every field of m, in declaration order.
func encodeModel(e *snapfile.Encoder, m *Model) {
	for _, v := range [...]int64{m.start, m.last, m.lastFit, m.n} {
		e.I64(v)
	}
	for _, v := range [...]float64{m.w, m.w2, m.mx, m.my, m.cxx, m.cxy, m.cyy, m.lastV} {
		e.F64(v)
	}
	e.I64(m.outliers)
	e.U8(uint8(m.runN))
	e.U8(uint8(m.runSign))
	for _, p := range m.run {
		e.I64(p.t)
		e.F64(p.v)
	}
	e.U32(uint32(m.jumpsUp))
	e.U32(uint32(m.jumpsDown))
	e.I64(m.lastUp)
	e.I64(m.lastDn)
	e.F64(m.cycleUp)
	e.F64(m.cycleDn)
	e.I64(m.first)
	for _, v := range m.day {
		e.F32(v)
	}
	for _, v := range m.dayIdx {
		e.U32(uint32(v))
	}
	e.U32(uint32(m.curBin))
	e.F64(m.binSum)
	e.U32(uint32(m.binN))
	e.F64(m.dayAgo)
	e.Bool(m.dayAgoOK)
}

// decodeModel reads what encodeModel wrote.
func decodeModel(d *snapfile.Decoder, m *Model) {
	for _, p := range [...]*int64{&m.start, &m.last, &m.lastFit, &m.n} {
		*p = d.I64()
	}
	for _, p := range [...]*float64{&m.w, &m.w2, &m.mx, &m.my, &m.cxx, &m.cxy, &m.cyy, &m.lastV} {
		*p = d.F64()
	}
	m.outliers = d.I64()
	m.runN = int8(d.U8())
	m.runSign = int8(d.U8())
	if m.runN < 0 || int(m.runN) > jumpRun || m.runSign < -1 || m.runSign > 1 {
		d.Fail("jump run %d of sign %d out of range", m.runN, m.runSign)
	}
	for i := range m.run {
		m.run[i].t = d.I64()
		m.run[i].v = d.F64()
	}
	m.jumpsUp = int32(d.U32())
	m.jumpsDown = int32(d.U32())
	m.lastUp = d.I64()
	m.lastDn = d.I64()
	m.cycleUp = d.F64()
	m.cycleDn = d.F64()
	m.first = d.I64()
	for i := range m.day {
		m.day[i] = d.F32()
	}
	for i := range m.dayIdx {
		m.dayIdx[i] = int32(d.U32())
	}
	m.curBin = int32(d.U32())
	m.binSum = d.F64()
	m.binN = int32(d.U32())
	m.dayAgo = d.F64()
	m.dayAgoOK = d.Bool()
}
