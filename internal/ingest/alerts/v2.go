package alerts

import (
	"strings"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/ingest"
)

// postableAlert is one element of the Alertmanager API v2 POST /api/v2/alerts
// body (the postableAlert of Alertmanager's OpenAPI specification). It has no
// status: an alert whose endsAt has passed is resolved.
type postableAlert = alertFields

// defaultV2Source is the Source of v2 alerts whose sender the User-Agent does
// not name.
const defaultV2Source = "alertmanager-api"

// v2Senders maps the product token of a User-Agent ("Prometheus/2.42.0") to
// the Source of the alerts it posts. The list is closed so that the source
// label of the accepted-events metric stays bounded.
var v2Senders = map[string]string{
	"prometheus":   "prometheus",
	"loki":         "loki",
	"vmalert":      "vmalert",
	"mimir":        "mimir",
	"thanos":       "thanos",
	"cortex":       "cortex",
	"grafana":      "grafana",
	"alertmanager": "alertmanager",
}

// v2Source returns the Source for alerts posted with the User-Agent ua.
func v2Source(ua string) string {
	product, _, _ := strings.Cut(ua, "/")
	product, _, _ = strings.Cut(product, " ")
	if s, ok := v2Senders[strings.ToLower(product)]; ok {
		return s
	}
	return defaultV2Source
}

// decodeV2 decodes an Alertmanager API v2 body, a JSON array of postable
// alerts, into a batch.
func decodeV2(body []byte, c *converter) (*batch, *requestError) {
	switch firstByte(body) {
	case '[':
	case 0:
		return nil, malformed("empty body: send a JSON array of alerts")
	default:
		return nil, malformed("body must be a JSON array of alerts")
	}
	alerts, bad, err := decodeArray[postableAlert](body)
	if err != nil {
		return nil, malformed("%v", jsonError(err))
	}
	if rerr := checkCount(len(alerts), c.lim); rerr != nil {
		return nil, rerr
	}
	b := &batch{events: make([]osprey.Event, 0, len(alerts))}
	for i := range alerts {
		if err, ok := bad[i]; ok {
			b.reject(i, ingest.ReasonMalformed, err)
			continue
		}
		b.add(c, i, &alerts[i], "", nil)
	}
	return b, nil
}
