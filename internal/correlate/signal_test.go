package correlate

import (
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
)

func TestAnomalySignalSummary(t *testing.T) {
	at := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	labels := osprey.Labels{osprey.LabelMetric: "node_filesystem_avail_bytes", "service": "db"}
	for _, tc := range []struct {
		kind osprey.AnomalyKind
		want string
	}{
		{osprey.AnomalyMetric, "node_filesystem_avail_bytes: observed 1e+09, expected 0"},
		{osprey.AnomalyForecast, "node_filesystem_avail_bytes: forecast to reach 0 (now 1e+09)"},
	} {
		a := osprey.Anomaly{Kind: tc.kind, Labels: labels, Observed: 1e9, Expected: 0}
		if got := anomalySignal(&a, at).summary; got != tc.want {
			t.Errorf("%s: summary %q, want %q", tc.kind, got, tc.want)
		}
	}
}
