package agent

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/app"
	"github.com/osprey-aiops/osprey/internal/config"
)

const testToken = "agent-test-token-0123456789"

// server is an in-process Osprey server.
type server struct {
	url string
}

// startOsprey runs app.Run on 127.0.0.1:0 with an operator token.
func startOsprey(t *testing.T) *server {
	t.Helper()
	dir := t.TempDir()
	tokFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokFile, []byte(testToken), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse([]byte(`data_dir: ` + filepath.Join(dir, "data") + `
server:
  listen: 127.0.0.1:0
auth:
  tokens:
    - {name: agent, role: operator, token_file: ` + tokFile + `}
logs:
  save_interval: 100ms
`))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addr, done := make(chan string, 1), make(chan error, 1)
	go func() { done <- app.Run(ctx, cfg, app.Options{Started: func(a string) { addr <- a }}) }()
	select {
	case a := <-addr:
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("osprey shut down with %v", err)
			}
		})
		return &server{url: "http://" + a}
	case err := <-done:
		cancel()
		t.Fatalf("osprey did not start: %v", err)
	}
	return nil
}

// get decodes the JSON reply to GET path into v.
func (o *server) get(t *testing.T, path string, v any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, o.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", path, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

// query returns the values of an instant PromQL query, by series.
func (o *server) query(t *testing.T, q string) map[string]string {
	t.Helper()
	var r struct {
		Data struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	o.get(t, "/api/v1/query?query="+url.QueryEscape(q), &r)
	out := map[string]string{}
	for _, s := range r.Data.Result {
		out[fmt.Sprint(s.Metric)] = fmt.Sprint(s.Value[1])
	}
	return out
}

// templates returns the live templates mined from source, with counts.
func (o *server) templates(t *testing.T, source string) map[string]int {
	t.Helper()
	var r struct {
		Templates []struct {
			Template string `json:"template"`
			Count    int    `json:"count"`
			AliasOf  string `json:"aliasOf"`
		} `json:"templates"`
	}
	o.get(t, "/api/v1/log-templates?source="+source, &r)
	out := map[string]int{}
	for _, tp := range r.Templates {
		if tp.AliasOf == "" {
			out[tp.Template] = tp.Count
		}
	}
	return out
}

// eventually retries check until it returns "" or 30s have passed, and
// fails with its last message.
func eventually(t *testing.T, check func() string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		msg := check()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(msg)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// writeLines appends n lines "payment <i> declined for card <i%4>".
func writeLines(t *testing.T, path string, from, n int) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for i := from; i < from+n; i++ {
		fmt.Fprintf(f, "payment %d declined for card %d\n", i, i%4)
	}
}

// runAgent runs an agent until the test ends and returns it.
func runAgent(t *testing.T, opts Options) (*Agent, context.CancelFunc) {
	t.Helper()
	a, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	stop := func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("agent: %v", err)
		}
	}
	var once atomic.Bool
	stopOnce := func() {
		if once.CompareAndSwap(false, true) {
			stop()
		}
	}
	t.Cleanup(stopOnce)
	return a, stopOnce
}

// TestAgentToOsprey ships host metrics and a log file to a real Osprey
// and reads them back through its query and template APIs.
func TestAgentToOsprey(t *testing.T) {
	srv := startOsprey(t)
	dir := t.TempDir()
	logFile := filepath.Join(dir, "pay.log")
	writeLines(t, logFile, 0, 25)
	a, _ := runAgent(t, Options{
		Server: srv.url, Token: testToken, Interval: 100 * time.Millisecond, DataDir: filepath.Join(dir, "agent"),
		Instance: "web-1", Files: []config.FileConfig{{Path: filepath.Join(dir, "*.log")}},
		Tail: config.TailConfig{PollInterval: 50 * time.Millisecond},
	})
	for _, q := range []string{
		`node_load1{instance="web-1",job="node"}`,
		`node_memory_MemAvailable_bytes{instance="web-1"}`,
		`node_cpu_seconds_total{instance="web-1",mode="idle"}`,
		`node_network_receive_bytes_total{instance="web-1",device="lo"}`,
		`node_processes_pids{instance="web-1"}`,
		`node_disk_io_time_seconds_total{instance="web-1"}`,
	} {
		eventually(t, func() string {
			if got := srv.query(t, q); len(got) == 0 {
				return q + " has no result"
			}
			return ""
		})
	}
	if fs := rootFSType(t); fs != "" && !ignoredFSTypes.MatchString(fs) {
		q := `node_filesystem_avail_bytes{instance="web-1",mountpoint="/"} <= on(mountpoint) node_filesystem_size_bytes{instance="web-1"}`
		if got := srv.query(t, q); len(got) != 1 {
			t.Errorf("%s: %v", q, got)
		}
	}
	// The lines were pushed through the Loki receiver and mined.
	eventually(t, func() string {
		got := srv.templates(t, "loki")
		if got["payment <*> declined for card <*>"] != 25 {
			return fmt.Sprintf("templates %v, want 25 payment lines", got)
		}
		return ""
	})
	// On the server the lines carry the agent's identity and are in the
	// recent-lines window.
	eventually(t, func() string {
		var r struct {
			Lines []struct {
				Labels map[string]string `json:"labels"`
				Body   string            `json:"body"`
			} `json:"lines"`
			Matched int `json:"matched"`
		}
		srv.get(t, "/api/v1/logs?match[]="+url.QueryEscape(`{job="osprey-agent",host="web-1",instance="web-1"}`), &r)
		if r.Matched != 25 {
			return fmt.Sprintf("%d agent lines in GET /api/v1/logs, want 25", r.Matched)
		}
		if l := r.Lines[0].Labels; l["source"] != "loki" || l["exported_source"] != "file" || l["filename"] != logFile {
			return fmt.Sprintf("labels %v", l)
		}
		return ""
	})
	if c := a.Counts(); c.Refused != 0 || c.DroppedRequests != 0 {
		t.Errorf("counts %+v", c)
	}
	eventually(t, func() string {
		if got := srv.query(t, `osprey_agent_requests_sent_total{instance="web-1"} > 0`); len(got) != 1 {
			return "no osprey_agent_requests_sent_total"
		}
		return ""
	})
}

// rootFSType returns the file system type mounted at /.
func rootFSType(t *testing.T) string {
	data, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return ""
	}
	fstype := ""
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) > 2 && f[1] == "/" {
			fstype = f[2]
		}
	}
	return fstype
}

// TestServerDown keeps the server away (503, then no listener at all
// across an agent restart): the spool keeps what was collected and tailed
// and delivers it, in order, once the server is back.
func TestServerDown(t *testing.T) {
	srv := startOsprey(t)
	target, _ := url.Parse(srv.url)
	var down atomic.Bool
	down.Store(true)
	proxy := httputil.NewSingleHostReverseProxy(target)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	defer front.Close()

	dir := t.TempDir()
	logFile := filepath.Join(dir, "pay.log")
	writeLines(t, logFile, 0, 10)
	opts := Options{
		Server: front.URL, Token: testToken, Interval: 50 * time.Millisecond, DataDir: filepath.Join(dir, "agent"),
		Instance: "db-1", Files: []config.FileConfig{{Path: logFile}},
		Tail:       config.TailConfig{PollInterval: 20 * time.Millisecond},
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 40 * time.Millisecond,
	}
	a, stop := runAgent(t, opts)
	eventually(t, func() string {
		if c := a.Counts(); c.Collections < 5 || c.SendFailures < 3 || c.SpooledRequests < 6 {
			return fmt.Sprintf("counts %+v: want collections and failed sends spooled", c)
		}
		return ""
	})
	writeLines(t, logFile, 10, 10)
	eventually(t, func() string {
		// The later lines are tailed and spooled too.
		if c := a.Counts(); c.SpooledRequests < 8 {
			return fmt.Sprintf("counts %+v", c)
		}
		return ""
	})
	stop()
	spooled := a.Counts().SpooledRequests
	if got := srv.query(t, `node_load1{instance="db-1"}`); len(got) != 0 {
		t.Fatalf("data reached the server while it was down: %v", got)
	}
	if c := a.Counts(); c.Sent != 0 {
		t.Fatalf("counts %+v", c)
	}

	// A new agent on the same data directory finds the spool and
	// delivers it once the server is back.
	down.Store(false)
	b, _ := runAgent(t, opts)
	eventually(t, func() string {
		if c := b.Counts(); c.Sent < uint64(spooled) {
			return fmt.Sprintf("counts %+v, want the %d spooled requests sent", c, spooled)
		}
		return ""
	})
	// Every collection while down is in the TSDB: one node_load1
	// sample per collection of the first agent at least.
	eventually(t, func() string {
		got := srv.query(t, `count_over_time(node_load1{instance="db-1"}[1h])`)
		for _, v := range got {
			var n int
			fmt.Sscan(v, &n)
			if n >= 5 {
				return ""
			}
		}
		return fmt.Sprintf("count_over_time(node_load1) = %v, want >= 5", got)
	})
	eventually(t, func() string {
		got := srv.templates(t, "loki")
		if got["payment <*> declined for card <*>"] != 20 {
			return fmt.Sprintf("templates %v, want the 20 lines written while down, once each", got)
		}
		return ""
	})
	if c := b.Counts(); c.Refused != 0 {
		t.Errorf("the server refused spooled requests: %+v", c)
	}
}

// TestSpoolCapWhileDown drops the oldest requests beyond the cap and
// counts them.
func TestSpoolCapWhileDown(t *testing.T) {
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
	}))
	defer front.Close()
	a, err := New(Options{Server: front.URL, DataDir: t.TempDir(), Instance: "x", SpoolMaxBytes: 1})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		a.CollectOnce()
	}
	c := a.Counts()
	if c.SpooledRequests != 1 || c.DroppedRequests != 2 {
		t.Errorf("counts %+v, want 1 kept and 2 dropped", c)
	}
	// The kept request is a valid remote_write body.
	it, body, ok, err := a.spool.oldest()
	if !ok || err != nil || it.kind != kindMetrics {
		t.Fatal(it, ok, err)
	}
	var wr prompb.WriteRequest
	raw, err := decodeSnappy(body)
	if err != nil {
		t.Fatal(err)
	}
	if err := wr.Unmarshal(raw); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, ts := range wr.Timeseries {
		for _, l := range ts.Labels {
			if l.Name == "__name__" && l.Value == "osprey_agent_spool_dropped_requests_total" {
				found = ts.Samples[0].Value == 1 // counted before the third request was spooled
			}
		}
	}
	if !found {
		t.Error("osprey_agent_spool_dropped_requests_total missing or wrong")
	}
}

func decodeSnappy(b []byte) ([]byte, error) { return snappy.Decode(nil, b) }

// TestPushLabels checks the identity the agent adds to each stream: instance
// always, host and job unless the file entry's labels set them.
func TestPushLabels(t *testing.T) {
	at := time.Unix(1700000000, 0)
	body, err := encodePush([]osprey.LogRecord{
		{Time: at, Labels: osprey.Labels{"source": "file", "filename": "/var/log/a.log"}, Body: "a"},
		{Time: at, Labels: osprey.Labels{"source": "nginx", "job": "web", "host": "lb", "instance": "x"}, Body: "b"},
	}, "web-1")
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var req struct {
		Streams []pushStream `json:"streams"`
	}
	if err := json.NewDecoder(zr).Decode(&req); err != nil {
		t.Fatal(err)
	}
	want := []map[string]string{
		{"source": "file", "filename": "/var/log/a.log", "instance": "web-1", "host": "web-1", "job": LogJob},
		{"source": "nginx", "job": "web", "host": "lb", "instance": "web-1"},
	}
	if len(req.Streams) != len(want) {
		t.Fatalf("streams = %+v", req.Streams)
	}
	for i, w := range want {
		if !maps.Equal(req.Streams[i].Stream, w) {
			t.Errorf("stream %d labels = %v, want %v", i, req.Streams[i].Stream, w)
		}
	}
}
