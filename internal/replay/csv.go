package replay

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/osprey-aiops/osprey"
)

// InputError is a problem in an input file, naming the file, the line
// (0 when the problem is not on one line) and the field.
type InputError struct {
	File  string
	Line  int
	Field string
	Err   error
}

func (e *InputError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *InputError) Unwrap() error { return e.Err }

// maxLineBytes bounds one line of a CSV, JSONL or log file.
const maxLineBytes = 1 << 20

// CSVSource is a NAB-style CSV file: a header line, then timestamp,value
// rows (further columns are ignored). The series is named after the file:
// its base name without extension, made a valid metric name, as __name__.
type CSVSource struct{ Path string }

// Kind implements Source.
func (s CSVSource) Kind() string { return KindCSV }

// Name implements Source.
func (s CSVSource) Name() string { return s.Path }

// Open implements Source. The whole file is read (and checked) first.
func (s CSVSource) Open(_ context.Context, w Window) (Stream, error) {
	f, err := os.Open(s.Path)
	if err != nil {
		return nil, fmt.Errorf("csv input: %w", err)
	}
	defer f.Close()
	samples, err := ReadCSV(f, s.Path)
	if err != nil {
		return nil, err
	}
	labels := osprey.Labels{osprey.LabelMetric: MetricName(s.Path)}
	return newWindowStream([]seriesCursor{{labels: labels, cursor: &sliceCursor{samples: samples}}}, w, nil), nil
}

// MetricName turns a file path into a metric name: the base name without
// extension, with every character outside [a-zA-Z0-9_:] replaced by '_'
// and a leading digit prefixed with '_'.
func MetricName(path string) string {
	base := filepath.Base(path)
	base = strings.TrimSuffix(base, filepath.Ext(base))
	b := []byte(base)
	for i, c := range b {
		ok := c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !ok {
			b[i] = '_'
		}
	}
	name := string(b)
	if name == "" || name[0] >= '0' && name[0] <= '9' {
		name = "_" + name
	}
	return name
}

// ReadCSV reads timestamp,value rows; name is the file name for errors.
// A first line whose timestamp does not parse is taken as the header. The
// samples are returned sorted by time (stable for equal times).
func ReadCSV(r io.Reader, name string) ([]osprey.Sample, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxLineBytes)
	var out []osprey.Sample
	line := 0
	sorted := true
	for sc.Scan() {
		line++
		text := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(text) == "" {
			continue
		}
		ts, rest, ok := strings.Cut(text, ",")
		if !ok {
			if line == 1 {
				continue // a one-column header
			}
			return nil, &InputError{File: name, Line: line, Field: "value", Err: errors.New("missing: want timestamp,value")}
		}
		val, _, _ := strings.Cut(rest, ",")
		t, terr := parseTimestamp(strings.TrimSpace(ts))
		if terr != nil {
			if line == 1 {
				continue // the header
			}
			return nil, &InputError{File: name, Line: line, Field: "timestamp", Err: terr}
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil {
			return nil, &InputError{File: name, Line: line, Field: "value", Err: fmt.Errorf("%q is not a number", clipText(val))}
		}
		smp := osprey.Sample{TimestampMs: t.UnixMilli(), Value: v}
		if n := len(out); n > 0 && out[n-1].TimestampMs > smp.TimestampMs {
			sorted = false
		}
		out = append(out, smp)
	}
	if err := sc.Err(); err != nil {
		return nil, &InputError{File: name, Line: line + 1, Err: err}
	}
	if !sorted {
		slices.SortStableFunc(out, func(a, b osprey.Sample) int { return compareInt(a.TimestampMs, b.TimestampMs) })
	}
	return out, nil
}

// Time layouts parseTimestamp accepts besides epoch numbers.
var timeLayouts = []string{time.RFC3339Nano, time.DateTime, "2006-01-02T15:04:05", "2006-01-02 15:04:05.999999999"}

// parseTimestamp parses an RFC 3339 time, "2006-01-02 15:04:05" (UTC, as
// in NAB), or a Unix epoch in seconds (fractions allowed) or, above 1e11,
// milliseconds.
func parseTimestamp(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, errors.New("empty")
	}
	if c := s[0]; c >= '0' && c <= '9' && !strings.ContainsAny(s, "-:T ") {
		f, err := strconv.ParseFloat(s, 64)
		if err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) && f >= 0 && f < 1e16 {
			if f > 1e11 {
				return time.UnixMilli(int64(f)).UTC(), nil
			}
			sec, frac := math.Modf(f)
			return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
		}
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time (RFC 3339, \"2006-01-02 15:04:05\" or Unix seconds)", clipText(s))
}

// clipText shortens s for an error message.
func clipText(s string) string {
	const n = 64
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

func compareInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
