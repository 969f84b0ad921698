package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/prompb"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/client"
)

func testAnomalies(t *testing.T, s *ospreyServer) {
	if out := s.mustRun(t, "anomalies", "list", "--since", "1h"); out != "No anomalies.\n" {
		t.Errorf("anomalies list before any: %q", out)
	}
	var list []osprey.Anomaly
	decodeJSON(t, s.mustRun(t, "anomalies", "list", "-o", "json"), &list)
	if list == nil || len(list) != 0 {
		t.Errorf("anomalies list -o json before any = %v, want []", list)
	}

	// A steady series past the detector's warm-up, then a spike.
	const n = 300
	start := time.Now().Add(-(n + 5) * 10 * time.Second).Truncate(time.Second)
	var samples []prompb.Sample
	seed := uint64(7)
	for i := range n + 1 {
		seed = seed*6364136223846793005 + 1442695040888963407
		v := 100 + 4*(float64(seed>>11)/float64(1<<53)-0.5)
		if i == n {
			v = 400
		}
		samples = append(samples, prompb.Sample{Timestamp: start.Add(time.Duration(i) * 10 * time.Second).UnixMilli(), Value: v})
	}
	lbls := []prompb.Label{{Name: "__name__", Value: "queue_depth"}, {Name: "service", Value: "billing"}}
	for i := 0; i <= n; i += 100 {
		s.remoteWrite(t, []prompb.TimeSeries{{Labels: lbls, Samples: samples[i:min(i+100, n+1)]}})
	}
	eventually(t, "an anomaly", func() bool {
		l, err := s.client.ListAnomalies(context.Background(), client.AnomalyQuery{})
		if err != nil {
			t.Fatal(err)
		}
		return len(l) > 0
	})

	out := s.mustRun(t, "anomalies", "list", "--since", "1h")
	if !strings.HasPrefix(out, "ID ") || !strings.Contains(out, `queue_depth{service="billing"}`) || !strings.Contains(out, "metric") {
		t.Errorf("anomalies list:\n%s", out)
	}
	decodeJSON(t, s.mustRun(t, "anomalies", "list", "-o", "json", "--limit", "5"), &list)
	if len(list) == 0 || list[0].Observed != 400 || list[0].Labels["__name__"] != "queue_depth" {
		t.Errorf("anomalies list -o json = %+v", list)
	}
	if out := s.mustRun(t, "anomalies", "list", "--active"); !strings.Contains(out, "ongoing") && out != "No anomalies.\n" {
		t.Errorf("anomalies list --active:\n%s", out)
	}
	s.wantFail(t, ExitError, []string{"anomalies", "list", "--since", "yesterday"}, "osprey: server: 400 ", "since")
}
