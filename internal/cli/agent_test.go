package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestAgentUsageErrors checks that bad agent flags are usage errors (exit
// 2) with a message naming the flag, before anything starts.
func TestAgentUsageErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--token", "a", "--token-file", "b"}, "not both"},
		{[]string{"--server", "ftp://x"}, "--server"},
		{[]string{"--file", "/var/log/[x"}, "not a valid glob"},
		{[]string{"--interval", "0s"}, "--interval"},
		{[]string{"--log-level", "loud"}, "--log-level"},
	} {
		var stdout, stderr bytes.Buffer
		args := append([]string{"agent", "--data-dir", dir}, tc.args...)
		code := Main(context.Background(), args, &stdout, &stderr)
		if code != ExitUsage || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, code, stderr.String(), ExitUsage, tc.want)
		}
	}
}
