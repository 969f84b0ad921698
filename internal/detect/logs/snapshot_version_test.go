package logs

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey/internal/snapfile"
)

// snapshotV1MetricV2 is a log detector snapshot (version 1) whose count
// series models are metric snapshot version 2 records: the state after
// feedV2Fixture, written by the build before metric version 3 (commit
// 1222852; this package and internal/logmine are unchanged since).
const snapshotV1MetricV2 = "snapshot-v1-metric-v2.golden"

// feedV2Fixture feeds r what the build that wrote snapshotV1MetricV2 was
// fed: steady(seed 7) for minutes 0-119, a surge of 400 logins and a new
// error template at minute 120, steady minute 121 and one login at 122:
// five count series, the logins' with its rate anomaly open.
func feedV2Fixture(r *rig) {
	seed := uint64(7)
	steady(r, &seed, 0, 120)
	at := t0.Add(120 * time.Minute)
	r.push(at, "info", lines("user %d logged in", 1_000_000, 400)...)
	r.push(at.Add(20*time.Second), "error", "payment gateway timeout after 3 retries")
	steady(r, &seed, 121, 122)
	r.push(t0.Add(122*time.Minute), "info", "user 5 logged in")
}

// splitTrackers walks a snapshot of this format and returns its tracker
// records (metric.Tracker.AppendBinary, without their length), where they
// start, and every other byte in order, the checksum and the trackers'
// lengths left out.
func splitTrackers(t *testing.T, snap []byte) (trackers [][]byte, at []int, rest []byte) {
	t.Helper()
	d := snapfile.NewDecoder(bytes.NewReader(snap))
	le := binary.LittleEndian
	var pos int // bytes of snap read
	take := func(n int) []byte {
		b := make([]byte, n)
		if !d.ReadFull(b) {
			t.Fatalf("offset %d: %v", pos, d.Err)
		}
		pos += n
		return b
	}
	keep := func(n int) []byte { b := take(n); rest = append(rest, b...); return b }
	str := func() { keep(int(le.Uint32(keep(4)))) }
	tracker := func() {
		if n := int(le.Uint32(take(4))); n > 0 {
			at = append(at, pos)
			trackers = append(trackers, take(n))
		}
	}
	keep(len(snapMagic) + 4)
	for keep(1)[0] == tagSource {
		str()       // name
		keep(8 + 8) // lines, first
		keep(1)     // warm
		keep(8 + 8) // open, closed
		for n := le.Uint32(keep(4)); n > 0; n-- {
			str() // id
			str() // service
			keep(8)
			tracker()
			str()   // open new-template anomaly
			keep(4) // its age
		}
		for n := le.Uint32(keep(4)); n > 0; n-- {
			str() // service
			keep(8)
			for m := le.Uint32(keep(4)); m > 0; m-- {
				str()
				keep(8)
			}
			tracker()
		}
	}
	keep(8) // count
	if pos+4 != len(snap) {
		t.Fatalf("walked %d bytes of %d", pos+4, len(snap))
	}
	return trackers, at, rest
}

// TestSnapshotReadsMetricVersion2 checks that a snapshot whose models were
// written before metric snapshot version 3 restores (an upgrade keeps the
// learnt baselines), that the detector then writes every model as version
// 3 does (the same bytes with 8 zero bytes added: burstBar 0; the exact
// place is TestTrackerReadsVersion2's, in the metric package) and nothing
// else changed, that this version-3 form restores into the same state, and
// that the rate anomaly open in it closes under its id after the upgrade.
func TestSnapshotReadsMetricVersion2(t *testing.T) {
	old, err := os.ReadFile(filepath.Join("testdata", snapshotV1MetricV2))
	if err != nil {
		t.Fatal(err)
	}
	// The templates as the app restores them from its store.
	src := newRig(t, DefaultConfig())
	feedV2Fixture(src)
	r := newRig(t, DefaultConfig())
	r.set.Restore(src.set.Templates("loki"))
	if err := r.det.Restore(bytes.NewReader(old)); err != nil {
		t.Fatalf("restore %s: %v", snapshotV1MetricV2, err)
	}
	if n := r.det.Series(); n != 5 {
		t.Fatalf("restored %d series with a model, the file holds 5", n)
	}
	cur := snapshot(t, r)

	oldTrackers, _, oldRest := splitTrackers(t, old)
	curTrackers, _, curRest := splitTrackers(t, cur)
	if !bytes.Equal(oldRest, curRest) {
		t.Error("the snapshot of the upgraded detector differs from the old one outside its models")
	}
	if len(oldTrackers) != 5 || len(curTrackers) != len(oldTrackers) {
		t.Fatalf("%d models in the old snapshot, %d in the new one, want 5", len(oldTrackers), len(curTrackers))
	}
	le := binary.LittleEndian
	for i, o := range oldTrackers {
		c := curTrackers[i]
		if le.Uint32(c)-le.Uint32(o) != 8 || len(c)-len(o) != 8 {
			t.Errorf("model %d: record of %d bytes (model %d) after one of %d (model %d); want 8 more",
				i, len(c), le.Uint32(c), len(o), le.Uint32(o))
			continue
		}
		if !zerosInserted(o[4:], c[4:], 8) {
			t.Errorf("model %d: the new record is not the old one with 8 zero bytes added", i)
		}
	}

	again := newRig(t, DefaultConfig())
	if err := again.det.Restore(bytes.NewReader(cur)); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(again.det.sources, r.det.sources) {
		t.Error("the old snapshot and its version-3 form restore into different states")
	}

	var openID string
	for _, s := range r.det.sources {
		for _, tp := range s.tmpls {
			if tp.tr != nil && tp.tr.Open() != nil {
				openID = tp.tr.Open().ID
			}
		}
	}
	if openID == "" {
		t.Fatal("no rate anomaly open in the restored state")
	}
	seed := uint64(11)
	steady(r, &seed, 123, 240)
	r.push(t0.Add(240*time.Minute), "info", "user 1 logged in")
	closed := false
	for _, a := range r.found(EvidenceRate) {
		closed = closed || (a.ID == openID && !a.Active())
	}
	if !closed {
		t.Errorf("the rate anomaly open in the old snapshot did not close after the upgrade: %+v", r.found(EvidenceRate))
	}
}

// zerosInserted reports whether long is short with n zero bytes inserted
// at one place.
func zerosInserted(short, long []byte, n int) bool {
	if len(long) != len(short)+n {
		return false
	}
	for k := 0; k <= len(short); k++ {
		if bytes.Equal(long[k:k+n], make([]byte, n)) && bytes.Equal(long[k+n:], short[k:]) {
			return true
		}
		if k < len(short) && long[k] != short[k] {
			return false
		}
	}
	return false
}

// TestSnapshotRefusesUnknownModelLayout checks that a model record of a
// size no metric snapshot version has is refused, not read as another.
func TestSnapshotRefusesUnknownModelLayout(t *testing.T) {
	old, err := os.ReadFile(filepath.Join("testdata", snapshotV1MetricV2))
	if err != nil {
		t.Fatal(err)
	}
	_, at, _ := splitTrackers(t, old)
	bad := bytes.Clone(old)
	binary.LittleEndian.PutUint32(bad[at[0]:], binary.LittleEndian.Uint32(bad[at[0]:])+4)
	n := len(bad) - 4
	binary.LittleEndian.PutUint32(bad[n:], crc32.Checksum(bad[:n], crc32.MakeTable(crc32.Castagnoli)))
	r := newRig(t, DefaultConfig())
	err = r.det.Restore(bytes.NewReader(bad))
	if !errors.Is(err, ErrSnapshot) || !strings.Contains(err.Error(), "model record of 1646 bytes") {
		t.Errorf("Restore = %v, want ErrSnapshot for a model record of 1646 bytes", err)
	}
	if r.det.Series() != 0 {
		t.Error("a refused snapshot restored series")
	}
}
