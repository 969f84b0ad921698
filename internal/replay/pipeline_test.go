package replay

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/config"
	"github.com/osprey-aiops/osprey/internal/detect/metric"
	"github.com/osprey-aiops/osprey/internal/store"
	"github.com/osprey-aiops/osprey/internal/store/sqlite"
)

// reportBody is rep's JSON report without the header (timings), with the
// input paths reduced to their base names.
func reportBody(t *testing.T, rep *Report) string {
	t.Helper()
	rep.Header = nil
	for i := range rep.Inputs {
		rep.Inputs[i].Name = filepath.Base(rep.Inputs[i].Name)
	}
	var b bytes.Buffer
	if err := rep.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestPipelinedReportIdentical replays metrics (synthetic and CSV), logs
// and events with the two halves of the pipeline on two goroutines and on
// one, and wants the same report.
func TestPipelinedReportIdentical(t *testing.T) {
	dir := t.TempDir()
	csvPath := writeCSV(t, dir, "payments-latency.csv")
	evPath := filepath.Join(dir, "alerts.jsonl")
	if err := os.WriteFile(evPath, []byte(eventLines()), 0o600); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for i := range 300 {
		at := t0.Add(time.Duration(i) * time.Minute)
		for j := range 5 {
			fmt.Fprintf(&b, "%s INFO served request id=%d in %dms\n", at.Add(time.Duration(j)*time.Second).Format(time.RFC3339), i*10+j, 10+j)
		}
		if i >= 200 && i < 205 {
			for j := range 30 {
				fmt.Fprintf(&b, "%s ERROR connection to db-%d refused\n", at.Add(30*time.Second).Format(time.RFC3339), j%3)
			}
		}
	}
	logPath := filepath.Join(dir, "payments.log")
	if err := os.WriteFile(logPath, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Remediation = remediationConfig()
	cfg.Notifications = notifyConfig(t)
	cfg.Logs.NewTemplateWarmup = 30 * time.Minute
	cfg.Logs.NewTemplateWarmupLines = 100
	inputs := []Source{
		SyntheticSource{Series: 100, Samples: 400},
		CSVSource{Path: csvPath}, LogSource{Path: logPath}, EventsSource{Path: evPath},
	}
	var bodies [2]string
	for i, seq := range []bool{true, false} {
		dataDir := t.TempDir()
		rep, err := Run(context.Background(), Options{
			Inputs: inputs, Configs: []NamedConfig{{Name: "default", Config: cfg}},
			Window: Window{Step: time.Minute}, Sequential: seq, DataDir: dataDir,
		})
		if err != nil {
			t.Fatal(err)
		}
		res := &rep.Results[0]
		if res.Anomalies.Total == 0 || res.Incidents.Total == 0 || len(res.Runbooks.Runs) == 0 || res.Noise.LogLines == 0 ||
			res.Notifications.Total == 0 {
			t.Fatalf("sequential=%v: the replay exercises too little: %+v, %d runs", seq, res.Noise, len(res.Runbooks.Runs))
		}
		// The store holds the last version of every anomaly (they are
		// written in batches, late).
		st, err := sqlite.Open(context.Background(), filepath.Join(dataDir, "osprey.db"))
		if err != nil {
			t.Fatal(err)
		}
		stored, err := st.ListAnomalies(context.Background(), store.AnomalyQuery{Limit: 100000})
		st.Close()
		if err != nil {
			t.Fatal(err)
		}
		active := 0
		for _, a := range stored {
			if a.Active() {
				active++
			}
		}
		if len(stored) != res.Anomalies.Total || active != res.Anomalies.Ongoing {
			t.Errorf("sequential=%v: store holds %d anomalies (%d active), report %d (%d ongoing)",
				seq, len(stored), active, res.Anomalies.Total, res.Anomalies.Ongoing)
		}
		bodies[i] = reportBody(t, rep)
	}
	if bodies[0] != bodies[1] {
		t.Errorf("the pipelined report differs from the sequential one:\nsequential:\n%s\npipelined:\n%s", bodies[0], bodies[1])
	}
}

// TestSeqIDs runs metric.Engine over the synthetic windows as the replay
// does (with the source's fingerprints, which must be the labels') and
// renumbers its anomalies: every opened anomaly gets a new ULID of its
// start time, a closed one the ID it opened with, and a second run the
// same IDs.
func TestSeqIDs(t *testing.T) {
	run := func() []osprey.Anomaly {
		var got []osprey.Anomaly
		var ids seqIDs
		eng, err := metric.NewEngine(metric.DefaultConfig(), osprey.AnomalyConsumerFunc(func(_ context.Context, b []osprey.Anomaly) error {
			ids.renumber(b)
			got = append(got, b...)
			return nil
		}), 0)
		if err != nil {
			t.Fatal(err)
		}
		s, err := SyntheticSource{Series: 60, Samples: 400}.Open(context.Background(), Window{Step: 5 * time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		for {
			it, ok, err := s.Next()
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				break
			}
			if len(it.Fingerprints) != len(it.Series) {
				t.Fatalf("%d fingerprints for %d series", len(it.Fingerprints), len(it.Series))
			}
			for i := range it.Series {
				if it.Fingerprints[i] != it.Series[i].Labels.Fingerprint() {
					t.Fatalf("fingerprint %d of %v is not its labels'", it.Fingerprints[i], it.Series[i].Labels)
				}
			}
			if err := eng.ConsumeFingerprinted(context.Background(), it.Series, it.Fingerprints); err != nil {
				t.Fatal(err)
			}
		}
		return got
	}
	first := run()
	if len(first) == 0 {
		t.Fatal("the engine found no anomalies")
	}
	opened := map[string]bool{}
	closed := 0
	for _, a := range first {
		if a.EndsAt.IsZero() {
			if opened[a.ID] || len(a.ID) != 26 || a.ID[:10] != osprey.NewID(a.StartsAt)[:10] {
				t.Fatalf("opened anomaly ID %q (starts %s) is a duplicate or not a ULID of its time", a.ID, a.StartsAt)
			}
			opened[a.ID] = true
		} else if !opened[a.ID] {
			t.Fatalf("closed anomaly ID %q was not opened", a.ID)
		} else {
			closed++
		}
	}
	if closed == 0 {
		t.Error("no anomaly closed")
	}
	second := run()
	if !reflect.DeepEqual(first, second) {
		t.Errorf("two runs over the same data: %d and %d anomalies; they differ", len(first), len(second))
	}
}

// TestCancelStopsBothHalves cancels a pipelined replay part-way: Run
// returns the context's error and leaves no goroutine behind (TestMain
// checks).
func TestCancelStopsBothHalves(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := Run(ctx, Options{
		Inputs:  []Source{SyntheticSource{Series: 200, Samples: 1440}},
		Configs: []NamedConfig{{Name: "default", Config: config.Default()}},
		Window:  Window{Step: time.Minute},
		Progress: func(_ string, done, _ time.Duration) {
			if done > 12*time.Hour {
				cancel()
			}
		},
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run after cancel: %v, want context.Canceled", err)
	}
}
