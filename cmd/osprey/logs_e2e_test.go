package main_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey/internal/testenv"
)

// logTemplate is one template of GET /api/v1/log-templates.
type logTemplate struct {
	ID        string    `json:"id"`
	Source    string    `json:"source"`
	Template  string    `json:"template"`
	Count     int64     `json:"count"`
	FirstSeen time.Time `json:"firstSeen"`
	LastSeen  time.Time `json:"lastSeen"`
	Sample    string    `json:"sample"`
	AliasOf   string    `json:"aliasOf"`
}

// logTemplates lists the templates of source.
func (s *server) logTemplates(source string) []logTemplate {
	s.t.Helper()
	var out struct {
		Templates []logTemplate `json:"templates"`
	}
	s.getJSON("/api/v1/log-templates?source="+source, &out)
	return out.Templates
}

// waitTemplate polls until source has a live template containing text with
// count want (the miner runs behind the bus, the store is written on a
// timer), and returns it. The bound is a failure timeout only.
func (s *server) waitTemplate(source, text string, want int64) logTemplate {
	s.t.Helper()
	var list []logTemplate
	for range 400 {
		list = s.logTemplates(source)
		for _, tpl := range list {
			if tpl.AliasOf == "" && strings.Contains(tpl.Template, text) && tpl.Count == want {
				return tpl
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Fatalf("no %s template %q with count %d: %+v\n%s", source, text, want, list, s.stderr)
	return logTemplate{}
}

// lokiPush POSTs lines as one Loki push JSON stream, as Promtail's JSON
// client would, and wants 204.
func lokiPush(t *testing.T, base string, labels map[string]string, lines []string) {
	t.Helper()
	type stream struct {
		Stream map[string]string `json:"stream"`
		Values [][2]string       `json:"values"`
	}
	now := time.Now()
	st := stream{Stream: labels}
	for i, l := range lines {
		st.Values = append(st.Values, [2]string{strconv.FormatInt(now.Add(time.Duration(i)*time.Millisecond).UnixNano(), 10), l})
	}
	body, err := json.Marshal(map[string][]stream{"streams": {st}})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(base+"/loki/api/v1/push", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	reply, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("POST /loki/api/v1/push = %d: %s", resp.StatusCode, reply)
	}
}

// logins returns n lines "user <i> logged in from 10.0.0.<i%8>".
func logins(from, n int) []string {
	var out []string
	for i := from; i < from+n; i++ {
		out = append(out, fmt.Sprintf("user %d logged in from 10.0.0.%d", i, i%8))
	}
	return out
}

// TestLogsMinedFromLokiAndSyslog runs the binary with a syslog TCP listener,
// pushes lines through Loki push JSON and through util-linux's logger over
// TCP, and finds the mined templates with their counts in
// GET /api/v1/log-templates. A restart on the same data directory keeps the
// template ids, and new lines keep counting on them.
func TestLogsMinedFromLokiAndSyslog(t *testing.T) {
	loggerBin, err := exec.LookPath("logger")
	if err != nil {
		testenv.Unavailable(t, "logger (util-linux)", err)
	}
	dir := t.TempDir()
	syslogAddr := freeAddr(t)
	host, port, _ := net.SplitHostPort(syslogAddr)
	cfg := filepath.Join(dir, "osprey.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`
syslog:
  tcp: ["%s"]
  flush_interval: 50ms
logs:
  save_interval: 100ms
`, syslogAddr)), 0o600); err != nil {
		t.Fatal(err)
	}
	dataDir, addr := filepath.Join(dir, "data"), freeAddr(t)
	s := startServer(t, dataDir, addr, "--config", cfg)

	// Loki: 50 logins and 3 lines of another template, in two pushes.
	lokiPush(t, s.base, map[string]string{"app": "auth", "env": "prod"}, logins(0, 30))
	lokiPush(t, s.base, map[string]string{"app": "auth", "env": "prod"},
		append(logins(30, 20), "cache miss for key a1", "cache miss for key b2", "cache miss for key c3"))

	// Syslog: 50 lines from a file, sent by logger over one TCP connection
	// with octet counting, as RFC 5424 messages.
	var lines strings.Builder
	for i := range 50 {
		fmt.Fprintf(&lines, "connection from 192.168.1.%d port %d closed\n", i%16, 40000+i)
	}
	msgs := filepath.Join(dir, "messages.txt")
	if err := os.WriteFile(msgs, []byte(lines.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(loggerBin, "--tcp", "--server", host, "--port", port, "--octet-count",
		"--tag", "sshd", "--priority", "auth.info", "--file", msgs).CombinedOutput()
	if err != nil {
		t.Fatalf("logger: %v\n%s", err, out)
	}

	login := s.waitTemplate("loki", "logged in from", 50)
	cache := s.waitTemplate("loki", "cache miss for key", 3)
	conn := s.waitTemplate("syslog", "port", 50)
	t.Logf("templates: %+v %+v %+v", login, cache, conn)
	if login.Template != "user <*> logged in from <*>" {
		t.Errorf("login template %q, want %q", login.Template, "user <*> logged in from <*>")
	}
	if !strings.HasPrefix(login.Sample, "user ") || login.FirstSeen.IsZero() || login.LastSeen.Before(login.FirstSeen) {
		t.Errorf("login template lacks sample or times: %+v", login)
	}
	if conn.Template != "connection from <*> port <*> closed" {
		t.Errorf("syslog template %q", conn.Template)
	}
	if n := len(s.logTemplates("")); n != 3 {
		t.Errorf("%d templates in all, want 3: %+v", n, s.logTemplates(""))
	}
	if err := s.stop(syscall.SIGTERM); err != nil {
		t.Fatalf("osprey exited with %v\n%s", err, s.stderr)
	}

	// Restart: the templates are still listed, and new lines count on the
	// same ids rather than starting new templates.
	s = startServer(t, dataDir, addr, "--config", cfg)
	if got := s.waitTemplate("loki", "logged in from", 50); got.ID != login.ID {
		t.Errorf("after restart the login template is %s, want %s", got.ID, login.ID)
	}
	lokiPush(t, s.base, map[string]string{"app": "auth", "env": "prod"}, logins(50, 10))
	if got := s.waitTemplate("loki", "logged in from", 60); got.ID != login.ID {
		t.Errorf("new lines went to template %s, want %s", got.ID, login.ID)
	}
	out, err = exec.Command(loggerBin, "--tcp", "--server", host, "--port", port, "--octet-count",
		"--tag", "sshd", "connection from 10.1.2.3 port 51000 closed").CombinedOutput()
	if err != nil {
		t.Fatalf("logger: %v\n%s", err, out)
	}
	if got := s.waitTemplate("syslog", "port", 51); got.ID != conn.ID {
		t.Errorf("new syslog line went to template %s, want %s", got.ID, conn.ID)
	}
	if n := len(s.logTemplates("")); n != 3 {
		t.Errorf("%d templates after restart, want 3: %+v", n, s.logTemplates(""))
	}
	if err := s.stop(syscall.SIGTERM); err != nil {
		t.Errorf("osprey exited with %v\n%s", err, s.stderr)
	}
}
