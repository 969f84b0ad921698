package app

import (
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/osprey-aiops/osprey/internal/config"
)

// TestCollectors runs Osprey with a scrape job on a client_golang registry
// and a tailed log file, and checks through the HTTP API that the scraped
// values are queryable and the lines were mined.
func TestCollectors(t *testing.T) {
	reg := prometheus.NewRegistry()
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "shop_orders_open", Help: "Open orders."})
	g.Set(42)
	reg.MustRegister(g)
	target := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{EnableOpenMetrics: true}))
	defer target.Close()

	dir := t.TempDir()
	logFile := filepath.Join(dir, "logs", "shop.log")
	if err := os.MkdirAll(filepath.Dir(logFile), 0o750); err != nil {
		t.Fatal(err)
	}
	var lines strings.Builder
	for i := range 20 {
		lines.WriteString("order " + string(rune('a'+i)) + " shipped to warehouse\n")
	}
	if err := os.WriteFile(logFile, []byte(lines.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	yaml := `data_dir: ` + filepath.Join(dir, "data") + `
server:
  listen: 127.0.0.1:0
scrape:
  configs:
    - job_name: shop
      scrape_interval: 100ms
      static_configs:
        - targets: ["` + strings.TrimPrefix(target.URL, "http://") + `"]
          labels: {team: web}
files:
  - path: ` + filepath.Join(dir, "logs", "*.log") + `
    source: shop
    labels: {team: web}
tail:
  poll_interval: 50ms
logs:
  save_interval: 100ms
`
	cfg, err := config.Parse([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	base, stop := startRun(t, cfg)
	defer stop()

	getJSON := func(path string, v any) { t.Helper(); getJSON(t, base+path, v) }
	query := func(q string) []any {
		var r struct {
			Data struct {
				Result []struct {
					Metric map[string]string `json:"metric"`
					Value  []any             `json:"value"`
				} `json:"result"`
			} `json:"data"`
		}
		getJSON("/api/v1/query?query="+url.QueryEscape(q), &r)
		if len(r.Data.Result) != 1 {
			return nil
		}
		return r.Data.Result[0].Value
	}
	// Wait (bounded) for the first scrape and the first poll.
	deadline := time.Now().Add(20 * time.Second)
	var orders []any
	for time.Now().Before(deadline) {
		if orders = query(`shop_orders_open{job="shop",team="web"}`); orders != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if orders == nil || orders[1] != "42" {
		t.Fatalf("shop_orders_open = %v, want 42", orders)
	}
	if up := query(`up{job="shop"}`); up == nil || up[1] != "1" {
		t.Errorf("up = %v", up)
	}
	var tpl struct {
		Templates []struct {
			Source   string `json:"source"`
			Template string `json:"template"`
			Count    int    `json:"count"`
			AliasOf  string `json:"aliasOf"`
		} `json:"templates"`
	}
	mined := func() (string, int) {
		for _, tp := range tpl.Templates {
			if tp.AliasOf == "" {
				return tp.Template, tp.Count
			}
		}
		return "", 0
	}
	for time.Now().Before(deadline) {
		getJSON("/api/v1/log-templates?source=shop", &tpl)
		if _, n := mined(); n == 20 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if text, n := mined(); n != 20 || text != "order <*> shipped to warehouse" {
		t.Errorf("templates %+v, want one of 20 lines", tpl.Templates)
	}
	var status struct {
		Receivers map[string]struct {
			Items struct{ Accepted int } `json:"items"`
		} `json:"receivers"`
	}
	getJSON("/api/v1/status/ingest", &status)
	if status.Receivers["file"].Items.Accepted != 20 || status.Receivers["scrape"].Items.Accepted == 0 {
		t.Errorf("ingest status %+v", status.Receivers)
	}
}
