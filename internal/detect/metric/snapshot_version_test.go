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

// Facts of the version-2 and version-3 formats, which the files of those
// versions keep whatever the current version is: their model record sizes,
// and where version 3 put the field version 2 lacks (burstBar, after
// novRecent).
const (
	modelRecordV2 = 1642
	modelRecordV3 = 1650
	burstBarAtV3  = 778
)

// v3Model returns a version-2 model record as version 3 writes the same
// model with burstBar 0: eight zero bytes at burstBar's place.
func v3Model(t *testing.T, rec []byte) []byte {
	t.Helper()
	if len(rec) != modelRecordV2 {
		t.Fatalf("version-2 model record of %d bytes, want %d", len(rec), modelRecordV2)
	}
	return slices.Concat(rec[:burstBarAtV3], make([]byte, 8), rec[burstBarAtV3:])
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
// 0 (built here from the file, not by the codec), and that AppendBinary
// writes both alike.
func TestTrackerReadsVersion2(t *testing.T) {
	v2 := readGolden(t, "tracker-v2.golden")
	le := binary.LittleEndian
	if size := le.Uint32(v2); size != modelRecordV2 {
		t.Fatalf("tracker-v2.golden carries a model record of %d bytes, want %d", size, modelRecordV2)
	}
	// size | quiet | model | open ...
	const at = 8
	v3 := slices.Concat(le.AppendUint32(nil, modelRecordV3), v2[4:at], v3Model(t, v2[at:at+modelRecordV2]), v2[at+modelRecordV2:])

	var old, cur Tracker
	if err := old.UnmarshalBinary(v2); err != nil {
		t.Fatalf("unmarshal tracker-v2.golden: %v", err)
	}
	if err := cur.UnmarshalBinary(v3); err != nil {
		t.Fatalf("unmarshal its version-3 form: %v", err)
	}
	if !reflect.DeepEqual(old, cur) {
		t.Errorf("version 2 reads as\n%+v\nits version-3 form as\n%+v", old, cur)
	}
	if old.model.n == 0 || old.open == nil || old.model.burstBar != 0 {
		t.Errorf("tracker-v2.golden read as n %d, open %v, burstBar %v; want a learnt model, an open anomaly, burstBar 0",
			old.model.n, old.open != nil, old.model.burstBar)
	}
	got, _ := old.AppendBinary(nil)
	if again, _ := cur.AppendBinary(nil); !bytes.Equal(got, again) {
		t.Error("AppendBinary writes the tracker read from version 2 otherwise than the one read from its version-3 form")
	}
	if snapVersion == 3 && !bytes.Equal(got, v3) {
		t.Error("AppendBinary of the tracker read from version 2 is not its version-3 form")
	}
}

// TestSnapshotReadsVersion2 checks that an engine snapshot written by the
// build before version 3 (testdata/snapshot-v2.golden: learnedEngine's
// state then, with an open anomaly and feedback) restores into the models
// its version-3 form restores into (built here by walking the file: burstBar
// 0, every other field as stored), that both are written alike, and that
// the anomaly open in it closes under its id.
func TestSnapshotReadsVersion2(t *testing.T) {
	v2 := readGolden(t, "snapshot-v2.golden")
	old, _ := NewEngine(DefaultConfig(), &collector{}, 0)
	if err := old.Restore(bytes.NewReader(v2)); err != nil {
		t.Fatalf("restore snapshot-v2.golden: %v", err)
	}
	if old.Series() != len(snapLabels) {
		t.Fatalf("restored %d series, the file holds %d", old.Series(), len(snapLabels))
	}

	// The version-3 form: header, series in fingerprint order (tag |
	// fingerprint | quiet | model | open flag [| anomaly]), trailer; the
	// checksum recomputed.
	le := binary.LittleEndian
	v3 := slices.Concat([]byte(snapMagic), le.AppendUint32(nil, 3), le.AppendUint32(nil, modelRecordV3))
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
		end := model + modelRecordV2
		v3 = slices.Concat(v3, v2[p:model], v3Model(t, v2[model:end]))
		p = end + 1
		if a := old.series[fp].open; a != nil {
			var enc snapfile.Encoder
			encodeAnomaly(&enc, a)
			p += len(enc.B)
		}
		v3 = append(v3, v2[end:p]...)
	}
	v3 = resum(append(v3, v2[p:]...))

	cur, _ := NewEngine(DefaultConfig(), &collector{}, 0)
	if err := cur.Restore(bytes.NewReader(v3)); err != nil {
		t.Fatalf("restore the version-3 form: %v", err)
	}
	if !reflect.DeepEqual(old.series, cur.series) {
		t.Error("version 2 restores other series than its version-3 form")
	}
	got := snapshotBytes(t, old)
	if !bytes.Equal(got, snapshotBytes(t, cur)) {
		t.Error("the engine restored from version 2 is written otherwise than the one restored from its version-3 form")
	}
	if snapVersion == 3 && !bytes.Equal(got, v3) {
		t.Errorf("snapshot of the engine restored from version 2 (%d bytes) is not its version-3 form (%d bytes)", len(got), len(v3))
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
// those of older versions are what their files hold, and no two versions
// read share a size (a Tracker record tells its version by it).
func TestModelRecordSizes(t *testing.T) {
	if modelRecordSizes[snapVersion] != modelRecordSize {
		t.Errorf("version %d record %d bytes, Model's fields take %d", snapVersion, modelRecordSizes[snapVersion], modelRecordSize)
	}
	for v, want := range map[int]int{2: modelRecordV2, 3: modelRecordV3} {
		if modelRecordSizes[v] != want {
			t.Errorf("version %d record %d bytes, its files hold %d", v, modelRecordSizes[v], want)
		}
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
}

// BenchmarkDecodeModel reads 1,000 model records of the current version,
// as Restore does, to see what reading per version costs.
func BenchmarkDecodeModel(b *testing.B) {
	cfg := DefaultConfig()
	var src Model
	for j := range int64(500) {
		src.Update(&cfg, j*step, float64(j%7))
	}
	var enc snapfile.Encoder
	for range 1000 {
		encodeModel(&enc, &src)
	}
	b.ReportAllocs()
	var m Model
	for b.Loop() {
		d := newSnapDecoder(bytes.NewReader(enc.B))
		for range 1000 {
			d.model(&m)
		}
		if d.Err != nil || m != src {
			b.Fatal("records do not decode to the model")
		}
	}
}
