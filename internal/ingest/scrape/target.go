package scrape

import (
	"fmt"
	"hash/fnv"
	"net/url"
	"sort"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/osprey-aiops/osprey/internal/config"
)

// Target labels, as Prometheus names them.
const (
	LabelJob      = "job"
	LabelInstance = "instance"
)

// Target is one endpoint to scrape.
type Target struct {
	// Job is the job name, the job label.
	Job string
	// URL is what is fetched: scheme, host:port, metrics path and params.
	URL string
	// Labels are the target labels: job, instance and the static
	// config's labels, sorted.
	Labels labels.Labels
	// Interval and Timeout of the job.
	Interval, Timeout time.Duration
	// HonorLabels keeps scraped labels that clash with target labels.
	HonorLabels bool
}

// Targets returns the targets of cfg, with the global defaults applied, in
// configuration order. It expects a config that passed Validate, and
// returns an error naming the job for what Validate would have refused.
func Targets(cfg config.ScrapeConfig) ([]Target, error) {
	var out []Target
	// A target listed twice with the same labels is scraped once, as
	// Prometheus dedupes its targets.
	seen := make(map[string]bool)
	for _, raw := range cfg.Configs {
		j := cfg.Job(raw)
		if j.ScrapeInterval <= 0 || j.ScrapeTimeout <= 0 {
			return nil, fmt.Errorf("scrape job %q: interval and timeout must be positive", j.JobName)
		}
		for _, sc := range j.StaticConfigs {
			for _, addr := range sc.Targets {
				t, err := newTarget(j, addr, sc.Labels)
				if err != nil {
					return nil, fmt.Errorf("scrape job %q: %w", j.JobName, err)
				}
				if key := t.URL + "\x00" + t.Labels.String(); !seen[key] {
					seen[key] = true
					out = append(out, t)
				}
			}
		}
	}
	return out, nil
}

// newTarget builds the target addr of job j.
func newTarget(j config.ScrapeJobConfig, addr string, static map[string]string) (Target, error) {
	if err := config.CheckTarget(addr); err != nil {
		return Target{}, err
	}
	u := url.URL{Scheme: j.Scheme, Host: addr, Path: j.MetricsPath}
	if len(j.Params) > 0 {
		q := url.Values{}
		keys := make([]string, 0, len(j.Params))
		for k := range j.Params {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			for _, v := range j.Params[k] {
				q.Add(k, v)
			}
		}
		u.RawQuery = q.Encode()
	}
	b := labels.NewBuilder(labels.EmptyLabels())
	for k, v := range static {
		b.Set(k, v)
	}
	// The job and instance labels win over static labels of the same
	// name, as in Prometheus when the static config does not set them;
	// a static config that sets them keeps its value.
	if _, ok := static[LabelJob]; !ok {
		b.Set(LabelJob, j.JobName)
	}
	if _, ok := static[LabelInstance]; !ok {
		b.Set(LabelInstance, addr)
	}
	return Target{
		Job:         j.JobName,
		URL:         u.String(),
		Labels:      b.Labels(),
		Interval:    j.ScrapeInterval,
		Timeout:     j.ScrapeTimeout,
		HonorLabels: j.HonorLabels,
	}, nil
}

// offset is the target's fixed start offset within its interval: a hash
// of job and URL, so that targets spread over the interval and each keeps
// its phase across restarts, as in Prometheus.
func (t *Target) offset() time.Duration {
	h := fnv.New64a()
	h.Write([]byte(t.Job))
	h.Write([]byte{0})
	h.Write([]byte(t.URL))
	return time.Duration(h.Sum64() % uint64(t.Interval))
}
