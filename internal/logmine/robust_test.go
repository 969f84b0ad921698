package logmine

import (
	"runtime"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// TestTrickyLines mines lines that production sees now and then: each pair
// of lines must share a sensible template, without a panic.
func TestTrickyLines(t *testing.T) {
	mib := strings.Repeat("Block 12 of file /data/x.bin copied to 10.0.0.1:50010 in 3ms; ", 1<<20/64)
	tests := []struct {
		name   string
		a, b   string
		want   string // the template of both lines
		prefix bool   // want is only the template's beginning
	}{
		{name: "empty", a: "", b: "", want: ""},
		{name: "whitespace only", a: " \t ", b: "\r\n", want: ""},
		{name: "only variables", a: "1 2 3 0x4", b: "9 8 7 0xff", want: "<*> <*> <*> <*>"},
		{name: "non-UTF-8", a: "bad \xff\xfe byte 12", b: "bad \xff\xfe byte 13", want: "bad \xff\xfe byte <*>"},
		{name: "binary", a: "frame \x00\x01\x02 len 4", b: "frame \x00\x01\x02 len 17", want: "frame \x00\x01\x02 len <*>"},
		{
			name: "joined stack trace",
			a:    "java.lang.NullPointerException: null\n\tat org.x.Svc.handle(Svc.java:42)\n\tat org.x.Main.run(Main.java:7)",
			b:    "java.lang.NullPointerException: null\n\tat org.x.Svc.handle(Svc.java:57)\n\tat org.x.Main.run(Main.java:9)",
			want: "java.lang.NullPointerException: <*> at org.x.Svc.handle(Svc.java:<*>) at org.x.Main.run(Main.java:<*>)",
		},
		{
			name: "1 MiB line", a: mib, b: strings.ReplaceAll(mib, "3ms", "47ms"),
			want: "Block <*> of file <*> copied to <*> in <*>; Block <*>", prefix: true,
		},
		{name: "1 MiB without whitespace", a: strings.Repeat("x", 1<<20), b: strings.Repeat("x", 1<<20+7),
			want: strings.Repeat("x", 16<<10)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMiner("s", Config{})
			ra := m.Add(time.Time{}, tc.a)
			rb := m.Add(time.Time{}, tc.b)
			if ra.Overflow || rb.Overflow {
				t.Fatalf("overflow: %+v %+v", ra, rb)
			}
			if m.ID(ra.Index) != m.ID(rb.Index) {
				t.Errorf("two templates: %.80q and %.80q", m.TemplateText(ra.Index), m.TemplateText(rb.Index))
			}
			got := m.TemplateText(rb.Index)
			if tc.prefix && !strings.HasPrefix(got, tc.want) || !tc.prefix && got != tc.want {
				t.Errorf("template %.120q, want %.120q", got, tc.want)
			}
			if len(got) > 16<<10 {
				t.Errorf("template of %d bytes, over MaxLineBytes", len(got))
			}
			lt := m.Templates()[m.Resolve(rb.Index)]
			if len(lt.Sample) > maxSampleBytes || utf8.ValidString(tc.a) && !utf8.ValidString(lt.Sample) {
				t.Errorf("sample of %d bytes, valid UTF-8 %v", len(lt.Sample), utf8.ValidString(lt.Sample))
			}
		})
	}
}

// TestCutLine: long contents are cut at whitespace, or at a character
// boundary when there is none.
func TestCutLine(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"abc def ghi", 9, "abc def"},
		{"abcdefghij", 4, "abcd"},
		{"aé", 2, "a"}, // é is two bytes: not cut in half
		{"ab\n\tat x", 5, "ab\n"},
	}
	for _, tc := range tests {
		if got := cutLine(tc.in, tc.n); got != tc.want {
			t.Errorf("cutLine(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}

// TestMinerMemoryBounded feeds 400 distinct lines of 1 MiB (400 MiB of
// input, every line a new template): what the miner keeps is bounded by
// MaxLineBytes, MaxCacheBytes and the sample cap, not by the input.
func TestMinerMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("400 MiB of input")
	}
	const lines, lineBytes = 400, 1 << 20
	m := NewMiner("s", Config{MaxCacheBytes: 1 << 20})
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	tail := strings.Repeat("and more words ", lineBytes/15)
	var b strings.Builder
	for i := range lines {
		// A head of words without digits, unique to the line, so that
		// nothing merges ("qaqa qaqb ..." for line 0), longer than
		// MaxLineBytes; then a tail to make the line 1 MiB.
		b.Reset()
		b.Grow(lineBytes + 32<<10)
		for j := 0; b.Len() < 20<<10; j++ {
			b.WriteString(letters(i))
			b.WriteString(letters(j))
			b.WriteByte(' ')
		}
		b.WriteString(tail)
		if r := m.Add(time.Time{}, b.String()); !r.New {
			t.Fatalf("line %d did not start a template", i)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	st := m.Stats()
	if st.Truncated != lines || st.Templates != lines {
		t.Errorf("stats = %+v", st)
	}
	if m.cacheBytes > 1<<20 {
		t.Errorf("cache holds %d bytes, over MaxCacheBytes", m.cacheBytes)
	}
	// Each template keeps at most 16 KiB of tokens and a 4 KiB sample:
	// about 10 MiB here, against 400 MiB of input.
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	if grown > 64<<20 {
		t.Errorf("heap grew by %d MiB for %d lines", grown>>20, lines)
	}
	runtime.KeepAlive(m)
}

// letters writes n in base 26 with the letters a-z, after a "q".
func letters(n int) string {
	s := []byte{'q'}
	for {
		s = append(s, byte('a'+n%26))
		n /= 26
		if n == 0 {
			return string(s)
		}
	}
}
