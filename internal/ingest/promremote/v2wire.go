package promremote

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"

	writev2 "github.com/prometheus/prometheus/prompb/io/prometheus/write/v2"
)

// This file decodes an io.prometheus.write.v2.Request without allocating
// per symbol or per sample, as wire.go does for 1.0: symbols are strings
// that point into the decompressed body (v2Request.wr.raw), valid only while
// the request is. It accepts exactly the inputs the library's generated
// writev2.Request.Unmarshal accepts, followed by checkReserved
// (TestV2WireMatchesLibrary and FuzzV2WireDecode compare the two), and
// mirrors its rules: the same varint, length and wire-type checks, the last
// occurrence of a scalar field wins, repeated metadata fields merge,
// packed and unpacked labels_refs are both read (including the generated
// code's reading of a packed varint past the packed length, up to the end
// of the series), unknown fields are skipped. Histograms and exemplars,
// rare and not kept, are decoded by the library.

// v2Series is what the first pass records of a series, before the symbols
// table is complete (a Request may hold its symbols after its series).
type v2Series struct {
	// refsLo and refsHi index v2Request.refs (labels_refs); exLo and exHi
	// index v2Request.exRefs (the exemplars' labels_refs, flattened, each
	// exemplar's refs preceded by their count).
	refsLo, refsHi, exLo, exHi int32
	// samplesLo and samplesHi index wireRequest.samples.
	samplesLo, samplesHi int32
	histograms           int32
	metadata             writev2.Metadata
}

// decodeWire decodes v.wr.raw into v (as decode does with the library).
func (v *v2Request) decodeWire() error {
	b := v.wr.raw
	for i := 0; i < len(b); {
		field, wt, j, err := tag(b, i, "Request")
		if err != nil {
			return err
		}
		switch field {
		case 4, 5:
			if wt != 2 {
				return fmt.Errorf("proto: wrong wireType = %d for field %d of Request", wt, field)
			}
			start, end, err := lengthDelimited(b, j)
			if err != nil {
				return err
			}
			if field == 4 {
				v.syms = append(v.syms, yoloString(b[start:end]))
			} else if err := v.decodeSeriesWire(b[start:end]); err != nil {
				return err
			}
			i = end
		default:
			if field >= 1 && field <= 3 {
				// The library skips them, and checkReserved refuses them
				// once the whole body decoded.
				v.reserved = append(v.reserved, field)
			}
			if i, err = skipField(b, i); err != nil {
				return err
			}
		}
	}
	if len(v.reserved) > 0 {
		return reservedError(v.reserved[0])
	}
	v.resolve()
	return nil
}

// decodeSeriesWire decodes one TimeSeries message, b.
func (v *v2Request) decodeSeriesWire(b []byte) error {
	s := v2Series{
		refsLo: int32(len(v.refs)), exLo: int32(len(v.exRefs)),
		samplesLo: int32(len(v.wr.samples)),
	}
	for i := 0; i < len(b); {
		field, wt, j, err := tag(b, i, "TimeSeries")
		if err != nil {
			return err
		}
		if field == 1 && wt == 0 {
			x, k, err := uvarint(b, j)
			if err != nil {
				return err
			}
			v.refs = append(v.refs, uint32(x))
			i = k
			continue
		}
		if field < 1 || field > 5 {
			if i, err = skipField(b, i); err != nil {
				return err
			}
			continue
		}
		if wt != 2 {
			return fmt.Errorf("proto: wrong wireType = %d for field %d of TimeSeries", wt, field)
		}
		start, end, err := lengthDelimited(b, j)
		if err != nil {
			return err
		}
		switch field {
		case 1:
			// Packed: the generated code reads each varint up to the end
			// of the series, not of the packed field, and goes on from
			// where the last one ended.
			k := start
			for k < end {
				x, n, err := uvarint(b, k)
				if err != nil {
					return err
				}
				v.refs = append(v.refs, uint32(x))
				k = n
			}
			end = k
		case 2:
			smp, st, err := decodeSampleV2(b[start:end])
			if err != nil {
				return err
			}
			v.wr.samples = append(v.wr.samples, smp)
			if st != 0 {
				v.startTimestamps++
			}
		case 3:
			var h writev2.Histogram
			if err := h.Unmarshal(b[start:end]); err != nil {
				return err
			}
			s.histograms++
			if h.StartTimestamp != 0 {
				v.startTimestamps++
			}
		case 4:
			var ex writev2.Exemplar
			if err := ex.Unmarshal(b[start:end]); err != nil {
				return err
			}
			v.exRefs = append(v.exRefs, uint32(len(ex.LabelsRefs)))
			v.exRefs = append(v.exRefs, ex.LabelsRefs...)
		case 5:
			if err := s.metadata.Unmarshal(b[start:end]); err != nil {
				return err
			}
		}
		i = end
	}
	s.refsHi, s.exHi, s.samplesHi = int32(len(v.refs)), int32(len(v.exRefs)), int32(len(v.wr.samples))
	v.series = append(v.series, s)
	return nil
}

// decodeSampleV2 decodes a Sample message: the sample and its start
// timestamp.
func decodeSampleV2(b []byte) (wireSample, int64, error) {
	var (
		s  wireSample
		st int64
	)
	for i := 0; i < len(b); {
		field, wt, j, err := tag(b, i, "Sample")
		if err != nil {
			return s, 0, err
		}
		switch field {
		case 1:
			if wt != 1 {
				return s, 0, fmt.Errorf("proto: wrong wireType = %d for field Value of Sample", wt)
			}
			if j+8 > len(b) {
				return s, 0, io.ErrUnexpectedEOF
			}
			s.v = math.Float64frombits(binary.LittleEndian.Uint64(b[j:]))
			i = j + 8
		case 2, 3:
			if wt != 0 {
				return s, 0, fmt.Errorf("proto: wrong wireType = %d for field %d of Sample", wt, field)
			}
			x, k, err := uvarint(b, j)
			if err != nil {
				return s, 0, err
			}
			if field == 2 {
				s.t = int64(x)
			} else {
				st = int64(x)
			}
			i = k
		default:
			if i, err = skipField(b, i); err != nil {
				return s, 0, err
			}
		}
	}
	return s, st, nil
}

// resolve turns the series of the first pass into v.wr's series, labels
// and keys, now that the symbols table is complete; a series whose
// references do not resolve goes to v.refErrs.
func (v *v2Request) resolve() {
	wr := &v.wr
	n := uint32(len(v.syms))
	for i := range v.series {
		s := &v.series[i]
		refs := v.refs[s.refsLo:s.refsHi]
		if msg := checkRefsWire(refs, v.exRefs[s.exLo:s.exHi], &s.metadata, n); msg != "" {
			v.refErrs = append(v.refErrs, v2RefError{index: i, samples: int(s.samplesHi-s.samplesLo) + int(s.histograms), msg: fmt.Sprintf("series %d of the request: %s", i, msg)})
			continue
		}
		ws := wireSeries{
			labelsLo: int32(len(wr.labels)), samplesLo: s.samplesLo, samplesHi: s.samplesHi,
			histograms: s.histograms,
		}
		for k := 0; k < len(refs); k += 2 {
			wr.labels = append(wr.labels, wireLabel{name: v.syms[refs[k]], value: v.syms[refs[k+1]]})
		}
		ws.labelsHi = int32(len(wr.labels))
		v.exemplars += v.countExemplars(s)
		if s.metadata.Type != writev2.Metadata_METRIC_TYPE_UNSPECIFIED || s.metadata.HelpRef != 0 || s.metadata.UnitRef != 0 {
			v.metadata++
		}
		v.keys = appendV2Key(v.keys, wr.labels[ws.labelsLo:ws.labelsHi])
		v.keyEnd = append(v.keyEnd, len(v.keys))
		wr.series = append(wr.series, ws)
	}
	v.setKeys()
}

// countExemplars returns the number of exemplars of s.
func (v *v2Request) countExemplars(s *v2Series) int {
	n := 0
	for ex := v.exRefs[s.exLo:s.exHi]; len(ex) > 0; ex = ex[1+ex[0]:] {
		n++
	}
	return n
}

// checkRefsWire is checkRefs on the first pass' record of a series: refs
// are its labels_refs, ex its exemplars' (each preceded by their count),
// n the number of symbols.
func checkRefsWire(refs, ex []uint32, md *writev2.Metadata, n uint32) string {
	if len(refs)%2 != 0 {
		return fmt.Sprintf("odd number of labels_refs (%d): they are name, value pairs", len(refs))
	}
	for _, ref := range refs {
		if ref >= n {
			return fmt.Sprintf("labels_refs has %d, outside the symbols table (%d symbols)", ref, n)
		}
	}
	if md.HelpRef >= n && md.HelpRef != 0 || md.UnitRef >= n && md.UnitRef != 0 {
		return fmt.Sprintf("metadata help_ref %d or unit_ref %d outside the symbols table (%d symbols)", md.HelpRef, md.UnitRef, n)
	}
	for len(ex) > 0 {
		k := ex[0]
		if k%2 != 0 {
			return fmt.Sprintf("exemplar with an odd number of labels_refs (%d)", k)
		}
		for _, ref := range ex[1 : 1+k] {
			if ref >= n {
				return fmt.Sprintf("exemplar labels_refs has %d, outside the symbols table (%d symbols)", ref, n)
			}
		}
		ex = ex[1+k:]
	}
	return ""
}
