package alerts

import (
	"encoding/json"
	"errors"
	"strconv"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/ingest"
)

// webhookVersion is the only version of Alertmanager's webhook payload there
// has been (Alertmanager 0.x sends "4").
const webhookVersion = "4"

// webhookHeader is the part of Alertmanager's webhook payload (the
// template.Data of Alertmanager's notify/webhook package, plus version,
// groupKey and truncatedAlerts) around the alerts. Only the fields Osprey uses
// are declared; groupLabels, commonLabels and commonAnnotations repeat what
// each alert carries.
type webhookHeader struct {
	Version         string `json:"version"`
	Receiver        string `json:"receiver"`
	Status          string `json:"status"`
	ExternalURL     string `json:"externalURL"`
	GroupKey        string `json:"groupKey"`
	TruncatedAlerts int    `json:"truncatedAlerts"`
}

// webhookMessage is the body Alertmanager's webhook receiver posts.
type webhookMessage struct {
	webhookHeader
	Alerts []webhookAlert `json:"alerts"`
}

// rawWebhookMessage is webhookMessage with the alerts left undecoded, for
// finding which alerts are wrongly typed.
type rawWebhookMessage struct {
	webhookHeader
	Alerts json.RawMessage `json:"alerts"`
}

// webhookAlert is one alert of a webhook payload: the alert fields plus its
// status and Alertmanager's fingerprint of it. For a firing alert
// Alertmanager sends endsAt as Go's zero time.
type webhookAlert struct {
	Status string `json:"status"`
	alertFields
	Fingerprint string `json:"fingerprint"`
}

// checkObject refuses a body that is not a JSON object.
func checkObject(body []byte) *requestError {
	switch firstByte(body) {
	case '{':
		return nil
	case 0:
		return malformed("empty body: send the webhook's JSON object")
	default:
		return malformed("body must be a JSON object")
	}
}

// decodeMessage decodes a webhook payload into msg (whose alerts field is
// decoded) in one pass. If an alert has a wrongly typed field, it decodes the
// payload again into raw (the same fields, with the alerts left as rawAlerts)
// and the alerts one by one, so that only the wrongly typed alerts are
// rejected: it then replaces *decoded and returns the errors by index. The
// rest of msg is right either way, since encoding/json goes on decoding after
// a type error. Anything else wrong with the payload refuses the request.
func decodeMessage[T any](body []byte, msg any, decoded *[]T, raw any, rawAlerts *json.RawMessage) (bad map[int]error, rerr *requestError) {
	if rerr := checkObject(body); rerr != nil {
		return nil, rerr
	}
	err := json.Unmarshal(body, msg)
	if err == nil {
		return nil, nil
	}
	var typeErr *json.UnmarshalTypeError
	if !errors.As(err, &typeErr) {
		return nil, malformed("%v", jsonError(err))
	}
	if err := json.Unmarshal(body, raw); err != nil {
		return nil, malformed("%v", jsonError(err)) // the error is outside the alerts
	}
	if len(*rawAlerts) == 0 || string(*rawAlerts) == "null" {
		*decoded = nil
		return nil, nil
	}
	if firstByte(*rawAlerts) != '[' {
		return nil, malformed("alerts: must be a JSON array")
	}
	items, bad, err := decodeArray[T](*rawAlerts)
	if err != nil {
		return nil, malformed("alerts: %v", jsonError(err))
	}
	*decoded = items
	return bad, nil
}

// decodeWebhook decodes an Alertmanager webhook payload (version 4) into a
// batch.
func decodeWebhook(body []byte, c *converter) (*batch, *requestError) {
	var (
		msg webhookMessage
		raw rawWebhookMessage
	)
	bad, rerr := decodeMessage(body, &msg, &msg.Alerts, &raw, &raw.Alerts)
	if rerr != nil {
		return nil, rerr
	}
	if msg.Version != "" && msg.Version != webhookVersion {
		return nil, malformed("version %q is not Alertmanager's webhook payload version %s (Grafana's webhook goes to /api/v1/alerts/grafana)",
			ingest.Truncate(msg.Version, 16), webhookVersion)
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
