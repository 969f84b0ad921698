package config

import (
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"time"
)

// ScrapeConfig configures Prometheus scraping (internal/ingest/scrape): the
// jobs, each a list of static targets, with Prometheus' own field names so a
// scrape_configs block can be copied over.
type ScrapeConfig struct {
	// ScrapeInterval is the interval of jobs that set none (Prometheus'
	// global.scrape_interval).
	ScrapeInterval time.Duration `yaml:"scrape_interval"`
	// ScrapeTimeout is the timeout of jobs that set none; it is cut to the
	// job's interval when longer.
	ScrapeTimeout time.Duration `yaml:"scrape_timeout"`
	// MaxBodyBytes caps one scrape's body once decompressed (Prometheus'
	// body_size_limit); a larger scrape fails.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// Configs are the scrape jobs (Prometheus' scrape_configs).
	Configs []ScrapeJobConfig `yaml:"configs"`
}

// ScrapeJobConfig is one scrape job.
type ScrapeJobConfig struct {
	// JobName is the job label of every series scraped.
	JobName string `yaml:"job_name"`
	// ScrapeInterval and ScrapeTimeout: zero takes scrape.scrape_interval
	// and scrape.scrape_timeout.
	ScrapeInterval time.Duration `yaml:"scrape_interval"`
	ScrapeTimeout  time.Duration `yaml:"scrape_timeout"`
	// MetricsPath is the HTTP path scraped; default /metrics.
	MetricsPath string `yaml:"metrics_path"`
	// Scheme is http (default) or https.
	Scheme string `yaml:"scheme"`
	// HonorLabels keeps the scraped job and instance labels (and those of
	// the static config) over the target's; without it the scraped ones
	// are renamed exported_job, exported_instance, ...
	HonorLabels bool `yaml:"honor_labels"`
	// Params are URL query parameters sent with every scrape.
	Params map[string][]string `yaml:"params"`
	// StaticConfigs list the targets.
	StaticConfigs []StaticConfig `yaml:"static_configs"`
}

// StaticConfig is a group of targets sharing labels.
type StaticConfig struct {
	// Targets are host:port addresses.
	Targets []string `yaml:"targets"`
	// Labels are added to every series of these targets.
	Labels map[string]string `yaml:"labels"`
}

// DefaultScrape returns the scrape defaults: no jobs, 15s interval, 10s
// timeout.
func DefaultScrape() ScrapeConfig {
	return ScrapeConfig{ScrapeInterval: 15 * time.Second, ScrapeTimeout: 10 * time.Second, MaxBodyBytes: 64 << 20}
}

// Job returns job j with the global defaults applied: interval, timeout
// (at most the interval), metrics path and scheme.
func (c ScrapeConfig) Job(j ScrapeJobConfig) ScrapeJobConfig {
	if j.ScrapeInterval == 0 {
		j.ScrapeInterval = c.ScrapeInterval
	}
	if j.ScrapeTimeout == 0 {
		j.ScrapeTimeout = min(c.ScrapeTimeout, j.ScrapeInterval)
	}
	if j.MetricsPath == "" {
		j.MetricsPath = "/metrics"
	}
	if j.Scheme == "" {
		j.Scheme = "http"
	}
	return j
}

// Validate checks the defaults and every job: a unique job name, a timeout
// within the interval, an http(s) scheme, host:port targets and label
// names of Prometheus' syntax.
func (c ScrapeConfig) Validate() error {
	var p problems
	positive(&p, "scrape_interval", c.ScrapeInterval)
	positive(&p, "scrape_timeout", c.ScrapeTimeout)
	positive(&p, "max_body_bytes", c.MaxBodyBytes)
	seen := make(map[string]int)
	for i, raw := range c.Configs {
		path := indexPath("configs", i)
		j := c.Job(raw)
		switch prev, dup := seen[j.JobName]; {
		case j.JobName == "":
			p.addf(path+".job_name", "must not be empty")
		case dup:
			p.addf(path+".job_name", "%q is already the name of configs[%d]", j.JobName, prev)
		default:
			seen[j.JobName] = i
		}
		if raw.ScrapeInterval < 0 {
			p.addf(path+".scrape_interval", "must not be negative, got %s", raw.ScrapeInterval)
		}
		if raw.ScrapeTimeout < 0 || j.ScrapeTimeout > j.ScrapeInterval {
			p.addf(path+".scrape_timeout", "must be from 0 to the scrape interval (%s), got %s", j.ScrapeInterval, raw.ScrapeTimeout)
		}
		if !strings.HasPrefix(j.MetricsPath, "/") {
			p.addf(path+".metrics_path", "%q must start with /", j.MetricsPath)
		}
		if j.Scheme != "http" && j.Scheme != "https" {
			p.addf(path+".scheme", "%q is neither http nor https", j.Scheme)
		}
		for k := range j.Params {
			if k == "" {
				p.addf(path+".params", "empty parameter name")
			}
		}
		if len(j.StaticConfigs) == 0 {
			p.addf(path+".static_configs", "must list at least one target")
		}
		for s, sc := range j.StaticConfigs {
			spath := indexPath(path+".static_configs", s)
			for t, target := range sc.Targets {
				if err := CheckTarget(target); err != nil {
					p.addf(indexPath(spath+".targets", t), "%v", err)
				}
			}
			checkLabelNames(&p, spath+".labels", sc.Labels)
		}
	}
	return p.err()
}

// CheckTarget checks a scrape target: host:port, with no scheme or path.
func CheckTarget(target string) error {
	if strings.Contains(target, "/") {
		return fmt.Errorf("%q: want host:port, without a scheme or path (set scheme and metrics_path instead)", clip(target))
	}
	host, port, err := net.SplitHostPort(target)
	if err != nil || host == "" || port == "" {
		return fmt.Errorf("%q is not host:port", clip(target))
	}
	if net.ParseIP(host) == nil {
		for _, c := range host {
			if !(c == '.' || c == '-' || c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
				return fmt.Errorf("%q: host %q is neither an IP address nor a host name", clip(target), clip(host))
			}
		}
	}
	for _, c := range port {
		if c < '0' || c > '9' {
			return fmt.Errorf("%q: port %q is not a number", clip(target), clip(port))
		}
	}
	return nil
}

// FileConfig is one entry of files: log files to tail
// (internal/ingest/filetail).
type FileConfig struct {
	// Path is a file path or a glob (filepath.Match syntax: *, ?, [...]);
	// files that come to match it later are tailed too.
	Path string `yaml:"path"`
	// Source is the source label of the lines (the log miner groups
	// templates by source); default "file".
	Source string `yaml:"source"`
	// Labels are added to every line, beside filename.
	Labels map[string]string `yaml:"labels"`
}

// TailConfig configures how the files of files are tailed.
type TailConfig struct {
	// PollInterval is how often files are checked for new lines, new
	// files and rotation.
	PollInterval time.Duration `yaml:"poll_interval"`
	// MaxLineBytes bounds a line; the rest of a longer line is dropped
	// and counted (too_large).
	MaxLineBytes int `yaml:"max_line_bytes"`
	// BatchSize is the most lines handed on at once.
	BatchSize int `yaml:"batch_size"`
}

// DefaultTail returns the tailing defaults.
func DefaultTail() TailConfig {
	return TailConfig{PollInterval: time.Second, MaxLineBytes: 256 << 10, BatchSize: 1000}
}

// Validate checks the tailing parameters.
func (c TailConfig) Validate() error {
	var p problems
	positive(&p, "poll_interval", c.PollInterval)
	positive(&p, "max_line_bytes", c.MaxLineBytes)
	positive(&p, "batch_size", c.BatchSize)
	return p.err()
}

// ValidateFiles checks the entries of files: a valid glob and label names.
func ValidateFiles(files []FileConfig) error {
	var p problems
	for i, f := range files {
		path := indexPath("", i)
		if f.Path == "" {
			p.addf(path+".path", "must not be empty")
		} else if _, err := filepath.Match(f.Path, ""); err != nil {
			p.addf(path+".path", "%q is not a valid glob: %v", clip(f.Path), err)
		}
		checkLabelNames(&p, path+".labels", f.Labels)
	}
	return p.err()
}

// checkLabelNames reports label names that are not of Prometheus' syntax.
func checkLabelNames(p *problems, path string, labels map[string]string) {
	for k := range labels {
		if !validLabelName(k) {
			p.addf(joinPath(path, keyPath(k)), "invalid label name (want [a-zA-Z_][a-zA-Z0-9_]*)")
		}
	}
}

// validLabelName reports whether s matches [a-zA-Z_][a-zA-Z0-9_]*.
func validLabelName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}
