package forecast

import (
	"bytes"
	"context"
	"errors"
	"io"
	"reflect"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
)

// TestSnapshotCoversModel fails when Model gains or loses a field, so that
// the snapshot codec (encodeModel, decodeModel, modelFields) follows.
func TestSnapshotCoversModel(t *testing.T) {
	if n := reflect.TypeFor[Model]().NumField(); n != modelFields {
		t.Fatalf("Model has %d fields, the snapshot codec writes %d: update encodeModel, decodeModel, modelFields and snapVersion", n, modelFields)
	}
}

// TestSnapshotRestoreContinues: a forecaster restored from a snapshot taken
// after 6 h of a filling disk continues exactly as the original does:
// same forecasts after the same further samples, and the open forecast
// adopted from the store closes normally.
func TestSnapshotRestoreContinues(t *testing.T) {
	value := func(e time.Duration) float64 { return pct(80 - 4*e.Hours()) }
	orig, emitted := feed(t, DefaultConfig(), time.Minute, 6*time.Hour, value)
	var buf bytes.Buffer
	if err := orig.Snapshot(&buf); err != nil {
		t.Fatal(err)
	}
	snap := buf.Bytes()

	restored, err := New(DefaultConfig(), osprey.AnomalyConsumerFunc(func(context.Context, []osprey.Anomaly) error { return nil }))
	if err != nil {
		t.Fatal(err)
	}
	// What a restart does: adopt the open forecasts from the store, then
	// restore the models.
	var open []osprey.Anomaly
	for _, a := range emitted {
		if a.Active() {
			open = append(open, a)
		}
	}
	if len(open) == 0 {
		t.Fatal("the filling disk opened no forecast in 6 h")
	}
	restored.Adopt(open)
	if err := restored.Restore(bytes.NewReader(snap)); err != nil {
		t.Fatal(err)
	}
	if restored.Series() != orig.Series() || restored.Open() != orig.Open() {
		t.Fatalf("restored %d series, %d open; original %d, %d", restored.Series(), restored.Open(), orig.Series(), orig.Open())
	}
	// The same snapshot again gives the same bytes.
	var again bytes.Buffer
	if err := restored.Snapshot(&again); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.Bytes(), snap) {
		t.Error("snapshot of the restored forecaster differs from the one it was restored from")
	}
	for e := 6*time.Hour + time.Minute; e <= 7*time.Hour; e += time.Minute {
		ts := t0.Add(e).UnixMilli()
		for _, f := range []*Forecaster{orig, restored} {
			batch := []osprey.Series{
				{Labels: sizeLabels, Samples: []osprey.Sample{{TimestampMs: ts, Value: 100 * gib}}},
				{Labels: availLabels, Samples: []osprey.Sample{{TimestampMs: ts, Value: value(e)}}},
			}
			if err := f.ConsumeSeries(context.Background(), batch); err != nil {
				t.Fatal(err)
			}
		}
	}
	a, b := orig.Forecasts(true), restored.Forecasts(true)
	if !reflect.DeepEqual(a, b) {
		t.Errorf("after another hour the forecasts differ:\noriginal %+v\nrestored %+v", a, b)
	}
	if b[0].Prediction.Status != StatusForecast {
		t.Errorf("restored status %s, want forecast", b[0].Prediction.Status)
	}
}

// TestRestoreRejectsDamage: every truncation and every flipped byte of a
// snapshot is an ErrSnapshot, and leaves the forecaster as it was.
func TestRestoreRejectsDamage(t *testing.T) {
	orig, _ := feed(t, DefaultConfig(), time.Minute, time.Hour, func(e time.Duration) float64 { return pct(80 - e.Hours()) })
	var buf bytes.Buffer
	if err := orig.Snapshot(&buf); err != nil {
		t.Fatal(err)
	}
	snap := buf.Bytes()
	f, err := New(DefaultConfig(), osprey.AnomalyConsumerFunc(func(context.Context, []osprey.Anomaly) error { return nil }))
	if err != nil {
		t.Fatal(err)
	}
	for n := range len(snap) {
		if err := f.Restore(bytes.NewReader(snap[:n])); !errors.Is(err, ErrSnapshot) {
			t.Fatalf("truncated to %d of %d bytes: %v, want ErrSnapshot", n, len(snap), err)
		}
	}
	for i := range snap {
		bad := bytes.Clone(snap)
		bad[i] ^= 0x5a
		if err := f.Restore(bytes.NewReader(bad)); !errors.Is(err, ErrSnapshot) {
			t.Fatalf("byte %d flipped: %v, want ErrSnapshot", i, err)
		}
	}
	if f.Series() != 0 {
		t.Errorf("failed restores left %d series", f.Series())
	}
	if err := f.Restore(bytes.NewReader(append(bytes.Clone(snap), 0))); !errors.Is(err, ErrSnapshot) {
		t.Errorf("trailing byte: %v, want ErrSnapshot", err)
	}
}

// TestRestoreDropsSeriesWithoutRule: series whose rule is no longer
// configured are not restored.
func TestRestoreDropsSeriesWithoutRule(t *testing.T) {
	orig, _ := feed(t, DefaultConfig(), time.Minute, time.Hour, func(e time.Duration) float64 { return pct(80 - e.Hours()) })
	var buf bytes.Buffer
	if err := orig.Snapshot(&buf); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Rules = []Rule{{Metric: "some_other_metric", Direction: Up, Threshold: 1, Horizon: time.Hour}}
	f, err := New(cfg, osprey.AnomalyConsumerFunc(func(context.Context, []osprey.Anomaly) error { return nil }))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Restore(&buf); err != nil {
		t.Fatal(err)
	}
	if f.Series() != 0 {
		t.Errorf("restored %d series of a rule that is gone", f.Series())
	}
}

// FuzzRestore: Restore never panics, and whatever it accepts snapshots
// again without error.
func FuzzRestore(f *testing.F) {
	orig, _ := feedQuiet(DefaultConfig(), time.Minute, time.Hour, func(e time.Duration) float64 { return pct(80 - e.Hours()) })
	var buf bytes.Buffer
	if err := orig.Snapshot(&buf); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte(snapMagic))
	f.Fuzz(func(t *testing.T, data []byte) {
		fc, err := New(DefaultConfig(), osprey.AnomalyConsumerFunc(func(context.Context, []osprey.Anomaly) error { return nil }))
		if err != nil {
			t.Fatal(err)
		}
		if err := fc.Restore(bytes.NewReader(data)); err != nil {
			return
		}
		if err := fc.Snapshot(io.Discard); err != nil {
			t.Fatal(err)
		}
	})
}

// feedQuiet is feed without a testing.T, for fuzz seeds.
func feedQuiet(cfg Config, step, dur time.Duration, value func(e time.Duration) float64) (*Forecaster, error) {
	f, err := New(cfg, osprey.AnomalyConsumerFunc(func(context.Context, []osprey.Anomaly) error { return nil }))
	if err != nil {
		return nil, err
	}
	for e := time.Duration(0); e <= dur; e += step {
		ts := t0.Add(e).UnixMilli()
		batch := []osprey.Series{
			{Labels: sizeLabels, Samples: []osprey.Sample{{TimestampMs: ts, Value: 100 * gib}}},
			{Labels: availLabels, Samples: []osprey.Sample{{TimestampMs: ts, Value: value(e)}}},
		}
		if err := f.ConsumeSeries(context.Background(), batch); err != nil {
			return nil, err
		}
	}
	return f, nil
}
