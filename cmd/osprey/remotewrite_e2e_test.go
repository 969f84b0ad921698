package main_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"

	"github.com/osprey-aiops/osprey/internal/testenv"
)

// promResponse is the envelope of Prometheus' (and Osprey's) query API.
type promResponse struct {
	Status string `json:"status"`
	Error  string `json:"error"`
	Data   struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
			Values [][2]any          `json:"values"`
		} `json:"result"`
	} `json:"data"`
}

// promQuery GETs a query API path with params (and a bearer token when not
// empty) and decodes the reply, failing the test unless it is a success.
func promQuery(t *testing.T, base, path, token string, params url.Values) promResponse {
	t.Helper()
	var out promResponse
	u := base + path + "?" + params.Encode()
	if token != "" {
		getAuthed(t, u, token, &out)
	} else {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if err := json.Unmarshal(body, &out); err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET %s = %d %s", u, resp.StatusCode, body)
		}
	}
	if out.Status != "success" {
		t.Fatalf("GET %s: %+v", u, out)
	}
	return out
}

// TestRealPrometheusRemoteWrite runs Debian's prometheus scraping its own
// /metrics every second and remote-writing to the osprey binary with a bearer
// token from a file, as docs/receivers.md says. It then asks both for the
// same range of the same series through the query API, with the same PromQL,
// and wants the same values: what Prometheus stored is what Osprey stored.
func TestRealPrometheusRemoteWrite(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Prometheus")
	}
	promBin, err := exec.LookPath("prometheus")
	if err != nil {
		testenv.Unavailable(t, "prometheus", err)
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
	const promToken, viewerToken = "remote-write-e2e-token", "viewer-e2e-token"
	promTokenFile := write("prometheus.token", promToken+"\n")
	ospreyCfg := write("osprey.yaml", fmt.Sprintf(`
auth:
  tokens:
    - {name: prometheus, role: operator, token_file: %s}
    - {name: grafana, role: viewer, token_file: %s}
`, promTokenFile, write("viewer.token", viewerToken)))
	ospreyAddr, promAddr := freeAddr(t), freeAddr(t)
	osp := startServer(t, filepath.Join(dir, "osprey-data"), ospreyAddr, "--config", ospreyCfg)

	promCfg := write("prometheus.yml", fmt.Sprintf(`
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: ['%s']
remote_write:
  - url: http://%s/api/v1/write
    authorization:
      credentials_file: %s
    queue_config:
      batch_send_deadline: 1s
`, promAddr, ospreyAddr, promTokenFile))
	prom := startProcess(t, "prometheus", promBin,
		"--config.file="+promCfg,
		"--storage.tsdb.path="+filepath.Join(dir, "prometheus"),
		"--web.listen-address="+promAddr,
	)
	prom.waitReady("http://" + promAddr + "/-/ready")
	promBase := "http://" + promAddr

	// Let a few scrapes happen, pick a time T in the past of both, and wait
	// (bounded by attempts) until Osprey holds the series past T.
	const expr = `scrape_samples_scraped{job="prometheus"}`
	var tEnd float64
	for attempt := 0; ; attempt++ {
		if attempt == 600 {
			t.Fatalf("Prometheus never scraped itself five times\n%s", prom.output())
		}
		prom.checkRunning()
		r := promQuery(t, promBase, "/api/v1/query", "", url.Values{"query": {"count_over_time(" + expr + "[1m])"}})
		if len(r.Data.Result) == 1 && r.Data.Result[0].Value[1] != nil {
			if n, _ := strconv.Atoi(r.Data.Result[0].Value[1].(string)); n >= 5 {
				tEnd = float64(time.Now().Add(-1500*time.Millisecond).UnixMilli()) / 1000
				break
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	for attempt := 0; ; attempt++ {
		if attempt == 600 {
			t.Fatalf("Osprey never received %s past %v\nprometheus:\n%s\nosprey:\n%s", expr, tEnd, prom.output(), osp.stderr)
		}
		prom.checkRunning()
		r := promQuery(t, osp.base, "/api/v1/query", viewerToken, url.Values{"query": {"timestamp(" + expr + ")"}})
		if len(r.Data.Result) == 1 {
			if ts, _ := strconv.ParseFloat(r.Data.Result[0].Value[1].(string), 64); ts > tEnd {
				break
			}
		}
		time.Sleep(50 * time.Millisecond)
	}

	// The same range query against both.
	params := url.Values{
		"query": {expr},
		"start": {strconv.FormatFloat(tEnd-4, 'f', 3, 64)},
		"end":   {strconv.FormatFloat(tEnd, 'f', 3, 64)},
		"step":  {"0.5"},
	}
	want := promQuery(t, promBase, "/api/v1/query_range", "", params)
	got := promQuery(t, osp.base, "/api/v1/query_range", viewerToken, params)
	if len(want.Data.Result) != 1 || len(want.Data.Result[0].Values) < 4 {
		t.Fatalf("Prometheus returned %+v", want)
	}
	wantJSON, _ := json.Marshal(want.Data)
	gotJSON, _ := json.Marshal(got.Data)
	if !bytes.Equal(wantJSON, gotJSON) {
		t.Errorf("query_range differs\nprometheus: %s\nosprey:     %s", wantJSON, gotJSON)
	}

	// The labels API sees the series too, and remote_write was counted
	// with nothing refused.
	var labels struct {
		Data []string `json:"data"`
	}
	getAuthed(t, osp.base+"/api/v1/label/job/values", viewerToken, &labels)
	if fmt.Sprint(labels.Data) != "[prometheus]" {
		t.Errorf("job values = %v", labels.Data)
	}
	var status struct {
		Receivers map[string]struct {
			Items    struct{ Accepted, Rejected int }
			Rejected map[string]int
		} `json:"receivers"`
	}
	getAuthed(t, osp.base+"/api/v1/status/ingest", viewerToken, &status)
	if rw := status.Receivers["prometheus_remote_write"]; rw.Items.Accepted < 100 || rw.Rejected["unauthorized"] != 0 || rw.Rejected["malformed"] != 0 {
		t.Errorf("remote_write status = %+v", rw)
	}

	prom.stop()
	if err := osp.stop(syscall.SIGTERM); err != nil {
		t.Errorf("osprey exited with %v\n%s", err, osp.stderr)
	}
}

// remoteWrite sends series to Osprey exactly as Prometheus' remote-write
// client does: a prompb.WriteRequest, marshalled, compressed with
// golang/snappy's block format, POSTed with the remote-write 1.0 headers.
func remoteWrite(t *testing.T, base string, ts []prompb.TimeSeries) {
	t.Helper()
	wr := prompb.WriteRequest{Timeseries: ts}
	raw, err := wr.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, base+"/api/v1/write", bytes.NewReader(snappy.Encode(nil, raw)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Encoding", "snappy")
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("User-Agent", "Prometheus/2.42.0")
	req.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("POST /api/v1/write = %d: %s", resp.StatusCode, body)
	}
}

// TestRemoteWriteSpikeBecomesIncident pushes a noisy but steady series with
// one clear spike through remote_write, with timestamps in the past and in
// order, and expects the detector to turn the spike into an anomaly, the
// correlator into an incident, and the score to be queryable as
// osprey_anomaly_score.
func TestRemoteWriteSpikeBecomesIncident(t *testing.T) {
	s := startServer(t, t.TempDir(), freeAddr(t))

	const (
		n     = 800
		spike = 700
		step  = 10 * time.Second
	)
	start := time.Now().Add(-n * step).Truncate(time.Second)
	lbls := []prompb.Label{
		{Name: "__name__", Value: "checkout_latency_seconds"},
		{Name: "instance", Value: "checkout-1:8080"},
		{Name: "service", Value: "checkout"},
	}
	var samples []prompb.Sample
	seed := uint64(1)
	for i := range n {
		// A deterministic noise of ±5 % around 0.2 s.
		seed = seed*6364136223846793005 + 1442695040888963407
		v := 0.2 + 0.01*(float64(seed>>11)/float64(1<<53)-0.5)
		if i == spike {
			v = 3
		}
		samples = append(samples, prompb.Sample{Timestamp: start.Add(time.Duration(i) * step).UnixMilli(), Value: v})
	}
	for i := 0; i < n; i += 100 {
		remoteWrite(t, s.base, []prompb.TimeSeries{{Labels: lbls, Samples: samples[i:min(i+100, n)]}})
	}

	incs := s.waitIncidents(func(incs []incident) bool {
		for _, inc := range incs {
			for _, m := range inc.Members {
				if m.Name == "checkout_latency_seconds" {
					return true
				}
			}
		}
		return false
	})
	t.Logf("incidents: %+v", incs)

	// The values went in, and the spike's score came back out as a series.
	spikeAt := float64(samples[spike].Timestamp) / 1000
	r := promQuery(t, s.base, "/api/v1/query", "", url.Values{
		"query": {`checkout_latency_seconds{service="checkout"}`},
		"time":  {strconv.FormatFloat(spikeAt, 'f', 3, 64)},
	})
	if len(r.Data.Result) != 1 || r.Data.Result[0].Value[1] != "3" {
		t.Errorf("value at the spike = %+v, want 3", r.Data.Result)
	}
	r = promQuery(t, s.base, "/api/v1/query", "", url.Values{
		"query": {`osprey_anomaly_score{metric="checkout_latency_seconds", service="checkout"}`},
		"time":  {strconv.FormatFloat(spikeAt+1, 'f', 3, 64)},
	})
	if len(r.Data.Result) != 1 {
		t.Fatalf("no anomaly score at the spike: %+v", r)
	}
	if v, _ := strconv.ParseFloat(r.Data.Result[0].Value[1].(string), 64); !(v > 0 && v <= 1) || math.IsNaN(v) {
		t.Errorf("anomaly score %v, want one in (0, 1]", r.Data.Result[0].Value[1])
	}
	if err := s.stop(syscall.SIGTERM); err != nil {
		t.Errorf("osprey exited with %v\n%s", err, s.stderr)
	}
}
