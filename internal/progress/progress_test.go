package progress

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestSilentWhenNotATerminal(t *testing.T) {
	var buf bytes.Buffer
	b := New(&buf, "files", 10)
	b.Add(5)
	b.Add(5)
	b.Finish()
	if buf.Len() != 0 {
		t.Fatalf("bar drew %q on a non-terminal", buf.String())
	}
}

func TestDrawsOnTerminal(t *testing.T) {
	var buf bytes.Buffer
	now := time.Unix(0, 0)
	b := newBar(&buf, true, "files", 4, func() time.Time { return now })
	now = now.Add(time.Second)
	b.Add(1)
	if !strings.Contains(buf.String(), "1/4  25%") || !strings.Contains(buf.String(), "eta 3s") {
		t.Fatalf("after 1 of 4: %q", buf.String())
	}
	b.Add(3)
	b.Finish()
	out := buf.String()
	if !strings.Contains(out, "4/4 100%") || !strings.HasSuffix(out, "\n") {
		t.Fatalf("finished bar: %q", out)
	}
	if strings.Count(out, "\n") != 1 {
		t.Fatalf("bar printed %d lines, want 1", strings.Count(out, "\n"))
	}
}

func TestRedrawIsThrottled(t *testing.T) {
	var buf bytes.Buffer
	now := time.Unix(0, 0)
	b := newBar(&buf, true, "x", 1000, func() time.Time { return now })
	now = now.Add(time.Second)
	for range 500 {
		b.Add(1) // same instant: only the first draws
	}
	if n := strings.Count(buf.String(), "\r"); n != 1 {
		t.Fatalf("drew %d times within one instant, want 1", n)
	}
}
