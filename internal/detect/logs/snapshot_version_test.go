package logs

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey/internal/detect/metric"
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

// Facts of the metric snapshot versions 2 and 3 (see the metric package's
// snapshot_version_test.go): their model record sizes, and where version 3
// put the field version 2 lacks.
const (
	modelRecordV2 = 1642
	modelRecordV3 = 1650
	burstBarAtV3  = 778
)

// rewriteTrackers walks a snapshot of this format and returns it with each
// tracker record (metric.Tracker.AppendBinary) replaced by what edit
// returns for it, the checksum recomputed.
func rewriteTrackers(t *testing.T, snap []byte, edit func(rec []byte) []byte) []byte {
	t.Helper()
	d := snapfile.NewDecoder(bytes.NewReader(snap))
	le := binary.LittleEndian
	var out []byte
	take := func(n int) []byte {
		b := make([]byte, n)
		if !d.ReadFull(b) {
			t.Fatalf("offset %d: %v", len(out), d.Err)
		}
		return b
	}
	keep := func(n int) []byte { b := take(n); out = append(out, b...); return b }
	str := func() { keep(int(le.Uint32(keep(4)))) }
	tracker := func() {
		n := int(le.Uint32(take(4)))
		if n == 0 {
			out = le.AppendUint32(out, 0)
			return
		}
		rec := edit(take(n))
		out = append(le.AppendUint32(out, uint32(len(rec))), rec...)
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
	take(4) // checksum
	if err := d.End(); err != nil {
		t.Fatalf("after the checksum: %v", err)
	}
	return le.AppendUint32(out, crc32.Checksum(out, crc32.MakeTable(crc32.Castagnoli)))
}

// TestSnapshotReadsMetricVersion2 checks that a snapshot whose models were
// written before metric snapshot version 3 restores (an upgrade keeps the
// learnt baselines) into the state its version-3 form restores into (each
// model record with burstBar 0 added, built here by walking the file), that
// both are written alike, with models of the current version, and that the
// rate anomaly open in it closes under its id after the upgrade.
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

	if same := rewriteTrackers(t, old, func(rec []byte) []byte { return rec }); !bytes.Equal(same, old) {
		t.Fatal("rewriteTrackers does not walk the file as written")
	}
	le := binary.LittleEndian
	models := 0
	v3 := rewriteTrackers(t, old, func(rec []byte) []byte {
		models++
		// model record size | quiet | model | open ...
		if size := le.Uint32(rec); size != modelRecordV2 {
			t.Fatalf("model record of %d bytes in %s, want %d", size, snapshotV1MetricV2, modelRecordV2)
		}
		const at = 8 + burstBarAtV3
		return slices.Concat(le.AppendUint32(nil, modelRecordV3), rec[4:at], make([]byte, 8), rec[at:])
	})
	if models != 5 {
		t.Fatalf("%d models in %s, want 5", models, snapshotV1MetricV2)
	}
	again := newRig(t, DefaultConfig())
	if err := again.det.Restore(bytes.NewReader(v3)); err != nil {
		t.Fatalf("restore the version-3 form: %v", err)
	}
	if !reflect.DeepEqual(again.det.sources, r.det.sources) {
		t.Error("the old snapshot and its version-3 form restore into different states")
	}
	cur := snapshot(t, r)
	if !bytes.Equal(cur, snapshot(t, again)) {
		t.Error("the detector restored from the old snapshot is written otherwise than the one restored from its version-3 form")
	}
	var fresh metric.Tracker
	rec, _ := fresh.AppendBinary(nil)
	rewriteTrackers(t, cur, func(b []byte) []byte {
		if le.Uint32(b) != le.Uint32(rec) {
			t.Errorf("a model written with a record of %d bytes, this build's is %d", le.Uint32(b), le.Uint32(rec))
		}
		return b
	})

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

// TestSnapshotRefusesUnknownModelLayout checks that a model record of a
// size no metric snapshot version has is refused, not read as another.
func TestSnapshotRefusesUnknownModelLayout(t *testing.T) {
	old, err := os.ReadFile(filepath.Join("testdata", snapshotV1MetricV2))
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	first := true
	bad := rewriteTrackers(t, old, func(rec []byte) []byte {
		if first {
			le.PutUint32(rec, le.Uint32(rec)+4)
			first = false
		}
		return rec
	})
	r := newRig(t, DefaultConfig())
	err = r.det.Restore(bytes.NewReader(bad))
	if !errors.Is(err, ErrSnapshot) || !strings.Contains(err.Error(), "model record of 1646 bytes") {
		t.Errorf("Restore = %v, want ErrSnapshot for a model record of 1646 bytes", err)
	}
	if r.det.Series() != 0 {
		t.Error("a refused snapshot restored series")
	}
}
