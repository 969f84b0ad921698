package app

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/detect/metric"
)

func newTestEngine(t *testing.T) *metric.Engine {
	t.Helper()
	eng, err := metric.NewEngine(metric.DefaultConfig(), osprey.AnomalyConsumerFunc(func(context.Context, []osprey.Anomaly) error { return nil }), 0)
	if err != nil {
		t.Fatal(err)
	}
	return eng
}

func learn(t *testing.T, eng *metric.Engine, hosts ...string) {
	t.Helper()
	var batch []osprey.Series
	for _, h := range hosts {
		batch = append(batch, osprey.Series{Labels: osprey.Labels{"__name__": "up", "host": h},
			Samples: []osprey.Sample{{TimestampMs: 1000, Value: 1}, {TimestampMs: 2000, Value: 1}}})
	}
	if err := eng.ConsumeSeries(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
}

func TestModelSaverRestartKeepsModels(t *testing.T) {
	path := filepath.Join(t.TempDir(), "detect", "metric.snap")
	ctx := context.Background()
	eng := newTestEngine(t)
	s := newModelSaver(eng, path, time.Hour, slog.New(slog.DiscardHandler))
	if err := s.Start(ctx); err != nil { // no file yet: a fresh start
		t.Fatal(err)
	}
	learn(t, eng, "a", "b")
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Shutdown(ctx); err != nil { // idempotent
		t.Fatal(err)
	}
	if m, _ := filepath.Glob(path + ".tmp-*"); len(m) != 0 {
		t.Errorf("temporary files left: %v", m)
	}

	eng2 := newTestEngine(t)
	s2 := newModelSaver(eng2, path, time.Hour, slog.New(slog.DiscardHandler))
	if err := s2.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer s2.Shutdown(ctx)
	if eng2.Series() != 2 {
		t.Errorf("restored %d series, want 2", eng2.Series())
	}
}

func TestModelSaverMovesCorruptSnapshotAside(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metric.snap")
	if err := os.WriteFile(path, []byte("OSPRYMET torn"), 0o600); err != nil {
		t.Fatal(err)
	}
	eng := newTestEngine(t)
	s := newModelSaver(eng, path, time.Hour, slog.New(slog.DiscardHandler))
	if err := s.Start(context.Background()); err != nil {
		t.Fatalf("a corrupt snapshot is fatal: %v", err)
	}
	if _, err := os.Stat(path + ".corrupt"); err != nil {
		t.Errorf("corrupt snapshot not moved aside: %v", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("corrupt snapshot still in place: %v", err)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("no snapshot written on shutdown: %v", err)
	}
}

func TestModelSaverSnapshotsPeriodically(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metric.snap")
	synctest.Test(t, func(t *testing.T) {
		eng := newTestEngine(t)
		s := newModelSaver(eng, path, 5*time.Minute, slog.New(slog.DiscardHandler))
		if err := s.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		learn(t, eng, "a")
		time.Sleep(4 * time.Minute)
		synctest.Wait()
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Errorf("snapshot before the interval: %v", err)
		}
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		eng2 := newTestEngine(t)
		f, err := os.Open(path)
		if err != nil {
			t.Fatalf("no snapshot after the interval: %v", err)
		}
		defer f.Close()
		if err := eng2.Restore(f); err != nil || eng2.Series() != 1 {
			t.Errorf("periodic snapshot: %v, %d series", err, eng2.Series())
		}
		if err := s.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}
