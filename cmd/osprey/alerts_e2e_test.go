package main_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey/internal/testenv"
)

// TestRealPrometheusAndAlertmanager runs Debian's prometheus and
// prometheus-alertmanager against the osprey binary. Prometheus evaluates an
// always-firing rule and sends the alert two ways: straight to Osprey's
// Alertmanager API v2 (POST /api/v2/alerts), and to a real Alertmanager whose
// webhook receiver forwards it to POST /api/v1/alerts/alertmanager. Both
// senders authenticate with bearer tokens from files, as docs/receivers.md
// tells users to. The alert must arrive by both paths and be counted as one
// incident member, since both copies carry the same name and labels.
func TestRealPrometheusAndAlertmanager(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Prometheus and Alertmanager")
	}
	promBin, err := exec.LookPath("prometheus")
	if err != nil {
		testenv.Unavailable(t, "prometheus", err)
	}
	amBin, err := lookPathAny("prometheus-alertmanager", "alertmanager")
	if err != nil {
		testenv.Unavailable(t, "prometheus-alertmanager", err)
	}

	dir := t.TempDir()
	write := func(name, content string) string {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	const (
		promToken   = "prometheus-e2e-token"
		amToken     = "alertmanager-e2e-token"
		viewerToken = "viewer-e2e-token"
	)
	promTokenFile := write("prometheus.token", promToken+"\n")
	amTokenFile := write("alertmanager.token", amToken+"\n")
	ospreyCfg := write("osprey.yaml", fmt.Sprintf(`
auth:
  tokens:
    - {name: prometheus, role: operator, token_file: %s}
    - {name: alertmanager, role: operator, token_file: %s}
    - {name: test, role: viewer, token_file: %s}
`, promTokenFile, amTokenFile, write("viewer.token", viewerToken)))

	ospreyAddr, amAddr, promAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	osp := startServer(t, filepath.Join(dir, "osprey-data"), ospreyAddr, "--config", ospreyCfg)

	// Alertmanager: one route to Osprey's webhook receiver, with a short
	// group_wait so that the first notification leaves within a second.
	amCfg := write("alertmanager.yml", fmt.Sprintf(`
route:
  receiver: osprey
  group_by: [alertname, service]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: osprey
    webhook_configs:
      - url: http://%s/api/v1/alerts/alertmanager
        send_resolved: true
        http_config:
          authorization:
            credentials_file: %s
`, ospreyAddr, amTokenFile))
	am := startProcess(t, "alertmanager", amBin,
		"--config.file="+amCfg,
		"--storage.path="+filepath.Join(dir, "alertmanager"),
		"--web.listen-address="+amAddr,
		"--cluster.listen-address=", // no gossip: one instance, no port to collide
	)
	am.waitReady("http://" + amAddr + "/-/ready")

	// Prometheus: an always-firing rule, sent to Osprey (v2 API, bearer
	// token) and to the Alertmanager above. No external_labels, so both
	// copies of the alert carry the same labels.
	rules := write("rules.yml", `
groups:
  - name: e2e
    interval: 1s
    rules:
      - alert: CheckoutDown
        expr: vector(1)
        labels:
          service: checkout
          severity: critical
        annotations:
          summary: checkout is down
`)
	promCfg := write("prometheus.yml", fmt.Sprintf(`
global:
  evaluation_interval: 1s
rule_files: [%s]
alerting:
  alertmanagers:
    - api_version: v2
      path_prefix: /
      authorization:
        credentials_file: %s
      static_configs:
        - targets: ['%s']
    - api_version: v2
      static_configs:
        - targets: ['%s']
`, rules, promTokenFile, ospreyAddr, amAddr))
	prom := startProcess(t, "prometheus", promBin,
		"--config.file="+promCfg,
		"--storage.tsdb.path="+filepath.Join(dir, "prometheus"),
		"--web.listen-address="+promAddr,
		// Prometheus drops the alerts of evaluations that run before it has
		// discovered its Alertmanagers; re-sending every second instead of
		// every minute makes the first delivery prompt.
		"--rules.alert.resend-delay=1s",
	)
	prom.waitReady("http://" + promAddr + "/-/ready")

	// Wait (bounded by attempts) for the alert to arrive by both paths.
	type event struct {
		Source      string            `json:"source"`
		Name        string            `json:"name"`
		Labels      map[string]string `json:"labels"`
		Status      string            `json:"status"`
		Severity    string            `json:"severity"`
		Fingerprint string            `json:"fingerprint"`
	}
	bySource := map[string]event{}
	for attempt := 0; len(bySource) < 2; attempt++ {
		if attempt == 600 {
			t.Fatalf("the alert did not arrive by both paths; got %v\nprometheus:\n%s\nalertmanager:\n%s\nosprey:\n%s",
				bySource, prom.output(), am.output(), osp.stderr)
		}
		prom.checkRunning()
		am.checkRunning()
		var out struct {
			Events []event `json:"events"`
		}
		getAuthed(t, osp.base+"/api/v1/events?limit=1000", viewerToken, &out)
		for _, e := range out.Events {
			if e.Name == "CheckoutDown" {
				bySource[e.Source] = e
			}
		}
		if len(bySource) < 2 {
			time.Sleep(50 * time.Millisecond)
		}
	}
	fromProm, fromAM := bySource["prometheus"], bySource["alertmanager"]
	if fromProm.Name == "" || fromAM.Name == "" {
		t.Fatalf("events by source = %+v, want sources prometheus and alertmanager", bySource)
	}
	wantLabels := map[string]string{"alertname": "CheckoutDown", "service": "checkout", "severity": "critical"}
	for _, e := range []event{fromProm, fromAM} {
		if fmt.Sprint(e.Labels) != fmt.Sprint(wantLabels) || e.Status != "firing" || e.Severity != "critical" {
			t.Errorf("event from %s = %+v, want firing critical with labels %v", e.Source, e, wantLabels)
		}
	}
	if fromProm.Fingerprint != fromAM.Fingerprint {
		t.Fatalf("fingerprints differ: prometheus %s, alertmanager %s", fromProm.Fingerprint, fromAM.Fingerprint)
	}

	// Both copies are one member of one incident.
	type member struct {
		Name        string `json:"name"`
		Fingerprint string `json:"fingerprint"`
		Count       int    `json:"count"`
	}
	type incident struct {
		ID      string   `json:"id"`
		Members []member `json:"members"`
	}
	var found []member
	for attempt := 0; ; attempt++ {
		var out struct {
			Incidents []incident `json:"incidents"`
		}
		getAuthed(t, osp.base+"/api/v1/incidents", viewerToken, &out)
		found = found[:0]
		for _, inc := range out.Incidents {
			for _, m := range inc.Members {
				if m.Name == "CheckoutDown" {
					found = append(found, m)
				}
			}
		}
		if len(found) == 1 && found[0].Count >= 2 {
			break
		}
		if attempt == 400 {
			t.Fatalf("want one CheckoutDown member counted at least twice, got %+v", found)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if found[0].Fingerprint != fromProm.Fingerprint {
		t.Errorf("member fingerprint %s, events' %s", found[0].Fingerprint, fromProm.Fingerprint)
	}

	// The data-quality counters saw both receivers, and nothing refused.
	var status struct {
		Receivers map[string]struct {
			Items    struct{ Accepted, Rejected int }
			Rejected map[string]int
		} `json:"receivers"`
	}
	getAuthed(t, osp.base+"/api/v1/status/ingest", viewerToken, &status)
	for _, name := range []string{"alertmanager_v2", "alertmanager_webhook"} {
		r := status.Receivers[name]
		if r.Items.Accepted == 0 || r.Items.Rejected != 0 || r.Rejected["unauthorized"] != 0 {
			t.Errorf("ingest status of %s = %+v, want accepted alerts and nothing rejected", name, r)
		}
	}

	prom.stop()
	am.stop()
	if err := osp.stop(syscall.SIGTERM); err != nil {
		t.Errorf("osprey exited with %v\n%s", err, osp.stderr)
	}
}

// lookPathAny returns the path of the first of names found in PATH.
func lookPathAny(names ...string) (string, error) {
	var firstErr error
	for _, n := range names {
		p, err := exec.LookPath(n)
		if err == nil {
			return p, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return "", firstErr
}

// process is a sender started by a test.
type process struct {
	t      *testing.T
	name   string
	cmd    *exec.Cmd
	out    *syncBuffer
	exited chan struct{}
	err    error
}

// syncBuffer is a bytes.Buffer safe for the process' writes and the test's
// reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startProcess starts bin with args, its output kept for failure messages,
// and kills it when the test ends if it still runs.
func startProcess(t *testing.T, name, bin string, args ...string) *process {
	t.Helper()
	p := &process{t: t, name: name, cmd: exec.Command(bin, args...), out: new(syncBuffer), exited: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	})
	return p
}

func (p *process) output() string { return p.out.String() }

// checkRunning fails the test if the process has exited.
func (p *process) checkRunning() {
	p.t.Helper()
	select {
	case <-p.exited:
		p.t.Fatalf("%s exited: %v\n%s", p.name, p.err, p.output())
	default:
	}
}

// waitReady polls url until it answers 200, bounded by attempts.
func (p *process) waitReady(url string) {
	p.t.Helper()
	for range 600 {
		p.checkRunning()
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.t.Fatalf("%s never became ready at %s\n%s", p.name, url, p.output())
}

// stop sends SIGTERM and waits for the process to exit.
func (p *process) stop() {
	p.t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(time.Minute):
		_ = p.cmd.Process.Kill()
		p.t.Errorf("%s did not exit after SIGTERM\n%s", p.name, p.output())
	}
}

// getAuthed GETs url with a bearer token and decodes the JSON reply into v.
func getAuthed(t *testing.T, url, token string, v any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d: %s", url, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("decode %s: %v", strings.TrimSpace(string(body)), err)
	}
}
