package notify

import (
	"context"
	"encoding/json"
	"maps"
	"text/template"
	"time"

	"github.com/osprey-aiops/osprey"
)

// webhookSender posts the default JSON document, or the receiver's body
// template rendered for the Message, to a fixed URL.
type webhookSender struct {
	url     string
	headers []Header
	body    *template.Template // nil: the default document
	client  HTTPDoer
}

// webhookDocument is the default webhook body.
type webhookDocument struct {
	Version  string `json:"version"`
	Receiver string `json:"receiver"`
	Kind     Kind   `json:"kind"`
	Key      string `json:"key"`
	Subject  string `json:"subject"`
	// Note is a runbook message's text (kind "runbook").
	Note     string          `json:"note,omitempty"`
	URL      string          `json:"url,omitempty"`
	Incident webhookIncident `json:"incident"`
}

// webhookIncident is the incident as the webhook document carries it: without
// members' details and timeline.
type webhookIncident struct {
	ID         string        `json:"id"`
	Title      string        `json:"title"`
	Status     string        `json:"status"`
	Severity   string        `json:"severity"`
	Labels     osprey.Labels `json:"labels"`
	Assignee   string        `json:"assignee,omitempty"`
	OpenedAt   time.Time     `json:"openedAt"`
	ResolvedAt time.Time     `json:"resolvedAt,omitzero"`
	Members    int           `json:"members"`
	Firing     int           `json:"firing"`
	TopCause   *osprey.Cause `json:"topCause,omitempty"`
}

func (s *webhookSender) send(ctx context.Context, m *Message) error {
	body, err := webhookBody(s.body, m)
	if err != nil {
		return osprey.Permanent(err)
	}
	return post(ctx, s.client, s.url, s.headers, body)
}

// webhookBody renders the body of m: the template's, or the default.
func webhookBody(t *template.Template, m *Message) ([]byte, error) {
	if t != nil {
		return renderBody(t, m)
	}
	inc := &m.Incident
	doc := webhookDocument{
		Version: "1", Receiver: m.Receiver, Kind: m.Kind, Key: m.Key, Subject: m.Subject(), Note: m.Note, URL: m.URL,
		Incident: webhookIncident{
			ID: inc.ID, Title: inc.Title, Status: string(inc.Status), Severity: inc.Severity.String(),
			Labels: maps.Clone(inc.Labels), Assignee: inc.Assignee, OpenedAt: inc.OpenedAt.UTC(),
			ResolvedAt: inc.ResolvedAt.UTC(), Members: len(inc.Members), Firing: firing(inc), TopCause: m.TopCause(),
		},
	}
	if doc.Incident.Labels == nil {
		doc.Incident.Labels = osprey.Labels{}
	}
	return json.Marshal(doc)
}
