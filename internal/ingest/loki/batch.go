package loki

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/config"
	"github.com/osprey-aiops/osprey/internal/ingest"
	"github.com/osprey-aiops/osprey/internal/logparse"
)

// Labels the receiver reads or writes.
const (
	// LabelSource is set to "loki" on every record. A stream's own source
	// label is kept as exported_source, as Prometheus keeps a target label
	// that a scrape label displaced.
	LabelSource         = "source"
	labelExportedSource = "exported_source"
	// SourceLoki is the value of LabelSource.
	SourceLoki = "loki"
)

// levelKeys are the stream labels and structured-metadata names that state a
// line's level; Loki itself writes detected_level.
var levelKeys = [...]string{"level", "detected_level"}

// metaPair is one structured-metadata pair as decoded.
type metaPair struct{ name, value string }

// limits are the decoder's bounds, from Options.
type limits struct {
	server       config.ServerConfig // labels per stream, bytes per name/value, metadata pairs per line
	maxLineBytes int
}

// batch collects the records of one push request and what was rejected.
type batch struct {
	lim *limits
	now time.Time

	records  []osprey.LogRecord
	rejected map[ingest.Reason]int
	nRejects int
	firstErr string
}

func newBatch(lim *limits, now time.Time) *batch {
	return &batch{lim: lim, now: now}
}

// reject counts n entries rejected for reason, keeping the first message.
func (b *batch) reject(reason ingest.Reason, n int, msg string) {
	if n <= 0 {
		return
	}
	if b.rejected == nil {
		b.rejected = make(map[ingest.Reason]int, 2)
	}
	b.rejected[reason] += n
	if b.nRejects == 0 {
		b.firstErr = msg
	}
	b.nRejects += n
}

// streamState is a validated stream: its labels, shared by its records, and
// the level its labels state.
type streamState struct {
	index  int
	labels osprey.Labels
	level  string
	// bad is set when the whole stream is rejected: every entry is then
	// counted with badReason and skipped.
	bad       bool
	badReason ingest.Reason
	badMsg    string
}

// stream validates the labels of the stream at index i. parseErr is the
// labels' syntax error, if any (protobuf carries them as text).
func (b *batch) stream(i int, labels osprey.Labels, parseErr error) *streamState {
	st := &streamState{index: i}
	fail := func(reason ingest.Reason, err error) *streamState {
		st.bad, st.badReason, st.badMsg = true, reason, fmt.Sprintf("streams[%d]: %v", i, err)
		return st
	}
	if parseErr != nil {
		return fail(ingest.ReasonMalformed, fmt.Errorf("labels: %w", parseErr))
	}
	if len(labels) == 0 {
		return fail(ingest.ReasonInvalid, errors.New("error at least one label pair is required per stream"))
	}
	if err := ingest.CheckLabels(labels, &b.lim.server); err != nil {
		if errors.Is(err, ingest.ErrLabelLimit) {
			return fail(ingest.ReasonLabelLimit, err)
		}
		return fail(ingest.ReasonInvalid, err)
	}
	for _, k := range levelKeys {
		if v := labels[k]; v != "" {
			st.level = level(v)
			break
		}
	}
	if v, ok := labels[LabelSource]; ok {
		labels[labelExportedSource] = v
	}
	labels[LabelSource] = SourceLoki
	st.labels = labels
	return st
}

// skip counts n entries of a rejected stream.
func (b *batch) skip(st *streamState, n int) {
	b.reject(st.badReason, n, st.badMsg)
}

// entry converts one entry of st. tsNanos is Unix nanoseconds; ok is false
// when the sender's timestamp was out of range or unreadable (tsErr says
// how). meta is the entry's structured metadata.
func (b *batch) entry(st *streamState, j int, tsNanos int64, tsErr error, line string, meta []metaPair) {
	if st.bad {
		b.skip(st, 1)
		return
	}
	if tsErr != nil {
		b.reject(ingest.ReasonInvalid, 1, fmt.Sprintf("streams[%d].values[%d]: timestamp: %v", st.index, j, tsErr))
		return
	}
	if len(line) > b.lim.maxLineBytes {
		// Loki's own wording, so that operators recognise it.
		b.reject(ingest.ReasonTooLarge, 1, fmt.Sprintf("Max entry size '%d' bytes exceeded for stream '%s' while adding an entry with length '%d' bytes",
			b.lim.maxLineBytes, formatLabels(st.labels), len(line)))
		return
	}
	rec := osprey.LogRecord{Time: time.Unix(0, tsNanos).UTC(), Labels: st.labels, Level: st.level, Body: line}
	if len(meta) > 0 {
		attrs := make(map[string]string, len(meta))
		for _, m := range meta {
			attrs[m.name] = m.value
		}
		if err := ingest.CheckAnnotations(attrs, &b.lim.server); err != nil {
			reason := ingest.ReasonInvalid
			if errors.Is(err, ingest.ErrLabelLimit) {
				reason = ingest.ReasonLabelLimit
			}
			b.reject(reason, 1, fmt.Sprintf("streams[%d].values[%d]: structured metadata: %v", st.index, j,
				strings.Replace(err.Error(), "annotation", "structured metadata", 1)))
			return
		}
		rec.Attributes = attrs
		if rec.Level == "" {
			for _, k := range levelKeys {
				if v := attrs[k]; v != "" {
					rec.Level = level(v)
					break
				}
			}
		}
	}
	if rec.Level == "" {
		rec.Level = logparse.DetectLevel(line)
	}
	b.records = append(b.records, rec)
}

// level normalises a stated level word; a word logparse does not know is
// kept in lower case (Loki's own "unknown" included).
func level(v string) string {
	if l := logparse.NormaliseLevel(v); l != "" {
		return l
	}
	return strings.ToLower(v)
}

// Unix nanosecond timestamps must fit an int64 and not be negative: the
// range every store and JSON carry (1970 to 2262).
const maxSeconds = math.MaxInt64/1_000_000_000 - 1

var errTimeRange = errors.New("outside 1970 to 2262")
