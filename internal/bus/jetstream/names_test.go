package jetstream

import (
	"fmt"
	"hash/fnv"
	"strings"
	"testing"
)

func TestConsumerName(t *testing.T) {
	long := strings.Repeat("g", maxGroupInName+1)
	tests := []struct {
		name, topic, group string
		want               string
	}{
		{"plain", "events", "correlate", "events_correlate"},
		{"dash and underscore kept", "anomalies", "notify-slack_2", "anomalies_notify-slack_2"},
		{"dot replaced and hashed", "events", "a.b", "events_a_b_" + hash("a.b")},
		{"other dot group differs", "events", "a b", "events_a_b_" + hash("a b")},
		{"wildcards replaced", "series", "*>", "series____" + hash("*>")},
		{"unicode replaced", "logs", "grüppe", "logs_gr_ppe_" + hash("grüppe")},
		{"exactly the limit", "events", long[:maxGroupInName], "events_" + long[:maxGroupInName]},
		{"cut to the limit", "events", long, "events_" + long[:maxGroupInName] + "_" + hash(long)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := consumerName(tc.topic, tc.group)
			if got != tc.want {
				t.Errorf("consumerName(%q, %q) = %q, want %q", tc.topic, tc.group, got, tc.want)
			}
			if !validName(got) {
				t.Errorf("consumerName(%q, %q) = %q is not a valid NATS name", tc.topic, tc.group, got)
			}
		})
	}
	if consumerName("events", "a.b") == consumerName("events", "a b") {
		t.Error("groups that differ only in replaced characters share a durable")
	}
}

// hash is the suffix consumerName appends to a group it had to change: the
// group's 32-bit FNV-1a hash in hex.
func hash(group string) string {
	h := fnv.New32a()
	h.Write([]byte(group))
	return fmt.Sprintf("%08x", h.Sum32())
}

func TestRetryDelay(t *testing.T) {
	tests := []struct {
		attempt uint64
		want    string
	}{
		{1, "200ms"}, {2, "400ms"}, {3, "800ms"}, {8, "25.6s"}, {9, "30s"}, {1000, "30s"},
	}
	for _, tc := range tests {
		if got := retryDelay(tc.attempt).String(); got != tc.want {
			t.Errorf("retryDelay(%d) = %s, want %s", tc.attempt, got, tc.want)
		}
	}
}

func TestRedactURLs(t *testing.T) {
	got := redactURLs("nats://user:secret@a:4222, nats://token@b:4222,nats://c:4222")
	if strings.Contains(got, "secret") || strings.Contains(got, "token") {
		t.Errorf("redactURLs left a credential in %q", got)
	}
	if !strings.Contains(got, "a:4222") || !strings.Contains(got, "nats://c:4222") {
		t.Errorf("redactURLs lost the hosts: %q", got)
	}
}
