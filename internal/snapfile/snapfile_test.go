package snapfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// sample encodes one value of every kind: a magic, scalars, a string and a
// blob.
func sample(t testing.TB) []byte {
	t.Helper()
	var enc Encoder
	enc.Raw("MAGC")
	enc.U8(7)
	enc.U32(0xdeadbeef)
	enc.U64(1 << 40)
	enc.I64(-3)
	enc.F32(1.5)
	enc.F64(-2.25)
	enc.Bool(true)
	enc.String("héllo")
	if err := enc.Blob(func(b []byte) ([]byte, error) { return append(b, 1, 2, 3), nil }); err != nil {
		t.Fatal(err)
	}
	enc.U32(0) // an empty blob
	return enc.B
}

// file frames b as Writer does, written in two parts.
func file(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := NewWriter(&buf)
	if err := w.Write(b[:len(b)/2]); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(b[len(b)/2:]); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// decodeSample reads what sample wrote and reports the first mismatch.
func decodeSample(d *Decoder) string {
	switch {
	case d.Raw(4) != "MAGC":
		return "magic"
	case d.U8() != 7:
		return "U8"
	case d.U32() != 0xdeadbeef:
		return "U32"
	case d.U64() != 1<<40:
		return "U64"
	case d.I64() != -3:
		return "I64"
	case d.F32() != 1.5:
		return "F32"
	case d.F64() != -2.25:
		return "F64"
	case !d.Bool():
		return "Bool"
	case d.String(16) != "héllo":
		return "String"
	case !bytes.Equal(d.Bytes(16), []byte{1, 2, 3}):
		return "Bytes"
	case d.Bytes(16) != nil:
		return "empty Bytes"
	}
	return ""
}

func TestRoundTrip(t *testing.T) {
	body := sample(t)
	f := file(t, body)
	if !bytes.Equal(f[:len(body)], body) || len(f) != len(body)+4 ||
		binary.LittleEndian.Uint32(f[len(body):]) != crc32.Checksum(body, table) {
		t.Fatal("the file is not the records followed by their CRC-32C")
	}
	// Read directly (a bytes.Reader is an io.ByteReader) and through the
	// buffer (a reader that is not).
	for name, r := range map[string]io.Reader{
		"byte reader":  bytes.NewReader(f),
		"plain reader": iotest.OneByteReader(bytes.NewReader(f)),
	} {
		d := NewDecoder(r)
		if bad := decodeSample(d); bad != "" {
			t.Errorf("%s: %s read back wrong (err %v)", name, bad, d.Err)
		}
		if err := d.Finish(); err != nil {
			t.Errorf("%s: Finish = %v", name, err)
		}
	}
}

func TestDecoderRefuses(t *testing.T) {
	f := file(t, sample(t))
	flipped := bytes.Clone(f)
	flipped[5] ^= 1
	mine := errors.New("invalid test file")
	tests := []struct {
		name    string
		data    []byte
		invalid error // Decoder.Invalid
		want    error
		msg     string
	}{
		{"empty", nil, nil, io.ErrUnexpectedEOF, ""},
		{"truncated", f[:len(f)/2], nil, io.ErrUnexpectedEOF, ""},
		{"torn checksum", f[:len(f)-1], nil, io.ErrUnexpectedEOF, ""},
		{"flipped bit", flipped, nil, ErrInvalid, "checksum mismatch"},
		{"trailing data", append(bytes.Clone(f), 0), nil, ErrInvalid, "trailing data"},
		{"own sentinel", append(bytes.Clone(f), 0), mine, mine, "trailing data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDecoder(bytes.NewReader(tt.data))
			d.Invalid = tt.invalid
			decodeSample(d)
			err := d.Finish()
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("Finish = %v, want %v with %q", err, tt.want, tt.msg)
			}
		})
	}
	t.Run("bounds", func(t *testing.T) {
		d := NewDecoder(bytes.NewReader(f))
		d.Raw(4)
		d.U8()
		if d.U32(); d.Err != nil {
			t.Fatal(d.Err)
		}
		d.U64()
		d.I64()
		d.F32()
		d.F64()
		d.Bool()
		if s := d.String(3); s != "" || !errors.Is(d.Err, ErrInvalid) {
			t.Errorf("String over the bound = %q, %v", s, d.Err)
		}
	})
	t.Run("bad boolean", func(t *testing.T) {
		d := NewDecoder(bytes.NewReader([]byte{2}))
		if d.Bool() || !errors.Is(d.Err, ErrInvalid) {
			t.Errorf("Bool of 2: err %v", d.Err)
		}
	})
	t.Run("read error", func(t *testing.T) {
		boom := errors.New("disk on fire")
		d := NewDecoder(iotest.ErrReader(boom))
		d.U64()
		if err := d.Finish(); !errors.Is(err, boom) || errors.Is(err, ErrInvalid) {
			t.Errorf("Finish = %v, want the read error", err)
		}
	})
}

// TestEnd checks a record without a checksum (ReadFull, End).
func TestEnd(t *testing.T) {
	rec := []byte{1, 2, 3, 4}
	p := make([]byte, 4)
	d := NewDecoder(bytes.NewReader(rec))
	if !d.ReadFull(p) || !bytes.Equal(p, rec) || d.End() != nil {
		t.Errorf("ReadFull = %v, End = %v", p, d.Err)
	}
	d = NewDecoder(bytes.NewReader(rec))
	if d.ReadFull(p[:3]); !errors.Is(d.End(), ErrInvalid) {
		t.Errorf("End before the last byte = %v, want ErrInvalid", d.Err)
	}
	d = NewDecoder(bytes.NewReader(rec))
	if d.ReadFull(make([]byte, 5)) || !errors.Is(d.End(), io.ErrUnexpectedEOF) {
		t.Errorf("ReadFull beyond the end: err %v", d.Err)
	}
}

// FuzzDecoder checks that decoding arbitrary bytes never panics, and that
// a file it accepts was framed by Writer.
func FuzzDecoder(f *testing.F) {
	f.Add(file(f, sample(f)))
	f.Add(file(f, nil))
	f.Add([]byte("MAGC\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, data []byte) {
		d := NewDecoder(bytes.NewReader(data))
		decodeSample(d)
		if d.Finish() != nil {
			return
		}
		if n := len(data) - 4; !bytes.Equal(file(t, data[:n]), data) {
			t.Fatal("accepted a file Writer does not write")
		}
	})
}
