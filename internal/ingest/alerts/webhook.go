package alerts

import (
	"encoding/json"
	"strconv"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/ingest"
)

// webhookVersion is the only version of Alertmanager's webhook payload there
// has been (Alertmanager 0.x sends "4").
const webhookVersion = "4"

// webhookMessage is the body Alertmanager's webhook receiver posts (the
// template.Data of Alertmanager's notify/webhook package, plus version,
// groupKey and truncatedAlerts). Only the fields Osprey uses are declared;
// groupLabels, commonLabels and commonAnnotations repeat what each alert
// carries.
type webhookMessage struct {
	Version         string          `json:"version"`
	Receiver        string          `json:"receiver"`
	Status          string          `json:"status"`
	ExternalURL     string          `json:"externalURL"`
	GroupKey        string          `json:"groupKey"`
	TruncatedAlerts int             `json:"truncatedAlerts"`
	Alerts          json.RawMessage `json:"alerts"`
}

// webhookAlert is one alert of a webhook payload: the alert fields plus its
// status and Alertmanager's fingerprint of it. For a firing alert
// Alertmanager sends endsAt as Go's zero time.
type webhookAlert struct {
	Status string `json:"status"`
	alertFields
	Fingerprint string `json:"fingerprint"`
}

// decodeEnvelope decodes the object around a webhook payload's alerts into
// msg; a payload that is not an object is malformed.
func decodeEnvelope(body []byte, msg any) *requestError {
	switch firstByte(body) {
	case '{':
	case 0:
		return malformed("empty body: send the webhook's JSON object")
	default:
		return malformed("body must be a JSON object")
	}
	if err := json.Unmarshal(body, msg); err != nil {
		return malformed("%v", jsonError(err))
	}
	return nil
}

// decodeAlertList decodes the alerts array of a webhook payload, checking
// the count limit. A missing or null list is an empty one.
func decodeAlertList[T any](raw json.RawMessage, c *converter) ([]T, map[int]error, *requestError) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil, nil
	}
	if firstByte(raw) != '[' {
		return nil, nil, malformed("alerts: must be a JSON array")
	}
	alerts, bad, err := decodeArray[T](raw)
	if err != nil {
		return nil, nil, malformed("alerts: %v", jsonError(err))
	}
	if rerr := checkCount(len(alerts), c.lim); rerr != nil {
		return nil, nil, rerr
	}
	return alerts, bad, nil
}

// decodeWebhook decodes an Alertmanager webhook payload (version 4) into a
// batch.
func decodeWebhook(body []byte, c *converter) (*batch, *requestError) {
	var msg webhookMessage
	if rerr := decodeEnvelope(body, &msg); rerr != nil {
		return nil, rerr
	}
	if msg.Version != "" && msg.Version != webhookVersion {
		return nil, malformed("version %q is not Alertmanager's webhook payload version %s (Grafana's webhook goes to /api/v1/alerts/grafana)",
			ingest.Truncate(msg.Version, 16), webhookVersion)
	}
	alerts, bad, rerr := decodeAlertList[webhookAlert](msg.Alerts, c)
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
		b.add(c, i, &a.alertFields, a.Status, []annotation{
			{"externalURL", msg.ExternalURL},
			{"senderFingerprint", a.Fingerprint},
		})
	}
	return b, nil
}

// formatInt formats an optional integer for an annotation; nil is "".
func formatInt(v *int64) string {
	if v == nil {
		return ""
	}
	return strconv.FormatInt(*v, 10)
}
