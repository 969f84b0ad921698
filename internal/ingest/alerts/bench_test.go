package alerts

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey/internal/config"
)

// benchAlerts returns n alerts shaped like Prometheus' (five labels, two
// annotations, a generator URL), each a different series.
func benchAlerts(n int) []webhookAlert {
	alerts := make([]webhookAlert, n)
	for i := range alerts {
		alerts[i] = webhookAlert{
			Status: "firing",
			alertFields: alertFields{
				Labels: map[string]string{
					"alertname": "HighLatency", "service": "checkout", "severity": "critical",
					"instance": fmt.Sprintf("checkout-%d:8080", i), "job": "checkout",
				},
				Annotations: map[string]string{
					"summary":     fmt.Sprintf("p99 latency above 2s on checkout-%d", i),
					"description": "The 99th percentile of request latency has been above 2s for 5 minutes.",
				},
				StartsAt:     "2026-11-26T04:35:46.792Z",
				EndsAt:       "2026-11-26T04:39:46.792Z",
				GeneratorURL: "http://prometheus:9090/graph?g0.expr=histogram_quantile%280.99%2C+rate%28x%5B5m%5D%29%29+%3E+2&g0.tab=1",
			},
			Fingerprint: fmt.Sprintf("%016x", i),
		}
	}
	return alerts
}

func benchDecode(b *testing.B, body []byte, decode decodeFunc) {
	lim := config.Default().Server
	now := time.Date(2026, 11, 26, 4, 36, 0, 0, time.UTC)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		batch, rerr := decode(body, &converter{lim: &lim, now: now, source: "bench"})
		if rerr != nil || len(batch.events) != 100 {
			b.Fatalf("decode: %v, %d events", rerr, len(batch.events))
		}
	}
}

// BenchmarkDecodeV2 decodes a Prometheus-shaped POST /api/v2/alerts body of
// 100 alerts.
func BenchmarkDecodeV2(b *testing.B) {
	alerts := benchAlerts(100)
	v2 := make([]alertFields, len(alerts))
	for i := range alerts {
		v2[i] = alerts[i].alertFields
	}
	body, _ := json.Marshal(v2)
	benchDecode(b, body, decodeV2)
}

// BenchmarkDecodeWebhook decodes an Alertmanager webhook payload of 100
// alerts.
func BenchmarkDecodeWebhook(b *testing.B) {
	alerts := benchAlerts(100)
	body, _ := json.Marshal(webhookMessage{webhookHeader: webhookHeader{Version: "4", Receiver: "osprey", Status: "firing",
		ExternalURL: "http://alertmanager:9093", GroupKey: `{}:{service="checkout"}`}, Alerts: alerts})
	benchDecode(b, body, decodeWebhook)
}

// BenchmarkDecodeGrafana decodes a Grafana webhook payload of 100 alerts.
func BenchmarkDecodeGrafana(b *testing.B) {
	alerts := benchAlerts(100)
	g := make([]grafanaAlert, len(alerts))
	for i := range alerts {
		g[i] = grafanaAlert{webhookAlert: alerts[i], DashboardURL: "https://grafana/d/abc?orgId=1",
			PanelURL: "https://grafana/d/abc?orgId=1&viewPanel=2", Values: json.RawMessage(`{"A":2.5,"C":1}`),
			ValueString: "[ var='A' labels={} value=2.5 ]"}
	}
	body, _ := json.Marshal(grafanaMessage{webhookHeader: webhookHeader{Version: "1", Receiver: "osprey",
		ExternalURL: "https://grafana/"}, Alerts: g})
	benchDecode(b, body, decodeGrafana)
}
