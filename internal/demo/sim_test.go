package demo

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/detect/forecast"
	"github.com/osprey-aiops/osprey/internal/detect/metric"
)

// collect keeps the anomalies a detector opens.
type collect struct{ opened []osprey.Anomaly }

func (c *collect) ConsumeAnomalies(_ context.Context, b []osprey.Anomaly) error {
	for _, a := range b {
		if a.Active() {
			c.opened = append(c.opened, a)
		}
	}
	return nil
}

// detectRig feeds the simulation's frames to the production metric
// detector and forecaster, in sample time (no clock).
type detectRig struct {
	t    *testing.T
	sim  *Sim
	eng  *metric.Engine
	fc   *forecast.Forecaster
	got  *collect
	fgot *collect
	at   time.Time
	step time.Duration
}

func newDetectRig(t *testing.T, seed int64) *detectRig {
	t.Helper()
	r := &detectRig{t: t, sim: NewSim(seed, time.Second), got: &collect{}, fgot: &collect{},
		at: time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC), step: time.Second}
	var err error
	if r.eng, err = metric.NewEngine(metric.DefaultConfig(), r.got, 0); err != nil {
		t.Fatal(err)
	}
	if r.fc, err = forecast.New(forecast.DefaultConfig(), r.fgot); err != nil {
		t.Fatal(err)
	}
	return r
}

// run steps n samples and feeds them to the detectors.
func (r *detectRig) run(n int) {
	r.t.Helper()
	for range n {
		r.at = r.at.Add(r.step)
		f := r.sim.Step(r.at)
		batch := make([]osprey.Series, 0, len(f.Points))
		for _, p := range f.Points {
			batch = append(batch, osprey.Series{Labels: p.Labels, Samples: []osprey.Sample{{TimestampMs: r.at.UnixMilli(), Value: p.Value}}})
		}
		if err := r.eng.ConsumeSeries(context.Background(), batch); err != nil {
			r.t.Fatal(err)
		}
		if err := r.fc.ConsumeSeries(context.Background(), batch); err != nil {
			r.t.Fatal(err)
		}
	}
}

func services(as []osprey.Anomaly) map[string]int {
	out := map[string]int{}
	for _, a := range as {
		out[a.Labels.Get(osprey.LabelService)]++
	}
	return out
}

func describe(as []osprey.Anomaly) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.StartsAt.Format("15:04:05")+" "+a.Labels.Get(osprey.LabelService)+" "+a.Labels.Get(osprey.LabelMetric)+" "+a.Labels.Get(quantileLabel)+" "+a.Labels.Get(mountpointLabel))
	}
	sort.Strings(out)
	return out
}

// TestSimQuietAndDetected runs the environment through the production
// metric detector and forecaster in sample time: the backfilled history and
// an hour of healthy traffic raise nothing, and every fault of the rotation
// is found on the faulted service (and the disk fault is forecast).
func TestSimQuietAndDetected(t *testing.T) {
	for _, seed := range []int64{1, 2} {
		r := newDetectRig(t, seed)
		r.run(1800) // the history the demo backfills
		if n := len(r.got.opened); n > 0 {
			t.Errorf("seed %d: %d anomalies in the history: %v", seed, n, describe(r.got.opened))
		}
		warm := len(r.got.opened)
		r.run(3600) // an hour of healthy traffic
		if quiet := r.got.opened[warm:]; len(quiet) > 0 {
			t.Errorf("seed %d: %d anomalies in an hour of healthy traffic: %v", seed, len(quiet), describe(quiet))
		}
		for _, f := range DefaultRotation() {
			before, fbefore := len(r.got.opened), len(r.fgot.opened)
			if err := r.sim.Inject(f); err != nil {
				t.Fatal(err)
			}
			r.run(20)
			if f.Kind == FaultCrashLoop {
				if _, err := r.sim.Restart(f.Service); err != nil {
					t.Fatal(err)
				}
			}
			r.run(280)
			got := r.got.opened[before:]
			if services(got)[f.Service] == 0 {
				t.Errorf("seed %d: %s: no anomaly of %s: %v", seed, f, f.Service, describe(got))
			}
			if f.Kind == FaultDisk {
				forecasts := r.fgot.opened[fbefore:]
				if len(forecasts) != 1 || forecasts[0].Labels.Get(mountpointLabel) != f.Mount || forecasts[0].Labels.Get(osprey.LabelService) != f.Service {
					t.Errorf("seed %d: %s: forecasts %v", seed, f, describe(forecasts))
				}
			}
			t.Logf("seed %d: %s: %d anomalies %v; forecasts %v", seed, f, len(got), describe(got), describe(r.fgot.opened[fbefore:]))
		}
	}
}
