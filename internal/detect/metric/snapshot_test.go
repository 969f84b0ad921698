package metric

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/snapfile"
)

// snapLabels are the series fed by learnedEngine.
var snapLabels = []osprey.Labels{
	{osprey.LabelMetric: "cpu", "host": "a"},     // spiked at the end: anomaly open
	{osprey.LabelMetric: "latency", "host": "b"}, // daily season
	{osprey.LabelMetric: "queue", "host": "c"},   // desensitised by feedback
	{osprey.LabelMetric: "young", "host": "d"},   // a handful of samples
}

// snapValues returns sample i of series k.
func snapValues(k int) []float64 {
	switch k {
	case 0:
		return signal(3000, 11, func(i int, e float64) float64 {
			if i >= 1500 && i < 1503 {
				return 130
			}
			return 50 + e
		})
	case 1:
		return signal(3000, 12, func(i int, e float64) float64 { return 100 + 20*float64(i%288)/288 + e })
	case 2:
		return signal(3000, 13, func(i int, e float64) float64 { return 10 + 3*e })
	default:
		return signal(3000, 14, func(i int, e float64) float64 { return e })
	}
}

// feedSnap consumes samples [from, to) of every series (the fourth only up to
// 5) in batches of 100.
func feedSnap(t testing.TB, eng *Engine, from, to int) {
	t.Helper()
	for start := from; start < to; start += 100 {
		var batch []osprey.Series
		for k, l := range snapLabels {
			vals := snapValues(k)
			s := osprey.Series{Labels: l}
			for i := start; i < min(start+100, to); i++ {
				if k == 3 && i >= 5 {
					break
				}
				s.Samples = append(s.Samples, osprey.Sample{TimestampMs: int64(i) * step, Value: vals[i]})
			}
			batch = append(batch, s)
		}
		if err := eng.ConsumeSeries(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
	}
}

// learnedEngine returns an engine that has learnt the first 1501 samples
// (the spike of the first series is open) and taken feedback on the third.
func learnedEngine(t testing.TB) (*Engine, *collector) {
	t.Helper()
	out := &collector{}
	eng, err := NewEngine(DefaultConfig(), out, 0)
	if err != nil {
		t.Fatal(err)
	}
	feedSnap(t, eng, 0, 1501)
	a := osprey.Anomaly{Kind: osprey.AnomalyMetric, Labels: snapLabels[2], Score: 0.7}
	if !eng.Feedback(a, osprey.FeedbackFalsePositive) {
		t.Fatal("feedback not applied")
	}
	return eng, out
}

func snapshotBytes(t testing.TB, eng *Engine) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := eng.Snapshot(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

var update = flag.Bool("update", false, "rewrite testdata/*.golden with the current format")

// TestSnapshotGolden holds the format to files an earlier build wrote
// (testdata/snapshot-v<snapVersion>.golden: the learnedEngine state, with
// an open anomaly and feedback; testdata/tracker-v<snapVersion>.golden:
// the Tracker of its first series, as the log detector embeds it). Restore and
// UnmarshalBinary read them, and Snapshot and AppendBinary of what they
// read write them again byte for byte, so that a snapshot written before a
// change loads after it and the other way round. A change of the format
// fails here: it needs a new snapVersion and `go test -run Golden -update`,
// which writes the files of the new version; those of the previous one
// stay, as fixtures of a test that it is still read (as
// TestSnapshotReadsVersion2 does for version 2).
func TestSnapshotGolden(t *testing.T) {
	snapPath := filepath.Join("testdata", fmt.Sprintf("snapshot-v%d.golden", snapVersion))
	trackerPath := filepath.Join("testdata", fmt.Sprintf("tracker-v%d.golden", snapVersion))
	if *update {
		eng, _ := learnedEngine(t)
		rec, err := eng.series[snapLabels[0].Fingerprint()].AppendBinary(nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		for path, b := range map[string][]byte{snapPath: snapshotBytes(t, eng), trackerPath: rec} {
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	golden, err := os.ReadFile(snapPath)
	if err != nil {
		t.Fatal(err)
	}
	eng, _ := NewEngine(DefaultConfig(), &collector{}, 0)
	if err := eng.Restore(bytes.NewReader(golden)); err != nil {
		t.Fatalf("restore %s: %v", snapPath, err)
	}
	if eng.Series() != len(snapLabels) {
		t.Fatalf("restored %d series, the file holds %d", eng.Series(), len(snapLabels))
	}
	first := eng.series[snapLabels[0].Fingerprint()]
	if first == nil || first.open == nil || first.model.n == 0 {
		t.Fatalf("first series restored as %+v, want a learnt model with an open anomaly", first)
	}
	if thr, ok := eng.Threshold(snapLabels[2]); !ok || thr <= DefaultConfig().Threshold {
		t.Errorf("feedback lost: threshold %v, %v", thr, ok)
	}
	if again := snapshotBytes(t, eng); !bytes.Equal(again, golden) {
		t.Errorf("snapshot of the restored engine (%d bytes) differs from %s (%d bytes)", len(again), snapPath, len(golden))
	}

	rec, err := os.ReadFile(trackerPath)
	if err != nil {
		t.Fatal(err)
	}
	var tr Tracker
	if err := tr.UnmarshalBinary(rec); err != nil {
		t.Fatalf("unmarshal %s: %v", trackerPath, err)
	}
	if !reflect.DeepEqual(&tr, first) {
		t.Errorf("%s decodes to another tracker than the snapshot's first series", trackerPath)
	}
	if again, err := tr.AppendBinary(nil); err != nil || !bytes.Equal(again, rec) {
		t.Errorf("AppendBinary of %s differs from it (err %v)", trackerPath, err)
	}
}

func TestModelRecordCoversModel(t *testing.T) {
	// Every field of Model is encoded: a field added to Model and not to
	// the codec changes binary.Size but not the encoded length.
	eng, _ := learnedEngine(t)
	for fp, tr := range eng.series {
		var enc snapfile.Encoder
		encodeModel(&enc, &tr.model)
		if len(enc.B) != modelRecordSize {
			t.Fatalf("encoded model is %d bytes, Model's fields take %d", len(enc.B), modelRecordSize)
		}
		d := newSnapDecoder(bytes.NewReader(enc.B), snapVersion)
		var m Model
		d.model(&m)
		if err := d.End(); err != nil || m != tr.model {
			t.Errorf("series %x: model does not round-trip (err %v)", fp, err)
		}
	}
	if modelRecordSize > 2048 {
		t.Errorf("model record %d bytes, want ≤ 2 KiB", modelRecordSize)
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	eng, _ := learnedEngine(t)
	if eng.series[snapLabels[0].Fingerprint()].open == nil {
		t.Fatal("setup: the first series has no open anomaly")
	}
	snap := snapshotBytes(t, eng)

	out2 := &collector{}
	restored, err := NewEngine(DefaultConfig(), out2, 0)
	if err != nil {
		t.Fatal(err)
	}
	feedSnap(t, restored, 0, 10) // learnt before the restore: replaced
	if err := restored.Restore(bytes.NewReader(snap)); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(restored.series, eng.series) {
		t.Fatal("restored state differs")
	}
	if again := snapshotBytes(t, restored); !bytes.Equal(again, snap) {
		t.Error("snapshot of the restored engine differs")
	}
	if thr, ok := restored.Threshold(snapLabels[2]); !ok || thr <= DefaultConfig().Threshold {
		t.Errorf("feedback lost: threshold %v, %v", thr, ok)
	}

	// The next samples give the same results as without the restart: the
	// open spike closes with the ID it opened with.
	spikeID := eng.series[snapLabels[0].Fingerprint()].open.ID
	out1 := &collector{}
	eng.out = out1
	feedSnap(t, eng, 1501, 3000)
	feedSnap(t, restored, 1501, 3000)
	if len(out1.got) == 0 {
		t.Fatal("setup: no anomaly after the snapshot")
	}
	if len(out1.got) != len(out2.got) {
		t.Fatalf("%d anomalies after restart, %d without", len(out2.got), len(out1.got))
	}
	closedSpike := false
	for i := range out1.got {
		a, b := out1.got[i], out2.got[i]
		if a.ID == spikeID {
			closedSpike = true
		} else {
			// Opened after the snapshot: IDs are random.
			a.ID, b.ID = "", ""
		}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("anomaly %d:\n without restart %+v\n after restart   %+v", i, a, b)
		}
	}
	if !closedSpike {
		t.Error("the spike open at the snapshot was not closed")
	}
	for fp, tr := range eng.series {
		if restored.series[fp].model != tr.model {
			t.Errorf("series %x: models diverged after the restart", fp)
		}
	}
}

func TestRestoreEmptyEngine(t *testing.T) {
	eng, _ := NewEngine(DefaultConfig(), &collector{}, 0)
	snap := snapshotBytes(t, eng)
	other, _ := learnedEngine(t)
	if err := other.Restore(bytes.NewReader(snap)); err != nil || other.Series() != 0 {
		t.Errorf("restore of an empty snapshot: %v, %d series", err, other.Series())
	}
}

func TestRestoreKeepsSeriesBound(t *testing.T) {
	eng, _ := learnedEngine(t)
	small, _ := NewEngine(DefaultConfig(), &collector{}, 2)
	if err := small.Restore(bytes.NewReader(snapshotBytes(t, eng))); err != nil {
		t.Fatal(err)
	}
	if small.Series() != 2 {
		t.Errorf("restored %d series into an engine bounded to 2", small.Series())
	}
}

// resum recomputes the checksum of a snapshot whose body was edited, so
// that the decoder's own checks are reached.
func resum(b []byte) []byte {
	b = bytes.Clone(b)
	n := len(b) - 4
	binary.LittleEndian.PutUint32(b[n:], crc32.Checksum(b[:n], crc32.MakeTable(crc32.Castagnoli)))
	return b
}

func TestRestoreRefusesBadSnapshots(t *testing.T) {
	eng, _ := learnedEngine(t)
	snap := snapshotBytes(t, eng)
	flip := func(i int) []byte { b := bytes.Clone(snap); b[i] ^= 0x10; return b }
	set := func(off int, v uint32) []byte {
		b := bytes.Clone(snap)
		binary.LittleEndian.PutUint32(b[off:], v)
		return resum(b)
	}
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "truncated"},
		{"foreign", []byte("SQLite format 3\x00 and more bytes"), "bad magic"},
		{"old version (before the burst component)", set(8, 1), fmt.Sprintf("version 1, this build reads versions 2 to %d", snapVersion)},
		{"newer version", set(8, snapVersion+1), fmt.Sprintf("version %d, this build reads versions 2 to %d", snapVersion+1, snapVersion)},
		// Version 3 as written between the burst excursion and the shift
		// CUSUM (commit e0cce65), with burstBar but the old shift fields.
		{"interim version 3 (1,650-byte model record)", resum(slices.Concat(set(8, 3)[:12], set(12, 1650)[12:])), "model record of 1650 bytes, a version-3 record has 1642"},
		{"version 2 with another model record size", resum(slices.Concat(set(8, 2)[:12], set(12, 1650)[12:])), "model record of 1650 bytes, a version-2 record has 1642"},
		{"other model layout", set(12, uint32(modelRecordSize-8)), "model record of"},
		{"truncated in the header", snap[:10], "truncated"},
		{"truncated in a model", snap[:200], "truncated"},
		{"truncated before the checksum", snap[:len(snap)-4], "truncated"},
		{"torn checksum", snap[:len(snap)-1], "truncated"},
		{"flipped bit in a model", flip(100), "checksum mismatch"},
		{"flipped bit in the checksum", flip(len(snap) - 1), "checksum mismatch"},
		{"bad tag", func() []byte { b := bytes.Clone(snap); b[16] = 7; return resum(b) }(), "bad record tag"},
		{"bad count", func() []byte {
			b := bytes.Clone(snap)
			binary.LittleEndian.PutUint64(b[len(b)-12:], 99)
			return resum(b)
		}(), "trailer counts 99"},
		{"trailing data", append(bytes.Clone(snap), 0), "trailing data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target, _ := learnedEngine(t)
			before := snapshotBytes(t, target)
			err := target.Restore(bytes.NewReader(tt.data))
			if !errors.Is(err, ErrSnapshot) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want ErrSnapshot with %q", err, tt.want)
			}
			if after := snapshotBytes(t, target); !bytes.Equal(after, before) {
				t.Error("a refused snapshot changed the engine")
			}
		})
	}
}

func TestRestoreReadError(t *testing.T) {
	eng, _ := NewEngine(DefaultConfig(), &collector{}, 0)
	boom := errors.New("disk on fire")
	err := eng.Restore(errReader{boom})
	if !errors.Is(err, boom) || errors.Is(err, ErrSnapshot) {
		t.Errorf("err = %v, want the read error, not ErrSnapshot", err)
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// FuzzRestore checks that Restore never panics, whatever the bytes, and
// that a restored engine can go on learning. Each input is tried as is and
// with its checksum recomputed, to reach past the checksum.
func FuzzRestore(f *testing.F) {
	eng, _ := learnedEngine(f)
	f.Add(snapshotBytes(f, eng))
	empty, _ := NewEngine(DefaultConfig(), &collector{}, 0)
	f.Add(snapshotBytes(f, empty))
	f.Add([]byte(snapMagic))
	if v2, err := os.ReadFile(filepath.Join("testdata", "snapshot-v2.golden")); err == nil {
		f.Add(v2)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, in := range [][]byte{data, fixSum(data)} {
			e, _ := NewEngine(DefaultConfig(), &collector{}, 16)
			if err := e.Restore(bytes.NewReader(in)); err != nil {
				continue
			}
			cfg := DefaultConfig()
			for fp, tr := range e.series {
				tr.Observe(&cfg, osprey.Labels{"x": "y"}, fp, osprey.Sample{TimestampMs: 1, Value: 1}, nil)
			}
			var buf bytes.Buffer
			if err := e.Snapshot(&buf); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func fixSum(b []byte) []byte {
	if len(b) < 4 {
		return b
	}
	return resum(b)
}

// BenchmarkSnapshot writes the state of 100,000 series.
func BenchmarkSnapshot(b *testing.B) {
	const n = 100_000
	cfg := DefaultConfig()
	eng, err := NewEngine(cfg, &collector{}, n)
	if err != nil {
		b.Fatal(err)
	}
	for i := range uint64(n) {
		tr := &Tracker{}
		for j := range int64(50) {
			tr.model.Update(&cfg, j*step, float64(i+uint64(j)%7))
		}
		eng.series[osprey.Fingerprint(i*0x9E3779B97F4A7C15)] = tr
	}
	var size int
	b.ReportAllocs()
	for b.Loop() {
		var w countWriter
		if err := eng.Snapshot(&w); err != nil {
			b.Fatal(err)
		}
		size = int(w)
	}
	b.ReportMetric(float64(size), "bytes")
	b.ReportMetric(float64(size)/n, "bytes/series")
}

// BenchmarkRestore reads the state of 100,000 series.
func BenchmarkRestore(b *testing.B) {
	const n = 100_000
	cfg := DefaultConfig()
	eng, _ := NewEngine(cfg, &collector{}, n)
	for i := range uint64(n) {
		tr := &Tracker{}
		tr.model.Update(&cfg, 0, float64(i))
		eng.series[osprey.Fingerprint(i)] = tr
	}
	var buf bytes.Buffer
	if err := eng.Snapshot(&buf); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := eng.Restore(bytes.NewReader(buf.Bytes())); err != nil {
			b.Fatal(err)
		}
	}
}

type countWriter int

func (w *countWriter) Write(p []byte) (int, error) { *w += countWriter(len(p)); return len(p), nil }
