// Package loadgen drives a running receiver with synthetic load, the way the
// ecosystem's own senders would, to measure its throughput end to end.
//
// Requests are encoded completely before the clock starts, so the measured
// rate is the receiver's (and the network's), not the encoder's: the sender
// only writes prepared bytes over keep-alive connections.
package loadgen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"
)

// RemoteWrite describes a Prometheus remote_write 1.0 load.
type RemoteWrite struct {
	// Series is the number of distinct series.
	Series int
	// SamplesPerSeries is how many samples each series gets, one per
	// Interval, ending at End.
	SamplesPerSeries int
	// Batch is the number of samples per request (Prometheus'
	// queue_config.max_samples_per_send). Each request holds one sample of
	// each of up to Batch series.
	Batch int
	// Concurrency is the number of senders (Prometheus' shards). Series are
	// split among them, so each series' samples arrive in order.
	Concurrency int
	// Interval is the spacing of a series' samples.
	Interval time.Duration
	// End is the timestamp of every series' last sample.
	End time.Time
	// Protocol is the remote-write version, ProtocolV1 (the default, when
	// empty) or ProtocolV2 (remotewrite_v2.go).
	Protocol string
}

// Validate reports a configuration that cannot generate load.
func (rw RemoteWrite) Validate() error {
	var errs []error
	for _, f := range []struct {
		name string
		v    int
	}{{"series", rw.Series}, {"samples per series", rw.SamplesPerSeries}, {"batch", rw.Batch}, {"concurrency", rw.Concurrency}} {
		if f.v <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive, not %d", f.name, f.v))
		}
	}
	if rw.Interval <= 0 {
		errs = append(errs, fmt.Errorf("interval must be positive, not %s", rw.Interval))
	}
	if err := validProtocol(rw.Protocol); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Request is one pre-encoded request body.
type Request struct {
	// Body is the compressed payload.
	Body []byte
	// Items is the number of samples (or log lines) it carries.
	Items int
}

// SeriesLabels returns the labels of series i, sorted by name with __name__
// first, as Prometheus sends them: ten labels shaped like a relabelled
// node_exporter scrape.
func SeriesLabels(i int) []prompb.Label {
	ls := []prompb.Label{
		{Name: "__name__", Value: fmt.Sprintf("loadgen_metric_%d", i%50)},
		{Name: "cluster", Value: "eu-west-1"},
		{Name: "device", Value: fmt.Sprintf("dev%d", i%7)},
		{Name: "env", Value: "prod"},
		{Name: "instance", Value: fmt.Sprintf("10.%d.%d.%d:9100", i/62500, i/250%250, i%250)},
		{Name: "job", Value: "node"},
		{Name: "region", Value: "eu"},
		{Name: "series", Value: fmt.Sprint(i)},
		{Name: "service", Value: "infra"},
		{Name: "team", Value: "sre"},
	}
	sort.Slice(ls, func(a, b int) bool { return ls[a].Name < ls[b].Name })
	return ls
}

// Encode returns the requests of each sender, in the order it sends them:
// sender s owns series s, s+Concurrency, …; it sends every series' first
// sample, in batches, then every series' second sample, and so on.
func (rw RemoteWrite) Encode() ([][]Request, error) {
	if err := rw.Validate(); err != nil {
		return nil, err
	}
	end := rw.End
	if end.IsZero() {
		end = time.Now()
	}
	if rw.Protocol == ProtocolV2 {
		return rw.encodeV2(end)
	}
	first := end.Add(-time.Duration(rw.SamplesPerSeries-1) * rw.Interval).UnixMilli()
	step := rw.Interval.Milliseconds()
	out := make([][]Request, rw.Concurrency)
	var raw []byte
	for s := range out {
		var owned [][]prompb.Label
		for i := s; i < rw.Series; i += rw.Concurrency {
			owned = append(owned, SeriesLabels(i))
		}
		ts := make([]prompb.TimeSeries, 0, rw.Batch)
		samples := make([]prompb.Sample, rw.Batch)
		for k := range rw.SamplesPerSeries {
			t := first + int64(k)*step
			for lo := 0; lo < len(owned); lo += rw.Batch {
				hi := min(lo+rw.Batch, len(owned))
				ts = ts[:0]
				for j := lo; j < hi; j++ {
					samples[j-lo] = prompb.Sample{Timestamp: t, Value: float64(j*31 + k)}
					ts = append(ts, prompb.TimeSeries{Labels: owned[j], Samples: samples[j-lo : j-lo+1]})
				}
				wr := prompb.WriteRequest{Timeseries: ts}
				raw = slices.Grow(raw[:0], wr.Size())[:wr.Size()]
				n, err := wr.MarshalToSizedBuffer(raw)
				if err != nil {
					return nil, fmt.Errorf("marshal write request: %w", err)
				}
				out[s] = append(out[s], Request{Body: snappy.Encode(nil, raw[len(raw)-n:]), Items: hi - lo})
			}
		}
	}
	return out, nil
}

// RemoteWriteHeaders are the headers of Prometheus' remote-write 1.0 client.
func RemoteWriteHeaders(h http.Header) {
	h.Set("Content-Encoding", "snappy")
	h.Set("Content-Type", "application/x-protobuf")
	h.Set("User-Agent", "osprey-loadgen")
	h.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
}

// Target is where and how to send the requests.
type Target struct {
	// URL receives every request as a POST.
	URL string
	// Token, when not empty, is sent as a bearer token.
	Token string
	// Headers sets the protocol's headers on each request.
	Headers func(http.Header)
	// Duration bounds the run; zero means until every request is sent.
	Duration time.Duration
	// Client sends the requests; nil means a keep-alive client with one
	// idle connection per sender.
	Client *http.Client
	// Progress, when not nil, is called after each request with its item
	// count. It must be safe for concurrent use.
	Progress func(items int)
}

// Result is the outcome of a run.
type Result struct {
	// Elapsed is the time from the first request to the last reply.
	Elapsed time.Duration
	// Requests and Items count what was sent; Accepted* count the 2xx
	// replies and the items they carried.
	Requests, Items, AcceptedRequests, AcceptedItems int
	// Status counts the non-2xx replies by HTTP status; status 0 counts
	// requests that got no reply (connection errors).
	Status map[int]int
	// FirstError is the first failure's description, for the operator.
	FirstError string
	// Latencies holds every request's latency, sorted.
	Latencies []time.Duration
}

// Quantile returns the q-quantile (0 ≤ q ≤ 1) of the request latencies.
func (r Result) Quantile(q float64) time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	return r.Latencies[min(int(q*float64(len(r.Latencies))), len(r.Latencies)-1)]
}

// ItemsPerSecond is the accepted items per second of elapsed time.
func (r Result) ItemsPerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.AcceptedItems) / r.Elapsed.Seconds()
}

// RequestsPerSecond is the requests sent per second of elapsed time.
func (r Result) RequestsPerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Elapsed.Seconds()
}

// senderStats is one sender's tally, merged after the run.
type senderStats struct {
	requests, items, okRequests, okItems int
	status                               map[int]int
	firstErr                             string
	latencies                            []time.Duration
}

// Send runs one sender per element of perSender, each sending its requests in
// order on its own connection, until all are sent, Duration passes or ctx is
// cancelled.
func Send(ctx context.Context, tgt Target, perSender [][]Request) (Result, error) {
	if tgt.URL == "" {
		return Result{}, errors.New("no target URL")
	}
	client := tgt.Client
	if client == nil {
		client = &http.Client{Transport: &http.Transport{
			MaxIdleConnsPerHost: len(perSender),
			DisableCompression:  true,
		}}
		defer client.CloseIdleConnections()
	}
	if tgt.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, tgt.Duration)
		defer cancel()
	}
	stats := make([]senderStats, len(perSender))
	var wg sync.WaitGroup
	start := time.Now()
	for s := range perSender {
		wg.Go(func() {
			st := &stats[s]
			st.status = map[int]int{}
			st.latencies = make([]time.Duration, 0, len(perSender[s]))
			for _, r := range perSender[s] {
				if ctx.Err() != nil {
					return
				}
				t0 := time.Now()
				code, msg, err := post(ctx, client, tgt, r.Body)
				if ctx.Err() != nil && err != nil {
					return // cut off by the deadline: not the receiver's failure
				}
				st.latencies = append(st.latencies, time.Since(t0))
				st.requests++
				st.items += r.Items
				switch {
				case err != nil:
					st.status[0]++
					if st.firstErr == "" {
						st.firstErr = err.Error()
					}
				case code/100 == 2:
					st.okRequests++
					st.okItems += r.Items
				default:
					st.status[code]++
					if st.firstErr == "" {
						st.firstErr = fmt.Sprintf("HTTP %d: %s", code, msg)
					}
				}
				if tgt.Progress != nil {
					tgt.Progress(r.Items)
				}
			}
		})
	}
	wg.Wait()
	res := Result{Elapsed: time.Since(start), Status: map[int]int{}}
	for i := range stats {
		st := &stats[i]
		res.Requests += st.requests
		res.Items += st.items
		res.AcceptedRequests += st.okRequests
		res.AcceptedItems += st.okItems
		for c, n := range st.status {
			res.Status[c] += n
		}
		if res.FirstError == "" {
			res.FirstError = st.firstErr
		}
		res.Latencies = append(res.Latencies, st.latencies...)
	}
	slices.Sort(res.Latencies)
	return res, nil
}

// post sends one body and returns the reply's status and, for a failure, the
// start of its body. The body is drained so the connection is reused.
func post(ctx context.Context, client *http.Client, tgt Target, body []byte) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tgt.URL, bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	if tgt.Headers != nil {
		tgt.Headers(req.Header)
	}
	if tgt.Token != "" {
		req.Header.Set("Authorization", "Bearer "+tgt.Token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var msg string
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		msg = strings.TrimSpace(string(b))
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, msg, nil
}
