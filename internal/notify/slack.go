package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// slackSender posts to a Slack incoming webhook: a fallback text and Block
// Kit blocks (title, severity, status, top cause, link).
type slackSender struct {
	cfg    SlackConfig
	client HTTPDoer
}

type slackText struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

type slackBlock struct {
	Type   string      `json:"type"`
	Text   *slackText  `json:"text,omitempty"`
	Fields []slackText `json:"fields,omitempty"`
}

type slackPayload struct {
	Channel  string       `json:"channel,omitempty"`
	Username string       `json:"username,omitempty"`
	Text     string       `json:"text"`
	Blocks   []slackBlock `json:"blocks"`
}

// Slack's limits on a header's and a section text's length.
const (
	slackHeaderMax  = 150
	slackSectionMax = 3000
)

func (s *slackSender) send(ctx context.Context, m *Message) error {
	u, err := s.cfg.URL.read()
	if err != nil {
		return fmt.Errorf("slack url: %w", err)
	}
	body, err := json.Marshal(slackMessage(s.cfg, m))
	if err != nil {
		return err
	}
	return post(ctx, s.client, u, nil, body)
}

// slackMessage builds the payload. Every value from the incident is escaped
// for Slack's mrkdwn, so a label cannot mention @channel or forge a link.
func slackMessage(cfg SlackConfig, m *Message) slackPayload {
	inc := &m.Incident
	p := slackPayload{Channel: cfg.Channel, Username: cfg.Username, Text: slackEscape(m.Subject())}
	p.Blocks = append(p.Blocks, slackBlock{Type: "header", Text: &slackText{Type: "plain_text", Text: truncate(oneLine(m.Subject()), slackHeaderMax)}})
	if m.Kind == KindRunbook {
		// The runbook's text leads, escaped like every other value, so it
		// cannot mention @channel or forge a link.
		note := slackEscape(m.Note)
		p.Text = truncate(slackEscape(m.Subject())+"\n"+note, slackSectionMax)
		p.Blocks = append(p.Blocks, slackBlock{Type: "section", Text: &slackText{Type: "mrkdwn", Text: truncate(note, slackSectionMax)}})
	}
	fields := []slackText{
		{Type: "mrkdwn", Text: "*Severity*\n" + slackEscape(inc.Severity.String())},
		{Type: "mrkdwn", Text: "*Status*\n" + slackEscape(string(inc.Status))},
	}
	for _, k := range sortedKeys(inc.Labels) {
		if len(fields) == 10 { // Slack's limit per section
			break
		}
		fields = append(fields, slackText{Type: "mrkdwn", Text: "*" + slackEscape(oneLine(k)) + "*\n" + slackEscape(oneLine(inc.Labels[k]))})
	}
	p.Blocks = append(p.Blocks, slackBlock{Type: "section", Fields: fields})
	if c := m.TopCause(); c != nil {
		text := fmt.Sprintf("*Top cause:* %s `%s` (score %.2f)\n%s", c.Kind, slackEscape(oneLine(c.Name)), c.Score, slackEscape(oneLine(c.Explanation)))
		p.Blocks = append(p.Blocks, slackBlock{Type: "section", Text: &slackText{Type: "mrkdwn", Text: truncate(text, slackSectionMax)}})
	}
	if m.URL != "" {
		p.Blocks = append(p.Blocks, slackBlock{Type: "section", Text: &slackText{Type: "mrkdwn", Text: "<" + slackEscape(m.URL) + "|Open incident " + slackEscape(inc.ID) + ">"}})
	}
	return p
}

// slackEscape escapes the three characters Slack's mrkdwn treats as markup
// (links, mentions).
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// truncate shortens s to at most n runes, ending it with "…" when cut.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
