package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
)

// syncBuffer is a bytes.Buffer safe for the demo's printer and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// demoSpeed runs the demo this many times faster than real time: the
// engine's clock and the environment's sample times run in the same
// virtual time, so everything counted in samples (the detectors' warm-up
// and debouncing, the forecaster's minimum history) is as in the real demo.
const demoSpeed = 6

// TestDemo runs `osprey demo` (Run: the real engine and the simulated shop
// over loopback) at demoSpeed times real time through its first three
// faults — a disk filling up, a crash loop, latency — and checks through
// the JSON API what a newcomer should see: anomalies, the learned call
// graph, an incident per fault whose top-ranked cause is the faulted
// service, the auto runbook's restart verified, the dry-run runbook's plan,
// and (when the forecaster is wired) the disk-full forecast.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo for about a minute")
	}
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	live := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{
			Listen:     "127.0.0.1:0",
			DataDir:    t.TempDir(),
			FirstFault: 10 * time.Second,
			Speed:      demoSpeed,
			Out:        &out,
			Live:       func(base string) { live <- base },
		})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("demo: %v", err)
		}
		t.Logf("demo output:\n%s", out.String())
	}()
	var base string
	select {
	case base = <-live:
	case err := <-done:
		t.Fatalf("demo stopped before going live: %v\n%s", err, out.String())
	case <-time.After(2 * time.Minute):
		t.Fatalf("demo did not go live\n%s", out.String())
	}

	// The three faults start 10 s, 40 s and 220 s (virtual) after going
	// live; the latency's incident needs a few samples more. Poll, bounded
	// by a deadline in virtual time, until every check holds.
	c := &checker{t: t, base: base}
	forecastWired := c.forecastWired()
	deadline := time.Now().Add(300 * time.Second / demoSpeed)
	var missing []string
	for {
		missing = c.missing(forecastWired)
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if len(missing) > 0 {
		t.Errorf("after %s of demo time, not seen:\n  %s\nincidents:\n%s", 300*time.Second,
			strings.Join(missing, "\n  "), c.describeIncidents())
	}
	if !forecastWired {
		t.Log("the forecaster is not wired into the engine (GET /api/v1/forecast is 404): forecast not checked")
	}
}

// checker reads the demo's API.
type checker struct {
	t    *testing.T
	base string
}

func (c *checker) get(path string, v any) int {
	c.t.Helper()
	resp, err := http.Get(c.base + path)
	if err != nil {
		c.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK && v != nil {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			c.t.Fatalf("GET %s: decode: %v", path, err)
		}
	}
	return resp.StatusCode
}

// forecastWired reports whether the engine serves forecasts.
func (c *checker) forecastWired() bool {
	return c.get("/api/v1/forecast", nil) != http.StatusNotFound
}

// missing returns what the demo has not shown yet.
func (c *checker) missing(forecast bool) []string {
	var miss []string
	var anomalies struct {
		Anomalies []osprey.Anomaly `json:"anomalies"`
	}
	c.get("/api/v1/anomalies?limit=1000", &anomalies)
	metricSeen, forecastSeen := false, false
	for _, a := range anomalies.Anomalies {
		switch {
		case a.Kind == osprey.AnomalyMetric:
			metricSeen = true
		case a.Kind == osprey.AnomalyForecast && a.Labels.Get(osprey.LabelService) == "catalog" && a.Labels.Get(mountpointLabel) == "/var/log":
			forecastSeen = true
		}
	}
	if !metricSeen {
		miss = append(miss, "a metric anomaly")
	}
	if forecast && !forecastSeen {
		miss = append(miss, "a forecast that catalog /var/log fills up")
	}

	var topo struct {
		Edges []struct {
			Caller string `json:"caller"`
			Callee string `json:"callee"`
		} `json:"edges"`
	}
	c.get("/api/v1/topology", &topo)
	have := map[[2]string]bool{}
	for _, e := range topo.Edges {
		have[[2]string{e.Caller, e.Callee}] = true
	}
	for _, e := range Edges() {
		if !have[e] {
			miss = append(miss, fmt.Sprintf("topology edge %s -> %s", e[0], e[1]))
		}
	}

	incs := c.incidents()
	top := func(service string, member func(*osprey.Member) bool) bool {
		for _, inc := range incs {
			if len(inc.Causes) == 0 || inc.Causes[0].Name != service {
				continue
			}
			for _, m := range inc.Members {
				if member(m) {
					return true
				}
			}
		}
		return false
	}
	if !top("inventory", func(m *osprey.Member) bool { return m.Name == AlertCrashLooping }) {
		miss = append(miss, "an incident with the crash-loop alert whose top cause is inventory")
	}
	if !top("payment", func(m *osprey.Member) bool {
		return m.Name == MetricLatency && m.Labels.Get(osprey.LabelService) == "payment"
	}) {
		miss = append(miss, "an incident with payment's latency whose top cause is payment")
	}

	var runs struct {
		Runs []osprey.RunbookRun `json:"runs"`
	}
	c.get("/api/v1/runbook-runs?limit=100", &runs)
	restarted, planned := false, false
	for _, r := range runs.Runs {
		switch {
		case r.Runbook == RunbookRestart && r.Status == osprey.RunSucceeded && verified(r) && acts(r, `"service":"inventory"`):
			restarted = true
		case r.Runbook == RunbookCleanup && r.DryRun && r.Status == "planned" && acts(r, `"mountpoint":"/var/log","older_than":"168h","service":"catalog"`):
			planned = true
		}
	}
	if !restarted {
		miss = append(miss, "a succeeded, verified run of "+RunbookRestart+" on inventory")
	}
	if !planned {
		miss = append(miss, "a planned (dry-run) run of "+RunbookCleanup+" on catalog:/var/log")
	}
	return miss
}

// acts reports whether one of r's actions has an argument containing s.
func acts(r osprey.RunbookRun, s string) bool {
	for _, a := range r.Actions {
		for _, arg := range a.Args {
			if strings.Contains(arg, s) {
				return true
			}
		}
	}
	return false
}

// verified reports whether r's verify action succeeded.
func verified(r osprey.RunbookRun) bool {
	for _, a := range r.Actions {
		if a.Type == "verify" && a.Status == osprey.RunSucceeded {
			return true
		}
	}
	return false
}

func (c *checker) incidents() []osprey.Incident {
	var incs struct {
		Incidents []osprey.Incident `json:"incidents"`
	}
	c.get("/api/v1/incidents?limit=200", &incs)
	return incs.Incidents
}

func (c *checker) describeIncidents() string {
	var b strings.Builder
	for _, inc := range c.incidents() {
		var causes []string
		for _, cause := range inc.Causes {
			causes = append(causes, fmt.Sprintf("%s %.2f", cause.Name, cause.Score))
		}
		fmt.Fprintf(&b, "  %s %s %q causes %v, %d members\n", inc.ID, inc.Status, inc.Title, causes, len(inc.Members))
		for _, m := range inc.Members {
			fmt.Fprintf(&b, "    %s %s %s %s first %s last %s\n", m.Status, m.Kind, m.Name, m.Labels,
				m.FirstSeen.Format("15:04:05"), m.LastSeen.Format("15:04:05"))
		}
	}
	return b.String()
}
