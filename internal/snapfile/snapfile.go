// Package snapfile is the framing shared by Osprey's model snapshot files:
// little-endian records appended to a buffer, a CRC-32C over every byte of
// the file written as its last four bytes, and a decoder that keeps the
// first error, so that a codec reads a whole record and checks once.
//
// The files themselves (magic, version, records) are each detector's own;
// this package only spares them the byte handling.
package snapfile

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"math"
)

var table = crc32.MakeTable(crc32.Castagnoli)

// Encoder appends little-endian values to B.
type Encoder struct {
	B []byte
}

// U8 appends v.
func (e *Encoder) U8(v uint8) { e.B = append(e.B, v) }

// U32 appends v.
func (e *Encoder) U32(v uint32) { e.B = binary.LittleEndian.AppendUint32(e.B, v) }

// U64 appends v.
func (e *Encoder) U64(v uint64) { e.B = binary.LittleEndian.AppendUint64(e.B, v) }

// I64 appends v.
func (e *Encoder) I64(v int64) { e.U64(uint64(v)) }

// F32 appends v's IEEE 754 bits.
func (e *Encoder) F32(v float32) { e.U32(math.Float32bits(v)) }

// F64 appends v's IEEE 754 bits.
func (e *Encoder) F64(v float64) { e.U64(math.Float64bits(v)) }

// Bool appends v as one byte, 0 or 1.
func (e *Encoder) Bool(v bool) {
	if v {
		e.U8(1)
	} else {
		e.U8(0)
	}
}

// String appends len(s) as a uint32 and the bytes of s.
func (e *Encoder) String(s string) {
	e.U32(uint32(len(s)))
	e.B = append(e.B, s...)
}

// Raw appends the bytes of s (a magic number).
func (e *Encoder) Raw(s string) { e.B = append(e.B, s...) }

// Blob appends a uint32 length and the bytes fill appends after it (fill
// gets B and returns it extended), so that a record can be encoded in place
// without knowing its length first.
func (e *Encoder) Blob(fill func([]byte) ([]byte, error)) error {
	at := len(e.B)
	e.U32(0)
	b, err := fill(e.B)
	if err != nil {
		return err
	}
	binary.LittleEndian.PutUint32(b[at:], uint32(len(b)-at-4))
	e.B = b
	return nil
}

// Writer writes a snapshot file: the bytes handed to Write, buffered, then
// on Close the CRC-32C of all of them.
type Writer struct {
	w   io.Writer
	bw  *bufio.Writer
	crc hash.Hash32
}

// NewWriter returns a Writer on w.
func NewWriter(w io.Writer) *Writer {
	crc := crc32.New(table)
	return &Writer{w: w, bw: bufio.NewWriterSize(io.MultiWriter(w, crc), 1<<16), crc: crc}
}

// Write writes b.
func (w *Writer) Write(b []byte) error {
	_, err := w.bw.Write(b)
	return err
}

// Close flushes what is buffered and writes the checksum. It does not
// close the underlying writer.
func (w *Writer) Close() error {
	if err := w.bw.Flush(); err != nil {
		return err
	}
	var sum [4]byte
	binary.LittleEndian.PutUint32(sum[:], w.crc.Sum32())
	_, err := w.w.Write(sum[:])
	return err
}

// ErrInvalid is wrapped by the errors Decoder.Fail records, unless the
// Decoder has an Invalid error of its own.
var ErrInvalid = errors.New("invalid snapshot")

// byteReader is what a Decoder reads from.
type byteReader interface {
	io.Reader
	io.ByteReader
}

// Decoder reads little-endian values, feeding the checksum, and keeps the
// first error in Err; once Err is set every read returns zero.
type Decoder struct {
	r   byteReader
	crc hash.Hash32
	buf [8]byte
	// Err is the first error: a read error, io.ErrUnexpectedEOF for a
	// truncated file, or one wrapping Invalid from Fail.
	Err error
	// Invalid is the error Fail's errors wrap: ErrInvalid when nil. A
	// format with a sentinel error of its own sets it, so that its
	// decoding errors need no rewrapping.
	Invalid error
}

// NewDecoder returns a Decoder reading r. Like compress/flate, it reads an
// r that is also an io.ByteReader (a bytes.Reader over a record in memory,
// a bufio.Reader) directly, and any other through a 64 KiB buffer, so it
// may read beyond the end of what it decodes.
func NewDecoder(r io.Reader) *Decoder {
	br, ok := r.(byteReader)
	if !ok {
		br = bufio.NewReaderSize(r, 1<<16)
	}
	return &Decoder{r: br, crc: crc32.New(table)}
}

// Fail records an error wrapping Invalid unless one is already recorded.
func (d *Decoder) Fail(format string, args ...any) {
	if d.Err == nil {
		invalid := d.Invalid
		if invalid == nil {
			invalid = ErrInvalid
		}
		d.Err = fmt.Errorf("%w: %s", invalid, fmt.Sprintf(format, args...))
	}
}

func (d *Decoder) read(b []byte) bool {
	if d.Err != nil {
		return false
	}
	if _, err := io.ReadFull(d.r, b); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		d.Err = err
		return false
	}
	d.crc.Write(b)
	return true
}

// U8 reads a byte.
func (d *Decoder) U8() uint8 {
	if !d.read(d.buf[:1]) {
		return 0
	}
	return d.buf[0]
}

// U32 reads a uint32.
func (d *Decoder) U32() uint32 {
	if !d.read(d.buf[:4]) {
		return 0
	}
	return binary.LittleEndian.Uint32(d.buf[:4])
}

// U64 reads a uint64.
func (d *Decoder) U64() uint64 {
	if !d.read(d.buf[:8]) {
		return 0
	}
	return binary.LittleEndian.Uint64(d.buf[:8])
}

// I64 reads an int64.
func (d *Decoder) I64() int64 { return int64(d.U64()) }

// F32 reads a float32.
func (d *Decoder) F32() float32 { return math.Float32frombits(d.U32()) }

// F64 reads a float64.
func (d *Decoder) F64() float64 { return math.Float64frombits(d.U64()) }

// Bool reads a byte that must be 0 or 1.
func (d *Decoder) Bool() bool {
	switch v := d.U8(); v {
	case 0:
		return false
	case 1:
		return true
	default:
		d.Fail("bad boolean %d", v)
		return false
	}
}

// String reads what Encoder.String wrote, failing on a length above max.
func (d *Decoder) String(max int) string {
	n := d.U32()
	if d.Err != nil {
		return ""
	}
	if int64(n) > int64(max) {
		d.Fail("string of %d bytes, at most %d allowed", n, max)
		return ""
	}
	b := make([]byte, n)
	if !d.read(b) {
		return ""
	}
	return string(b)
}

// Bytes reads what Encoder.Blob (or String) wrote, failing on a length
// above max; it returns nil for an empty one.
func (d *Decoder) Bytes(max int) []byte {
	n := d.U32()
	if d.Err != nil {
		return nil
	}
	if int64(n) > int64(max) {
		d.Fail("field of %d bytes, at most %d allowed", n, max)
		return nil
	}
	if n == 0 {
		return nil
	}
	b := make([]byte, n)
	if !d.read(b) {
		return nil
	}
	return b
}

// Raw reads n bytes (a magic number).
func (d *Decoder) Raw(n int) string {
	b := make([]byte, n)
	if !d.read(b) {
		return ""
	}
	return string(b)
}

// ReadFull reads len(p) bytes into p: a fixed-size record the caller
// decodes itself, in one read rather than one per field. It reports
// whether it did; p's content is unspecified when it did not.
func (d *Decoder) ReadFull(p []byte) bool { return d.read(p) }

// End checks that nothing follows what was read, for a record that has no
// checksum of its own (one embedded in another file). It returns d.Err or
// the error it found.
func (d *Decoder) End() error {
	if d.Err != nil {
		return d.Err
	}
	if _, err := d.r.ReadByte(); err != io.EOF {
		d.Fail("trailing data")
	}
	return d.Err
}

// Finish reads the checksum that must follow, and checks it and that
// nothing follows it. It returns d.Err or the error it found.
func (d *Decoder) Finish() error {
	if d.Err != nil {
		return d.Err
	}
	want := d.crc.Sum32()
	var sum [4]byte
	if _, err := io.ReadFull(d.r, sum[:]); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		d.Err = err
		return err
	}
	if got := binary.LittleEndian.Uint32(sum[:]); got != want {
		d.Fail("checksum mismatch (stored %08x, computed %08x)", got, want)
		return d.Err
	}
	return d.End()
}
