package notify

import (
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/osprey-aiops/osprey"
)

// Kind says why a notification is sent.
type Kind string

// Notification kinds. The log key is the kind, with the severity for an
// escalation ("escalated-critical") and the number for a repeat
// ("repeat-2").
const (
	KindOpened       Kind = "opened"
	KindEscalated    Kind = "escalated"
	KindAcknowledged Kind = "acknowledged"
	KindResolved     Kind = "resolved"
	KindRepeat       Kind = "repeat"
	// KindRunbook is a message a remediation runbook's notify step sends
	// (Notifier.Notify); its key is "runbook-" and a hash of its text.
	KindRunbook Kind = "runbook"
)

// Message is one notification as every receiver kind renders it. It is also
// the data of webhook body templates.
type Message struct {
	// Receiver is the receiver's name.
	Receiver string `json:"receiver"`
	// Kind says why it is sent; Key is its key in the notification log.
	Kind Kind   `json:"kind"`
	Key  string `json:"key"`
	// Incident is the incident as it is when the message is built, without
	// its timeline.
	Incident osprey.Incident `json:"incident"`
	// PreviousSeverity is the severity last notified, for an escalation.
	PreviousSeverity osprey.Severity `json:"previousSeverity,omitzero"`
	// Repeat numbers repeats from 1.
	Repeat int `json:"repeat,omitempty"`
	// Reopens counts the times the incident was reopened after this
	// receiver was told it resolved.
	Reopens int `json:"reopens,omitempty"`
	// Note is the text of a runbook message (KindRunbook), as the notify
	// step rendered it; empty for the other kinds. (The method Text is the
	// whole plain-text body.)
	Note string `json:"note,omitempty"`
	// URL links to the incident; empty without notifications.external_url.
	URL string `json:"url,omitempty"`
	// At is when the message was built.
	At time.Time `json:"at"`
	// interval is the receiver's repeat interval for this incident; an
	// Alertmanager alert is kept alive for three of them.
	interval time.Duration
}

// TopCause returns the best-ranked root-cause candidate, or nil.
func (m *Message) TopCause() *osprey.Cause {
	if len(m.Incident.Causes) == 0 {
		return nil
	}
	return &m.Incident.Causes[0]
}

// Firing reports whether the incident is not resolved.
func (m *Message) Firing() bool { return m.Incident.Status != osprey.IncidentResolved }

// Headline says in a few words what happened.
func (m *Message) Headline() string {
	switch m.Kind {
	case KindOpened:
		if m.Reopens > 0 {
			return "Incident reopened"
		}
		return "Incident opened"
	case KindEscalated:
		return fmt.Sprintf("Incident escalated from %s to %s", m.PreviousSeverity, m.Incident.Severity)
	case KindAcknowledged:
		if m.Incident.Assignee != "" {
			return "Incident acknowledged by " + m.Incident.Assignee
		}
		return "Incident acknowledged"
	case KindResolved:
		return "Incident resolved"
	case KindRepeat:
		return fmt.Sprintf("Incident still open (reminder %d)", m.Repeat)
	case KindRunbook:
		return "Runbook message"
	}
	return "Incident " + string(m.Kind)
}

// Subject is the one-line summary: "[CRITICAL] Incident opened: title";
// for a runbook message "[Osprey] runbook: title".
func (m *Message) Subject() string {
	if m.Kind == KindRunbook {
		return "[Osprey] runbook: " + oneLine(m.Incident.Title)
	}
	status := strings.ToUpper(m.Incident.Severity.String())
	if m.Kind == KindResolved {
		status = "RESOLVED"
	}
	return fmt.Sprintf("[%s] %s: %s", status, m.Headline(), oneLine(m.Incident.Title))
}

// Text is the plain-text body shared by e-mail and Slack's fallback text. A
// runbook message's body starts with its Note instead of the headline.
func (m *Message) Text() string {
	var b strings.Builder
	inc := &m.Incident
	if m.Kind == KindRunbook {
		fmt.Fprintf(&b, "%s\n\n", strings.TrimRight(m.Note, "\n"))
	} else {
		fmt.Fprintf(&b, "%s\n\n", m.Headline())
	}
	fmt.Fprintf(&b, "Incident:  %s\n", oneLine(inc.Title))
	fmt.Fprintf(&b, "ID:        %s\n", inc.ID)
	fmt.Fprintf(&b, "Severity:  %s\n", inc.Severity)
	fmt.Fprintf(&b, "Status:    %s\n", inc.Status)
	fmt.Fprintf(&b, "Opened:    %s\n", inc.OpenedAt.UTC().Format(time.RFC3339))
	if !inc.ResolvedAt.IsZero() {
		fmt.Fprintf(&b, "Resolved:  %s\n", inc.ResolvedAt.UTC().Format(time.RFC3339))
	}
	if len(inc.Labels) > 0 {
		fmt.Fprintf(&b, "Labels:    %s\n", oneLine(inc.Labels.String()))
	}
	fmt.Fprintf(&b, "Members:   %d (%d firing)\n", len(inc.Members), firing(inc))
	if c := m.TopCause(); c != nil {
		fmt.Fprintf(&b, "\nTop cause: %s %s (score %.2f)\n%s\n", c.Kind, oneLine(c.Name), c.Score, oneLine(c.Explanation))
	}
	if m.URL != "" {
		fmt.Fprintf(&b, "\n%s\n", m.URL)
	}
	return b.String()
}

// firing counts the members still firing.
func firing(inc *osprey.Incident) int {
	n := 0
	for _, mb := range inc.Members {
		if mb.Status == osprey.StatusFiring {
			n++
		}
	}
	return n
}

// oneLine replaces line breaks and other control characters with spaces, so
// a value cannot add lines (or headers) to a message.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
}

// incidentURL returns the link to an incident, or "" without a base URL.
func incidentURL(base, id string) string {
	if base == "" {
		return ""
	}
	return strings.TrimSuffix(base, "/") + "/ui/incidents/" + url.PathEscape(id)
}

// labelsWith returns the incident's labels with severity and status added,
// what routes and silences match against.
func labelsWith(inc *osprey.Incident) osprey.Labels {
	l := make(osprey.Labels, len(inc.Labels)+2)
	for k, v := range inc.Labels {
		l[k] = v
	}
	l["severity"] = inc.Severity.String()
	l["status"] = string(inc.Status)
	return l
}

// sortedKeys returns the keys of m in order.
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
