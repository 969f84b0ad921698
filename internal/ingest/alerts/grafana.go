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
	webhookHeader
	OrgID  *int64         `json:"orgId"`
	Alerts []grafanaAlert `json:"alerts"`
}

// rawGrafanaMessage is grafanaMessage with the alerts left undecoded, for
// finding which alerts are wrongly typed.
type rawGrafanaMessage struct {
	webhookHeader
	OrgID  *int64          `json:"orgId"`
	Alerts json.RawMessage `json:"alerts"`
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
	var (
		msg grafanaMessage
		raw rawGrafanaMessage
	)
	bad, rerr := decodeMessage(body, &msg, &msg.Alerts, &raw, &raw.Alerts)
	if rerr != nil {
		return nil, rerr
	}
	if rerr := checkCount(len(msg.Alerts), c.lim); rerr != nil {
		return nil, rerr
	}
	b := &batch{events: make([]osprey.Event, 0, len(msg.Alerts)), truncated: max(msg.TruncatedAlerts, 0)}
	for i := range msg.Alerts {
		if err, ok := bad[i]; ok {
			b.reject(i, ingest.ReasonMalformed, err)
			continue
		}
		a := &msg.Alerts[i]
		orgID := a.OrgID
		if orgID == nil {
			orgID = msg.OrgID
		}
		// Most useful first: what is added stops at the annotation limit.
		b.add(c, i, &a.alertFields, a.Status, []annotation{
			{"dashboardURL", a.DashboardURL},
			{"panelURL", a.PanelURL},
			{"values", compactValues(a.Values)},
			{"valueString", a.ValueString},
			{"silenceURL", a.SilenceURL},
			{"imageURL", a.ImageURL},
			{"orgId", formatInt(orgID)},
			{"externalURL", msg.ExternalURL},
			{"senderFingerprint", a.Fingerprint},
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
