package alerts

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/config"
	"github.com/osprey-aiops/osprey/internal/ingest"
)

// testLimits are small limits, so that the tests can cross them cheaply.
var testLimits = config.ServerConfig{
	MaxBodyBytes:        1 << 16,
	MaxEventsPerRequest: 4,
	MaxLabelsPerEvent:   6,
	MaxLabelValueBytes:  256,
}

// defaultLimits are the limits a default configuration runs with.
var defaultLimits = config.Default().Server

// fixture reads a payload from testdata.
func fixture(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func mustTime(tb testing.TB, s string) time.Time {
	tb.Helper()
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

// wantEvent is what a test expects of one decoded event.
type wantEvent struct {
	name     string
	labels   osprey.Labels
	status   osprey.EventStatus
	severity osprey.Severity
	startsAt string
	endsAt   string
	// annotations must all be present with these values; others may be
	// there too.
	annotations map[string]string
}

// decoders by format name, as the fixtures' tests refer to them.
var decoders = map[string]decodeFunc{"v2": decodeV2, "webhook": decodeWebhook, "grafana": decodeGrafana}

// TestDecodeRealPayloads decodes payloads captured from the real senders
// (see testdata/README.md) at the time they were captured.
func TestDecodeRealPayloads(t *testing.T) {
	checkout := osprey.Labels{"alertname": "CheckoutDown", "service": "checkout", "severity": "critical"}
	flapping := osprey.Labels{"alertname": "Flapping", "service": "payments", "severity": "warning"}
	promCheckoutURL := "http://vm:19090/graph?g0.expr=vector%281%29&g0.tab=1"
	tests := []struct {
		name    string
		file    string
		format  string
		source  string
		now     string
		want    []wantEvent
		wantTrs int
	}{
		{
			name: "prometheus v2: one firing, one resolved", file: "prometheus-2.42-v2-firing-and-resolved.json",
			format: "v2", source: "prometheus", now: "2026-11-26T04:35:56Z",
			want: []wantEvent{
				{name: "CheckoutDown", labels: checkout, status: osprey.StatusFiring, severity: osprey.SeverityCritical,
					startsAt: "2026-11-26T04:35:46.792Z", endsAt: "2026-11-26T04:36:00.792Z",
					annotations: map[string]string{"summary": "checkout is down", "description": "value 1 on ", "generatorURL": promCheckoutURL}},
				{name: "Flapping", labels: flapping, status: osprey.StatusResolved, severity: osprey.SeverityWarning,
					startsAt: "2026-11-26T04:35:46.792Z", endsAt: "2026-11-26T04:35:52.792Z",
					annotations: map[string]string{"summary": "payments flaps"}},
			},
		},
		{
			name: "prometheus v2: resolved", file: "prometheus-2.42-v2-resolved.json",
			format: "v2", source: "prometheus", now: "2026-11-26T04:36:15Z",
			want: []wantEvent{
				{name: "Flapping", labels: flapping, status: osprey.StatusResolved, severity: osprey.SeverityWarning,
					startsAt: "2026-11-26T04:36:00.792Z", endsAt: "2026-11-26T04:36:08.792Z"},
			},
		},
		{
			name: "alertmanager webhook: firing and resolved", file: "alertmanager-0.25-webhook-firing-and-resolved.json",
			format: "webhook", source: "alertmanager", now: "2026-11-26T04:35:58Z",
			want: []wantEvent{
				{name: "CheckoutDown", labels: checkout, status: osprey.StatusFiring, severity: osprey.SeverityCritical,
					startsAt: "2026-11-26T04:35:46.792Z",
					annotations: map[string]string{"summary": "checkout is down", "generatorURL": promCheckoutURL,
						"externalURL": "http://vm:19093", "senderFingerprint": "1e13768c7ec52373"}},
				{name: "Flapping", labels: flapping, status: osprey.StatusResolved, severity: osprey.SeverityWarning,
					startsAt: "2026-11-26T04:35:46.792Z", endsAt: "2026-11-26T04:35:52.792Z",
					annotations: map[string]string{"senderFingerprint": "fea133a911ce2ca4"}},
			},
		},
		{
			name: "alertmanager webhook: firing", file: "alertmanager-0.25-webhook-firing.json",
			format: "webhook", source: "alertmanager", now: "2026-11-26T04:36:03Z",
			want: []wantEvent{
				{name: "CheckoutDown", labels: checkout, status: osprey.StatusFiring, severity: osprey.SeverityCritical,
					startsAt: "2026-11-26T04:35:46.792Z"},
				{name: "Flapping", labels: flapping, status: osprey.StatusFiring, severity: osprey.SeverityWarning,
					startsAt: "2026-11-26T04:36:00.792Z"},
			},
		},
		{
			name: "grafana: two firing", file: "grafana-11-webhook-firing.json",
			format: "grafana", source: "grafana", now: "2026-11-26T04:40:00Z",
			want: []wantEvent{
				{name: "HighCPU", status: osprey.StatusFiring, severity: osprey.SeverityWarning,
					labels:   osprey.Labels{"alertname": "HighCPU", "grafana_folder": "Checkout", "service": "checkout", "severity": "warning", "instance": "checkout-1:9100"},
					startsAt: "2026-11-26T03:30:10.123456Z",
					annotations: map[string]string{
						"summary":           "CPU above 90% on checkout-1",
						"generatorURL":      "https://grafana.example.com/alerting/grafana/ae4f1x2/view?orgId=1",
						"dashboardURL":      "https://grafana.example.com/d/node-exporter?from=1795663810123&orgId=1&to=1795667710000",
						"panelURL":          "https://grafana.example.com/d/node-exporter?from=1795663810123&orgId=1&to=1795667710000&viewPanel=7",
						"values":            `{"A":93.41,"C":1}`,
						"orgId":             "1",
						"senderFingerprint": "3f1c52a7d9a0b8e1",
					}},
				{name: "HighCPU", status: osprey.StatusFiring, severity: osprey.SeverityWarning,
					labels:   osprey.Labels{"alertname": "HighCPU", "grafana_folder": "Checkout", "service": "checkout", "severity": "warning", "instance": "checkout-2:9100"},
					startsAt: "2026-11-26T03:31:10.123456Z"},
			},
		},
		{
			name: "grafana: resolved, P1", file: "grafana-11-webhook-resolved.json",
			format: "grafana", source: "grafana", now: "2026-11-26T04:40:00Z",
			want: []wantEvent{
				{name: "DatasourceNoData", status: osprey.StatusResolved, severity: osprey.SeverityCritical,
					labels: osprey.Labels{"alertname": "DatasourceNoData", "grafana_folder": "Payments", "service": "payments",
						"severity": "P1", "datasource_uid": "prom-main", "rulename": "Payment latency"},
					startsAt: "2026-11-26T03:50:00Z", endsAt: "2026-11-26T04:20:00Z",
					annotations: map[string]string{"imageURL": "https://grafana.example.com/public/img/attachments/xyz.png", "orgId": "2"}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := mustTime(t, tt.now)
			c := &converter{lim: &defaultLimits, now: now, source: tt.source}
			b, rerr := decoders[tt.format](fixture(t, tt.file), c)
			if rerr != nil {
				t.Fatalf("decode: %v", rerr)
			}
			if len(b.rejected) != 0 || b.unknownSeverity != 0 {
				t.Fatalf("rejected %+v, unknown severities %d", b.rejected, b.unknownSeverity)
			}
			if len(b.events) != len(tt.want) {
				t.Fatalf("got %d events, want %d", len(b.events), len(tt.want))
			}
			for i, w := range tt.want {
				checkEvent(t, &b.events[i], w, tt.source, now)
			}
		})
	}
}

// checkEvent compares ev with w and the invariants of every decoded event.
func checkEvent(t *testing.T, ev *osprey.Event, w wantEvent, source string, now time.Time) {
	t.Helper()
	if ev.Name != w.name || ev.Status != w.status || ev.Severity != w.severity || ev.Source != source {
		t.Errorf("%s: got name %q status %s severity %s source %q, want %q %s %s %q",
			w.name, ev.Name, ev.Status, ev.Severity, ev.Source, w.name, w.status, w.severity, source)
	}
	if !ev.Labels.Equal(w.labels) {
		t.Errorf("%s: labels %v, want %v", w.name, ev.Labels, w.labels)
	}
	if !ev.StartsAt.Equal(mustTime(t, w.startsAt)) || !ev.EndsAt.Equal(mustTime(t, w.endsAt)) {
		t.Errorf("%s: startsAt %v endsAt %v, want %s %s", w.name, ev.StartsAt, ev.EndsAt, w.startsAt, w.endsAt)
	}
	for k, v := range w.annotations {
		if ev.Annotations[k] != v {
			t.Errorf("%s: annotation %s = %q, want %q", w.name, k, ev.Annotations[k], v)
		}
	}
	if len(ev.ID) != 26 || !ev.ReceivedAt.Equal(now) || ev.Fingerprint != osprey.EventFingerprint(ev.Name, ev.Labels) {
		t.Errorf("%s: not filled in: id %q receivedAt %v fingerprint %v", w.name, ev.ID, ev.ReceivedAt, ev.Fingerprint)
	}
	if err := ev.Validate(); err != nil {
		t.Errorf("%s: invalid: %v", w.name, err)
	}
}

// TestSameAlertSameFingerprint checks the point of sharing one mapping: the
// alert Prometheus posts to Osprey and the same alert forwarded by
// Alertmanager's webhook are one alert.
func TestSameAlertSameFingerprint(t *testing.T) {
	now := mustTime(t, "2026-11-26T04:35:58Z")
	fromProm, rerr := decodeV2(fixture(t, "prometheus-2.42-v2-firing-and-resolved.json"), &converter{lim: &testLimits, now: now, source: "prometheus"})
	if rerr != nil {
		t.Fatal(rerr)
	}
	fromAM, rerr := decodeWebhook(fixture(t, "alertmanager-0.25-webhook-firing-and-resolved.json"), &converter{lim: &testLimits, now: now, source: "alertmanager"})
	if rerr != nil {
		t.Fatal(rerr)
	}
	for i := range fromProm.events {
		p, a := fromProm.events[i], fromAM.events[i]
		if p.Name != a.Name || p.Fingerprint != a.Fingerprint || p.Status != a.Status {
			t.Errorf("alert %d: prometheus %s %v %s, alertmanager %s %v %s", i, p.Name, p.Fingerprint, p.Status, a.Name, a.Fingerprint, a.Status)
		}
	}
}

func TestV2Source(t *testing.T) {
	for ua, want := range map[string]string{
		"Prometheus/2.42.0+ds":              "prometheus",
		"prometheus/3.0":                    "prometheus",
		"Loki/3.1.0":                        "loki",
		"vmalert/v1.102.0":                  "vmalert",
		"Grafana/11.2.0":                    "grafana",
		"curl/8.0":                          defaultV2Source,
		"":                                  defaultV2Source,
		"Mozilla/5.0 (X11; Linux x86_64)":   defaultV2Source,
		"Thanos (ruler) something else/1.2": "thanos",
	} {
		if got := v2Source(ua); got != want {
			t.Errorf("v2Source(%q) = %q, want %q", ua, got, want)
		}
	}
}

// TestDecodeMapping covers the mapping rules one at a time on small v2 and
// webhook bodies.
func TestDecodeMapping(t *testing.T) {
	const now = "2025-06-01T12:00:00Z"
	tests := []struct {
		name   string
		format string
		body   string
		want   wantEvent
		// wantUnknown is the number of unknown severity words counted.
		wantUnknown int
	}{
		{name: "v2 minimal: starts now, fires", format: "v2", body: `[{"labels": {"alertname": "A"}}]`,
			want: wantEvent{name: "A", labels: osprey.Labels{"alertname": "A"}, status: osprey.StatusFiring, startsAt: now}},
		{name: "v2 endsAt in the future fires", format: "v2",
			body: `[{"labels": {"alertname": "A"}, "startsAt": "2025-06-01T11:00:00Z", "endsAt": "2025-06-01T12:00:01Z"}]`,
			want: wantEvent{name: "A", labels: osprey.Labels{"alertname": "A"}, status: osprey.StatusFiring,
				startsAt: "2025-06-01T11:00:00Z", endsAt: "2025-06-01T12:00:01Z"}},
		{name: "v2 endsAt now resolves", format: "v2",
			body: `[{"labels": {"alertname": "A"}, "startsAt": "2025-06-01T11:00:00Z", "endsAt": "2025-06-01T12:00:00Z"}]`,
			want: wantEvent{name: "A", labels: osprey.Labels{"alertname": "A"}, status: osprey.StatusResolved,
				startsAt: "2025-06-01T11:00:00Z", endsAt: now}},
		{name: "v2 only endsAt: starts at its end", format: "v2",
			body: `[{"labels": {"alertname": "A"}, "endsAt": "2025-06-01T10:00:00+02:00"}]`,
			want: wantEvent{name: "A", labels: osprey.Labels{"alertname": "A"}, status: osprey.StatusResolved,
				startsAt: "2025-06-01T08:00:00Z", endsAt: "2025-06-01T08:00:00Z"}},
		{name: "v2 status field is not part of the format", format: "v2",
			body: `[{"labels": {"alertname": "A"}, "status": "resolved"}]`,
			want: wantEvent{name: "A", labels: osprey.Labels{"alertname": "A"}, status: osprey.StatusFiring, startsAt: now}},
		{name: "empty labels are dropped", format: "v2", body: `[{"labels": {"alertname": "A", "pod": ""}}]`,
			want: wantEvent{name: "A", labels: osprey.Labels{"alertname": "A"}, status: osprey.StatusFiring, startsAt: now}},
		{name: "severity words", format: "v2", body: `[{"labels": {"alertname": "A", "severity": "Page"}}]`,
			want: wantEvent{name: "A", labels: osprey.Labels{"alertname": "A", "severity": "Page"}, status: osprey.StatusFiring,
				severity: osprey.SeverityError, startsAt: now}},
		{name: "unknown severity is kept and counted", format: "v2", body: `[{"labels": {"alertname": "A", "severity": "sev2"}}]`,
			want: wantEvent{name: "A", labels: osprey.Labels{"alertname": "A", "severity": "sev2"}, status: osprey.StatusFiring,
				severity: osprey.SeverityUnknown, startsAt: now},
			wantUnknown: 1},
		{name: "unknown fields are ignored", format: "v2", body: `[{"labels": {"alertname": "A"}, "receivers": [{"name": "x"}], "x": 1}]`,
			want: wantEvent{name: "A", labels: osprey.Labels{"alertname": "A"}, status: osprey.StatusFiring, startsAt: now}},
		{name: "the alert's own annotation wins", format: "v2",
			body: `[{"labels": {"alertname": "A"}, "annotations": {"generatorURL": "mine"}, "generatorURL": "http://prom"}]`,
			want: wantEvent{name: "A", labels: osprey.Labels{"alertname": "A"}, status: osprey.StatusFiring, startsAt: now,
				annotations: map[string]string{"generatorURL": "mine"}}},
		{name: "webhook status resolved wins over a missing endsAt", format: "webhook",
			body: `{"version": "4", "alerts": [{"status": "resolved", "labels": {"alertname": "A"}, "startsAt": "2025-06-01T11:00:00Z"}]}`,
			want: wantEvent{name: "A", labels: osprey.Labels{"alertname": "A"}, status: osprey.StatusResolved, startsAt: "2025-06-01T11:00:00Z"}},
		{name: "webhook firing with endsAt in the past resolves", format: "webhook",
			body: `{"alerts": [{"status": "firing", "labels": {"alertname": "A"}, "startsAt": "2025-06-01T11:00:00Z", "endsAt": "2025-06-01T11:30:00Z"}]}`,
			want: wantEvent{name: "A", labels: osprey.Labels{"alertname": "A"}, status: osprey.StatusResolved,
				startsAt: "2025-06-01T11:00:00Z", endsAt: "2025-06-01T11:30:00Z"}},
		{name: "webhook zero endsAt is no end", format: "webhook",
			body: `{"alerts": [{"status": "firing", "labels": {"alertname": "A"}, "startsAt": "2025-06-01T11:00:00Z", "endsAt": "0001-01-01T00:00:00Z"}]}`,
			want: wantEvent{name: "A", labels: osprey.Labels{"alertname": "A"}, status: osprey.StatusFiring, startsAt: "2025-06-01T11:00:00Z"}},
		{name: "grafana org from the payload", format: "grafana",
			body: `{"orgId": 7, "alerts": [{"status": "firing", "labels": {"alertname": "A"}, "values": {}}]}`,
			want: wantEvent{name: "A", labels: osprey.Labels{"alertname": "A"}, status: osprey.StatusFiring, startsAt: now,
				annotations: map[string]string{"orgId": "7", "values": ""}}},
		{name: "extras that do not fit are left out", format: "webhook",
			body: `{"externalURL": "` + strings.Repeat("x", 300) + `", "alerts": [{"labels": {"alertname": "A"},
			  "annotations": {"a": "1", "b": "2", "c": "3", "d": "4", "e": "5"}, "generatorURL": "http://g", "fingerprint": "f"}]}`,
			want: wantEvent{name: "A", labels: osprey.Labels{"alertname": "A"}, status: osprey.StatusFiring, startsAt: now,
				annotations: map[string]string{"generatorURL": "http://g", "externalURL": "", "senderFingerprint": ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := mustTime(t, now)
			source := map[string]string{"v2": "prometheus", "webhook": "alertmanager", "grafana": "grafana"}[tt.format]
			b, rerr := decoders[tt.format]([]byte(tt.body), &converter{lim: &testLimits, now: n, source: source})
			if rerr != nil {
				t.Fatalf("decode: %v", rerr)
			}
			if len(b.rejected) != 0 || len(b.events) != 1 {
				t.Fatalf("got %d events, rejected %+v", len(b.events), b.rejected)
			}
			checkEvent(t, &b.events[0], tt.want, source, n)
			if b.unknownSeverity != tt.wantUnknown {
				t.Errorf("unknown severities = %d, want %d", b.unknownSeverity, tt.wantUnknown)
			}
			if len(b.events[0].Annotations) > testLimits.MaxLabelsPerEvent {
				t.Errorf("%d annotations, over the limit", len(b.events[0].Annotations))
			}
		})
	}
}

// TestDecodeRejected covers what is refused: whole requests, and single
// alerts of a batch whose other alerts are kept.
func TestDecodeRejected(t *testing.T) {
	long := strings.Repeat("x", testLimits.MaxLabelValueBytes+1)
	type rejected struct {
		index  int
		reason ingest.Reason
		msg    string
	}
	tests := []struct {
		name   string
		format string
		body   string
		// For a request refused whole:
		wantCode   int
		wantReason ingest.Reason
		wantMsg    string
		// Otherwise, the alerts kept and those rejected:
		wantKept     int
		wantRejected []rejected
	}{
		{name: "v2 empty body", format: "v2", body: ` `, wantCode: 400, wantReason: ingest.ReasonMalformed, wantMsg: "empty body"},
		{name: "v2 object", format: "v2", body: `{"labels": {}}`, wantCode: 400, wantReason: ingest.ReasonMalformed, wantMsg: "JSON array"},
		{name: "v2 null", format: "v2", body: `null`, wantCode: 400, wantReason: ingest.ReasonMalformed, wantMsg: "JSON array"},
		{name: "v2 syntax", format: "v2", body: `[{"labels": {"alertname": "A"}}`, wantCode: 400, wantReason: ingest.ReasonMalformed, wantMsg: "JSON"},
		{name: "v2 trailing data", format: "v2", body: `[] []`, wantCode: 400, wantReason: ingest.ReasonMalformed, wantMsg: "invalid"},
		{name: "v2 too many", format: "v2", body: `[{}, {}, {}, {}, {}]`, wantCode: 413, wantReason: ingest.ReasonTooMany, wantMsg: "at most 4"},
		{name: "v2 empty array is fine", format: "v2", body: `[]`},
		{name: "webhook not an object", format: "webhook", body: `[]`, wantCode: 400, wantReason: ingest.ReasonMalformed, wantMsg: "JSON object"},
		{name: "webhook wrong version", format: "webhook", body: `{"version": "1", "alerts": []}`,
			wantCode: 400, wantReason: ingest.ReasonMalformed, wantMsg: "/api/v1/alerts/grafana"},
		{name: "webhook version type", format: "webhook", body: `{"version": 4}`,
			wantCode: 400, wantReason: ingest.ReasonMalformed, wantMsg: "version: got JSON number, want string"},
		{name: "webhook alerts not a list", format: "webhook", body: `{"alerts": {}}`,
			wantCode: 400, wantReason: ingest.ReasonMalformed, wantMsg: "alerts: must be a JSON array"},
		{name: "webhook no alerts is fine", format: "webhook", body: `{"version": "4", "alerts": null}`},
		{name: "grafana too many", format: "grafana", body: `{"alerts": [{}, {}, {}, {}, {}]}`,
			wantCode: 413, wantReason: ingest.ReasonTooMany},
		{
			name: "v2 mixed batch", format: "v2",
			body: `[
				{"labels": {"alertname": "ok"}},
				{"labels": {"service": "no name"}},
				{"labels": {"alertname": "A", "kube-pod": "x"}},
				{"labels": {"alertname": "A", "a": "` + long + `"}}
			]`,
			wantKept: 1,
			wantRejected: []rejected{
				{1, ingest.ReasonInvalid, "alerts[1]: labels.alertname: missing"},
				{2, ingest.ReasonInvalid, "invalid label name"},
				{3, ingest.ReasonLabelLimit, "labels.a: value longer than 256 bytes"},
			},
		},
		{
			name: "v2 element type errors spoil only their element", format: "v2",
			body:     `[{"labels": {"alertname": "A"}}, {"labels": {"alertname": 1}}, 7, {"labels": {"alertname": "B"}, "startsAt": 3}]`,
			wantKept: 1,
			wantRejected: []rejected{
				{1, ingest.ReasonMalformed, "alerts[1]: labels: got JSON number, want string"},
				{2, ingest.ReasonMalformed, "alerts[2]: value: got JSON number, want object"},
				{3, ingest.ReasonMalformed, "startsAt: got JSON number, want string"},
			},
		},
		{
			name: "v2 invalid values", format: "v2",
			body: `[
				{"labels": {"alertname": "A"}, "startsAt": "yesterday"},
				{"labels": {"alertname": "A"}, "endsAt": "2025-06-01"},
				{"labels": {"alertname": "A"}, "startsAt": "2025-06-01T11:00:00Z", "endsAt": "2025-06-01T10:00:00Z"},
				{"labels": {"alertname": "A\u0000"}}
			]`,
			wantRejected: []rejected{
				{0, ingest.ReasonInvalid, "startsAt: \"yesterday\" is not an RFC 3339 time"},
				{1, ingest.ReasonInvalid, "endsAt:"},
				{2, ingest.ReasonInvalid, "endsAt:"},
				{3, ingest.ReasonInvalid, "NUL"},
			},
		},
		{
			name: "webhook bad status and limits", format: "webhook",
			body: `{"version": "4", "alerts": [
				{"status": "pending", "labels": {"alertname": "A"}},
				{"status": "firing", "labels": {"alertname": "A", "a": "1", "b": "2", "c": "3", "d": "4", "e": "5", "f": "6"}},
				{"status": "firing", "labels": {"alertname": "A"}, "annotations": {"summary": "` + long + `"}},
				{"status": "firing", "labels": {"alertname": "A"}}
			]}`,
			wantKept: 1,
			wantRejected: []rejected{
				{0, ingest.ReasonInvalid, `status: "pending" is not firing or resolved`},
				{1, ingest.ReasonLabelLimit, "7 labels, at most 6"},
				{2, ingest.ReasonLabelLimit, "value longer than 256 bytes"},
			},
		},
		{
			name: "grafana element type error", format: "grafana",
			body:     `{"alerts": [{"labels": {"alertname": "A"}, "orgId": "one"}, {"labels": {"alertname": "B"}, "values": "odd"}]}`,
			wantKept: 1,
			wantRejected: []rejected{
				{0, ingest.ReasonMalformed, "orgId: got JSON string, want number"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &converter{lim: &testLimits, now: mustTime(t, "2025-06-01T12:00:00Z"), source: "test"}
			b, rerr := decoders[tt.format]([]byte(tt.body), c)
			if tt.wantCode != 0 {
				if rerr == nil {
					t.Fatalf("decode accepted %d events, rejected %+v; want the request refused", len(b.events), b.rejected)
				}
				if rerr.code != tt.wantCode || rerr.reason != tt.wantReason || !strings.Contains(rerr.msg, tt.wantMsg) {
					t.Errorf("refused with {%d %s %q}, want {%d %s %q}", rerr.code, rerr.reason, rerr.msg, tt.wantCode, tt.wantReason, tt.wantMsg)
				}
				return
			}
			if rerr != nil {
				t.Fatalf("decode refused the request: %v", rerr)
			}
			if len(b.events) != tt.wantKept {
				t.Errorf("kept %d alerts, want %d", len(b.events), tt.wantKept)
			}
			if len(b.rejected) != len(tt.wantRejected) {
				t.Fatalf("rejected %+v, want %d", b.rejected, len(tt.wantRejected))
			}
			for i, w := range tt.wantRejected {
				got := b.rejected[i]
				if got.Index != w.index || got.Reason != w.reason || !strings.Contains(got.Error, w.msg) {
					t.Errorf("rejected[%d] = %+v, want index %d reason %s containing %q", i, got, w.index, w.reason, w.msg)
				}
			}
		})
	}
}

// TestTruncatedAlerts checks that alerts a sender left out are counted.
func TestTruncatedAlerts(t *testing.T) {
	c := &converter{lim: &testLimits, now: mustTime(t, "2025-06-01T12:00:00Z"), source: "alertmanager"}
	b, rerr := decodeWebhook([]byte(`{"version": "4", "truncatedAlerts": 12, "alerts": [{"labels": {"alertname": "A"}}]}`), c)
	if rerr != nil || b.truncated != 12 {
		t.Fatalf("decode = %+v, %v; want 12 truncated", b, rerr)
	}
}

// TestFixturesAreRealShapes guards the fixtures: each must be the JSON its
// sender sends, with the fields this package relies on.
func TestFixturesAreRealShapes(t *testing.T) {
	for file, keys := range map[string][]string{
		"alertmanager-0.25-webhook-firing.json": {"version", "groupKey", "status", "receiver", "groupLabels", "commonLabels", "commonAnnotations", "externalURL", "alerts", "truncatedAlerts"},
		"grafana-11-webhook-firing.json":        {"version", "groupKey", "status", "receiver", "orgId", "state", "title", "message", "alerts"},
	} {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(fixture(t, file), &m); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for _, k := range keys {
			if _, ok := m[k]; !ok {
				t.Errorf("%s has no %q (keys %v)", file, k, slicesSorted(maps.Keys(m)))
			}
		}
	}
}
