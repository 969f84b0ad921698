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
// 1222852; internal/logmine, which makes the templates, is unchanged
// since).
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
	keep(len(snapMagic))
	if le.Uint32(keep(4)) >= 2 {
		keep(4) // model version
	}
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
	return resum(append(out, make([]byte, 4)...))
}

// withHeader returns snap, a snapshot, with the header of a version-2 file
// whose tracker records are of metric model version model, the checksum
// recomputed.
func withHeader(snap []byte, model uint32) []byte {
	le := binary.LittleEndian
	body := snap[len(snapMagic)+4 : len(snap)-4]
	if le.Uint32(snap[len(snapMagic):]) >= 2 {
		body = body[4:]
	}
	return resum(slices.Concat([]byte(snapMagic), le.AppendUint32(nil, 2), le.AppendUint32(nil, model), body, make([]byte, 4)))
}

// resum returns snap with its checksum recomputed.
func resum(snap []byte) []byte {
	n := len(snap) - 4
	return binary.LittleEndian.AppendUint32(snap[:n:n], crc32.Checksum(snap[:n], crc32.MakeTable(crc32.Castagnoli)))
}

// TestSnapshotReadsMetricVersion2 checks that a version-1 snapshot, whose
// models are metric model version 2 records, restores (an upgrade keeps
// the learnt baselines) with each model read as metric version 2 (the
// conversion to version 3 is the metric package's TestTrackerReadsVersion2),
// that it is written back as version 2 of this format, with the current
// metric model version in its header, each model as the metric package
// writes the version-2 record converted and every other byte as it was;
// that the same records in a version-2 file restore alike when its header
// says metric version 2 and otherwise when it says 3 (the header, not the
// record, tells the version); and that the rate anomaly open in it closes
// under its id after the upgrade.
func TestSnapshotReadsMetricVersion2(t *testing.T) {
	old, err := os.ReadFile(filepath.Join("testdata", snapshotV1MetricV2))
	if err != nil {
		t.Fatal(err)
	}
	if v := binary.LittleEndian.Uint32(old[len(snapMagic):]); v != 1 {
		t.Fatalf("%s is of version %d, want 1", snapshotV1MetricV2, v)
	}
	// The templates as the app restores them from its store.
	src := newRig(t, DefaultConfig())
	feedV2Fixture(src)
	restore := func(snap []byte) (*rig, error) {
		r := newRig(t, DefaultConfig())
		r.set.Restore(src.set.Templates("loki"))
		return r, r.det.Restore(bytes.NewReader(snap))
	}
	r, err := restore(old)
	if err != nil {
		t.Fatalf("restore %s: %v", snapshotV1MetricV2, err)
	}
	if n := r.det.Series(); n != 5 {
		t.Fatalf("restored %d series with a model, the file holds 5", n)
	}
	if same := rewriteTrackers(t, old, func(rec []byte) []byte { return rec }); !bytes.Equal(same, old) {
		t.Fatal("rewriteTrackers does not walk the file as written")
	}

	// What the upgraded detector writes: every model as the metric package
	// reads it as version 2 and writes it, nothing else changed but the
	// header.
	want := withHeader(rewriteTrackers(t, old, func(rec []byte) []byte {
		var tr metric.Tracker
		if err := tr.UnmarshalBinaryVersion(rec, 2); err != nil {
			t.Fatalf("a tracker record of %s as metric version 2: %v", snapshotV1MetricV2, err)
		}
		b, _ := tr.AppendBinary(nil)
		return b
	}), metric.ModelVersion)
	cur := snapshot(t, r)
	if !bytes.Equal(cur, want) {
		t.Errorf("the upgraded detector writes %d bytes, not the old snapshot with its models read as metric version 2 (%d bytes)", len(cur), len(want))
	}
	again, err := restore(cur)
	if err != nil {
		t.Fatalf("restore what the upgraded detector wrote: %v", err)
	}
	if !reflect.DeepEqual(again.det.sources, r.det.sources) {
		t.Error("what the upgraded detector wrote restores into another state")
	}

	// The header tells the version: the same records restore alike under a
	// version-2 header that says metric version 2, otherwise under one that
	// says 3 (the records of versions 2 and 3 have the same size).
	if v2, err := restore(withHeader(old, 2)); err != nil || !reflect.DeepEqual(v2.det.sources, r.det.sources) {
		t.Errorf("the version-2 form saying metric version 2 restores otherwise (err %v)", err)
	}
	if v3, err := restore(withHeader(old, 3)); err == nil && reflect.DeepEqual(v3.det.sources, r.det.sources) {
		t.Error("the metric version-2 records restore alike under a header saying metric version 3; the header would not matter")
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

// TestSnapshotRefusesUnknownModelLayout checks that a model record of
// another size than its version's, a metric model version this build does
// not read and a newer version of this format are refused, not read as
// something else.
func TestSnapshotRefusesUnknownModelLayout(t *testing.T) {
	old, err := os.ReadFile(filepath.Join("testdata", snapshotV1MetricV2))
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	first := true
	resized := rewriteTrackers(t, old, func(rec []byte) []byte {
		if first {
			le.PutUint32(rec, le.Uint32(rec)+4)
			first = false
		}
		return rec
	})
	newer := withHeader(old, metric.ModelVersion)
	le.PutUint32(newer[len(snapMagic):], snapVersion+1)
	newer = resum(newer)
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"model record size", resized, "model record of 1646 bytes, a version-2 record has 1642"},
		{"metric model version 1", withHeader(old, 1), "version 1, this build reads versions 2 to"},
		{"newer metric model version", withHeader(old, metric.ModelVersion+1), "metric model version"},
		{"newer version", newer, "log detector snapshot version 3, this build reads versions 1 to 2"},
	} {
		r := newRig(t, DefaultConfig())
		err = r.det.Restore(bytes.NewReader(c.data))
		if !errors.Is(err, ErrSnapshot) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Restore = %v, want ErrSnapshot with %q", c.name, err, c.want)
		}
		if r.det.Series() != 0 {
			t.Errorf("%s: a refused snapshot restored series", c.name)
		}
	}
}
