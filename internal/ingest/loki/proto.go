package loki

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// The protobuf push is Loki's push.PushRequest (pkg/push/push.proto), decoded
// here field by field with protowire rather than with Loki's generated
// gogo types: the decoder writes straight into log records, and Osprey does
// not depend on the Loki module. Field numbers:
//
//	PushRequest       streams = 1 (StreamAdapter, repeated)
//	StreamAdapter     labels = 1 (string), entries = 2 (EntryAdapter, repeated), hash = 3 (uint64, ignored)
//	EntryAdapter      timestamp = 1 (google.protobuf.Timestamp), line = 2 (string),
//	                  structuredMetadata = 3 (LabelPairAdapter, repeated), parsed = 4 (ignored)
//	LabelPairAdapter  name = 1, value = 2
//	Timestamp         seconds = 1 (int64), nanos = 2 (int32)
//
// Unknown fields are skipped, as protobuf requires.
const (
	fieldPushStreams   = 1
	fieldStreamLabels  = 1
	fieldStreamEntries = 2
	fieldEntryTime     = 1
	fieldEntryLine     = 2
	fieldEntryMeta     = 3
	fieldPairName      = 1
	fieldPairValue     = 2
	fieldTimeSeconds   = 1
	fieldTimeNanos     = 2
)

var errTruncated = errors.New("truncated or corrupt protobuf")

// decodeProto decodes an uncompressed PushRequest into b. An error means
// the body is not a PushRequest; it is then refused whole.
func decodeProto(buf []byte, b *batch) error {
	for i := 0; len(buf) > 0; {
		num, typ, v, n := nextField(buf)
		if n < 0 {
			return fmt.Errorf("push request: %w", errTruncated)
		}
		buf = buf[n:]
		if num != fieldPushStreams {
			continue
		}
		if typ != protowire.BytesType {
			return fmt.Errorf("push request: streams has wire type %d", typ)
		}
		if err := decodeStream(v, i, b); err != nil {
			return fmt.Errorf("streams[%d]: %w", i, err)
		}
		i++
	}
	return nil
}

// nextField consumes one field and returns its number, type, and for
// length-delimited fields its bytes (for varints, v is nil). n < 0 marks an
// error.
func nextField(buf []byte) (protowire.Number, protowire.Type, []byte, int) {
	num, typ, n := protowire.ConsumeTag(buf)
	if n < 0 {
		return 0, 0, nil, n
	}
	if typ == protowire.BytesType {
		v, m := protowire.ConsumeBytes(buf[n:])
		if m < 0 {
			return 0, 0, nil, m
		}
		return num, typ, v, n + m
	}
	m := protowire.ConsumeFieldValue(num, typ, buf[n:])
	if m < 0 {
		return 0, 0, nil, m
	}
	return num, typ, buf[n : n+m], n + m
}

// decodeStream decodes StreamAdapter i. Its labels may follow its entries
// on the wire, so they are found first.
func decodeStream(buf []byte, i int, b *batch) error {
	var labelsText []byte
	entries := 0
	for rest := buf; len(rest) > 0; {
		num, typ, v, n := nextField(rest)
		if n < 0 {
			return errTruncated
		}
		rest = rest[n:]
		switch num {
		case fieldStreamLabels:
			if typ != protowire.BytesType {
				return fmt.Errorf("labels has wire type %d", typ)
			}
			labelsText = v
		case fieldStreamEntries:
			if typ != protowire.BytesType {
				return fmt.Errorf("entries has wire type %d", typ)
			}
			entries++
		}
	}
	labels, err := parseLabels(string(labelsText))
	st := b.stream(i, labels, err)
	if st.bad {
		b.skip(st, entries)
		return nil
	}
	var meta []metaPair
	for j := 0; len(buf) > 0; {
		num, _, v, n := nextField(buf)
		buf = buf[n:] // n >= 0: the first pass read every field
		if num != fieldStreamEntries {
			continue
		}
		meta = meta[:0]
		ns, tsErr, line, meta, err := decodeEntry(v, meta)
		if err != nil {
			return fmt.Errorf("entries[%d]: %w", j, err)
		}
		if len(meta) == 0 {
			meta = nil
		}
		b.entry(st, j, ns, tsErr, line, meta)
		j++
	}
	return nil
}

// decodeEntry decodes one EntryAdapter. err is a wire error (the request is
// refused); tsErr an out-of-range timestamp (the entry is rejected).
func decodeEntry(buf []byte, meta []metaPair) (ns int64, tsErr error, line string, _ []metaPair, err error) {
	var lineBytes []byte
	for len(buf) > 0 {
		num, typ, v, n := nextField(buf)
		if n < 0 {
			return 0, nil, "", nil, errTruncated
		}
		buf = buf[n:]
		switch num {
		case fieldEntryTime:
			if typ != protowire.BytesType {
				return 0, nil, "", nil, fmt.Errorf("timestamp has wire type %d", typ)
			}
			sec, nanos, err := decodeTimestamp(v)
			if err != nil {
				return 0, nil, "", nil, err
			}
			ns, tsErr = unixNanos(sec, nanos)
		case fieldEntryLine:
			if typ != protowire.BytesType {
				return 0, nil, "", nil, fmt.Errorf("line has wire type %d", typ)
			}
			lineBytes = v
		case fieldEntryMeta:
			if typ != protowire.BytesType {
				return 0, nil, "", nil, fmt.Errorf("structuredMetadata has wire type %d", typ)
			}
			p, err := decodePair(v)
			if err != nil {
				return 0, nil, "", nil, fmt.Errorf("structuredMetadata: %w", err)
			}
			meta = append(meta, p)
		}
	}
	// The line is copied out of the request buffer, which is reused.
	return ns, tsErr, string(lineBytes), meta, nil
}

// decodeTimestamp decodes a google.protobuf.Timestamp.
func decodeTimestamp(buf []byte) (sec, nanos int64, err error) {
	for len(buf) > 0 {
		num, typ, n := protowire.ConsumeTag(buf)
		if n < 0 {
			return 0, 0, errTruncated
		}
		buf = buf[n:]
		if (num == fieldTimeSeconds || num == fieldTimeNanos) && typ == protowire.VarintType {
			v, m := protowire.ConsumeVarint(buf)
			if m < 0 {
				return 0, 0, errTruncated
			}
			buf = buf[m:]
			if num == fieldTimeSeconds {
				sec = int64(v)
			} else {
				nanos = int64(int32(v))
			}
			continue
		}
		m := protowire.ConsumeFieldValue(num, typ, buf)
		if m < 0 {
			return 0, 0, errTruncated
		}
		buf = buf[m:]
	}
	return sec, nanos, nil
}

// unixNanos checks a Timestamp's range and converts it to Unix nanoseconds.
func unixNanos(sec, nanos int64) (int64, error) {
	if sec < 0 || sec > maxSeconds || nanos < 0 || nanos >= 1e9 {
		return 0, fmt.Errorf("seconds %d, nanos %d: %w", sec, nanos, errTimeRange)
	}
	return sec*1e9 + nanos, nil
}

// decodePair decodes a LabelPairAdapter.
func decodePair(buf []byte) (metaPair, error) {
	var p metaPair
	for len(buf) > 0 {
		num, typ, v, n := nextField(buf)
		if n < 0 {
			return p, errTruncated
		}
		buf = buf[n:]
		if (num == fieldPairName || num == fieldPairValue) && typ != protowire.BytesType {
			return p, fmt.Errorf("field %d has wire type %d", num, typ)
		}
		switch num {
		case fieldPairName:
			p.name = string(v)
		case fieldPairValue:
			p.value = string(v)
		}
	}
	return p, nil
}
