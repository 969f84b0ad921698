package main_test

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/prometheus/prompb"
)

// metricValue returns the text of the sample line of metric name on
// GET /metrics, or "" when there is none.
func (s *server) metricValue(name string) string {
	s.t.Helper()
	resp, err := http.Get(s.base + "/metrics")
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for line := range strings.Lines(string(body)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+" "); ok {
			return v
		}
	}
	return ""
}

// TestDetectorStateSurvivesRestart teaches the detector a steady series
// through remote_write, stops Osprey with SIGTERM (the last snapshot is
// written after the bus drained), starts it again on the same data dir and
// sends a single spike: a model that learnt nothing would still be warming
// up and say nothing; the restored one reports the spike at once.
func TestDetectorStateSurvivesRestart(t *testing.T) {
	dataDir := t.TempDir()
	const (
		n    = 400 // well past the warm-up of 100 samples
		step = 10 * time.Second
	)
	start := time.Now().Add(-(n + 10) * step).Truncate(time.Second)
	lbls := []prompb.Label{
		{Name: "__name__", Value: "queue_depth"},
		{Name: "service", Value: "billing"},
	}
	var samples []prompb.Sample
	seed := uint64(7)
	for i := range n + 1 {
		seed = seed*6364136223846793005 + 1442695040888963407
		v := 100 + 4*(float64(seed>>11)/float64(1<<53)-0.5)
		if i == n {
			v = 400 // the spike, sent after the restart
		}
		samples = append(samples, prompb.Sample{Timestamp: start.Add(time.Duration(i) * step).UnixMilli(), Value: v})
	}

	s := startServer(t, dataDir, freeAddr(t))
	for i := 0; i < n; i += 100 {
		remoteWrite(t, s.base, []prompb.TimeSeries{{Labels: lbls, Samples: samples[i:min(i+100, n)]}})
	}
	if err := s.stop(syscall.SIGTERM); err != nil {
		t.Fatalf("osprey exited with %v\n%s", err, s.stderr)
	}
	if fi, err := os.Stat(filepath.Join(dataDir, "detect", "metric.snap")); err != nil || fi.Size() == 0 {
		t.Fatalf("no snapshot after shutdown: %v\n%s", err, s.stderr)
	}

	s = startServer(t, dataDir, freeAddr(t))
	if got := s.metricValue("osprey_detect_series"); got != "1" {
		t.Fatalf("osprey_detect_series = %q after restart, want 1\n%s", got, s.stderr)
	}
	remoteWrite(t, s.base, []prompb.TimeSeries{{Labels: lbls, Samples: samples[n:]}})
	var list struct {
		Anomalies []struct {
			Observed float64           `json:"observed"`
			Labels   map[string]string `json:"labels"`
		} `json:"anomalies"`
	}
	for attempt := 0; ; attempt++ {
		if attempt == 400 {
			t.Fatalf("no anomaly for the spike after the restart\n%s", s.stderr)
		}
		s.getJSON("/api/v1/anomalies", &list)
		if len(list.Anomalies) > 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if a := list.Anomalies[0]; a.Observed != 400 || a.Labels["__name__"] != "queue_depth" {
		t.Errorf("anomaly = %+v, want the spike of queue_depth", a)
	}
	if err := s.stop(syscall.SIGTERM); err != nil {
		t.Errorf("osprey exited with %v\n%s", err, s.stderr)
	}
}
