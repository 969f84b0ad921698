package cli

import (
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

func TestRelTime(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	for d, want := range map[time.Duration]string{
		0:                                "just now",
		500 * time.Millisecond:           "just now",
		-3 * time.Millisecond:            "just now", // a server clock a little ahead
		45 * time.Second:                 "45s ago",
		5*time.Minute + 59*time.Second:   "5m ago",
		3 * time.Hour:                    "3h ago",
		3*time.Hour + 5*time.Minute:      "3h5m ago",
		50 * time.Hour:                   "2d2h ago",
		-(119*time.Minute + time.Second): "in 1h59m",
		-48 * time.Hour:                  "in 2d",
	} {
		if got := relTime(now, now.Add(-d)); got != want {
			t.Errorf("relTime(-%v) = %q, want %q", d, got, want)
		}
	}
	if got := relTime(now, time.Time{}); got != "-" {
		t.Errorf("relTime(zero) = %q", got)
	}
}

func TestCell(t *testing.T) {
	for _, tc := range []struct {
		in   string
		max  int
		want string
	}{
		{"", 0, "-"},
		{"plain", 0, "plain"},
		{"a\tb\nc", 0, `a\tb\nc`},
		{"\x1b[2Jcleared", 0, `\x1b[2Jcleared`},
		{"bad \xff utf8", 0, `bad \xff utf8`},
		{"line\u2028sep", 0, `line\u2028sep`},
		{"ünïcödé is fine", 15, "ünïcödé is fine"},
		{"ünïcödé is fine", 8, "ünïcödé…"},
	} {
		if got := cell(tc.in, tc.max); got != tc.want {
			t.Errorf("cell(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
		}
	}
}

func TestArgvText(t *testing.T) {
	got := argvText([]string{"/usr/bin/systemctl", "restart", "web.service", "--reason=osprey run 1", "", "$HOME"})
	want := `/usr/bin/systemctl restart web.service "--reason=osprey run 1" "" "$HOME"`
	if got != want {
		t.Errorf("argvText = %s, want %s", got, want)
	}
}

// FuzzCell checks that no server-supplied text reaches a table with a
// control character, invalid UTF-8 or more runes than the bound.
func FuzzCell(f *testing.F) {
	for _, s := range []string{"", "a\tb", "\x1b]0;title\a", "\xff\xfe", "日本語のタイトル", "\u2028"} {
		f.Add(s, 10)
	}
	f.Fuzz(func(t *testing.T, s string, max int) {
		if max < 2 || max > 1000 {
			max = 10
		}
		got := cell(s, max)
		if !utf8.ValidString(got) {
			t.Fatalf("cell(%q) = %q: invalid UTF-8", s, got)
		}
		if n := utf8.RuneCountInString(got); n > max {
			t.Fatalf("cell(%q, %d) = %q: %d runes", s, max, got, n)
		}
		for _, r := range got {
			if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
				t.Fatalf("cell(%q) = %q: control character %U", s, got, r)
			}
		}
		multi := sanitize(s, true)
		for _, r := range multi {
			if r != '\n' && (unicode.IsControl(r) || r == utf8.RuneError && !strings.Contains(s, "\uFFFD")) {
				t.Fatalf("sanitize(%q, true) = %q: %U", s, multi, r)
			}
		}
	})
}
