package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/config"
)

// logRun is a running Osprey fed over Loki push, with the count of lines
// it was sent.
type logRun struct {
	t     *testing.T
	base  string
	stop  func()
	lines int
}

func startLogRun(t *testing.T, dataDir string) *logRun {
	t.Helper()
	cfg, err := config.Parse([]byte("data_dir: " + dataDir + "\nserver:\n  listen: 127.0.0.1:0\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	base, stop := startRun(t, cfg)
	return &logRun{t: t, base: base, stop: stop}
}

// push sends lines of service api, all at time at, as one Loki request.
func (r *logRun) push(at time.Time, lines ...string) {
	r.t.Helper()
	values := make([][2]string, len(lines))
	for i, l := range lines {
		values[i] = [2]string{strconv.FormatInt(at.Add(time.Duration(i)*time.Millisecond).UnixNano(), 10), l}
	}
	body, _ := json.Marshal(map[string]any{"streams": []any{map[string]any{"stream": map[string]string{"service": "api"}, "values": values}}})
	resp, err := http.Post(r.base+"/loki/api/v1/push", "application/json", bytes.NewReader(body))
	if err != nil {
		r.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		r.t.Fatalf("loki push: %s", resp.Status)
	}
	r.lines += len(lines)
}

// settle sends one more line and waits until it was mined: the miner and
// the detector consume the log batches in order, one at a time, so every
// batch before it is then mined, scored and its anomalies stored.
func (r *logRun) settle(at time.Time) {
	r.t.Helper()
	r.push(at, "settle marker")
	re := regexp.MustCompile(`(?m)^osprey_logmine_lines_total\{source="loki"\} (\d+)$`)
	var got string
	waitFor(r.t, fmt.Sprintf("%d lines mined", r.lines), func() bool {
		resp, err := http.Get(r.base + "/metrics")
		if err != nil {
			r.t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		m := re.FindSubmatch(raw)
		if m == nil {
			return false
		}
		got = string(m[1])
		return got == strconv.Itoa(r.lines)
	}, func() string { return "mined " + got })
}

// anomalyReply is an anomaly as GET /api/v1/anomalies lists it.
type anomalyReply struct {
	osprey.Anomaly
	TemplateURL string `json:"templateUrl"`
}

// rateAnomalies returns the log rate anomalies Osprey stored.
func (r *logRun) rateAnomalies() []anomalyReply {
	r.t.Helper()
	var reply struct {
		Anomalies []anomalyReply `json:"anomalies"`
	}
	getJSON(r.t, r.base+"/api/v1/anomalies?since=24h&limit=1000", &reply)
	var out []anomalyReply
	for _, a := range reply.Anomalies {
		if a.Kind == osprey.AnomalyLog && len(a.Evidence) > 0 && a.Evidence[0].Detector == "log_rate" {
			out = append(out, a)
		}
	}
	return out
}

// steadyLogs is minute m of a steady stream: about ten logins and three
// cache misses.
func steadyLogs(m int) (logins, misses []string) {
	n := 8 + (m*7)%5 // 8..12
	for i := range n {
		logins = append(logins, fmt.Sprintf("user %d logged in from 10.0.%d.%d", m*100+i, m%7, i))
	}
	for i := range 3 {
		misses = append(misses, fmt.Sprintf("cache miss for key k%d", m*10+i))
	}
	return logins, misses
}

// TestLogRateBaselinesSurviveRestart runs Osprey on a steady log stream
// of 300 one-minute buckets, restarts it on the same data directory, and
// sends a 40× surge of one template: the restarted Osprey flags it at
// once, because the per-template rate models were snapshotted at shutdown
// and restored at start. A copy of the data directory without the
// snapshot, fed the same surge, flags nothing (the models learn afresh),
// which shows it is the snapshot that carries the baseline. The count
// series are queryable as osprey_log_template_count{source, template_id},
// and the anomaly links its template.
func TestLogRateBaselinesSurviveRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Osprey three times")
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	start := time.Now().UTC().Truncate(time.Minute).Add(-305 * time.Minute)
	minute := func(m int) time.Time { return start.Add(time.Duration(m) * time.Minute) }

	run := startLogRun(t, data)
	for m := range 300 {
		logins, misses := steadyLogs(m)
		run.push(minute(m), logins...)
		run.push(minute(m).Add(30*time.Second), misses...)
	}
	run.settle(minute(299).Add(50 * time.Second))
	if got := run.rateAnomalies(); len(got) != 0 {
		t.Fatalf("rate anomalies on the steady stream: %+v", got)
	}

	// The count series, through the query API, at the end of minute 298.
	var q struct {
		Status string `json:"status"`
		Data   struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	at := strconv.FormatInt(minute(299).Unix(), 10)
	getJSON(t, run.base+"/api/v1/query?query="+url.QueryEscape(`osprey_log_template_count{source="loki"}`)+"&time="+at, &q)
	logins298, misses298 := steadyLogs(298)
	byText := map[string]string{}
	for _, s := range q.Data.Result {
		var tpl osprey.LogTemplate
		getJSON(t, run.base+"/api/v1/log-templates/loki/"+s.Metric["template_id"], &tpl)
		byText[tpl.Template] = fmt.Sprint(s.Value[1])
	}
	if byText["user <*> logged in from <*>"] != strconv.Itoa(len(logins298)) || byText["cache miss for key <*>"] != strconv.Itoa(len(misses298)) {
		t.Errorf("osprey_log_template_count at minute 298 by template = %v, want %d logins and %d misses (%s)",
			byText, len(logins298), len(misses298), q.Status)
	}
	run.stop()

	snap := filepath.Join(data, "detect", "logs.snap")
	if fi, err := os.Stat(snap); err != nil || fi.Size() == 0 {
		t.Fatalf("no log detector snapshot after shutdown: %v", err)
	}
	// The control: the same data directory without the snapshot.
	control := filepath.Join(dir, "control")
	if err := os.CopyFS(control, os.DirFS(data)); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(control, "detect", "logs.snap")); err != nil {
		t.Fatal(err)
	}

	surge := func(r *logRun) {
		var logins []string
		for i := range 400 {
			logins = append(logins, fmt.Sprintf("user %d logged in from 10.1.%d.%d", 900000+i, i%7, i%250))
		}
		_, misses := steadyLogs(300)
		r.push(minute(300), logins...)
		r.push(minute(300).Add(30*time.Second), misses...)
		l2, m2 := steadyLogs(301)
		r.push(minute(301), l2...)
		r.push(minute(301).Add(30*time.Second), m2...)
		r.settle(minute(301).Add(50 * time.Second))
	}

	restarted := startLogRun(t, data)
	surge(restarted)
	got := restarted.rateAnomalies()
	if len(got) != 1 {
		t.Fatalf("after the restart: %d rate anomalies, want the one surge: %+v", len(got), got)
	}
	a := got[0]
	if a.Observed != 400 || a.Expected > 20 || !a.StartsAt.Equal(minute(301)) || !strings.Contains(a.Evidence[0].Reason, "surge") {
		t.Errorf("surge anomaly: observed %v expected %v at %v (%s)", a.Observed, a.Expected, a.StartsAt, a.Evidence[0].Reason)
	}
	if a.Labels["source"] != "loki" || a.TemplateID == "" || a.TemplateURL != "/api/v1/log-templates/loki/"+a.TemplateID {
		t.Errorf("anomaly labels %v, template %q, link %q", a.Labels, a.TemplateID, a.TemplateURL)
	}
	var tpl osprey.LogTemplate
	getJSON(t, restarted.base+a.TemplateURL, &tpl)
	if tpl.Template != "user <*> logged in from <*>" {
		t.Errorf("the anomaly's link serves %+v", tpl)
	}
	// The incident the anomaly joined lists the template.
	var incID string
	waitFor(t, "an incident with the surge", func() bool {
		var list struct {
			Incidents []osprey.Incident `json:"incidents"`
		}
		getJSON(t, restarted.base+"/api/v1/incidents", &list)
		for _, inc := range list.Incidents {
			for _, m := range inc.Members {
				if m.Fingerprint == a.Fingerprint {
					incID = inc.ID
					return true
				}
			}
		}
		return false
	}, func() string { return "none" })
	var inc struct {
		LogTemplates []struct {
			TemplateID string `json:"templateId"`
			URL        string `json:"url"`
		} `json:"logTemplates"`
	}
	getJSON(t, restarted.base+"/api/v1/incidents/"+incID, &inc)
	if len(inc.LogTemplates) == 0 || inc.LogTemplates[0].TemplateID != a.TemplateID || inc.LogTemplates[0].URL != a.TemplateURL {
		t.Errorf("incident %s logTemplates = %+v", incID, inc.LogTemplates)
	}
	restarted.stop()

	fresh := startLogRun(t, control)
	surge(fresh)
	if got := fresh.rateAnomalies(); len(got) != 0 {
		t.Errorf("without the snapshot the surge was flagged too (%+v): the test does not show the snapshot matters", got)
	}
	fresh.stop()
}
