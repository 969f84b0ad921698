package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/osprey-aiops/osprey"
)

// pagerDutySender sends Events API v2 events (POST /v2/enqueue). The dedup
// key is the incident id, so PagerDuty itself folds repeats, escalations and
// the final resolve into one PagerDuty incident.
type pagerDutySender struct {
	key    Secret
	url    string
	source string
	client HTTPDoer
}

type pdPayload struct {
	Summary       string         `json:"summary"`
	Source        string         `json:"source"`
	Severity      string         `json:"severity"`
	Timestamp     string         `json:"timestamp,omitempty"`
	Component     string         `json:"component,omitempty"`
	Group         string         `json:"group,omitempty"`
	Class         string         `json:"class,omitempty"`
	CustomDetails map[string]any `json:"custom_details,omitempty"`
}

type pdLink struct {
	Href string `json:"href"`
	Text string `json:"text"`
}

type pdEvent struct {
	RoutingKey  string     `json:"routing_key"`
	EventAction string     `json:"event_action"`
	DedupKey    string     `json:"dedup_key"`
	Payload     *pdPayload `json:"payload,omitempty"`
	Client      string     `json:"client,omitempty"`
	ClientURL   string     `json:"client_url,omitempty"`
	Links       []pdLink   `json:"links,omitempty"`
}

// pdSummaryMax is the Events API's limit on summary.
const pdSummaryMax = 1024

func (s *pagerDutySender) send(ctx context.Context, m *Message) error {
	if m.Kind == KindRunbook && !m.Firing() {
		return osprey.Permanent(errors.New("pagerduty: a runbook message about a resolved incident is not sent: " +
			"the Events API v2 has no note event, and the trigger that carries the text would reopen the PagerDuty incident"))
	}
	key, err := s.key.read()
	if err != nil {
		return fmt.Errorf("pagerduty routing_key: %w", err)
	}
	body, err := json.Marshal(pagerDutyEvent(key, s.source, m))
	if err != nil {
		return err
	}
	return post(ctx, s.client, s.url, nil, body)
}

// pagerDutyEvent builds the event: trigger (with the payload) for opened,
// escalated, repeat and runbook, acknowledge and resolve (dedup key only)
// otherwise. The Events API v2 has no "note" event: a runbook message is a
// trigger with the incident's dedup key, so PagerDuty adds it to the open
// alert's log, and the text is in custom_details.runbook_text.
func pagerDutyEvent(key, source string, m *Message) pdEvent {
	ev := pdEvent{RoutingKey: key, DedupKey: m.Incident.ID}
	switch m.Kind {
	case KindAcknowledged:
		ev.EventAction = "acknowledge"
		return ev
	case KindResolved:
		ev.EventAction = "resolve"
		return ev
	}
	inc := &m.Incident
	ev.EventAction = "trigger"
	details := map[string]any{
		"incident_id": inc.ID,
		"status":      string(inc.Status),
		"notification": map[string]any{
			"kind": string(m.Kind),
			"key":  m.Key,
		},
		"members": len(inc.Members),
		"firing":  firing(inc),
	}
	if len(inc.Labels) > 0 {
		details["labels"] = inc.Labels
	}
	if m.Kind == KindRunbook {
		details["runbook_text"] = m.Note
	}
	if c := m.TopCause(); c != nil {
		details["top_cause"] = map[string]any{
			"kind": string(c.Kind), "name": c.Name, "score": c.Score, "explanation": c.Explanation,
		}
	}
	ev.Payload = &pdPayload{
		Summary:       truncate(oneLine(m.Subject()), pdSummaryMax),
		Source:        source,
		Severity:      pdSeverity(inc.Severity),
		Timestamp:     inc.OpenedAt.UTC().Format(time.RFC3339Nano),
		Component:     inc.Labels.Get(osprey.LabelService),
		Group:         inc.Labels.Get(osprey.LabelNamespace),
		Class:         "osprey-incident",
		CustomDetails: details,
	}
	ev.Client = "Osprey"
	if m.URL != "" {
		ev.ClientURL = m.URL
		ev.Links = []pdLink{{Href: m.URL, Text: "Incident in Osprey"}}
	}
	return ev
}

// pdSeverity maps to the Events API's four severities.
func pdSeverity(s osprey.Severity) string {
	switch s {
	case osprey.SeverityCritical:
		return "critical"
	case osprey.SeverityError:
		return "error"
	case osprey.SeverityWarning:
		return "warning"
	}
	return "info"
}
