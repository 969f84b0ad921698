package promremote

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"unsafe"

	"github.com/prometheus/prometheus/prompb"
)

// This file decodes a prometheus.WriteRequest (remote-write 1.0) without
// allocating per label or per sample, which is where prompb's generated
// Unmarshal spends most of a request (a string per label name and value).
// It accepts exactly the inputs prompb.WriteRequest.Unmarshal accepts
// (FuzzWireDecode and TestWireDecodeMatchesPrompb compare the two), and
// mirrors its rules: the same varint, length and wire-type checks, the last
// occurrence of a scalar field wins, unknown fields are skipped.
//
// Label names and values are strings that point into the decompressed body
// (wireRequest.raw) and are valid only while the wireRequest is: they must
// be copied before anything keeps them past the request.

// wireLabel is a label whose strings point into wireRequest.raw.
type wireLabel struct{ name, value string }

// wireSample is one float sample.
type wireSample struct {
	t int64
	v float64
}

// wireSeries is one TimeSeries of a request.
type wireSeries struct {
	// key is the series' label fields as they were encoded, in order: the
	// same bytes always mean the same labels, so it keys the series cache.
	// It points into raw, or into keyBuf when the label fields were not
	// contiguous.
	key string
	// labels and samples index wireRequest.labels and .samples.
	labelsLo, labelsHi   int32
	samplesLo, samplesHi int32
	// histograms counts native histogram samples (not supported).
	histograms int32
}

// wireRequest is a decoded WriteRequest. Its slices are reused between
// requests (wirePool).
type wireRequest struct {
	raw     []byte // decompressed body; the strings point into it
	body    []byte // compressed body as read
	series  []wireSeries
	labels  []wireLabel
	samples []wireSample
	// keyBuf holds the keys of series whose label fields were interleaved
	// with other fields (rare: prompb and every known sender write labels
	// first).
	keyBuf []byte
}

// reset empties r for reuse, keeping its buffers.
func (r *wireRequest) reset() {
	r.series = r.series[:0]
	r.labels = r.labels[:0]
	r.samples = r.samples[:0]
	r.keyBuf = r.keyBuf[:0]
	r.raw = r.raw[:0]
	r.body = r.body[:0]
}

// seriesLabels returns the labels of s.
func (r *wireRequest) seriesLabels(s *wireSeries) []wireLabel { return r.labels[s.labelsLo:s.labelsHi] }

// seriesSamples returns the samples of s.
func (r *wireRequest) seriesSamples(s *wireSeries) []wireSample {
	return r.samples[s.samplesLo:s.samplesHi]
}

// numSamples returns the number of samples and histogram samples in r.
func (r *wireRequest) numSamples() int {
	n := len(r.samples)
	for i := range r.series {
		n += int(r.series[i].histograms)
	}
	return n
}

// Errors of the wire decoder. They are prompb's, so that a malformed body
// is reported the same either way.
var (
	errIntOverflow   = prompb.ErrIntOverflowTypes
	errInvalidLength = prompb.ErrInvalidLengthTypes
)

// yoloString views b as a string without copying.
func yoloString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// uvarint reads a varint as prompb's generated code does: at most ten
// bytes, the bits beyond 64 dropped.
func uvarint(b []byte, i int) (uint64, int, error) {
	var v uint64
	for shift := uint(0); ; shift += 7 {
		if shift >= 64 {
			return 0, i, errIntOverflow
		}
		if i >= len(b) {
			return 0, i, io.ErrUnexpectedEOF
		}
		c := b[i]
		i++
		v |= uint64(c&0x7F) << shift
		if c < 0x80 {
			return v, i, nil
		}
	}
}

// tag reads a field tag and checks it as prompb does.
func tag(b []byte, i int, msg string) (int32, int, int, error) {
	// One-byte tags (fields 1 to 15) are all this decoder meets in
	// practice.
	if i < len(b) && b[i] < 0x80 {
		w := b[i]
		field, wt := int32(w>>3), int(w&7)
		if wt == 4 {
			return 0, 0, i, fmt.Errorf("proto: %s: wiretype end group for non-group", msg)
		}
		if field <= 0 {
			return 0, 0, i, fmt.Errorf("proto: %s: illegal tag %d (wire type %d)", msg, field, w)
		}
		return field, wt, i + 1, nil
	}
	w, i, err := uvarint(b, i)
	if err != nil {
		return 0, 0, i, err
	}
	field, wt := int32(w>>3), int(w&7)
	if wt == 4 {
		return 0, 0, i, fmt.Errorf("proto: %s: wiretype end group for non-group", msg)
	}
	if field <= 0 {
		return 0, 0, i, fmt.Errorf("proto: %s: illegal tag %d (wire type %d)", msg, field, w)
	}
	return field, wt, i, nil
}

// lengthDelimited reads the length of a bytes or message field at b[i:]
// and returns the field's end.
func lengthDelimited(b []byte, i int) (start, end int, err error) {
	var n uint64
	if i < len(b) && b[i] < 0x80 {
		n, i = uint64(b[i]), i+1
	} else if n, i, err = uvarint(b, i); err != nil {
		return 0, 0, err
	}
	// prompb computes the length as an int (messages) or converts a
	// uint64 to int (strings); both overflow to a negative int the same way.
	ln := int(n)
	if ln < 0 {
		return 0, 0, errInvalidLength
	}
	end = i + ln
	if end < 0 {
		return 0, 0, errInvalidLength
	}
	if end > len(b) {
		return 0, 0, io.ErrUnexpectedEOF
	}
	return i, end, nil
}

// skipField skips the unknown field whose tag starts at b[i] and returns
// the index after it, with prompb's skipTypes rules.
func skipField(b []byte, i int) (int, error) {
	n, err := skipTypes(b[i:])
	if err != nil {
		return 0, err
	}
	if n < 0 || i+n < 0 {
		return 0, errInvalidLength
	}
	if i+n > len(b) {
		return 0, io.ErrUnexpectedEOF
	}
	return i + n, nil
}

// skipTypes is prompb's skipTypes: the length of the field at the start of
// b, groups included.
func skipTypes(b []byte) (int, error) {
	i, depth := 0, 0
	for i < len(b) {
		w, j, err := uvarint(b, i)
		if err != nil {
			return 0, err
		}
		i = j
		switch wt := int(w & 7); wt {
		case 0:
			for shift := uint(0); ; shift += 7 {
				if shift >= 64 {
					return 0, errIntOverflow
				}
				if i >= len(b) {
					return 0, io.ErrUnexpectedEOF
				}
				i++
				if b[i-1] < 0x80 {
					break
				}
			}
		case 1:
			i += 8
		case 2:
			var length int
			for shift := uint(0); ; shift += 7 {
				if shift >= 64 {
					return 0, errIntOverflow
				}
				if i >= len(b) {
					return 0, io.ErrUnexpectedEOF
				}
				c := b[i]
				i++
				length |= (int(c) & 0x7F) << shift
				if c < 0x80 {
					break
				}
			}
			if length < 0 {
				return 0, errInvalidLength
			}
			i += length
		case 3:
			depth++
		case 4:
			if depth == 0 {
				return 0, prompb.ErrUnexpectedEndOfGroupTypes
			}
			depth--
		case 5:
			i += 4
		default:
			return 0, fmt.Errorf("proto: illegal wireType %d", wt)
		}
		if i < 0 {
			return 0, errInvalidLength
		}
		if depth == 0 {
			return i, nil
		}
	}
	return 0, io.ErrUnexpectedEOF
}

// decodeWriteRequest decodes r.raw, a prometheus.WriteRequest, into r.
// Metadata is checked (so that a body prompb refuses is refused) but not
// kept; so are exemplars and histograms, of which only the number of
// histogram samples is kept.
func (r *wireRequest) decodeWriteRequest() error {
	b := r.raw
	for i := 0; i < len(b); {
		field, wt, j, err := tag(b, i, "WriteRequest")
		if err != nil {
			return err
		}
		switch field {
		case 1, 3:
			if wt != 2 {
				return fmt.Errorf("proto: wrong wireType = %d for field %d of WriteRequest", wt, field)
			}
			start, end, err := lengthDelimited(b, j)
			if err != nil {
				return err
			}
			if field == 1 {
				err = r.decodeTimeSeries(start, end)
			} else {
				var md prompb.MetricMetadata
				err = md.Unmarshal(b[start:end])
			}
			if err != nil {
				return err
			}
			i = end
		default:
			if i, err = skipField(b, i); err != nil {
				return err
			}
		}
	}
	return nil
}

// decodeTimeSeries decodes the TimeSeries in r.raw[lo:hi].
func (r *wireRequest) decodeTimeSeries(lo, hi int) error {
	b := r.raw[:hi]
	s := wireSeries{labelsLo: int32(len(r.labels)), samplesLo: int32(len(r.samples))}
	key := keySpan{lo: -1, hi: -1}
	for i := lo; i < hi; {
		// The label field every sender writes, decoded inline; anything
		// else takes the general path below, which decodes these bytes
		// the same way.
		if l, end, ok := fastLabelField(b, i); ok {
			r.labels = append(r.labels, l)
			r.noteKey(b, &key, i, end)
			i = end
			continue
		}
		field, wt, j, err := tag(b, i, "TimeSeries")
		if err != nil {
			return err
		}
		if field < 1 || field > 4 {
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
			l, err := decodeLabel(b[start:end])
			if err != nil {
				return err
			}
			r.labels = append(r.labels, l)
			r.noteKey(b, &key, i, end)
		case 2:
			smp, err := decodeSample(b[start:end])
			if err != nil {
				return err
			}
			r.samples = append(r.samples, smp)
		case 3:
			var ex prompb.Exemplar
			if err := ex.Unmarshal(b[start:end]); err != nil {
				return err
			}
		case 4:
			var h prompb.Histogram
			if err := h.Unmarshal(b[start:end]); err != nil {
				return err
			}
			s.histograms++
		}
		i = end
	}
	switch {
	case key.split:
		// keyBuf is reused by the next series: keep a copy.
		s.key = string(r.keyBuf)
	case key.lo >= 0:
		s.key = yoloString(b[key.lo:key.hi])
	}
	s.labelsHi, s.samplesHi = int32(len(r.labels)), int32(len(r.samples))
	r.series = append(r.series, s)
	return nil
}

// keySpan is where a series' label fields are in raw while they are
// contiguous (lo is -1 before the first); split is set once they were not,
// and wireRequest.keyBuf then holds them.
type keySpan struct {
	lo, hi int
	split  bool
}

// noteKey adds the label field b[i:end] to the key of the series being
// decoded.
func (r *wireRequest) noteKey(b []byte, k *keySpan, i, end int) {
	switch {
	case k.lo < 0:
		k.lo, k.hi = i, end
	case k.hi == i && !k.split:
		k.hi = end
	default:
		if !k.split {
			k.split = true
			r.keyBuf = append(r.keyBuf[:0], b[k.lo:k.hi]...)
		}
		r.keyBuf = append(r.keyBuf, b[i:end]...)
	}
}

// fastLabelField decodes the TimeSeries label field at b[i:] (b ends where
// the TimeSeries does) if it has the encoding every sender writes: tag
// 0x0a and a one-byte length, then a Label message in the encoding
// decodeLabel's fast path takes. ok is false for anything else, which the
// general path decodes.
func fastLabelField(b []byte, i int) (l wireLabel, end int, ok bool) {
	if b[i] != 0x0a || i+1 >= len(b) || b[i+1] >= 0x80 {
		return l, 0, false
	}
	start := i + 2
	end = start + int(b[i+1])
	if end > len(b) || end-start < 4 || b[start] != 0x0a || b[start+1] >= 0x80 {
		return l, 0, false
	}
	p := start + 2 + int(b[start+1])
	if p+2 > end || b[p] != 0x12 || b[p+1] >= 0x80 || p+2+int(b[p+1]) != end {
		return l, 0, false
	}
	return wireLabel{name: yoloString(b[start+2 : p]), value: yoloString(b[p+2 : end])}, end, true
}

// decodeLabel decodes a Label message.
func decodeLabel(b []byte) (wireLabel, error) {
	// The encoding every sender writes: name (field 1) then value (field
	// 2), each shorter than 128 bytes, nothing else. The loop below
	// decodes these bytes the same way, only slower.
	if len(b) >= 4 && b[0] == 0x0a && b[1] < 0x80 {
		if p := 2 + int(b[1]); p+2 <= len(b) && b[p] == 0x12 && b[p+1] < 0x80 && p+2+int(b[p+1]) == len(b) {
			return wireLabel{name: yoloString(b[2:p]), value: yoloString(b[p+2:])}, nil
		}
	}
	var l wireLabel
	for i := 0; i < len(b); {
		field, wt, j, err := tag(b, i, "Label")
		if err != nil {
			return l, err
		}
		if field != 1 && field != 2 {
			if i, err = skipField(b, i); err != nil {
				return l, err
			}
			continue
		}
		if wt != 2 {
			return l, fmt.Errorf("proto: wrong wireType = %d for field %d of Label", wt, field)
		}
		start, end, err := lengthDelimited(b, j)
		if err != nil {
			return l, err
		}
		if field == 1 {
			l.name = yoloString(b[start:end])
		} else {
			l.value = yoloString(b[start:end])
		}
		i = end
	}
	return l, nil
}

// decodeSample decodes a Sample message.
func decodeSample(b []byte) (wireSample, error) {
	var s wireSample
	for i := 0; i < len(b); {
		field, wt, j, err := tag(b, i, "Sample")
		if err != nil {
			return s, err
		}
		switch field {
		case 1:
			if wt != 1 {
				return s, fmt.Errorf("proto: wrong wireType = %d for field Value of Sample", wt)
			}
			if j+8 > len(b) {
				return s, io.ErrUnexpectedEOF
			}
			s.v = math.Float64frombits(binary.LittleEndian.Uint64(b[j:]))
			i = j + 8
		case 2:
			if wt != 0 {
				return s, fmt.Errorf("proto: wrong wireType = %d for field Timestamp of Sample", wt)
			}
			// prompb ORs the 7-bit groups into an int64, dropping the bits
			// beyond 64, as uvarint does.
			v, k, err := uvarint(b, j)
			if err != nil {
				return s, err
			}
			s.t, i = int64(v), k
		default:
			if i, err = skipField(b, i); err != nil {
				return s, err
			}
		}
	}
	return s, nil
}
