package logs

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/detect/metric"
)

// snapshot returns r's detector snapshot.
func snapshot(t *testing.T, r *rig) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := r.det.Snapshot(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// restarted returns a rig that continues r after a restart: its templates
// restored (as the app restores them from the store) and, with snap, its
// detector restored from snap.
func restarted(t *testing.T, r *rig, snap []byte) *rig {
	t.Helper()
	r2 := newRig(t, r.det.cfg)
	r2.set.Restore(r.set.Templates("loki"))
	r2.det.MarkWarm("loki")
	if snap != nil {
		if err := r2.det.Restore(bytes.NewReader(snap)); err != nil {
			t.Fatal(err)
		}
	}
	return r2
}

// surge pushes the login surge of TestRateSurgeFlagged at minute 300 and
// the steady minutes after it.
func surge(r *rig, seed *uint64) {
	at := t0.Add(300 * time.Minute)
	r.push(at, "info", lines("user %d logged in", 1_000_000, 400)...)
	r.push(at.Add(10*time.Second), "info", lines("cache miss for key k%d", 1_000_000, 3)...)
	r.push(at.Add(20*time.Second), "error", "connection reset by peer 300")
	steady(r, seed, 301, 303)
}

// TestSnapshotKeepsRateBaselines checks that a detector restored from a
// snapshot goes on as the one that was never stopped: it flags the same
// surge, with the same expectation, right after the restart; one restarted
// without the snapshot has to learn again and flags nothing.
func TestSnapshotKeepsRateBaselines(t *testing.T) {
	seed := uint64(7)
	r := newRig(t, DefaultConfig())
	steady(r, &seed, 0, 300)
	snap := snapshot(t, r)
	if again := snapshot(t, r); !bytes.Equal(snap, again) {
		t.Fatal("two snapshots of the same state differ")
	}
	seedAfter := seed

	restored := restarted(t, r, snap)
	if st := restored.det.Stats(); st.Series != r.det.Stats().Series || st.Series == 0 {
		t.Errorf("restored %d series with a model, the original has %d", st.Series, r.det.Stats().Series)
	}
	plain := newRig(t, DefaultConfig())
	if err := plain.det.Restore(bytes.NewReader(snap)); err != nil {
		t.Fatal(err)
	}
	if got := snapshot(t, plain); !bytes.Equal(got, snap) {
		t.Error("the snapshot of a restored detector differs from the snapshot it was restored from")
	}
	fresh := restarted(t, r, nil)

	surge(r, &seed)
	s2 := seedAfter
	surge(restored, &s2)
	s3 := seedAfter
	surge(fresh, &s3)

	want := r.found(EvidenceRate)
	if len(want) != 1 {
		t.Fatalf("the detector that never stopped found %d rate anomalies, want 1", len(want))
	}
	got := restored.found(EvidenceRate)
	if len(got) != 1 {
		t.Fatalf("the restored detector found %d rate anomalies, want 1: %+v", len(got), got)
	}
	w, g := want[0], got[0]
	if g.TemplateID != w.TemplateID || g.Observed != w.Observed || g.Expected != w.Expected ||
		g.Score != w.Score || !g.StartsAt.Equal(w.StartsAt) || g.Fingerprint != w.Fingerprint {
		t.Errorf("restored detector's anomaly %+v\nwant as the original's %+v", g, w)
	}
	if n := len(fresh.found(EvidenceRate)); n != 0 {
		t.Errorf("a detector restarted without its snapshot flagged %d rate anomalies; the test would not show the snapshot matters", n)
	}
	if n := len(restored.found(EvidenceNewTemplate)); n != 0 {
		t.Errorf("%d new-template anomalies after the restart", n)
	}
}

// TestSnapshotKeepsOpenBucketAndAnomalies checks that the counts of the
// bucket open at shutdown, the warm-up state and an open new-template
// anomaly survive: the anomaly closes after the restart.
func TestSnapshotKeepsOpenBucketAndAnomalies(t *testing.T) {
	cfg := DefaultConfig()
	cfg.WarmupLines, cfg.Warmup = 10, time.Minute
	r := newRig(t, cfg)
	r.push(t0, "info", lines("user %d logged in", 0, 20)...)
	r.push(t0.Add(2*time.Minute), "info", lines("user %d logged in", 100, 20)...)
	r.push(t0.Add(2*time.Minute+time.Second), "error", lines("payment gateway timeout after %d retries", 1, 2)...)
	news := r.found(EvidenceNewTemplate)
	if len(news) != 1 || !news[0].Active() {
		t.Fatalf("want one open new-template anomaly, got %+v", news)
	}

	r2 := newRig(t, cfg) // no MarkWarm: the warm-up state comes from the snapshot
	r2.set.Restore(r.set.Templates("loki"))
	if err := r2.det.Restore(bytes.NewReader(snapshot(t, r))); err != nil {
		t.Fatal(err)
	}
	// More lines of the open bucket, then the next bucket closes it.
	r2.push(t0.Add(2*time.Minute+30*time.Second), "info", lines("user %d logged in", 200, 5)...)
	r2.push(t0.Add(3*time.Minute), "info", lines("user %d logged in", 300, 20)...)
	r2.push(t0.Add(3*time.Minute+time.Second), "warning", "quota of volume 7 exceeded")
	r2.push(t0.Add(4*time.Minute), "info", lines("user %d logged in", 400, 20)...)

	var login, payment float64 = -1, -1
	for _, s := range r2.series {
		if s.Labels[osprey.LabelMetric] != MetricTemplateCount || s.Samples[0].TimestampMs != t0.Add(3*time.Minute).UnixMilli() {
			continue
		}
		tpl, _ := r2.set.Lookup("loki", s.Labels[LabelTemplateID])
		switch tpl.Template {
		case "user <*> logged in":
			login = s.Samples[0].Value
		case "payment gateway timeout after <*> retries":
			payment = s.Samples[0].Value
		}
	}
	if login != 25 || payment != 2 {
		t.Errorf("bucket open at the snapshot closed with %v logins and %v payment lines, want 25 and 2", login, payment)
	}
	closed := r2.found(EvidenceNewTemplate)
	var resolved, fresh int
	for _, a := range closed {
		switch {
		case a.ID == news[0].ID && !a.Active():
			resolved++
		case a.ID != news[0].ID:
			fresh++
		}
	}
	if resolved != 1 {
		t.Errorf("the new-template anomaly open at the snapshot was not resolved after the restart: %+v", closed)
	}
	if fresh != 1 {
		t.Errorf("a template new after the restart of a warm source: %d anomalies, want 1: %+v", fresh, closed)
	}
}

// TestSnapshotInvalid checks that a damaged or foreign file is refused with
// ErrSnapshot and leaves the detector as it was.
func TestSnapshotInvalid(t *testing.T) {
	seed := uint64(5)
	r := newRig(t, DefaultConfig())
	steady(r, &seed, 0, 30)
	snap := snapshot(t, r)

	flipped := bytes.Clone(snap)
	flipped[len(flipped)/2] ^= 0x40
	version := bytes.Clone(snap)
	version[len(snapMagic)] = 9
	cases := map[string][]byte{
		"empty":        nil,
		"foreign":      []byte("OSPRYMET\x01\x00\x00\x00"),
		"truncated":    snap[:len(snap)-7],
		"half":         snap[:len(snap)/2],
		"flipped byte": flipped,
		"version":      version,
		"trailing":     append(bytes.Clone(snap), 0),
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			other := newRig(t, DefaultConfig())
			other.push(t0, "info", "user 1 logged in")
			before := snapshot(t, other)
			err := other.det.Restore(bytes.NewReader(data))
			if !errors.Is(err, ErrSnapshot) || !errors.Is(err, metric.ErrSnapshot) {
				t.Fatalf("Restore = %v, want an error wrapping ErrSnapshot", err)
			}
			if after := snapshot(t, other); !bytes.Equal(before, after) {
				t.Error("a failed Restore changed the detector")
			}
		})
	}
}

// TestSnapshotSeriesCap checks that a snapshot restored under a lower
// MaxSeries keeps at most that many models.
func TestSnapshotSeriesCap(t *testing.T) {
	seed := uint64(9)
	r := newRig(t, DefaultConfig())
	steady(r, &seed, 0, 20)
	if r.det.Stats().Series < 3 {
		t.Fatalf("only %d series", r.det.Stats().Series)
	}
	cfg := DefaultConfig()
	cfg.MaxSeries = 2
	small := newRig(t, cfg)
	if err := small.det.Restore(bytes.NewReader(snapshot(t, r))); err != nil {
		t.Fatal(err)
	}
	if n := small.det.Series(); n != 2 {
		t.Errorf("restored %d series under a cap of 2", n)
	}
}

func FuzzRestore(f *testing.F) {
	r := newRig(f, DefaultConfig())
	seed := uint64(1)
	steady(r, &seed, 0, 12)
	var buf bytes.Buffer
	if err := r.det.Snapshot(&buf); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte(snapMagic + "\x01\x00\x00\x00\x00"))
	if old, err := os.ReadFile(filepath.Join("testdata", snapshotV1MetricV2)); err == nil {
		f.Add(old)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := New(Options{Config: DefaultConfig(), Out: osprey.AnomalyConsumerFunc(func(context.Context, []osprey.Anomaly) error { return nil })})
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Restore(bytes.NewReader(data)); err != nil {
			if !errors.Is(err, ErrSnapshot) {
				t.Fatalf("Restore of bytes = %v, not ErrSnapshot", err)
			}
			return
		}
		var out bytes.Buffer
		if err := d.Snapshot(&out); err != nil {
			t.Fatal(err)
		}
	})
}
