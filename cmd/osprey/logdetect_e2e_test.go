package main_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// lokiPushAt POSTs lines as one Loki push JSON stream, the i-th line at
// at[i], and wants 204.
func lokiPushAt(t *testing.T, base string, labels map[string]string, at []time.Time, lines []string) {
	t.Helper()
	type stream struct {
		Stream map[string]string `json:"stream"`
		Values [][2]string       `json:"values"`
	}
	st := stream{Stream: labels}
	for i, l := range lines {
		st.Values = append(st.Values, [2]string{strconv.FormatInt(at[i].UnixNano(), 10), l})
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

// TestLogAnomalyBecomesIncident runs the binary, pushes two and a half
// hours of a steady log background through Loki push (timestamps in the
// past, in order), then a burst of an error message never seen before. It
// expects the new template to become a log anomaly and an incident member
// (GET /api/v1/incidents), and the template's per-minute count, burst
// included, to be queryable as osprey_log_template_count.
func TestLogAnomalyBecomesIncident(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "osprey.yaml")
	if err := os.WriteFile(cfg, []byte(`
logs:
  new_template_warmup: 30m
  new_template_warmup_lines: 500
`), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, filepath.Join(dir, "data"), freeAddr(t), "--config", cfg)

	const minutes, burstAt, burst = 160, 150, 200
	start := time.Now().Add(-minutes * time.Minute).Truncate(time.Minute)
	info := map[string]string{"service": "checkout", "level": "info"}
	seed := uint64(1)
	var at []time.Time
	var lines []string
	flush := func(labels map[string]string) {
		if len(lines) > 0 {
			lokiPushAt(t, s.base, labels, at, lines)
		}
		at, lines = nil, nil
	}
	for m := range minutes - 5 {
		t0 := start.Add(time.Duration(m) * time.Minute)
		// 8..12 logins and 3 cache misses a minute.
		seed = seed*6364136223846793005 + 1442695040888963407
		n := 8 + int(seed>>61)
		for i := range n {
			at = append(at, t0.Add(time.Duration(i)*time.Second))
			lines = append(lines, fmt.Sprintf("user %d logged in from 10.0.%d.%d", m*100+i, m%7, i))
		}
		for i := range 3 {
			at = append(at, t0.Add(time.Duration(30+i)*time.Second))
			lines = append(lines, fmt.Sprintf("cache miss for key cart-%d-%d", m, i))
		}
		if m == burstAt {
			flush(info)
			// The burst: an error message the source never sent before.
			for i := range burst {
				at = append(at, t0.Add(40*time.Second+time.Duration(i)*time.Millisecond))
				lines = append(lines, fmt.Sprintf("payment provider rejected charge %d: card declined", 9000+i))
			}
			flush(map[string]string{"service": "checkout", "level": "error"})
		}
		if m%10 == 9 {
			flush(info)
		}
	}
	flush(info)

	// The template's id, from the template API.
	var tpl logTemplate
	for range 400 {
		for _, lt := range s.logTemplates("loki") {
			if strings.Contains(lt.Template, "payment provider rejected charge") && lt.Count == burst {
				tpl = lt
			}
		}
		if tpl.ID != "" {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if tpl.ID == "" {
		t.Fatalf("the burst's template was never listed: %+v\n%s", s.logTemplates("loki"), s.stderr)
	}
	t.Logf("template %s: %s", tpl.ID, tpl.Template)

	member := "log template " + tpl.ID
	incs := s.waitIncidents(func(incs []incident) bool {
		for _, inc := range incs {
			for _, m := range inc.Members {
				if m.Name == member {
					return true
				}
			}
		}
		return false
	})
	t.Logf("incidents: %+v", incs)
	for _, inc := range incs {
		for _, m := range inc.Members {
			if strings.HasPrefix(m.Name, "log template ") && m.Name != member {
				t.Errorf("a steady template became an incident member: %+v", inc)
			}
		}
	}

	// The member carries the log stream's labels and the template id. (The
	// anomaly's evidence and sample lines are checked by the detector's
	// unit tests; the API does not list anomalies yet.)
	var incID string
	for _, inc := range incs {
		for _, m := range inc.Members {
			if m.Name == member {
				incID = inc.ID
			}
		}
	}
	var detail struct {
		Members []struct {
			Kind   string            `json:"kind"`
			Name   string            `json:"name"`
			Labels map[string]string `json:"labels"`
		} `json:"members"`
	}
	s.getJSON("/api/v1/incidents/"+incID, &detail)
	found := false
	for _, m := range detail.Members {
		if m.Name != member {
			continue
		}
		found = true
		if m.Kind != "anomaly" || m.Labels["source"] != "loki" || m.Labels["service"] != "checkout" || m.Labels["template_id"] != tpl.ID {
			t.Errorf("member %+v", m)
		}
	}
	if !found {
		t.Errorf("incident %s lacks the member: %+v", incID, detail)
	}

	// The count series: the burst's minute holds 200 lines.
	end := start.Add((burstAt + 1) * time.Minute)
	var r promResponse
	for range 400 {
		r = promQuery(t, s.base, "/api/v1/query", "", url.Values{
			"query": {fmt.Sprintf(`osprey_log_template_count{source="loki",template_id=%q}`, tpl.ID)},
			"time":  {strconv.FormatInt(end.Unix()+1, 10)},
		})
		if len(r.Data.Result) == 1 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(r.Data.Result) != 1 || r.Data.Result[0].Value[1] != strconv.Itoa(burst) {
		t.Errorf("osprey_log_template_count at the burst = %+v, want %d", r.Data.Result, burst)
	}
	r = promQuery(t, s.base, "/api/v1/query", "", url.Values{
		"query": {`sum(osprey_log_template_count{source="loki"})`},
		"time":  {strconv.FormatInt(end.Add(-10*time.Minute).Unix()+1, 10)},
	})
	if len(r.Data.Result) != 1 {
		t.Errorf("no background counts: %+v", r)
	} else if v, _ := strconv.ParseFloat(r.Data.Result[0].Value[1].(string), 64); v < 11 || v > 15 {
		t.Errorf("background lines in a minute = %v, want 11..15", v)
	}
	if err := s.stop(syscall.SIGTERM); err != nil {
		t.Errorf("osprey exited with %v\n%s", err, s.stderr)
	}
}
