package main_test

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey/internal/testenv"
)

// TestRemediationRealProcess closes the loop with nothing simulated: a small
// HTTP service (testdata/svc) runs as a child process, Debian's prometheus
// scrapes it every second and evaluates `up{job="svc"} == 0`, and sends its
// alerts to Osprey's Alertmanager API v2. The test kills the service;
// Prometheus fires, Osprey opens an incident, an auto runbook execs a real
// restart script (on exec_allow) that starts the service again, detached,
// on the same address; the service answers /healthz again, Prometheus sends
// the resolved alert, and the run's verification sees the incident clear:
// status succeeded, outcome cleared. Every process the test or the script
// started is stopped when it ends (the restarted one by its pid file).
func TestRemediationRealProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Prometheus and a service, kills and restarts it")
	}
	promBin, err := exec.LookPath("prometheus")
	if err != nil {
		testenv.Unavailable(t, "prometheus", err)
	}
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		return path
	}

	svcBin := filepath.Join(dir, "svc")
	build := exec.Command("go", "build", "-o", svcBin, "./testdata/svc")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build testdata/svc: %v\n%s", err, out)
	}
	svcAddr, ospreyAddr, promAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	pidFile := filepath.Join(dir, "svc.pid")
	svcLog := filepath.Join(dir, "svc.log")
	// Whatever instance the pid file names when the test ends is stopped,
	// so the one the script detached does not outlive the test.
	t.Cleanup(func() { killByPidFile(t, pidFile, svcBin) })

	// The first instance, the test's own child.
	svc := startProcess(t, "svc", svcBin, "-addr", svcAddr, "-pidfile", pidFile)
	svc.waitReady("http://" + svcAddr + "/healthz")
	firstPid := svc.cmd.Process.Pid

	// The restart script: starts the service again in its own session (so
	// it is not in the script's process group, which Osprey kills on a
	// timeout), its output to a log file (so that no pipe to Osprey stays
	// open), and succeeds once the new instance has written its pid file,
	// which it does when it listens. Osprey runs it with an empty
	// environment, hence PATH.
	script := write("restart-svc", fmt.Sprintf(`#!/bin/sh
set -u
PATH=/usr/bin:/bin
rm -f '%[1]s'
setsid '%[2]s' -addr '%[3]s' -pidfile '%[1]s' >>'%[4]s' 2>&1 </dev/null &
i=0
while [ "$i" -lt 100 ]; do
	if [ -s '%[1]s' ]; then
		echo "svc started, pid $(cat '%[1]s')"
		exit 0
	fi
	sleep 0.1
	i=$((i + 1))
done
echo "svc did not start; its log:" >&2
tail -n 20 '%[4]s' >&2
exit 1
`, pidFile, svcBin, svcAddr, svcLog), 0o755)

	cfg := write("osprey.yaml", `remediation:
  exec_allow: [`+script+`]
  runbooks:
    - name: restart-svc
      trigger: incident.labels.?service.orValue("") == "svc"
      mode: auto
      steps:
        - name: restart
          timeout: 30s
          exec: {argv: [`+script+`]}
      verify: {within: 60s}
`, 0o600)
	osp := startServer(t, filepath.Join(dir, "osprey-data"), ospreyAddr, "--config", cfg)

	rules := write("rules.yml", `
groups:
  - name: svc
    interval: 1s
    rules:
      - alert: SvcDown
        expr: up{job="svc"} == 0
        for: 0s
        labels:
          service: svc
          severity: critical
        annotations:
          summary: svc does not answer its scrapes
`, 0o600)
	promCfg := write("prometheus.yml", fmt.Sprintf(`
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files: [%s]
scrape_configs:
  - job_name: svc
    static_configs:
      - targets: ['%s']
alerting:
  alertmanagers:
    - api_version: v2
      static_configs:
        - targets: ['%s']
`, rules, svcAddr, ospreyAddr), 0o600)
	prom := startProcess(t, "prometheus", promBin,
		"--config.file="+promCfg,
		"--storage.tsdb.path="+filepath.Join(dir, "prometheus"),
		"--web.listen-address="+promAddr,
		"--rules.alert.resend-delay=1s",
	)
	prom.waitReady("http://" + promAddr + "/-/ready")

	// Prometheus has scraped the healthy service before it is killed, so
	// the alert is the kill's doing.
	query := "http://" + promAddr + "/api/v1/query?query=" + url.QueryEscape(`up{job="svc"}`)
	for attempt := 0; promValue(t, query) != "1"; attempt++ {
		if attempt == 600 {
			t.Fatalf("prometheus never scraped svc as up\n%s", prom.output())
		}
		prom.checkRunning()
		time.Sleep(50 * time.Millisecond)
	}
	if runs := processRuns(osp); len(runs) != 0 {
		t.Fatalf("runs before the kill: %+v", runs)
	}

	killed := time.Now()
	if err := svc.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-svc.exited

	// The run starts, restarts the service and verifies; the bounds are
	// failure timeouts, not durations the test asserts.
	var run processRun
	var healthyAt time.Time
	for attempt := 0; ; attempt++ {
		if attempt == 1800 {
			t.Fatalf("no run finished: %+v\nprometheus:\n%s\nosprey:\n%s", run, prom.output(), osp.stderr.String())
		}
		prom.checkRunning()
		if runs := processRuns(osp); len(runs) > 0 {
			run = runs[0]
			if len(runs) > 1 {
				t.Fatalf("%d runs, want one: %+v", len(runs), runs)
			}
		}
		if healthyAt.IsZero() && healthy(svcAddr) {
			healthyAt = time.Now()
		}
		if run.ID != "" && run.Status != "running" && run.Status != "approved" {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if run.Status != "succeeded" || run.Outcome != "cleared" {
		t.Fatalf("run %s is %s, outcome %q; want succeeded, cleared: %+v\nsvc log:\n%s\nosprey:\n%s",
			run.ID, run.Status, run.Outcome, run.Actions, readFile(svcLog), osp.stderr.String())
	}
	cleared := time.Now()
	var types []string
	for _, a := range run.Actions {
		types = append(types, a.Type+"/"+a.Target)
		if a.Status != "succeeded" {
			t.Errorf("action %s %s is %s, want succeeded", a.Type, a.Target, a.Status)
		}
	}
	if len(run.Actions) != 2 || run.Actions[0].Type != "exec" || run.Actions[1].Type != "verify" {
		t.Errorf("actions %v, want the exec step then verify", types)
	}
	if run.Runbook != "restart-svc" {
		t.Errorf("run of runbook %q", run.Runbook)
	}

	// The service is up again, a new process started by the script.
	if !healthy(svcAddr) {
		t.Fatalf("GET /healthz fails after the run cleared\nsvc log:\n%s", readFile(svcLog))
	}
	newPid := readPid(pidFile)
	if newPid == 0 || newPid == firstPid {
		t.Fatalf("pid file names %d (first instance %d), want the restarted instance", newPid, firstPid)
	}

	// Prometheus sent the alert firing and then resolved.
	var events struct {
		Events []struct {
			Source string            `json:"source"`
			Name   string            `json:"name"`
			Status string            `json:"status"`
			Labels map[string]string `json:"labels"`
		} `json:"events"`
	}
	osp.getJSON("/api/v1/events?limit=1000", &events)
	var statuses []string
	for _, e := range events.Events {
		if e.Name == "SvcDown" {
			if e.Source != "prometheus" || e.Labels["job"] != "svc" || e.Labels["instance"] != svcAddr {
				t.Errorf("event %+v, want from prometheus with job svc and instance %s", e, svcAddr)
			}
			statuses = append(statuses, e.Status)
		}
	}
	if !slices.Contains(statuses, "firing") || !slices.Contains(statuses, "resolved") {
		t.Errorf("SvcDown events have statuses %v, want firing and resolved", statuses)
	}
	var incs struct {
		Incidents []struct {
			ID string `json:"id"`
		} `json:"incidents"`
	}
	osp.getJSON("/api/v1/incidents", &incs)
	if len(incs.Incidents) != 1 || incs.Incidents[0].ID != run.IncidentID {
		t.Errorf("incidents %+v, want exactly the run's %s", incs.Incidents, run.IncidentID)
	}
	t.Logf("kill → healthy again %v, kill → run cleared %v (not asserted)",
		healthyAt.Sub(killed).Round(time.Millisecond), cleared.Sub(killed).Round(time.Millisecond))

	prom.stop()
	if err := osp.stop(syscall.SIGTERM); err != nil {
		t.Errorf("osprey exited with %v\n%s", err, osp.stderr.String())
	}
}

// processRun is a runbook run with its outcome.
type processRun struct {
	ID         string      `json:"id"`
	Runbook    string      `json:"runbook"`
	IncidentID string      `json:"incidentId"`
	Status     string      `json:"status"`
	Outcome    string      `json:"outcome"`
	Actions    []runAction `json:"actions"`
}

func processRuns(s *server) []processRun {
	s.t.Helper()
	var out struct {
		Runs []processRun `json:"runs"`
	}
	s.getJSON("/api/v1/runbook-runs", &out)
	return out.Runs
}

// healthy reports whether GET /healthz on addr answers 200.
func healthy(addr string) bool {
	client := http.Client{Timeout: 2 * time.Second}
	resp, err := client.Get("http://" + addr + "/healthz")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode == http.StatusOK
}

// promValue returns the value of the single sample an instant query
// returns, or "" if it returns none.
func promValue(t *testing.T, queryURL string) string {
	t.Helper()
	var out struct {
		Data struct {
			Result []struct {
				Value []any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	getAuthed(t, queryURL, "", &out)
	if len(out.Data.Result) != 1 || len(out.Data.Result[0].Value) != 2 {
		return ""
	}
	v, _ := out.Data.Result[0].Value[1].(string)
	return v
}

// readPid returns the pid in the pid file, or 0.
func readPid(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

// killByPidFile kills the process the pid file names if it is an instance
// of bin (so a pid reused by another process is left alone) and waits,
// bounded, until it is gone.
func killByPidFile(t *testing.T, pidFile, bin string) {
	t.Helper()
	pid := readPid(pidFile)
	if pid <= 0 {
		return
	}
	isSvc := func() bool {
		cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		return err == nil && strings.HasPrefix(string(cmdline), bin+"\x00")
	}
	if !isSvc() {
		return
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Errorf("kill svc %d: %v", pid, err)
		return
	}
	for range 200 {
		if !isSvc() { // gone, or a zombie (empty cmdline) until init reaps it
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Errorf("svc %d still runs after SIGKILL", pid)
}
