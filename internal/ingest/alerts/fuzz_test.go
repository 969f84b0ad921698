package alerts

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/config"
	"github.com/osprey-aiops/osprey/internal/ingest"
)

// fuzzLimits are small, so that the fuzzer reaches every limit.
var fuzzLimits = config.ServerConfig{MaxBodyBytes: 1 << 16, MaxEventsPerRequest: 8, MaxLabelsPerEvent: 5, MaxLabelValueBytes: 64}

var fuzzNow = time.Date(2026, 11, 26, 4, 35, 56, 0, time.UTC)

// fuzzDecoder checks the invariants every decoder keeps, whatever the input:
// no panic; a refused request comes with a client error and no batch; every
// accepted event is valid, within the limits and filled in; every alert of
// the request is either accepted or rejected, once.
func fuzzDecoder(f *testing.F, decode decodeFunc, seeds ...string) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c := &converter{lim: &fuzzLimits, now: fuzzNow, source: "fuzz"}
		b, rerr := decode(data, c)
		if rerr != nil {
			if b != nil {
				t.Fatalf("refusal %v came with a batch", rerr)
			}
			if rerr.code != 400 && rerr.code != 413 || rerr.msg == "" || rerr.reason == "" {
				t.Fatalf("bad refusal %+v", rerr)
			}
			return
		}
		total := len(b.events) + len(b.rejected)
		if total > fuzzLimits.MaxEventsPerRequest {
			t.Fatalf("%d alerts accepted or rejected, over the limit", total)
		}
		seen := make(map[int]bool)
		for _, r := range b.rejected {
			if r.Index < 0 || r.Index >= total || seen[r.Index] || r.Error == "" || r.Reason == "" {
				t.Fatalf("bad rejection %+v of %d alerts", r, total)
			}
			seen[r.Index] = true
		}
		for i := range b.events {
			checkFuzzEvent(t, &b.events[i])
		}
		if b.unknownSeverity > len(b.events) {
			t.Fatalf("%d unknown severities among %d events", b.unknownSeverity, len(b.events))
		}
		if _, err := json.Marshal(b.events); err != nil {
			t.Fatalf("accepted events do not encode: %v", err)
		}
		if _, err := json.Marshal(partialBody{Rejected: b.rejected}); err != nil {
			t.Fatalf("rejections do not encode: %v", err)
		}
	})
}

func checkFuzzEvent(t *testing.T, ev *osprey.Event) {
	t.Helper()
	if err := ev.Validate(); err != nil {
		t.Fatalf("accepted event fails Validate: %v", err)
	}
	if ev.Name == "" || ev.Name != ev.Labels[osprey.LabelAlertName] {
		t.Fatalf("name %q is not the alertname label of %v", ev.Name, ev.Labels)
	}
	if len(ev.ID) != 26 || ev.Source != "fuzz" || ev.StartsAt.IsZero() || !ev.ReceivedAt.Equal(fuzzNow) {
		t.Fatalf("event not filled in: %+v", ev)
	}
	if ev.Fingerprint != osprey.EventFingerprint(ev.Name, ev.Labels) {
		t.Fatal("wrong fingerprint")
	}
	if resolved := !ev.EndsAt.IsZero() && !ev.EndsAt.After(fuzzNow); resolved && ev.Status != osprey.StatusResolved {
		t.Fatalf("endsAt %v has passed but the event is %s", ev.EndsAt, ev.Status)
	}
	if len(ev.Labels) > fuzzLimits.MaxLabelsPerEvent || len(ev.Annotations) > fuzzLimits.MaxLabelsPerEvent {
		t.Fatalf("over the label limit: %d labels, %d annotations", len(ev.Labels), len(ev.Annotations))
	}
	for k, v := range ev.Labels {
		if !ingest.ValidLabelName(k) || v == "" || len(v) > fuzzLimits.MaxLabelValueBytes || strings.Contains(v, "\x00") {
			t.Fatalf("label %q=%q", k, v)
		}
	}
	for k, v := range ev.Annotations {
		if k == "" || len(k) > fuzzLimits.MaxLabelValueBytes || len(v) > fuzzLimits.MaxLabelValueBytes ||
			strings.Contains(k+v, "\x00") {
			t.Fatalf("annotation %q=%q", k, v)
		}
	}
}

// FuzzAlertmanagerV2 fuzzes the POST /api/v2/alerts decoder.
func FuzzAlertmanagerV2(f *testing.F) {
	fuzzDecoder(f, decodeV2,
		string(fixture(f, "prometheus-2.42-v2-firing-and-resolved.json")),
		string(fixture(f, "prometheus-2.42-v2-resolved.json")),
		`[{"labels": {"alertname": "A", "severity": "x"}, "startsAt": "2026-11-26T04:00:00Z", "endsAt": "0001-01-01T00:00:00Z"}]`,
		`[{"labels": {"alertname": 1}}, 7, null]`,
	)
}

// FuzzAlertmanagerWebhook fuzzes the Alertmanager webhook decoder.
func FuzzAlertmanagerWebhook(f *testing.F) {
	fuzzDecoder(f, decodeWebhook,
		string(fixture(f, "alertmanager-0.25-webhook-firing-and-resolved.json")),
		string(fixture(f, "alertmanager-0.25-webhook-firing.json")),
		`{"version": "4", "truncatedAlerts": 3, "alerts": [{"status": "resolved", "labels": {"alertname": "A"}}]}`,
		`{"alerts": null}`,
	)
}

// FuzzGrafanaWebhook fuzzes the Grafana webhook decoder.
func FuzzGrafanaWebhook(f *testing.F) {
	fuzzDecoder(f, decodeGrafana,
		string(fixture(f, "grafana-11-webhook-firing.json")),
		string(fixture(f, "grafana-11-webhook-resolved.json")),
		`{"orgId": 1, "alerts": [{"labels": {"alertname": "A"}, "values": {"B": 1e308}, "orgId": -1}]}`,
	)
}
