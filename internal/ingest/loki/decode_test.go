package loki

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/grafana/loki/pkg/push"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/ingest"
)

// want is an expected decode: records, and counts of rejected entries by
// reason.
type want struct {
	records  []osprey.LogRecord
	rejected map[ingest.Reason]int
	firstErr string // substring
}

func checkBatch(t *testing.T, b *batch, err error, w want) {
	t.Helper()
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if len(b.records) != len(w.records) {
		t.Fatalf("%d records, want %d: %+v", len(b.records), len(w.records), b.records)
	}
	for i := range w.records {
		if !reflect.DeepEqual(b.records[i], w.records[i]) {
			t.Errorf("record %d:\n got %+v\nwant %+v", i, b.records[i], w.records[i])
		}
	}
	if len(b.rejected) != len(w.rejected) {
		t.Errorf("rejected %v, want %v", b.rejected, w.rejected)
	}
	for r, n := range w.rejected {
		if b.rejected[r] != n {
			t.Errorf("rejected %v, want %v", b.rejected, w.rejected)
		}
	}
	if !strings.Contains(b.firstErr, w.firstErr) {
		t.Errorf("first error %q, want it to contain %q", b.firstErr, w.firstErr)
	}
}

var t0 = time.Date(2026, 3, 1, 11, 59, 0, 123456789, time.UTC)

func TestDecodeJSON(t *testing.T) {
	ts := "1772366340123456789" // t0
	tests := []struct {
		name string
		body string
		want want
	}{
		{name: "two streams",
			body: `{"streams": [
				{"stream": {"app": "api", "level": "WARN"}, "values": [["` + ts + `", "slow request"], ["` + ts + `", "again"]]},
				{"stream": {"app": "db"}, "values": [["` + ts + `", "level=error msg=\"disk full\"", {"trace_id": "abc"}]]}]}`,
			want: want{records: []osprey.LogRecord{
				{Time: t0, Labels: osprey.Labels{"app": "api", "level": "WARN", "source": "loki"}, Level: "warning", Body: "slow request"},
				{Time: t0, Labels: osprey.Labels{"app": "api", "level": "WARN", "source": "loki"}, Level: "warning", Body: "again"},
				{Time: t0, Labels: osprey.Labels{"app": "db", "source": "loki"}, Level: "error", Body: `level=error msg="disk full"`,
					Attributes: map[string]string{"trace_id": "abc"}},
			}}},
		{name: "level from structured metadata, escapes, own source label",
			body: `{"streams": [{"stream": {"source": "k8s"}, "values": [["` + ts + `", "caf\u00e9 \"x\"", {"detected_level": "Fatal"}]]}]}`,
			want: want{records: []osprey.LogRecord{
				{Time: t0, Labels: osprey.Labels{"exported_source": "k8s", "source": "loki"}, Level: "critical", Body: `café "x"`,
					Attributes: map[string]string{"detected_level": "Fatal"}},
			}}},
		{name: "unknown level word kept",
			body: `{"streams": [{"stream": {"a": "b", "detected_level": "unknown"}, "values": [["0", "x"]]}]}`,
			want: want{records: []osprey.LogRecord{
				{Time: time.Unix(0, 0).UTC(), Labels: osprey.Labels{"a": "b", "detected_level": "unknown", "source": "loki"}, Level: "unknown", Body: "x"},
			}}},
		{name: "empty push", body: `{"streams": []}`, want: want{}},
		{name: "unknown fields ignored", body: `{"streams": [{"stream": {"a": "b"}, "values": [], "x": 1}], "y": {}}`, want: want{}},
		{name: "stream without labels",
			body: `{"streams": [{"stream": {}, "values": [["1", "x"], ["2", "y"]]}]}`,
			want: want{rejected: map[ingest.Reason]int{ingest.ReasonInvalid: 2}, firstErr: "at least one label pair is required"}},
		{name: "bad label name",
			body: `{"streams": [{"stream": {"a-b": "1"}, "values": [["1", "x"]]}]}`,
			want: want{rejected: map[ingest.Reason]int{ingest.ReasonInvalid: 1}, firstErr: "invalid label name"}},
		{name: "too many labels, valid stream kept",
			body: `{"streams": [{"stream": {"a": "1", "b": "2", "c": "3", "d": "4", "e": "5"}, "values": [["1", "x"]]},
				{"stream": {"a": "1"}, "values": [["` + ts + `", "kept"]]}]}`,
			want: want{records: []osprey.LogRecord{{Time: t0, Labels: osprey.Labels{"a": "1", "source": "loki"}, Body: "kept"}},
				rejected: map[ingest.Reason]int{ingest.ReasonLabelLimit: 1}, firstErr: "streams[0]: labels: 5 labels, at most 4"}},
		{name: "line too long",
			body: `{"streams": [{"stream": {"a": "1"}, "values": [["1", "` + strings.Repeat("x", 65) + `"], ["` + ts + `", "ok"]]}]}`,
			want: want{records: []osprey.LogRecord{{Time: t0, Labels: osprey.Labels{"a": "1", "source": "loki"}, Body: "ok"}},
				rejected: map[ingest.Reason]int{ingest.ReasonTooLarge: 1},
				firstErr: `Max entry size '64' bytes exceeded for stream '{a="1", source="loki"}' while adding an entry with length '65' bytes`}},
		{name: "bad timestamps",
			body: `{"streams": [{"stream": {"a": "1"}, "values": [["-1", "x"], ["1.5e9", "y"], ["99999999999999999999", "z"]]}]}`,
			want: want{rejected: map[ingest.Reason]int{ingest.ReasonInvalid: 3}, firstErr: "streams[0].values[0]: timestamp: outside 1970 to 2262"}},
		{name: "structured metadata over the limit",
			body: `{"streams": [{"stream": {"a": "1"}, "values": [["1", "x", {"k": "` + strings.Repeat("v", 33) + `"}]]}]}`,
			want: want{rejected: map[ingest.Reason]int{ingest.ReasonLabelLimit: 1}, firstErr: "structured metadata"}},
		{name: "NUL in a label value",
			body: `{"streams": [{"stream": {"a": "\u0000"}, "values": [["1", "x"]]}]}`,
			want: want{rejected: map[ingest.Reason]int{ingest.ReasonInvalid: 1}, firstErr: "NUL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := decodeForTest([]byte(tt.body), false)
			checkBatch(t, b, err, tt.want)
		})
	}
}

func TestDecodeJSONMalformed(t *testing.T) {
	for name, body := range map[string]string{
		"not json":             `streams`,
		"truncated":            `{"streams": [`,
		"streams not an array": `{"streams": {}}`,
		"labels not strings":   `{"streams": [{"stream": {"a": 1}, "values": []}]}`,
		"value not an array":   `{"streams": [{"stream": {"a": "b"}, "values": ["x"]}]}`,
		"one element":          `{"streams": [{"stream": {"a": "b"}, "values": [["1"]]}]}`,
		"four elements":        `{"streams": [{"stream": {"a": "b"}, "values": [["1", "x", {}, 4]]}]}`,
		"number timestamp":     `{"streams": [{"stream": {"a": "b"}, "values": [[1, "x"]]}]}`,
		"metadata not strings": `{"streams": [{"stream": {"a": "b"}, "values": [["1", "x", {"k": 1}]]}]}`,
		"metadata an array":    `{"streams": [{"stream": {"a": "b"}, "values": [["1", "x", ["k"]]]}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			if b, err := decodeForTest([]byte(body), false); err == nil {
				t.Fatalf("decoded %q: %+v", body, b.records)
			}
		})
	}
}

func TestDecodeProto(t *testing.T) {
	meta := push.LabelsAdapter{{Name: "trace_id", Value: "abc"}, {Name: "level", Value: "debug"}}
	tests := []struct {
		name string
		req  *push.PushRequest
		want want
	}{
		{name: "promtail-shaped push",
			req: &push.PushRequest{Streams: []push.Stream{
				{Labels: `{filename="/var/log/app.log", job="app"}`, Entries: []push.Entry{
					{Timestamp: t0, Line: "2026-03-01T11:59:00Z ERROR boom"},
					{Timestamp: t0, Line: "plain", StructuredMetadata: meta},
				}},
				{Labels: `{job="app", level="info"}`, Entries: []push.Entry{{Timestamp: t0, Line: "x"}}},
			}},
			want: want{records: []osprey.LogRecord{
				{Time: t0, Labels: osprey.Labels{"filename": "/var/log/app.log", "job": "app", "source": "loki"}, Level: "error",
					Body: "2026-03-01T11:59:00Z ERROR boom"},
				{Time: t0, Labels: osprey.Labels{"filename": "/var/log/app.log", "job": "app", "source": "loki"}, Level: "debug",
					Body: "plain", Attributes: map[string]string{"trace_id": "abc", "level": "debug"}},
				{Time: t0, Labels: osprey.Labels{"job": "app", "level": "info", "source": "loki"}, Level: "info", Body: "x"},
			}}},
		{name: "bad labels text rejects the stream only",
			req: &push.PushRequest{Streams: []push.Stream{
				{Labels: `{job=~"app"}`, Entries: []push.Entry{{Timestamp: t0, Line: "a"}, {Timestamp: t0, Line: "b"}}},
				{Labels: `{job="ok"}`, Entries: []push.Entry{{Timestamp: t0, Line: "c"}}},
			}},
			want: want{records: []osprey.LogRecord{{Time: t0, Labels: osprey.Labels{"job": "ok", "source": "loki"}, Body: "c"}},
				rejected: map[ingest.Reason]int{ingest.ReasonMalformed: 2}, firstErr: "streams[0]: labels: at byte 5"}},
		{name: "empty labels",
			req:  &push.PushRequest{Streams: []push.Stream{{Labels: `{}`, Entries: []push.Entry{{Timestamp: t0, Line: "a"}}}}},
			want: want{rejected: map[ingest.Reason]int{ingest.ReasonInvalid: 1}, firstErr: "at least one label pair"}},
		{name: "before 1970",
			req: &push.PushRequest{Streams: []push.Stream{{Labels: `{a="b"}`, Entries: []push.Entry{
				{Timestamp: time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC), Line: "a"}}}}},
			want: want{rejected: map[ingest.Reason]int{ingest.ReasonInvalid: 1}, firstErr: "outside 1970 to 2262"}},
		{name: "line too long",
			req: &push.PushRequest{Streams: []push.Stream{{Labels: `{a="b"}`, Entries: []push.Entry{
				{Timestamp: t0, Line: strings.Repeat("y", 100)}}}}},
			want: want{rejected: map[ingest.Reason]int{ingest.ReasonTooLarge: 1}, firstErr: "Max entry size '64' bytes exceeded"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := tt.req.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			b, err := decodeForTest(raw, true)
			checkBatch(t, b, err, tt.want)
		})
	}
}

// Hand-built protobuf, for what Loki's encoder never writes: fields out of
// order, unknown fields, wrong wire types, truncation.
func pbBytes(b []byte, num protowire.Number, v []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

func pbVarint(b []byte, num protowire.Number, v uint64) []byte {
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

func pbEntry(sec, nanos int64, line string) []byte {
	ts := pbVarint(pbVarint(nil, 1, uint64(sec)), 2, uint64(nanos))
	return pbBytes(pbBytes(nil, 1, ts), 2, []byte(line))
}

func TestDecodeProtoWire(t *testing.T) {
	entry := pbEntry(t0.Unix(), int64(t0.Nanosecond()), "hello")
	labels := []byte(`{a="b"}`)
	rec := osprey.LogRecord{Time: t0, Labels: osprey.Labels{"a": "b", "source": "loki"}, Body: "hello"}

	// Entries before the labels, a hash, unknown fields of every wire type.
	stream := pbBytes(nil, 2, entry)
	stream = pbVarint(stream, 3, 42)
	stream = pbBytes(stream, 1, labels)
	stream = protowire.AppendTag(stream, 9, protowire.Fixed64Type)
	stream = protowire.AppendFixed64(stream, 7)
	stream = protowire.AppendTag(stream, 10, protowire.Fixed32Type)
	stream = protowire.AppendFixed32(stream, 7)
	req := pbBytes(nil, 1, stream)
	req = pbBytes(req, 2, []byte("loki")) // PushRequest.format
	b, err := decodeForTest(req, true)
	checkBatch(t, b, err, want{records: []osprey.LogRecord{rec}})

	// A stream without a labels field: like {}.
	b, err = decodeForTest(pbBytes(nil, 1, pbBytes(nil, 2, entry)), true)
	checkBatch(t, b, err, want{rejected: map[ingest.Reason]int{ingest.ReasonMalformed: 1}, firstErr: "want '{'"})

	// Negative nanos, encoded as protobuf encodes a negative int32.
	minusOne := int64(-1)
	neg := pbBytes(nil, 1, pbVarint(pbVarint(nil, 1, 5), 2, uint64(minusOne)))
	b, err = decodeForTest(pbBytes(nil, 1, pbBytes(pbBytes(nil, 1, labels), 2, neg)), true)
	checkBatch(t, b, err, want{rejected: map[ingest.Reason]int{ingest.ReasonInvalid: 1}, firstErr: "nanos -1"})

	// An entry with no timestamp is at the epoch, as Loki's decoder reads it.
	b, err = decodeForTest(pbBytes(nil, 1, pbBytes(pbBytes(nil, 1, labels), 2, pbBytes(nil, 2, []byte("x")))), true)
	checkBatch(t, b, err, want{records: []osprey.LogRecord{{Time: time.Unix(0, 0).UTC(), Labels: rec.Labels, Body: "x"}}})

	for name, body := range map[string][]byte{
		"truncated":                 req[:len(req)-3],
		"streams as varint":         pbVarint(nil, 1, 1),
		"labels as varint":          pbBytes(nil, 1, pbVarint(nil, 1, 1)),
		"entries as varint":         pbBytes(nil, 1, pbVarint(pbBytes(nil, 1, labels), 2, 1)),
		"line as varint":            pbBytes(nil, 1, pbBytes(pbBytes(nil, 1, labels), 2, pbVarint(nil, 2, 1))),
		"timestamp as varint":       pbBytes(nil, 1, pbBytes(pbBytes(nil, 1, labels), 2, pbVarint(nil, 1, 1))),
		"metadata as varint":        pbBytes(nil, 1, pbBytes(pbBytes(nil, 1, labels), 2, pbVarint(nil, 3, 1))),
		"metadata name as varint":   pbBytes(nil, 1, pbBytes(pbBytes(nil, 1, labels), 2, pbBytes(nil, 3, pbVarint(nil, 1, 1)))),
		"truncated entry":           pbBytes(nil, 1, pbBytes(pbBytes(nil, 1, labels), 2, entry[:len(entry)-2])),
		"truncated timestamp":       pbBytes(nil, 1, pbBytes(pbBytes(nil, 1, labels), 2, pbBytes(nil, 1, []byte{0x08}))),
		"field number zero":         {0x02, 0x00},
		"end group without a start": {0x0c},
	} {
		t.Run(name, func(t *testing.T) {
			if b, err := decodeForTest(body, true); err == nil {
				t.Fatalf("decoded: %+v", b.records)
			}
		})
	}
}
