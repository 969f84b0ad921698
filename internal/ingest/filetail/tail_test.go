package filetail

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/config"
	"github.com/osprey-aiops/osprey/internal/ingest"
)

// sink collects the lines handed on; fail makes the next hand-offs fail.
type sink struct {
	mu      sync.Mutex
	records []osprey.LogRecord
	fail    int // number of hand-offs still to fail
	calls   int
	// failAt makes the hand-off with this call number (1-based) fail.
	failAt int
}

func (s *sink) ConsumeLogs(_ context.Context, b []osprey.LogRecord) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.fail > 0 || s.calls == s.failAt {
		if s.fail > 0 {
			s.fail--
		}
		return errors.New("queue full")
	}
	s.records = append(s.records, b...)
	return nil
}

// lines returns the bodies handed on so far and forgets them.
func (s *sink) lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, len(s.records))
	for i, r := range s.records {
		out[i] = r.Body
	}
	s.records = nil
	return out
}

type env struct {
	dir, state string
	sink       *sink
	stats      *ingest.Stats
}

func newEnv(t *testing.T) *env {
	dir := t.TempDir()
	return &env{dir: dir, state: filepath.Join(dir, "state", "offsets.json"), sink: &sink{}, stats: ingest.NewStats()}
}

// tailer returns a Tailer of the glob (relative to the env's dir).
func (e *env) tailer(t *testing.T, glob string, mod func(*Options)) *Tailer {
	t.Helper()
	opts := Options{
		Files:     []config.FileConfig{{Path: filepath.Join(e.dir, glob), Labels: map[string]string{"team": "db"}}},
		Logs:      e.sink,
		StateFile: e.state,
		Stats:     e.stats,
		Now:       func() time.Time { return time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC) },
	}
	if mod != nil {
		mod(&opts)
	}
	tl, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tl.Shutdown(context.Background()) })
	return tl
}

func (e *env) path(name string) string { return filepath.Join(e.dir, name) }

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func poll(t *testing.T, tl *Tailer) {
	t.Helper()
	if err := tl.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func want(t *testing.T, got []string, lines ...string) {
	t.Helper()
	if lines == nil {
		lines = []string{}
	}
	if !slices.Equal(got, lines) {
		t.Fatalf("lines %q, want %q", got, lines)
	}
}

func TestAppendAndLabels(t *testing.T) {
	e := newEnv(t)
	appendFile(t, e.path("app.log"), "one\r\nERROR two\n")
	tl := e.tailer(t, "*.log", nil)
	poll(t, tl)
	recs := e.sink.records
	want(t, e.sink.lines(), "one", "ERROR two")
	if l := recs[0].Labels; l[LabelFilename] != e.path("app.log") || l[LabelSource] != DefaultSource || l["team"] != "db" {
		t.Errorf("labels %v", l)
	}
	if recs[1].Level != "error" {
		t.Errorf("level %q", recs[1].Level)
	}
	appendFile(t, e.path("app.log"), "three\n")
	poll(t, tl)
	want(t, e.sink.lines(), "three")
	poll(t, tl)
	want(t, e.sink.lines())
	// A file that comes to match the glob is read from its start.
	appendFile(t, e.path("new.log"), "fresh\n")
	poll(t, tl)
	want(t, e.sink.lines(), "fresh")
	if snap := e.stats.Snapshot()[ReceiverName]; snap.Items.Accepted != 4 {
		t.Errorf("stats %+v", snap)
	}
}

func TestPartialLineWaitsForNewline(t *testing.T) {
	e := newEnv(t)
	appendFile(t, e.path("app.log"), "done\nhalf")
	tl := e.tailer(t, "app.log", nil)
	poll(t, tl)
	want(t, e.sink.lines(), "done")
	poll(t, tl)
	want(t, e.sink.lines())
	appendFile(t, e.path("app.log"), " and the rest\n")
	poll(t, tl)
	want(t, e.sink.lines(), "half and the rest")
}

func TestRenameRotation(t *testing.T) {
	for _, glob := range []string{"app.log", "app.log*"} {
		t.Run(glob, func(t *testing.T) {
			e := newEnv(t)
			appendFile(t, e.path("app.log"), "1\n2\n")
			tl := e.tailer(t, glob, nil)
			poll(t, tl)
			want(t, e.sink.lines(), "1", "2")
			// Written before the rotation, read after it; the last line
			// of the old file has no newline.
			appendFile(t, e.path("app.log"), "3\n4")
			if err := os.Rename(e.path("app.log"), e.path("app.log.1")); err != nil {
				t.Fatal(err)
			}
			appendFile(t, e.path("app.log"), "5\n")
			poll(t, tl)
			want(t, e.sink.lines(), "3", "4", "5")
			appendFile(t, e.path("app.log"), "6\n")
			poll(t, tl)
			want(t, e.sink.lines(), "6")
		})
	}
}

func TestCopyTruncate(t *testing.T) {
	e := newEnv(t)
	appendFile(t, e.path("app.log"), "first line\nsecond line\n")
	tl := e.tailer(t, "app.log", nil)
	poll(t, tl)
	want(t, e.sink.lines(), "first line", "second line")
	if err := os.Truncate(e.path("app.log"), 0); err != nil {
		t.Fatal(err)
	}
	appendFile(t, e.path("app.log"), "3\n")
	poll(t, tl)
	want(t, e.sink.lines(), "3")
	// Truncated and written past the old offset between two polls: the
	// changed first bytes tell.
	if err := os.Truncate(e.path("app.log"), 0); err != nil {
		t.Fatal(err)
	}
	appendFile(t, e.path("app.log"), "a much longer line than before\n")
	poll(t, tl)
	want(t, e.sink.lines(), "a much longer line than before")
}

// TestRestart kills the tailer between batches (a hand-off fails, as when
// the process dies before the next one) and starts another on the same
// state file: nothing is lost and nothing repeated.
func TestRestart(t *testing.T) {
	e := newEnv(t)
	appendFile(t, e.path("app.log"), "1\n2\n3\n4\n5\n")
	small := func(o *Options) { o.BatchSize = 2 }
	tl := e.tailer(t, "app.log", small)
	e.sink.failAt = 2
	if err := tl.Poll(context.Background()); err == nil {
		t.Fatal("want the hand-off error")
	}
	want(t, e.sink.lines(), "1", "2")
	_ = tl.Shutdown(context.Background())

	e.sink.failAt = 0
	tl = e.tailer(t, "app.log", small)
	poll(t, tl)
	want(t, e.sink.lines(), "3", "4", "5")
	_ = tl.Shutdown(context.Background())

	// Stopped, then the file grows and is rotated, and a new file starts:
	// the next start reads the rest of the old one, then the new one.
	appendFile(t, e.path("app.log"), "6\n")
	if err := os.Rename(e.path("app.log"), e.path("app.log.1")); err != nil {
		t.Fatal(err)
	}
	appendFile(t, e.path("app.log"), "7\n")
	tl = e.tailer(t, "app.log*", small)
	poll(t, tl)
	want(t, e.sink.lines(), "6", "7")
	_ = tl.Shutdown(context.Background())

	// Once more: nothing new, nothing repeated.
	tl = e.tailer(t, "app.log*", small)
	poll(t, tl)
	want(t, e.sink.lines())
}

func TestFailedHandoffIsRetried(t *testing.T) {
	e := newEnv(t)
	appendFile(t, e.path("app.log"), "a\nb\n")
	tl := e.tailer(t, "app.log", nil)
	e.sink.fail = 1
	if err := tl.Poll(context.Background()); err == nil {
		t.Fatal("want the hand-off error")
	}
	want(t, e.sink.lines())
	poll(t, tl)
	want(t, e.sink.lines(), "a", "b")
}

func TestLongLines(t *testing.T) {
	e := newEnv(t)
	tl := e.tailer(t, "app.log", func(o *Options) { o.MaxLineBytes = 10 })
	// Longer than the limit, in one write and across two polls.
	appendFile(t, e.path("app.log"), "short\n"+strings.Repeat("x", 30)+"\nnext\n"+strings.Repeat("y", 12))
	poll(t, tl)
	want(t, e.sink.lines(), "short", "next")
	appendFile(t, e.path("app.log"), "yyy\nlast\n")
	poll(t, tl)
	want(t, e.sink.lines(), "last")
	if snap := e.stats.Snapshot()[ReceiverName]; snap.Rejected[ingest.ReasonTooLarge] != 2 {
		t.Errorf("stats %+v", snap)
	}
}

func TestRemovedFile(t *testing.T) {
	e := newEnv(t)
	appendFile(t, e.path("app.log"), "a\n")
	tl := e.tailer(t, "app.log", nil)
	poll(t, tl)
	appendFile(t, e.path("app.log"), "b\n")
	if err := os.Remove(e.path("app.log")); err != nil {
		t.Fatal(err)
	}
	// The open file is still read to its end.
	poll(t, tl)
	want(t, e.sink.lines(), "a", "b")
	appendFile(t, e.path("app.log"), "c\n")
	poll(t, tl)
	want(t, e.sink.lines(), "c")
}

// TestLoop runs the poll loop on an injected clock.
func TestLoop(t *testing.T) {
	e := newEnv(t)
	ticks := make(chan time.Time)
	tl := e.tailer(t, "app.log", func(o *Options) { o.After = func(time.Duration) <-chan time.Time { return ticks } })
	appendFile(t, e.path("app.log"), "a\n")
	if err := tl.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	ticks <- time.Time{} // the first poll is done
	appendFile(t, e.path("app.log"), "b\n")
	ticks <- time.Time{} // the second poll has started
	ticks <- time.Time{} // ... and is done
	if err := tl.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	want(t, e.sink.lines(), "a", "b")
}
