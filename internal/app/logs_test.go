package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/osprey-aiops/osprey"
	logdetect "github.com/osprey-aiops/osprey/internal/detect/logs"
	"github.com/osprey-aiops/osprey/internal/logmine"
)

// fakeTemplates is an in-memory store.Templates.
type fakeTemplates struct {
	mu     sync.Mutex
	byID   map[string]osprey.LogTemplate
	writes int
	err    error
}

func (f *fakeTemplates) SaveTemplates(_ context.Context, batch []osprey.LogTemplate) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	for _, t := range batch {
		f.byID[t.ID] = t
	}
	f.writes += len(batch)
	return nil
}

func (f *fakeTemplates) ListTemplates(_ context.Context, source, _ string, _ int) ([]osprey.LogTemplate, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []osprey.LogTemplate
	for _, t := range f.byID {
		if source == "" || t.Source == source {
			out = append(out, t)
		}
	}
	return out, nil
}

// counts returns the stored count of each live template.
func (f *fakeTemplates) counts() map[string]int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]int64{}
	for id, t := range f.byID {
		if t.AliasOf == "" {
			out[id] = t.Count
		}
	}
	return out
}

// newTestSaver returns a saver on st whose ticks the test sends.
func newTestSaver(st *fakeTemplates) (*templateSaver, chan time.Time) {
	ticks := make(chan time.Time)
	s := newTemplateSaver(st, time.Minute, slog.New(slog.DiscardHandler))
	s.newTicker = func(time.Duration) (<-chan time.Time, func()) { return ticks, func() {} }
	s.set = logmine.NewSet(logmine.SetOptions{OnUpdate: s.onUpdate})
	return s, ticks
}

// logins returns n syslog records "user <i> logged in from 10.0.0.<i%8>".
func logins(from, n int) []osprey.LogRecord {
	at := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	out := make([]osprey.LogRecord, n)
	for i := range out {
		out[i] = osprey.LogRecord{
			Time:   at.Add(time.Duration(from+i) * time.Second),
			Labels: osprey.Labels{"source": "syslog"},
			Body:   fmt.Sprintf("user %d logged in from 10.0.0.%d", from+i, (from+i)%8),
		}
	}
	return out
}

// TestTemplateSaver checks when templates reach the store: a new template
// soon after it is mined, counts on a tick or at shutdown, nothing per line;
// and that a restart restores the ids and counts.
func TestTemplateSaver(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		st := &fakeTemplates{byID: map[string]osprey.LogTemplate{}}
		s, ticks := newTestSaver(st)
		if err := s.Start(ctx); err != nil {
			t.Fatal(err)
		}

		// A new template is written without waiting for the tick. The
		// saver runs concurrently with the mining of the batch, so the
		// count it wrote may be that of any line of the batch; the tick
		// brings it up to date.
		if err := s.set.ConsumeLogs(ctx, logins(0, 50)); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		counts := st.counts()
		if len(counts) != 1 {
			t.Fatalf("stored templates %v, want one", counts)
		}
		var id string
		for id = range counts {
		}
		if c := counts[id]; c < 1 || c > 50 {
			t.Errorf("count after the new template = %d, want 1..50", c)
		}
		ticks <- time.Now()
		synctest.Wait()
		if got := st.counts()[id]; got != 50 {
			t.Errorf("count after the first tick = %d, want 50", got)
		}

		// More lines of the same template wait for the tick.
		writes := st.writes
		if err := s.set.ConsumeLogs(ctx, logins(50, 10)); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if st.writes != writes || st.counts()[id] != 50 {
			t.Errorf("lines without a new template were written before the tick: %d writes, count %d", st.writes-writes, st.counts()[id])
		}
		ticks <- time.Now()
		synctest.Wait()
		if got := st.counts()[id]; got != 60 {
			t.Errorf("count after the tick = %d, want 60", got)
		}

		// A tick with nothing new writes nothing.
		writes = st.writes
		ticks <- time.Now()
		synctest.Wait()
		if st.writes != writes {
			t.Errorf("an idle tick wrote %d templates", st.writes-writes)
		}

		// A failed save is counted and retried.
		st.err = errors.New("disk full")
		if err := s.set.ConsumeLogs(ctx, logins(60, 5)); err != nil {
			t.Fatal(err)
		}
		ticks <- time.Now()
		synctest.Wait()
		if got := testutil.ToFloat64(s.saveFailures); got != 1 {
			t.Errorf("save failures = %v, want 1", got)
		}
		st.err = nil

		// Shutdown writes what is left, and is idempotent.
		if err := s.set.ConsumeLogs(ctx, logins(65, 5)); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if err := s.Shutdown(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if got := st.counts()[id]; got != 70 {
			t.Errorf("count after shutdown = %d, want 70", got)
		}

		// A restart restores the template: same id, count going on.
		s2, _ := newTestSaver(st)
		if err := s2.Start(ctx); err != nil {
			t.Fatal(err)
		}
		r := logins(70, 1)
		if m := s2.set.Mine(&r[0]); m.ID != id || m.New {
			t.Errorf("after restart the line matched %+v, want the restored template %s", m, id)
		}
		writes = st.writes
		if err := s2.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		if got := st.counts()[id]; got != 71 || st.writes != writes+1 {
			t.Errorf("after restart: count %d, %d writes, want 71 and 1 write", got, st.writes-writes)
		}
	})
}

func TestTemplateSaverMetrics(t *testing.T) {
	st := &fakeTemplates{byID: map[string]osprey.LogTemplate{}}
	s, _ := newTestSaver(st)
	reg := prometheus.NewPedanticRegistry()
	if err := s.register(reg); err != nil {
		t.Fatal(err)
	}
	if err := s.set.ConsumeLogs(context.Background(), logins(0, 3)); err != nil {
		t.Fatal(err)
	}
	if n, err := testutil.GatherAndCount(reg, "osprey_logmine_lines_total", "osprey_logmine_templates"); err != nil || n != 2 {
		t.Errorf("gathered %d series (%v), want 2", n, err)
	}
}

// TestLogModelSaverCorruptSnapshot checks that a damaged log detector
// snapshot is moved aside and the detector starts afresh, and that the
// saver then writes a valid one.
func TestLogModelSaverCorruptSnapshot(t *testing.T) {
	path := filepath.Join(t.TempDir(), "detect", "logs.snap")
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("OSPRYLOG\x01\x00\x00\x00 torn"), 0o600); err != nil {
		t.Fatal(err)
	}
	newDet := func() *logdetect.Detector {
		det, err := logdetect.New(logdetect.Options{Config: logdetect.DefaultConfig(),
			Out: osprey.AnomalyConsumerFunc(func(context.Context, []osprey.Anomaly) error { return nil })})
		if err != nil {
			t.Fatal(err)
		}
		return det
	}
	ctx := context.Background()
	s := newModelSaver(newDet(), path, time.Hour, slog.New(slog.DiscardHandler))
	if err := s.Start(ctx); err != nil {
		t.Fatalf("a corrupt log detector snapshot is fatal: %v", err)
	}
	if _, err := os.Stat(path + ".corrupt"); err != nil {
		t.Errorf("corrupt snapshot not moved aside: %v", err)
	}
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := newDet().Restore(bytes.NewReader(raw)); err != nil {
		t.Errorf("the snapshot written after a corrupt one does not restore: %v", err)
	}
}
