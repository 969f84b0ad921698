package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/osprey-aiops/osprey"
)

// Bounds of table cells, so that one long title does not push every other
// column off the screen. -o json prints everything.
const (
	maxTitleWidth  = 60
	maxLabelsWidth = 60
	maxCellWidth   = 80
)

// printJSON writes v as indented JSON, as the API sent it (HTML characters
// not escaped), with a final newline.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// newTable returns a tabwriter for aligned columns; cells are separated by
// tabs and rows end with a newline; Flush writes it.
func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
}

// row writes cells as one table row. Every cell is made safe first (cell).
func row(tw io.Writer, cells ...string) {
	for i, c := range cells {
		if i > 0 {
			io.WriteString(tw, "\t")
		}
		io.WriteString(tw, c)
	}
	io.WriteString(tw, "\n")
}

// cell makes server-supplied text safe for one table cell: control
// characters (tabs, newlines, terminal escape sequences that alert text
// could carry) are shown escaped, and text longer than max runes is cut
// with "…". Empty text becomes "-".
func cell(s string, max int) string {
	s = sanitize(s, false)
	if s == "" {
		return "-"
	}
	if max > 0 && utf8.RuneCountInString(s) > max {
		r := []rune(s)
		s = string(r[:max-1]) + "…"
	}
	return s
}

// sanitize escapes control characters and invalid UTF-8 in s as Go
// escapes; keepNewlines leaves '\n' as it is (for multi-line output blocks).
func sanitize(s string, keepNewlines bool) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || (unicode.IsControl(r) && !(keepNewlines && r == '\n')) || r == '\u2028' || r == '\u2029' {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i, w := 0, 0; i < len(s); i += w {
		r, width := utf8.DecodeRuneInString(s[i:])
		w = width
		switch {
		case r == utf8.RuneError && width <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case keepNewlines && r == '\n':
			b.WriteByte('\n')
		case unicode.IsControl(r) || r == '\u2028' || r == '\u2029':
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// labelsText renders labels as name="value", ... without braces; "-" when
// there are none.
func labelsText(l osprey.Labels) string {
	if len(l) == 0 {
		return "-"
	}
	s := l.String()
	return s[1 : len(s)-1]
}

// relTime renders t relative to now: "5m ago", "in 2h", "-" for the zero
// time.
func relTime(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := now.Sub(t)
	// Within a second either way is now: a time the server stamped a few
	// milliseconds ahead of this machine's clock is not "in 0s".
	if d > -time.Second && d < time.Second {
		return "just now"
	}
	if d < 0 {
		return "in " + shortDuration(-d)
	}
	return shortDuration(d) + " ago"
}

// absTime renders t in RFC 3339 (UTC, seconds) followed by the relative time
// in parentheses; "-" for the zero time.
func absTime(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339) + " (" + relTime(now, t) + ")"
}

// shortDuration renders d with its two largest units: "45s", "12m", "3h5m",
// "2d4h".
func shortDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 24*time.Hour:
		h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
		if m == 0 {
			return fmt.Sprintf("%dh", h)
		}
		return fmt.Sprintf("%dh%dm", h, m)
	default:
		days, h := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour)
		if h == 0 {
			return fmt.Sprintf("%dd", days)
		}
		return fmt.Sprintf("%dd%dh", days, h)
	}
}

// indent writes text (sanitised, newlines kept) with prefix before every
// line.
func indent(w io.Writer, prefix, text string) {
	text = strings.TrimRight(sanitize(text, true), "\n")
	for line := range strings.SplitSeq(text, "\n") {
		fmt.Fprintf(w, "%s%s\n", prefix, line)
	}
}

// orDash returns s, or "-" when it is empty.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
