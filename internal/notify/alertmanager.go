package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/osprey-aiops/osprey"
)

// AlertName is the alertname label of the alerts Osprey forwards.
const AlertName = "OspreyIncident"

// alertmanagerSender posts the incident as one alert in Alertmanager's own
// API model (POST /api/v2/alerts). Its labels are the incident's, plus
// alertname, incident_id and severity; while the incident is not resolved,
// endsAt lies three repeat intervals ahead (each repeat refreshes it), and on
// resolve it is the resolution time.
type alertmanagerSender struct {
	url     string
	headers []Header
	client  HTTPDoer
}

// postableAlert is Alertmanager's models.PostableAlert.
type postableAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     string            `json:"startsAt,omitempty"`
	EndsAt       string            `json:"endsAt,omitempty"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

func (s *alertmanagerSender) send(ctx context.Context, m *Message) error {
	if m.Kind == KindRunbook {
		return osprey.Permanent(errors.New("alertmanager: a runbook message is not sent to Alertmanager: " +
			"an alert has no place for a message, and a changed annotation would not reach anyone"))
	}
	body, err := json.Marshal(alertmanagerAlerts(m))
	if err != nil {
		return err
	}
	return post(ctx, s.client, s.url, s.headers, body)
}

// alertmanagerAlerts builds the alerts to post: the incident's, and on an
// escalation also the alert of the previous severity, ended now (the
// severity label is part of an alert's identity).
func alertmanagerAlerts(m *Message) []postableAlert {
	inc := &m.Incident
	labels := map[string]string{}
	for k, v := range inc.Labels {
		if amLabelName(k) && v != "" && utf8.ValidString(v) {
			labels[k] = v
		}
	}
	labels["alertname"] = AlertName
	labels["incident_id"] = inc.ID
	labels["severity"] = inc.Severity.String()
	ann := map[string]string{
		"summary":     inc.Title,
		"description": strings.TrimSpace(m.Text()),
	}
	if c := m.TopCause(); c != nil {
		ann["top_cause"] = fmt.Sprintf("%s %s", c.Kind, c.Name)
		ann["top_cause_explanation"] = c.Explanation
	}
	if m.URL != "" {
		ann["osprey_url"] = m.URL
	}
	a := postableAlert{
		Labels: labels, Annotations: ann,
		StartsAt:     inc.OpenedAt.UTC().Format(time.RFC3339Nano),
		GeneratorURL: m.URL,
	}
	switch {
	case inc.Status == osprey.IncidentResolved:
		end := inc.ResolvedAt
		if end.IsZero() {
			end = m.At
		}
		a.EndsAt = end.UTC().Format(time.RFC3339Nano)
	case m.interval > 0:
		a.EndsAt = m.At.Add(3 * m.interval).UTC().Format(time.RFC3339Nano)
	}
	alerts := []postableAlert{a}
	if m.Kind == KindEscalated && m.PreviousSeverity != inc.Severity {
		old := a
		old.Labels = make(map[string]string, len(labels))
		for k, v := range labels {
			old.Labels[k] = v
		}
		old.Labels["severity"] = m.PreviousSeverity.String()
		old.EndsAt = m.At.UTC().Format(time.RFC3339Nano)
		alerts = append(alerts, old)
	}
	return alerts
}

// amLabelName reports whether s is a label name every Alertmanager accepts.
func amLabelName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' && i > 0) {
			return false
		}
	}
	return true
}
