package config

import (
	"strings"
	"testing"
	"time"
)

func TestScrapeAndFilesParse(t *testing.T) {
	cfg, err := ParseWithEnv([]byte(`
scrape:
  scrape_interval: 30s
  configs:
    - job_name: node
      static_configs:
        - targets: [localhost:9100, "[::1]:9100"]
          labels: {team: infra, env: prod}
    - job_name: blackbox
      scrape_interval: 5s
      metrics_path: /probe
      honor_labels: true
      params: {module: [http_2xx], target: [example.org]}
      static_configs:
        - targets: [127.0.0.1:9115]
files:
  - path: /var/log/nginx/*.log
    source: nginx
    labels: {service: nginx}
tail:
  poll_interval: 2s
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	node := cfg.Scrape.Job(cfg.Scrape.Configs[0])
	if node.ScrapeInterval != 30*time.Second || node.ScrapeTimeout != 10*time.Second || node.MetricsPath != "/metrics" || node.Scheme != "http" {
		t.Errorf("node job with defaults: %+v", node)
	}
	if l := node.StaticConfigs[0].Labels; l["team"] != "infra" || l["env"] != "prod" || len(l) != 2 {
		t.Errorf("labels %v", l)
	}
	bb := cfg.Scrape.Job(cfg.Scrape.Configs[1])
	if bb.ScrapeTimeout != 5*time.Second || !bb.HonorLabels || strings.Join(bb.Params["target"], ",") != "example.org" {
		t.Errorf("blackbox job: %+v", bb)
	}
	if f := cfg.Files[0]; f.Source != "nginx" || f.Labels["service"] != "nginx" || cfg.Tail.PollInterval != 2*time.Second || cfg.Tail.BatchSize != 1000 {
		t.Errorf("files %+v, tail %+v", cfg.Files, cfg.Tail)
	}
}

func TestScrapeAndFilesErrors(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"scrape:\n  configs:\n    - job_name: a\n      static_configs: [{targets: [x:1]}]\n    - job_name: a\n      static_configs: [{targets: [y:1]}]\n",
			`scrape.configs[1].job_name: "a" is already the name of configs[0]`},
		{"scrape:\n  configs:\n    - job_name: a\n      static_configs: [{targets: ['http://x:9100/metrics']}]\n",
			"scrape.configs[0].static_configs[0].targets[0]: \"http://x:9100/metrics\": want host:port"},
		{"scrape:\n  configs:\n    - job_name: a\n      static_configs: [{targets: [x]}]\n",
			`"x" is not host:port`},
		{"scrape:\n  configs:\n    - job_name: a\n      scrape_interval: 5s\n      scrape_timeout: 10s\n      static_configs: [{targets: [x:1]}]\n",
			"scrape.configs[0].scrape_timeout: must be from 0 to the scrape interval (5s)"},
		{"scrape:\n  configs:\n    - job_name: a\n      scheme: ftp\n      static_configs: [{targets: [x:1]}]\n",
			`scheme: "ftp" is neither http nor https`},
		{"scrape:\n  configs:\n    - job_name: a\n",
			"static_configs: must list at least one target"},
		{"scrape:\n  configs:\n    - job_name: a\n      static_configs: [{targets: [x:1], labels: {bad-name: x}}]\n",
			"static_configs[0].labels.bad-name: invalid label name"},
		{"scrape:\n  configs:\n    - job_name: a\n      static_configs: [{targets: [x:1], labels: [a, b]}]\n",
			"labels: want a mapping, got a list"},
		{"files:\n  - path: /x\n    labels: {a: 1, a: 2}\n",
			"files[0].labels.a: key already set on line 3"},
		{"files:\n  - path: '/var/log/[x'\n", `files[0].path: "/var/log/[x" is not a valid glob`},
		{"files:\n  - source: x\n", "files[0].path: must not be empty"},
		{"tail:\n  poll_interval: 0s\n", "tail.poll_interval: must be positive"},
	} {
		cfg, err := ParseWithEnv([]byte(tc.yaml), nil)
		if err == nil {
			err = cfg.Validate()
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s\ngot %v\nwant %q", tc.yaml, err, tc.want)
		}
	}
}
