package syslog

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// frames reads every frame of in through r, recording messages, oversized
// frames ("<oversized>") and the final error.
func frames(r io.Reader, max int) ([]string, error) {
	fr := newFrameReader(bufio.NewReaderSize(r, max+2), max)
	var out []string
	for {
		msg, err := fr.next()
		switch {
		case err == nil:
			out = append(out, string(msg))
		case errors.Is(err, errOversized):
			out = append(out, "<oversized>")
		case err == io.EOF:
			return out, nil
		default:
			return out, err
		}
	}
}

func TestFraming(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []string
		wantErr error
	}{
		{name: "octet counting", in: "9 <13>1 - x5 <1>ab", want: []string{"<13>1 - x", "<1>ab"}},
		{name: "octet counting with newlines between frames", in: "3 abc\n3 def\r\n", want: []string{"abc", "def"}},
		{name: "octet counting, message holds newlines", in: "6 a\nb\nc\n\n", want: []string{"a\nb\nc\n"}},
		{name: "octet counting, oversized skipped in step", in: "12 aaaaaaaaaaaa3 abc", want: []string{"<oversized>", "abc"}},
		{name: "octet counting, bad length", in: "3 abcx y", want: []string{"abc"}, wantErr: errFraming},
		{name: "octet counting, leading zero", in: "3 abc03 abc", want: []string{"abc"}, wantErr: errFraming},
		{name: "octet counting, too many digits", in: "1234567890 x", wantErr: errFraming},
		{name: "octet counting, cut short", in: "5 ab", wantErr: io.ErrUnexpectedEOF},
		{name: "octet counting, ends in length", in: "3 abc12", want: []string{"abc"}, wantErr: errFraming},
		{name: "newline", in: "<13>a\n<13>b\r\n\n<13>c", want: []string{"<13>a", "<13>b", "<13>c"}},
		{name: "newline, leading blank lines", in: "\r\n\n<1>x\n", want: []string{"<1>x"}},
		{name: "newline, oversized line skipped", in: "<1>" + strings.Repeat("x", 20) + "\n<1>ok\n", want: []string{"<oversized>", "<1>ok"}},
		{name: "newline, oversized last line", in: "<1>ok\n<1>" + strings.Repeat("x", 20), want: []string{"<1>ok", "<oversized>"}},
		{name: "newline, exactly the limit", in: "<1>" + strings.Repeat("x", 7) + "\r\n", want: []string{"<1>xxxxxxx"}},
		{name: "newline, digits later are text", in: "<1>a\n12 b\n", want: []string{"<1>a", "12 b"}},
		{name: "no PRI, newline", in: "hello\nworld\n", want: []string{"hello", "world"}},
		{name: "empty", in: "", want: nil},
	}
	for _, tt := range tests {
		for _, split := range []struct {
			name string
			wrap func(io.Reader) io.Reader
		}{
			{"whole", func(r io.Reader) io.Reader { return r }},
			{"one byte at a time", iotest.OneByteReader},
			{"half reads", iotest.HalfReader},
			{"data with EOF", iotest.DataErrReader},
		} {
			t.Run(tt.name+"/"+split.name, func(t *testing.T) {
				got, err := frames(split.wrap(strings.NewReader(tt.in)), 10)
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("error %v, want %v (messages %q)", err, tt.wantErr, got)
				}
				if strings.Join(got, "|") != strings.Join(tt.want, "|") || len(got) != len(tt.want) {
					t.Fatalf("messages %q, want %q", got, tt.want)
				}
			})
		}
	}
}

// FuzzOctetFraming feeds arbitrary streams, in arbitrary read sizes, to the
// frame reader: it never panics, never returns a message over the limit,
// always ends, and splits the same stream the same way whatever the read
// sizes.
func FuzzOctetFraming(f *testing.F) {
	for _, s := range []string{"11 <13>1 - - x5 <1>ab", "3 abc\n3 def\r\n", "12 aaaaaaaaaaaa3 abc", "<1>a\n<1>b", "0 ", "9999999999 x", "\n\n5 "} {
		f.Add([]byte(s), uint8(3))
	}
	f.Fuzz(func(t *testing.T, in []byte, chunk uint8) {
		const max = 16
		whole, errWhole := frames(bytes.NewReader(in), max)
		parts, errParts := frames(&chunkReader{b: in, n: int(chunk%7) + 1}, max)
		for _, m := range whole {
			if len(m) > max && m != "<oversized>" {
				t.Fatalf("message of %d bytes over the limit", len(m))
			}
		}
		if strings.Join(whole, "\x00") != strings.Join(parts, "\x00") || (errWhole == nil) != (errParts == nil) {
			t.Fatalf("read whole: %q %v; in chunks: %q %v", whole, errWhole, parts, errParts)
		}
	})
}

// chunkReader returns at most n bytes per Read.
type chunkReader struct {
	b []byte
	n int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	k := min(c.n, len(p), len(c.b))
	copy(p, c.b[:k])
	c.b = c.b[k:]
	return k, nil
}
