package jetstream

import (
	"errors"
	"fmt"
	"hash/fnv"
	"net/url"
	"strings"
)

// validTopic checks that a topic name is one subject token of letters,
// digits and '-'. ('_' is kept out, so "<topic>_<group>" names one pair.)
func validTopic(name string) error {
	if name == "" {
		return errors.New("empty topic")
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return fmt.Errorf("topic %q: only letters, digits and '-' are allowed", name)
		}
	}
	return nil
}

// validName reports whether s may name a stream or consumer.
func validName(s string) bool {
	return s != "" && !strings.ContainsAny(s, " \t\r\n.*>/\\")
}

// maxGroupInName bounds the part of a consumer name taken from the group.
const maxGroupInName = 64

// consumerName returns the durable's name for group on topic:
// "<topic>_<group>", where characters of group other than letters, digits, '-'
// and '_' become '_'. When that changed the group, or it was cut to
// maxGroupInName characters, a hash of the group is appended so that
// different groups keep different durables.
func consumerName(topic, group string) string {
	var sb strings.Builder
	sb.WriteString(topic)
	sb.WriteByte('_')
	changed := false
	n := 0
	for _, c := range group {
		if n == maxGroupInName {
			changed = true
			break
		}
		n++
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' {
			sb.WriteRune(c)
		} else {
			sb.WriteByte('_')
			changed = true
		}
	}
	if changed {
		h := fnv.New32a()
		h.Write([]byte(group))
		fmt.Fprintf(&sb, "_%08x", h.Sum32())
	}
	return sb.String()
}

// redactURLs hides the credentials (user and password, or token) in a
// comma-separated list of URLs.
func redactURLs(urls string) string {
	parts := strings.Split(urls, ",")
	for i, p := range parts {
		u, err := url.Parse(strings.TrimSpace(p))
		if err != nil {
			parts[i] = "(unparsable URL)"
			continue
		}
		if u.User != nil {
			u.User = url.User("xxxxx")
		}
		parts[i] = u.String()
	}
	return strings.Join(parts, ",")
}
