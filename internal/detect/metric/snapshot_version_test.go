package metric

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/snapfile"
)

// Facts of the version-2 model record, which its files keep whatever the
// current version is: its size (version 3's too) and where the fields sit
// that version 3 dropped (ref; shortMean and shiftDev), reset (the shift
// record) or put others next to (burstDown, then novRecent, then day).
const (
	modelRecordV2   = 1642
	modelRecordV3   = 1642
	refAtV2         = 37
	shortMeanAtV2   = 93 // shiftDev follows
	shiftRecordAtV2 = 133
	novRecentAtV2   = 770
)

// v3Model returns a version-2 model record as version 3 writes the model it
// stands for: ref, shortMean and shiftDev dropped, the shift record 0,
// shiftUp and shiftDown 0 after burstDown, burstBar 0 after novRecent,
// every other byte as it was.
func v3Model(t *testing.T, rec []byte) []byte {
	t.Helper()
	if len(rec) != modelRecordV2 {
		t.Fatalf("version-2 model record of %d bytes, want %d", len(rec), modelRecordV2)
	}
	zeros := func(n int) []byte { return make([]byte, n) }
	return slices.Concat(
		rec[:refAtV2],
		rec[refAtV2+8:shortMeanAtV2],
		rec[shortMeanAtV2+16:shiftRecordAtV2],
		zeros(8), // record[CompShift]
		rec[shiftRecordAtV2+8:novRecentAtV2],
		zeros(16), // shiftUp, shiftDown
		rec[novRecentAtV2:novRecentAtV2+8],
		zeros(8), // burstBar
		rec[novRecentAtV2+8:],
	)
}

// checkMapped checks what the conversion from version 2 sets in m, read
// from rec, a version-2 model record (the rest v3Model's comparison
// covers), and returns the shift record rec holds, to see that the reset
// was tested.
func checkMapped(t *testing.T, name string, rec []byte, m *Model) float64 {
	t.Helper()
	if m.shiftUp != 0 || m.shiftDown != 0 || m.burstBar != 0 || m.record[CompShift] != 0 {
		t.Errorf("%s: shiftUp %v, shiftDown %v, burstBar %v, shift record %v; want all 0",
			name, m.shiftUp, m.shiftDown, m.burstBar, m.record[CompShift])
	}
	return math.Float64frombits(binary.LittleEndian.Uint64(rec[shiftRecordAtV2:]))
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
// embeds it) reads, given its version, as the version-3 record of the model
// it stands for (v3Model: built here from the file, not by the codec), that
// AppendBinary writes both alike, that the same bytes read as version 3 give
// another tracker (the size does not tell the version), and that versions
// not read and records of another size are refused.
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
	if err := old.UnmarshalBinaryVersion(v2, 2); err != nil {
		t.Fatalf("unmarshal tracker-v2.golden: %v", err)
	}
	if err := cur.UnmarshalBinaryVersion(v3, 3); err != nil {
		t.Fatalf("unmarshal its version-3 form: %v", err)
	}
	if !reflect.DeepEqual(old, cur) {
		t.Errorf("version 2 reads as\n%+v\nits version-3 form as\n%+v", old, cur)
	}
	if old.model.n == 0 || old.open == nil {
		t.Errorf("tracker-v2.golden read as n %d, open %v; want a learnt model and an open anomaly", old.model.n, old.open != nil)
	}
	if r := checkMapped(t, "tracker-v2.golden", v2[at:], &old.model); !(r > 0) {
		t.Errorf("tracker-v2.golden holds a shift record of %v, so its reset is not tested", r)
	}
	got, _ := old.AppendBinary(nil)
	if again, _ := cur.AppendBinary(nil); !bytes.Equal(got, again) {
		t.Error("AppendBinary writes the tracker read from version 2 otherwise than the one read from its version-3 form")
	}
	if snapVersion == 3 && !bytes.Equal(got, v3) {
		t.Error("AppendBinary of the tracker read from version 2 is not its version-3 form")
	}

	var wrong Tracker
	if err := wrong.UnmarshalBinaryVersion(v2, 3); err == nil && reflect.DeepEqual(wrong, old) {
		t.Error("the version-2 record read as version 3 gives the same tracker; the version would not matter")
	}
	interim := slices.Concat(le.AppendUint32(nil, 1650), v2[4:at], v2[at:at+modelRecordV2], make([]byte, 8), v2[at+modelRecordV2:])
	for _, c := range []struct {
		name string
		data []byte
		v    uint32
		want string
	}{
		{"version 1", v2, 1, "version 1, this build reads versions 2 to"},
		{"newer version", v2, snapVersion + 1, fmt.Sprintf("version %d, this build reads versions 2 to", snapVersion+1)},
		{"a record of another size", interim, 2, "model record of 1650 bytes, a version-2 record has 1642"},
	} {
		keep := old
		if err := keep.UnmarshalBinaryVersion(c.data, c.v); !errors.Is(err, ErrSnapshot) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: UnmarshalBinaryVersion = %v, want ErrSnapshot with %q", c.name, err, c.want)
		}
		if !reflect.DeepEqual(keep, old) {
			t.Errorf("%s: a refused record changed the tracker", c.name)
		}
	}
}

// TestSnapshotReadsVersion2 checks that an engine snapshot written by the
// build before version 3 (testdata/snapshot-v2.golden: learnedEngine's
// state then, with an open anomaly and feedback) restores into the models
// its version-3 form restores into (built here by walking the file, each
// model as v3Model converts it), that both are written alike, and that the
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

	// The version-3 form: header, series in fingerprint order (tag |
	// fingerprint | quiet | model | open flag [| anomaly]), trailer; the
	// checksum recomputed.
	le := binary.LittleEndian
	v3 := slices.Concat([]byte(snapMagic), le.AppendUint32(nil, 3), le.AppendUint32(nil, modelRecordV3))
	p := len(snapMagic) + 8
	shiftRecords := 0
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
		if checkMapped(t, fmt.Sprintf("series %x", uint64(fp)), v2[model:end], &old.series[fp].model) > 0 {
			shiftRecords++
		}
		p = end + 1
		if a := old.series[fp].open; a != nil {
			var enc snapfile.Encoder
			encodeAnomaly(&enc, a)
			p += len(enc.B)
		}
		v3 = append(v3, v2[end:p]...)
	}
	v3 = resum(append(v3, v2[p:]...))
	if shiftRecords == 0 {
		t.Error("no series of snapshot-v2.golden has a shift record, so its reset is not tested")
	}

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
	if thr, ok := old.Threshold(snapLabels[2]); !ok || thr <= DefaultConfig().Threshold {
		t.Errorf("feedback lost: threshold %v, %v", thr, ok)
	}

	// The tracker golden of the same build is the first series.
	var tr Tracker
	if err := tr.UnmarshalBinaryVersion(readGolden(t, "tracker-v2.golden"), 2); err != nil {
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
// Restore and UnmarshalBinaryVersion check against: the current one is
// binary.Size of Model, those of older versions are what their files hold
// (versions 2 and 3 alike, which is why a record's size does not tell its
// version), and versions not read have none.
func TestModelRecordSizes(t *testing.T) {
	if modelRecordSizes[snapVersion] != binary.Size(Model{}) {
		t.Errorf("version %d record %d bytes, Model's fields take %d", snapVersion, modelRecordSizes[snapVersion], binary.Size(Model{}))
	}
	for v, want := range map[int]int{2: modelRecordV2, 3: modelRecordV3, 4: modelRecordV3 + fatigueBytes} {
		if modelRecordSizes[v] != want {
			t.Errorf("version %d record %d bytes, its files hold %d", v, modelRecordSizes[v], want)
		}
	}
	for v := range snapVersionMin {
		if modelRecordSizes[v] != 0 {
			t.Errorf("version %d is not read but has a record size", v)
		}
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
		d := newSnapDecoder(bytes.NewReader(enc.B), snapVersion)
		for range 1000 {
			d.model(&m)
		}
		if d.Err != nil || m != src {
			b.Fatal("records do not decode to the model")
		}
	}
}

// fatigueBytes is what version 4 added at the end of the model record:
// each component's fatigue and the band's factor, float32s.
const fatigueBytes = 4 * (int(numComponents) + 1)

// TestTrackerReadsVersion3 checks that a Tracker record written by the
// build before version 4 (testdata/tracker-v3.golden) reads, given its
// version, as the version-4 record of the model it stands for (the same
// bytes with a fatigue of 0 appended to the model), and that AppendBinary
// writes that form.
func TestTrackerReadsVersion3(t *testing.T) {
	v3 := readGolden(t, "tracker-v3.golden")
	le := binary.LittleEndian
	if size := le.Uint32(v3); size != modelRecordV3 {
		t.Fatalf("tracker-v3.golden carries a model record of %d bytes, want %d", size, modelRecordV3)
	}
	const at = 8 // size | quiet | model | open ...
	end := at + modelRecordV3
	v4 := slices.Concat(le.AppendUint32(nil, uint32(modelRecordV3+fatigueBytes)), v3[4:end], make([]byte, fatigueBytes), v3[end:])

	var old, cur Tracker
	if err := old.UnmarshalBinaryVersion(v3, 3); err != nil {
		t.Fatalf("unmarshal tracker-v3.golden: %v", err)
	}
	if err := cur.UnmarshalBinaryVersion(v4, 4); err != nil {
		t.Fatalf("unmarshal its version-4 form: %v", err)
	}
	if !reflect.DeepEqual(old, cur) {
		t.Errorf("version 3 reads as\n%+v\nits version-4 form as\n%+v", old, cur)
	}
	if old.model.n == 0 || old.open == nil {
		t.Errorf("tracker-v3.golden read as n %d, open %v; want a learnt model and an open anomaly", old.model.n, old.open != nil)
	}
	if old.model.fatigue != ([numComponents]float32{}) {
		t.Errorf("a version-3 model read with fatigue %v, want none", old.model.fatigue)
	}
	got, _ := old.AppendBinary(nil)
	if snapVersion == 4 && !bytes.Equal(got, v4) {
		t.Error("AppendBinary of the tracker read from version 3 is not its version-4 form")
	}
	var wrong Tracker
	if err := wrong.UnmarshalBinaryVersion(v3, 4); !errors.Is(err, ErrSnapshot) {
		t.Errorf("the version-3 record read as version 4: %v, want ErrSnapshot (its size)", err)
	}
}

// TestSnapshotReadsVersion3 checks that an engine snapshot written by the
// build before version 4 (testdata/snapshot-v3.golden) restores into the
// models its version-4 form restores into (built here by walking the
// file, a fatigue of 0 appended to each model), that both are written
// alike, and that the version-4 golden holds a fatigue to round-trip.
func TestSnapshotReadsVersion3(t *testing.T) {
	v3 := readGolden(t, "snapshot-v3.golden")
	old, _ := NewEngine(DefaultConfig(), &collector{}, 0)
	if err := old.Restore(bytes.NewReader(v3)); err != nil {
		t.Fatalf("restore snapshot-v3.golden: %v", err)
	}
	if old.Series() != len(snapLabels) {
		t.Fatalf("restored %d series, the file holds %d", old.Series(), len(snapLabels))
	}
	le := binary.LittleEndian
	v4 := slices.Concat([]byte(snapMagic), le.AppendUint32(nil, 4), le.AppendUint32(nil, uint32(modelRecordV3+fatigueBytes)))
	p := len(snapMagic) + 8
	fps := make([]osprey.Fingerprint, 0, len(old.series))
	for fp := range old.series {
		fps = append(fps, fp)
	}
	slices.Sort(fps)
	for _, fp := range fps {
		if v3[p] != tagSeries || osprey.Fingerprint(le.Uint64(v3[p+1:])) != fp {
			t.Fatalf("offset %d: not the record of series %x", p, uint64(fp))
		}
		end := p + 13 + modelRecordV3 // tag | fingerprint | quiet | model
		v4 = slices.Concat(v4, v3[p:end], make([]byte, fatigueBytes))
		p = end + 1
		if a := old.series[fp].open; a != nil {
			var enc snapfile.Encoder
			encodeAnomaly(&enc, a)
			p += len(enc.B)
		}
		v4 = append(v4, v3[end:p]...)
	}
	v4 = resum(append(v4, v3[p:]...))

	cur, _ := NewEngine(DefaultConfig(), &collector{}, 0)
	if err := cur.Restore(bytes.NewReader(v4)); err != nil {
		t.Fatalf("restore the version-4 form: %v", err)
	}
	if !reflect.DeepEqual(old.series, cur.series) {
		t.Error("version 3 restores other series than its version-4 form")
	}
	got := snapshotBytes(t, old)
	if snapVersion == 4 && !bytes.Equal(got, v4) {
		t.Errorf("snapshot of the engine restored from version 3 (%d bytes) is not its version-4 form (%d bytes)", len(got), len(v4))
	}
	if thr, ok := old.Threshold(snapLabels[2]); !ok || thr <= DefaultConfig().Threshold {
		t.Errorf("feedback lost: threshold %v, %v", thr, ok)
	}

	// The current golden carries a fatigue, so the round trip of
	// TestSnapshotGolden covers the field.
	eng, _ := NewEngine(DefaultConfig(), &collector{}, 0)
	if err := eng.Restore(bytes.NewReader(readGolden(t, fmt.Sprintf("snapshot-v%d.golden", snapVersion)))); err != nil {
		t.Fatal(err)
	}
	tired := 0
	for _, tr := range eng.series {
		if tr.model.fatigue != ([numComponents]float32{}) {
			tired++
		}
	}
	if tired == 0 {
		t.Error("no series of the current golden has a fatigue, so its encoding is not tested")
	}
}
