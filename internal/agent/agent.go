package agent

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/buildinfo"
	"github.com/osprey-aiops/osprey/internal/config"
	"github.com/osprey-aiops/osprey/internal/ingest/filetail"
)

// Routes of the Osprey server the agent sends to.
const (
	pathWrite = "/api/v1/write"
	pathPush  = "/loki/api/v1/push"
)

// Label values of the agent's series.
const (
	// JobName is the job label of the host metrics, as a Prometheus
	// scraping node_exporter would usually name it.
	JobName = "node"
	// LabelInstance names the host.
	LabelInstance = "instance"
	// LogJob is the job label of the agent's log lines, unless a files
	// entry's labels set one. The Loki receiver labels every line it takes
	// source="loki" (keeping the line's own source as exported_source), so
	// job, with host and instance, is what tells an agent's lines apart
	// on the server.
	LogJob   = "osprey-agent"
	labelJob = "job"
)

// Defaults of Options.
const (
	DefaultInterval      = 15 * time.Second
	DefaultSpoolMaxBytes = 256 << 20
	DefaultMinBackoff    = time.Second
	DefaultMaxBackoff    = time.Minute
	// maxPushBytes bounds the line bytes of one Loki push, well under
	// Osprey's default server.max_body_bytes once compressed.
	maxPushBytes = 1 << 20
)

// Options configure an Agent. Server and DataDir are required.
type Options struct {
	// Server is the Osprey base URL (http://osprey:9464).
	Server string
	// Token is the bearer token (operator role) sent with every request;
	// empty sends none.
	Token string
	// Interval is how often host metrics are collected.
	Interval time.Duration
	// DataDir holds the spool and the file offsets.
	DataDir string
	// Instance is the instance label; default the host name.
	Instance string
	// Files are the log files to tail; Tail how.
	Files []config.FileConfig
	Tail  config.TailConfig
	// SpoolMaxBytes caps the spool; the oldest requests are dropped
	// beyond it.
	SpoolMaxBytes int64
	// MinBackoff and MaxBackoff bound the wait between failed sends.
	MinBackoff, MaxBackoff time.Duration
	// ProcRoot and SysRoot are where /proc and /sys are mounted.
	ProcRoot, SysRoot string
	// Client sends the requests; default a client with a 30s timeout.
	Client *http.Client
	// Now and After are the clock; defaults time.Now and time.After.
	Now   func() time.Time
	After func(time.Duration) <-chan time.Time
	// Logger; default discards.
	Logger *slog.Logger
}

// Agent collects host metrics and log lines and ships them to Osprey.
type Agent struct {
	opts  Options
	host  *hostCollector
	spool *spool
	tail  *filetail.Tailer
	log   *slog.Logger

	mu     sync.Mutex
	counts Counts
}

// Counts are what the agent did, also shipped as its own series
// (osprey_agent_*).
type Counts struct {
	// Collections and CollectErrors count host metric collections (an
	// error: a part could not be read).
	Collections, CollectErrors uint64
	// Sent counts requests delivered; Refused those the server refused
	// for good (4xx); SendFailures the failed attempts (retried).
	Sent, Refused, SendFailures uint64
	// Spooled is what waits in the spool now; Dropped what the size cap
	// dropped.
	SpooledRequests int
	SpooledBytes    int64
	DroppedRequests uint64
	DroppedBytes    uint64
}

// New checks opts and opens the spool.
func New(opts Options) (*Agent, error) {
	u, err := url.Parse(opts.Server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("agent: --server %q is not an http(s) URL", opts.Server)
	}
	opts.Server = strings.TrimRight(opts.Server, "/")
	if opts.DataDir == "" {
		return nil, errors.New("agent: no data directory")
	}
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.SpoolMaxBytes <= 0 {
		opts.SpoolMaxBytes = DefaultSpoolMaxBytes
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = DefaultMinBackoff
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = max(DefaultMaxBackoff, opts.MinBackoff)
	}
	if opts.ProcRoot == "" {
		opts.ProcRoot = "/proc"
	}
	if opts.SysRoot == "" {
		opts.SysRoot = "/sys"
	}
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: 30 * time.Second}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.After == nil {
		opts.After = time.After
	}
	if opts.Instance == "" {
		h, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("agent: host name: %w", err)
		}
		opts.Instance = h
	}
	a := &Agent{opts: opts, log: opts.Logger}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	a.host, err = newHostCollector(opts.ProcRoot, opts.SysRoot, map[string]string{LabelInstance: opts.Instance, "job": JobName})
	if err != nil {
		return nil, err
	}
	a.spool, err = openSpool(filepath.Join(opts.DataDir, "spool"), opts.SpoolMaxBytes)
	if err != nil {
		return nil, err
	}
	if len(opts.Files) > 0 {
		a.tail, err = filetail.New(filetail.Options{
			Files:        opts.Files,
			Logs:         osprey.LogConsumerFunc(a.spoolLogs),
			StateFile:    filepath.Join(opts.DataDir, "offsets.json"),
			PollInterval: opts.Tail.PollInterval,
			MaxLineBytes: opts.Tail.MaxLineBytes,
			BatchSize:    opts.Tail.BatchSize,
			Now:          opts.Now,
			Logger:       a.log,
		})
		if err != nil {
			return nil, err
		}
	}
	return a, nil
}

// Counts returns the agent's counts.
func (a *Agent) Counts() Counts {
	a.mu.Lock()
	c := a.counts
	a.mu.Unlock()
	st := a.spool.stats()
	c.SpooledRequests, c.SpooledBytes, c.DroppedRequests, c.DroppedBytes = st.Requests, st.Bytes, st.DroppedRequest, st.DroppedBytes
	return c
}

// Run collects, tails and ships until ctx is done. What was not delivered
// stays in the spool for the next run.
func (a *Agent) Run(ctx context.Context) error {
	if a.tail != nil {
		if err := a.tail.Start(ctx); err != nil {
			return err
		}
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := a.tail.Shutdown(sctx); err != nil {
				a.log.Warn("stop tailing", "err", err)
			}
		}()
	}
	var wg sync.WaitGroup
	wg.Go(func() { a.send(ctx) })
	defer wg.Wait()
	a.log.Info("agent started", "server", a.opts.Server, "instance", a.opts.Instance, "interval", a.opts.Interval,
		"files", len(a.opts.Files), "spooled", a.spool.stats().Requests)
	for {
		a.CollectOnce()
		select {
		case <-ctx.Done():
			return nil
		case <-a.opts.After(a.opts.Interval):
		}
	}
}

// CollectOnce collects the host metrics (and the agent's own) now and
// spools them as one remote_write request.
func (a *Agent) CollectOnce() {
	ts := a.opts.Now().UnixMilli()
	series, err := a.host.collect(ts)
	a.mu.Lock()
	a.counts.Collections++
	if err != nil {
		a.counts.CollectErrors++
	}
	a.mu.Unlock()
	if err != nil {
		a.log.Warn("collect host metrics", "err", err)
	}
	c := a.Counts()
	b := &seriesBuilder{base: a.host.base, ts: ts, out: series}
	b.add("osprey_agent_collections_total", float64(c.Collections))
	b.add("osprey_agent_collect_errors_total", float64(c.CollectErrors))
	b.add("osprey_agent_requests_sent_total", float64(c.Sent))
	b.add("osprey_agent_requests_refused_total", float64(c.Refused))
	b.add("osprey_agent_send_failures_total", float64(c.SendFailures))
	b.add("osprey_agent_spool_requests", float64(c.SpooledRequests))
	b.add("osprey_agent_spool_bytes", float64(c.SpooledBytes))
	b.add("osprey_agent_spool_dropped_requests_total", float64(c.DroppedRequests))
	b.add("osprey_agent_spool_dropped_bytes_total", float64(c.DroppedBytes))
	body, err := encodeWrite(b.out)
	if err == nil {
		err = a.spool.add(kindMetrics, body)
	}
	if err != nil {
		a.log.Error("spool host metrics", "err", err)
	}
}

// encodeWrite encodes a remote_write 1.0 body.
func encodeWrite(series []prompb.TimeSeries) ([]byte, error) {
	wr := prompb.WriteRequest{Timeseries: series}
	raw, err := wr.Marshal()
	if err != nil {
		return nil, fmt.Errorf("encode remote_write: %w", err)
	}
	return snappy.Encode(nil, raw), nil
}

// spoolLogs is the tailer's consumer: the lines are spooled as Loki push
// requests (at most maxPushBytes of lines each) before the tailer commits
// their offset, so that no line is lost while Osprey is down or the agent
// restarts.
func (a *Agent) spoolLogs(_ context.Context, batch []osprey.LogRecord) error {
	for len(batch) > 0 {
		n, size := 0, 0
		for n < len(batch) && (n == 0 || size+len(batch[n].Body) <= maxPushBytes) {
			size += len(batch[n].Body)
			n++
		}
		body, err := encodePush(batch[:n], a.opts.Instance)
		if err != nil {
			return err
		}
		if err := a.spool.add(kindLogs, body); err != nil {
			return err
		}
		batch = batch[n:]
	}
	return nil
}

// pushStream is one stream of a Loki push request (JSON).
type pushStream struct {
	Stream map[string]string `json:"stream"`
	Values [][2]string       `json:"values"`
}

// encodePush encodes records as a gzip-compressed Loki push request, one
// stream per label set, with the agent's identity added: instance always,
// host (the instance) and job (LogJob) unless the line's labels set them.
func encodePush(records []osprey.LogRecord, instance string) ([]byte, error) {
	var streams []*pushStream
	index := map[string]*pushStream{}
	for _, r := range records {
		key := labelKey(r.Labels)
		s := index[key]
		if s == nil {
			ls := make(map[string]string, len(r.Labels)+1)
			for k, v := range r.Labels {
				ls[k] = v
			}
			ls[LabelInstance] = instance
			if ls[osprey.LabelHost] == "" {
				ls[osprey.LabelHost] = instance
			}
			if ls[labelJob] == "" {
				ls[labelJob] = LogJob
			}
			s = &pushStream{Stream: ls}
			index[key] = s
			streams = append(streams, s)
		}
		s.Values = append(s.Values, [2]string{strconv.FormatInt(r.Time.UnixNano(), 10), r.Body})
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := json.NewEncoder(zw).Encode(map[string]any{"streams": streams}); err != nil {
		return nil, fmt.Errorf("encode loki push: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// labelKey is a map key for a label set.
func labelKey(l osprey.Labels) string {
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte(0)
		b.WriteString(l[k])
		b.WriteByte(0)
	}
	return b.String()
}

// send delivers the spool, oldest first, until ctx is done, waiting
// with exponential backoff (and jitter) after failures.
func (a *Agent) send(ctx context.Context) {
	backoff := a.opts.MinBackoff
	for {
		it, body, ok, err := a.spool.oldest()
		if err != nil {
			a.log.Error("read spool", "err", err)
			a.spool.remove(it)
			continue
		}
		if !ok {
			select {
			case <-ctx.Done():
				return
			case <-a.spool.notify:
				continue
			}
		}
		status, err := a.post(ctx, it.kind, body)
		switch {
		case err == nil && status/100 == 2:
			a.spool.remove(it)
			a.count(func(c *Counts) { c.Sent++ })
			backoff = a.opts.MinBackoff
			continue
		case err == nil && status/100 == 4 && status != http.StatusRequestTimeout && status != http.StatusTooManyRequests:
			// Refused for good (a partly rejected batch: out-of-order
			// samples after a restart, a line too long): resending
			// cannot help.
			a.spool.remove(it)
			a.count(func(c *Counts) { c.Refused++ })
			a.log.Warn("server refused a request", "kind", it.kind, "status", status)
			backoff = a.opts.MinBackoff
			continue
		}
		if ctx.Err() != nil {
			return
		}
		a.count(func(c *Counts) { c.SendFailures++ })
		a.log.Debug("send failed; retrying", "kind", it.kind, "status", status, "err", err, "backoff", backoff)
		wait := backoff/2 + rand.N(backoff/2+1)
		select {
		case <-ctx.Done():
			return
		case <-a.opts.After(wait):
		}
		backoff = min(2*backoff, a.opts.MaxBackoff)
	}
}

func (a *Agent) count(f func(*Counts)) {
	a.mu.Lock()
	f(&a.counts)
	a.mu.Unlock()
}

// post sends one spooled request and returns the reply's status.
func (a *Agent) post(ctx context.Context, kind string, body []byte) (int, error) {
	path, ctype, enc := pathWrite, "application/x-protobuf", "snappy"
	if kind == kindLogs {
		path, ctype, enc = pathPush, "application/json", "gzip"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.opts.Server+path, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Content-Encoding", enc)
	req.Header.Set("User-Agent", "osprey-agent/"+buildinfo.Version)
	if kind == kindMetrics {
		req.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	}
	if a.opts.Token != "" {
		req.Header.Set("Authorization", "Bearer "+a.opts.Token)
	}
	resp, err := a.opts.Client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, nil
}
