package alerts

import (
	"bytes"
	"encoding/json"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/ingest"
)

// grafanaMessage is the body Grafana Alerting's webhook contact point posts:
// Alertmanager's webhook payload (Grafana's notifier is built on
// Alertmanager's) with Grafana's fields added. Grafana sends version "1";
// title, message and state render the whole notification group from the
// alerts' own labels and annotations, so Osprey keeps the alerts, not them.
type grafanaMessage struct {
	webhookMessage
	OrgID *int64 `json:"orgId"`
}

// grafanaAlert is one alert of a Grafana webhook payload.
type grafanaAlert struct {
	webhookAlert
	SilenceURL   string `json:"silenceURL"`
	DashboardURL string `json:"dashboardURL"`
	PanelURL     string `json:"panelURL"`
	ImageURL     string `json:"imageURL"`
	// Values are the rule's query and expression results by reference ID.
	// They are kept as the JSON text Grafana sent, so that an odd value
	// (null, a string) spoils nothing.
	Values      json.RawMessage `json:"values"`
	ValueString string          `json:"valueString"`
	OrgID       *int64          `json:"orgId"`
}

// decodeGrafana decodes a Grafana webhook payload into a batch.
func decodeGrafana(body []byte, c *converter) (*batch, *requestError) {
	var msg grafanaMessage
	if rerr := decodeEnvelope(body, &msg); rerr != nil {
		return nil, rerr
	}
	alerts, bad, rerr := decodeAlertList[grafanaAlert](msg.Alerts, c)
	if rerr != nil {
		return nil, rerr
	}
	b := &batch{events: make([]osprey.Event, 0, len(alerts)), truncated: max(msg.TruncatedAlerts, 0)}
	for i := range alerts {
		if err, ok := bad[i]; ok {
			b.reject(i, ingest.ReasonMalformed, err)
			continue
		}
		a := &alerts[i]
		orgID := a.OrgID
		if orgID == nil {
			orgID = msg.OrgID
		}
		b.add(c, i, &a.alertFields, a.Status, []annotation{
			{"externalURL", msg.ExternalURL},
			{"senderFingerprint", a.Fingerprint},
			{"silenceURL", a.SilenceURL},
			{"dashboardURL", a.DashboardURL},
			{"panelURL", a.PanelURL},
			{"imageURL", a.ImageURL},
			{"valueString", a.ValueString},
			{"values", compactValues(a.Values)},
			{"orgId", formatInt(orgID)},
		})
	}
	return b, nil
}

// compactValues returns Grafana's values object as compact JSON text, or ""
// when there are none.
func compactValues(raw json.RawMessage) string {
	if firstByte(raw) != '{' {
		return "" // absent, null, or not an object
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil || buf.Len() <= 2 {
		return ""
	}
	return buf.String()
}
