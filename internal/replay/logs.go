package replay

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/logparse"
)

// LogSource is a log file, one record per line, as a log shipper (Promtail,
// the OpenTelemetry Collector's filelog receiver) would send it to the Loki
// receiver: the body is the whole line, the time and level are what
// logparse.Detect finds in it (the level, failing that, what
// logparse.DetectLevel finds). A line without a time gets the previous
// line's; lines before the first timed line are skipped and counted. RFC 3164
// syslog stamps, which carry no year, get the year of the file's
// modification time (the year before, if that would put them more than a
// day after it).
//
// Records are labelled source=<file name> and service=<file name without
// extension> (the service label groups them with the same service's
// metrics and alerts), plus host and app when the line's header names them.
type LogSource struct {
	Path string
	// Service overrides the service label; empty means the file name
	// without extension.
	Service string
}

// Kind implements Source.
func (s LogSource) Kind() string { return KindLogs }

// Name implements Source.
func (s LogSource) Name() string { return s.Path }

// Open implements Source.
func (s LogSource) Open(_ context.Context, w Window) (Stream, error) {
	f, err := os.Open(s.Path)
	if err != nil {
		return nil, fmt.Errorf("log input: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("log input: %w", err)
	}
	base := filepath.Base(s.Path)
	svc := s.Service
	if svc == "" {
		svc = strings.TrimSuffix(base, filepath.Ext(base))
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), maxLineBytes)
	return &logStream{f: f, sc: sc, name: s.Path, w: w, mtime: fi.ModTime().UTC(), source: base, service: svc}, nil
}

// logStream reads a log file line by line.
type logStream struct {
	f       *os.File
	sc      *bufio.Scanner
	name    string
	w       Window
	mtime   time.Time
	source  string
	service string
	line    int
	last    time.Time
	// Untimed counts the lines skipped because no line before them had a
	// time.
	untimed int64
}

// Untimed returns the number of lines skipped for want of a time.
func (s *logStream) Untimed() int64 { return s.untimed }

// Next implements Stream.
func (s *logStream) Next() (Item, bool, error) {
	for s.sc.Scan() {
		s.line++
		text := strings.TrimRight(s.sc.Text(), "\r")
		if strings.TrimSpace(text) == "" {
			continue
		}
		h := logparse.Detect(text)
		t := h.Time
		if !t.IsZero() && t.Year() == 0 {
			t = withYear(t, s.mtime)
		}
		if t.IsZero() {
			t = s.last
		}
		if t.IsZero() {
			s.untimed++
			continue
		}
		t = t.UTC()
		s.last = t
		if !s.w.in(t) {
			continue
		}
		level := h.Level
		if level == "" {
			level = logparse.DetectLevel(text)
		}
		labels := osprey.Labels{"source": s.source}
		if s.service != "" {
			labels[osprey.LabelService] = s.service
		}
		if h.Host != "" {
			labels[osprey.LabelHost] = h.Host
		}
		if h.App != "" {
			labels["app"] = h.App
		}
		rec := &osprey.LogRecord{Time: t, Labels: labels, Level: level, Body: text, Attributes: h.Attributes}
		return Item{At: t, Log: rec}, true, nil
	}
	if err := s.sc.Err(); err != nil {
		return Item{}, false, &InputError{File: s.name, Line: s.line + 1, Err: err}
	}
	return Item{}, false, nil
}

// Close implements Stream.
func (s *logStream) Close() error { return s.f.Close() }

// withYear gives t (year 0, from an RFC 3164 stamp) the year of ref, or the
// year before when that would put t more than a day after ref.
func withYear(t, ref time.Time) time.Time {
	y := ref.Year()
	out := time.Date(y, t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
	if out.After(ref.Add(24 * time.Hour)) {
		out = out.AddDate(-1, 0, 0)
	}
	return out
}
