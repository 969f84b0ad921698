// Package progress draws a one-line progress bar for long commands (bench,
// replay, import) when their output is a terminal, and stays silent otherwise,
// so logs and CI output are not filled with carriage returns.
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// Bar is a progress bar over a known number of steps. It is safe for
// concurrent use. A Bar writing to a non-terminal draws nothing.
type Bar struct {
	mu      sync.Mutex
	w       io.Writer
	enabled bool
	label   string
	total   int64
	done    int64
	start   time.Time
	last    time.Time
	now     func() time.Time
}

// New returns a bar for total steps that draws on w when w is a terminal.
func New(w io.Writer, label string, total int64) *Bar {
	return newBar(w, IsTerminal(w), label, total, time.Now)
}

func newBar(w io.Writer, enabled bool, label string, total int64, now func() time.Time) *Bar {
	t := now()
	return &Bar{w: w, enabled: enabled, label: label, total: total, start: t, now: now}
}

// IsTerminal reports whether w is a character device (a terminal).
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// Add advances the bar by n steps, redrawing at most ten times a second.
func (b *Bar) Add(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done += n
	if !b.enabled {
		return
	}
	if t := b.now(); t.Sub(b.last) >= 100*time.Millisecond || b.done >= b.total {
		b.last = t
		b.drawLocked()
	}
}

// SetLabel changes the text before the bar (for example the current file).
func (b *Bar) SetLabel(label string) {
	b.mu.Lock()
	b.label = label
	b.mu.Unlock()
}

// Finish draws the final state and ends the line.
func (b *Bar) Finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.enabled {
		return
	}
	b.drawLocked()
	fmt.Fprintln(b.w)
	b.enabled = false
}

func (b *Bar) drawLocked() {
	const width = 30
	frac := 1.0
	if b.total > 0 {
		frac = min(float64(b.done)/float64(b.total), 1)
	}
	filled := int(frac * width)
	elapsed := b.now().Sub(b.start)
	eta := ""
	if frac > 0 && frac < 1 {
		rest := time.Duration(float64(elapsed) * (1 - frac) / frac)
		eta = " eta " + rest.Round(time.Second).String()
	}
	fmt.Fprintf(b.w, "\r\033[K%s [%s%s] %d/%d %3.0f%%%s", b.label,
		strings.Repeat("=", filled), strings.Repeat(" ", width-filled), b.done, b.total, frac*100, eta)
}
