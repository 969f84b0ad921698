package loki

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/grafana/loki/pkg/push"
	"github.com/klauspost/compress/snappy"

	"github.com/osprey-aiops/osprey/internal/ingest"
)

// checkFuzzBatch holds for every decoded push: each record is within the
// limits and labelled, and every entry is accepted or rejected once.
func checkFuzzBatch(t *testing.T, b *batch, entries int) {
	t.Helper()
	if len(b.records)+b.nRejects != entries {
		t.Fatalf("%d accepted + %d rejected, but the push has %d entries", len(b.records), b.nRejects, entries)
	}
	sum := 0
	for _, n := range b.rejected {
		sum += n
	}
	if sum != b.nRejects || b.nRejects > 0 && b.firstErr == "" {
		t.Fatalf("rejections %v, %d, %q", b.rejected, b.nRejects, b.firstErr)
	}
	for _, r := range b.records {
		if r.Labels[LabelSource] != SourceLoki || len(r.Body) > b.lim.maxLineBytes || r.Time.Year() < 1970 || r.Time.Year() > 2262 {
			t.Fatalf("record %+v", r)
		}
		own := len(r.Labels) - 1
		if _, ok := r.Labels[labelExportedSource]; ok {
			own--
		}
		if own > b.lim.server.MaxLabelsPerEvent || own < 0 {
			t.Fatalf("%d labels", own)
		}
		for k := range r.Labels {
			if !ingest.ValidLabelName(k) {
				t.Fatalf("label name %q", k)
			}
		}
		if err := ingest.CheckAnnotations(r.Attributes, &b.lim.server); err != nil {
			t.Fatalf("attributes: %v", err)
		}
	}
	if _, err := json.Marshal(b.records); err != nil {
		t.Fatalf("records do not encode: %v", err)
	}
}

// addSeeds adds the files of testdata/<dir> to f's corpus, through decode.
func addSeeds(f *testing.F, dir string, decode func([]byte) ([]byte, error)) {
	paths, _ := filepath.Glob(filepath.Join("testdata", dir, "*"))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err == nil {
			b, err = decode(b)
		}
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// FuzzLokiJSON fuzzes the JSON push decoder, counting the entries with
// encoding/json as a reference.
func FuzzLokiJSON(f *testing.F) {
	addSeeds(f, "json", func(b []byte) ([]byte, error) { return b, nil })
	for _, s := range []string{
		`{"streams": [{"stream": {"a": "b", "level": "warn"}, "values": [["1", "x"], ["2", "y", {"k": "v"}]]}]}`,
		`{"streams": [{"stream": {}, "values": [["-1", "x"]]}, {"stream": {"source": "s"}, "values": [["1", "\u0000"]]}]}`,
		`{"streams": [{"stream": {"a": "b"}, "values": [["1", "x", {"detected_level": "ERROR"}]]}]}`,
		`{"streams": null}`, `[]`, `{"streams": [{"values": [[" 1", "x" , { } ]]}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		b, err := decodeForTest(body, false)
		if err != nil {
			return
		}
		var ref struct {
			Streams []struct {
				Values []json.RawMessage `json:"values"`
			} `json:"streams"`
		}
		if err := json.Unmarshal(body, &ref); err != nil {
			t.Fatalf("decoded a body encoding/json refuses: %v", err)
		}
		entries := 0
		for _, s := range ref.Streams {
			entries += len(s.Values)
		}
		checkFuzzBatch(t, b, entries)
	})
}

// FuzzLokiProto fuzzes the protobuf decoder (after snappy), with Loki's own
// generated code as the reference: what it reads (or writes back), Osprey
// reads, with the same number of entries.
func FuzzLokiProto(f *testing.F) {
	addSeeds(f, "proto", func(b []byte) ([]byte, error) { return snappy.Decode(nil, b) })
	for _, req := range []*push.PushRequest{
		{Streams: []push.Stream{{Labels: `{a="b", level="info"}`, Entries: []push.Entry{{Timestamp: t0, Line: "x"},
			{Timestamp: t0, Line: "y", StructuredMetadata: push.LabelsAdapter{{Name: "k", Value: "v"}}}}}}},
		{Streams: []push.Stream{{Labels: `{a=~"b"}`, Entries: []push.Entry{{Line: "x"}}}, {Labels: `{}`}}},
	} {
		raw, err := req.Marshal()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Add(pbBytes(nil, 1, pbBytes(pbBytes(nil, 2, pbEntry(1, 2, "x")), 1, []byte(`{a="b"}`))))
	f.Fuzz(func(t *testing.T, body []byte) {
		b, err := decodeForTest(body, true)
		var ref push.PushRequest
		if refErr := ref.Unmarshal(body); refErr != nil {
			return // Osprey skips fields Loki's decoder checks (hash, format, parsed)
		}
		if err != nil {
			// Loki's decoder is lax about malformed groups, which push
			// requests never hold; what it read must still be readable
			// once written back.
			again, merr := ref.Marshal()
			if merr != nil {
				return
			}
			if b, err = decodeForTest(again, true); err != nil {
				t.Fatalf("Loki's encoder wrote what Osprey's decoder refuses: %v", err)
			}
		}
		entries := 0
		for _, s := range ref.Streams {
			entries += len(s.Entries)
		}
		checkFuzzBatch(t, b, entries)
	})
}
