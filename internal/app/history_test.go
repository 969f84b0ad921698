package app

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/config"
	"github.com/osprey-aiops/osprey/internal/metricstore"
)

// TestHistoryComparisonRanksDeviatingService runs Osprey over a metric
// store holding two days of two services' 5-minute latency (too coarse
// for the detector); payment's last sample jumps. Two alerts, one per
// service and of the same severity, open one incident; the comparison
// with the normal period, read outside the correlator's lock and merged
// by a second ranking, puts payment first with an explanation naming the
// comparison.
func TestHistoryComparisonRanksDeviatingService(t *testing.T) {
	yaml := `data_dir: ` + filepath.Join(t.TempDir(), "data") + `
server:
  listen: 127.0.0.1:0
correlate:
  burst: 1m
`
	cfg, err := config.Parse([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.RCA.History.Enabled {
		t.Fatal("rca.history is off by default")
	}
	now := time.Now()
	var batch []osprey.Series
	for _, svc := range []string{"frontend", "payment"} {
		s := osprey.Series{Labels: osprey.Labels{"__name__": "latency_seconds", "service": svc}}
		for k := 2 * 24 * 12; k >= 0; k-- { // two days at 5 minutes, the last 2 minutes ago
			at := now.Add(-2*time.Minute - time.Duration(k)*5*time.Minute)
			v := 0.1 + 0.01*math.Sin(float64(k)*1.3)
			if svc == "payment" && k == 0 {
				v = 1.2
			}
			s.Samples = append(s.Samples, osprey.Sample{TimestampMs: at.UnixMilli(), Value: v})
		}
		batch = append(batch, s)
	}
	ms, err := metricstore.New(metricstore.Options{Dir: cfg.TSDBPath()})
	if err != nil {
		t.Fatal(err)
	}
	if err := ms.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := ms.AppendSeries(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	if err := ms.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}

	base, stop := startRun(t, cfg)
	defer stop()
	resp, err := http.Post(base+"/api/v1/events", "application/json", strings.NewReader(
		`[{"name": "FrontendSlow", "labels": {"service": "frontend"}, "severity": "warning"},
		  {"name": "PaymentSlow", "labels": {"service": "payment"}, "severity": "warning"}]`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("POST events: %s", resp.Status)
	}
	type cause struct {
		Name        string `json:"name"`
		Explanation string `json:"explanation"`
	}
	var list struct {
		Incidents []struct {
			ID     string  `json:"id"`
			Causes []cause `json:"causes"`
		} `json:"incidents"`
	}
	waitFor(t, "payment ranked first by the comparison", func() bool {
		getJSON(t, base+"/api/v1/incidents", &list)
		return len(list.Incidents) == 1 && len(list.Incidents[0].Causes) == 2 && list.Incidents[0].Causes[0].Name == "payment"
	}, func() string { return fmt.Sprintf("%+v", list) })
	expl := list.Incidents[0].Causes[0].Explanation
	t.Logf("payment: %s", expl)
	for _, want := range []string{"latency_seconds 1.2, above its normal median 0.1", "comparison with the 168h before the incident", "at step 5m"} {
		if !strings.Contains(expl, want) {
			t.Errorf("explanation %q lacks %q", expl, want)
		}
	}
	if strings.Contains(list.Incidents[0].Causes[1].Explanation, "comparison") {
		t.Errorf("frontend's normal latency counted: %s", list.Incidents[0].Causes[1].Explanation)
	}
	mresp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(mresp.Body)
	mresp.Body.Close()
	// The two alerts may be ranked in one batch or two: at least one
	// comparison per service.
	for name, least := range map[string]float64{"osprey_rca_history_comparisons_total": 2, "osprey_rca_history_series_read_total": 2,
		"osprey_rca_history_evidence_total": 1, "osprey_rca_history_seconds_total": 0} {
		v, ok := metricValue(string(body), name)
		if !ok || v < least {
			t.Errorf("/metrics: %s = %v (present %v), want at least %v", name, v, ok, least)
		}
	}
}

// metricValue finds the value of an unlabelled metric in a /metrics page.
func metricValue(page, name string) (float64, bool) {
	for _, line := range strings.Split(page, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			var f float64
			if _, err := fmt.Sscan(v, &f); err == nil {
				return f, true
			}
		}
	}
	return 0, false
}
