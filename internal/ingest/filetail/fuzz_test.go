package filetail

import (
	"bytes"
	"context"
	"os"
	"slices"
	"strings"
	"testing"
)

// FuzzLines writes data in two parts, with polls between and a read
// buffer of a few bytes, and checks that exactly the complete lines of
// the limit's length come out, in order, once each.
func FuzzLines(f *testing.F) {
	f.Add([]byte("a\nb\nc"), uint8(2), uint8(7))
	f.Add([]byte("\n\n\r\nxyz\n"), uint8(0), uint8(1))
	f.Add([]byte(strings.Repeat("long line ", 10)+"\nok\n"), uint8(40), uint8(3))
	f.Add([]byte("nul\x00byte\n\xff\xfe\n"), uint8(5), uint8(64))
	f.Fuzz(func(t *testing.T, data []byte, cut, bufSize uint8) {
		const maxLine = 16
		e := newEnv(t)
		tl := e.tailer(t, "app.log", func(o *Options) { o.MaxLineBytes = maxLine; o.BatchSize = 3 })
		tl.buf = make([]byte, int(bufSize)%32+1)
		c := min(int(cut), len(data))
		path := e.path("app.log")
		if err := os.WriteFile(path, data[:c], 0o600); err != nil {
			t.Fatal(err)
		}
		if err := tl.Poll(context.Background()); err != nil {
			t.Fatal(err)
		}
		appendFile(t, path, string(data[c:]))
		if err := tl.Poll(context.Background()); err != nil {
			t.Fatal(err)
		}
		var want []string
		parts := bytes.Split(data, []byte("\n"))
		for _, p := range parts[:len(parts)-1] {
			if len(p) <= maxLine {
				want = append(want, tl.record(&tracker{}, p).Body)
			}
		}
		got := e.sink.lines()
		if !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
			t.Fatalf("lines %q, want %q", got, want)
		}
	})
}
