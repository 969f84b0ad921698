package metric

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/snapfile"
)

// burstBarOffset returns where burstBar sits in a current model record,
// found by encoding it, not by reading the decoder.
func burstBarOffset(t *testing.T) int {
	t.Helper()
	var zero, marked snapfile.Encoder
	encodeModel(&zero, &Model{})
	encodeModel(&marked, &Model{burstBar: 4.0 / 3}) // no zero byte: 0x3ff5555555555555
	for i := range zero.B {
		if zero.B[i] != marked.B[i] {
			return i
		}
	}
	t.Fatal("burstBar does not show in the model record")
	return 0
}

// upgradeModel returns a version-2 model record as version 3 writes the
// same model with burstBar 0: eight zero bytes at burstBar's place.
func upgradeModel(t *testing.T, rec []byte) []byte {
	t.Helper()
	if len(rec) != modelRecordSize-8 {
		t.Fatalf("version-2 model record of %d bytes, want %d", len(rec), modelRecordSize-8)
	}
	off := burstBarOffset(t)
	return slices.Concat(rec[:off], make([]byte, 8), rec[off:])
}

func readGolden(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestTrackerReadsVersion2 checks that a Tracker record written by the
// build before version 3 (testdata/tracker-v2.golden, as the log detector
// embeds it) reads as the version-3 record of the same state with burstBar
// 0, and that AppendBinary writes it as that version-3 record.
func TestTrackerReadsVersion2(t *testing.T) {
	v2 := readGolden(t, "tracker-v2.golden")
	le := binary.LittleEndian
	if size := le.Uint32(v2); int(size) != modelRecordSize-8 {
		t.Fatalf("tracker-v2.golden carries a model record of %d bytes, want %d", size, modelRecordSize-8)
	}
	// size | quiet | model | open ...
	const at = 8
	want := le.AppendUint32(nil, uint32(modelRecordSize))
	want = slices.Concat(want, v2[4:at], upgradeModel(t, v2[at:at+modelRecordSize-8]), v2[at+modelRecordSize-8:])

	var old, cur Tracker
	if err := old.UnmarshalBinary(v2); err != nil {
		t.Fatalf("unmarshal tracker-v2.golden: %v", err)
	}
	if err := cur.UnmarshalBinary(want); err != nil {
		t.Fatalf("unmarshal its version-3 form: %v", err)
	}
	if !reflect.DeepEqual(old, cur) {
		t.Errorf("version 2 reads as\n%+v\nits version-3 form as\n%+v", old, cur)
	}
	if old.model.n == 0 || old.open == nil || old.model.burstBar != 0 {
		t.Errorf("tracker-v2.golden read as n %d, open %v, burstBar %v; want a learnt model, an open anomaly, burstBar 0",
			old.model.n, old.open != nil, old.model.burstBar)
	}
	if got, err := old.AppendBinary(nil); err != nil || !bytes.Equal(got, want) {
		t.Errorf("AppendBinary of the version-2 tracker is not its version-3 form (err %v)", err)
	}
}

// TestSnapshotReadsVersion2 checks that an engine snapshot written by the
// build before version 3 (testdata/snapshot-v2.golden: learnedEngine's
// state then, with an open anomaly and feedback) restores into the models
// its version-3 form restores into (burstBar 0, every other field as
// stored), that Snapshot then writes that version-3 form, and that the
// anomaly open in it closes under its id.
func TestSnapshotReadsVersion2(t *testing.T) {
	v2 := readGolden(t, "snapshot-v2.golden")
	old, _ := NewEngine(DefaultConfig(), &collector{}, 0)
	if err := old.Restore(bytes.NewReader(v2)); err != nil {
		t.Fatalf("restore snapshot-v2.golden: %v", err)
	}
	if old.Series() != len(snapLabels) {
		t.Fatalf("restored %d series, the file holds %d", old.Series(), len(snapLabels))
	}

	// The version-3 form, written here by walking the file: header,
	// series in fingerprint order (tag | fingerprint | quiet | model | open
	// flag [| anomaly]), trailer; the checksum recomputed.
	le := binary.LittleEndian
	want := slices.Concat([]byte(snapMagic), le.AppendUint32(nil, 3), le.AppendUint32(nil, uint32(modelRecordSize)))
	p := len(snapMagic) + 8
	fps := make([]osprey.Fingerprint, 0, len(old.series))
	for fp := range old.series {
		fps = append(fps, fp)
	}
	slices.Sort(fps)
	for _, fp := range fps {
		if v2[p] != tagSeries || osprey.Fingerprint(le.Uint64(v2[p+1:])) != fp {
			t.Fatalf("offset %d: not the record of series %x", p, uint64(fp))
		}
		model := p + 13
		end := model + modelRecordSize - 8
		want = slices.Concat(want, v2[p:model], upgradeModel(t, v2[model:end]))
		p = end + 1
		if a := old.series[fp].open; a != nil {
			var enc snapfile.Encoder
			encodeAnomaly(&enc, a)
			p += len(enc.B)
		}
		want = append(want, v2[end:p]...)
	}
	want = resum(append(want, v2[p:]...))

	if got := snapshotBytes(t, old); !bytes.Equal(got, want) {
		t.Errorf("snapshot of the engine restored from version 2 (%d bytes) is not its version-3 form (%d bytes)", len(got), len(want))
	}
	cur, _ := NewEngine(DefaultConfig(), &collector{}, 0)
	if err := cur.Restore(bytes.NewReader(want)); err != nil {
		t.Fatalf("restore the version-3 form: %v", err)
	}
	if !reflect.DeepEqual(old.series, cur.series) {
		t.Error("version 2 restores other series than its version-3 form")
	}
	for fp, tr := range old.series {
		if tr.model.burstBar != 0 {
			t.Errorf("series %x: burstBar %v, want 0", uint64(fp), tr.model.burstBar)
		}
	}
	if thr, ok := old.Threshold(snapLabels[2]); !ok || thr <= DefaultConfig().Threshold {
		t.Errorf("feedback lost: threshold %v, %v", thr, ok)
	}

	// The tracker golden of the same build is the first series.
	var tr Tracker
	if err := tr.UnmarshalBinary(readGolden(t, "tracker-v2.golden")); err != nil {
		t.Fatal(err)
	}
	first := old.series[snapLabels[0].Fingerprint()]
	if !reflect.DeepEqual(&tr, first) {
		t.Error("tracker-v2.golden reads as another tracker than the first series of snapshot-v2.golden")
	}

	// The upgraded engine goes on: the spike open at the snapshot closes
	// under the id it opened with.
	spikeID := first.open.ID
	out := &collector{}
	old.out = out
	feedSnap(t, old, 1501, 3000)
	closed := false
	for _, a := range out.got {
		closed = closed || (a.ID == spikeID && !a.Active())
	}
	if !closed {
		t.Error("the anomaly open in the version-2 snapshot did not close after the upgrade")
	}
}

// TestModelRecordSizes checks the table of record sizes per version that
// Restore and UnmarshalBinary check against: the current one is Model's,
// version 2 lacks burstBar, and no two versions read share a size (a
// Tracker record tells its version by it).
func TestModelRecordSizes(t *testing.T) {
	if modelRecordSizes[snapVersion] != modelRecordSize {
		t.Errorf("version %d record %d bytes, Model's fields take %d", snapVersion, modelRecordSizes[snapVersion], modelRecordSize)
	}
	if modelRecordSizes[2] != modelRecordSize-8 {
		t.Errorf("version 2 record %d bytes, want %d", modelRecordSizes[2], modelRecordSize-8)
	}
	seen := map[int]int{}
	for v, size := range modelRecordSizes {
		if v < snapVersionMin {
			if size != 0 {
				t.Errorf("version %d is not read but has a record size", v)
			}
			continue
		}
		if w, dup := seen[size]; dup {
			t.Errorf("versions %d and %d both have %d-byte model records", w, v, size)
		}
		seen[size] = v
	}
	// A version-2 record decodes to the model whose version-3 record is
	// the same bytes with burstBar's 0 in them.
	m := Model{n: 7, level: 3.25, burstUp: 2, novRecent: 0.5}
	m.day[1] = 4
	var enc snapfile.Encoder
	encodeModel(&enc, &m)
	off := burstBarOffset(t)
	v2 := slices.Concat(enc.B[:off], enc.B[off+8:])
	var back Model
	if rest := decodeModel(v2, 2, &back); len(rest) != 0 || back != m {
		t.Errorf("version-2 record decodes to %+v (%d bytes left), want %+v", back, len(rest), m)
	}
}
