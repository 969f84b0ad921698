package cli

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/osprey-aiops/osprey/internal/loadgen"
	"github.com/osprey-aiops/osprey/internal/progress"
)

// newLoadgenCmd groups the load generators, one per wire protocol.
func newLoadgenCmd(stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "loadgen",
		Short: "Send synthetic load to a running receiver and report its throughput",
		Args:  exactArgs(0),
	}
	cmd.AddCommand(newLoadgenRemoteWriteCmd(stdout, stderr), newLoadgenLokiCmd(stdout, stderr))
	return cmd
}

// newLoadgenRemoteWriteCmd is `osprey loadgen remote-write`.
func newLoadgenRemoteWriteCmd(stdout, stderr io.Writer) *cobra.Command {
	var tf targetFlags
	rw := loadgen.RemoteWrite{Series: 100_000, SamplesPerSeries: 10, Batch: 2000, Concurrency: 4, Interval: 15 * time.Second}
	cmd := &cobra.Command{
		Use:   "remote-write --url URL [--token-file F] [--protocol 1.0|2.0] [--series N] [--samples-per-series M] [--batch B] [--concurrency C] [--duration D]",
		Short: "Send Prometheus remote_write 1.0 or 2.0 requests and report samples/s",
		Long: `Encodes every request first (prompb WriteRequest, snappy, labels sorted with
__name__ first, as Prometheus' remote-write client does), then starts the
clock and sends them with C concurrent keep-alive HTTP clients until all are
sent or D has passed. Series are split among the clients like Prometheus'
shards, and each request holds one sample of each of B series, so every
series' samples arrive in order, ending now and spaced --interval apart.
With --protocol 2.0 the same requests are remote-write 2.0 messages
(io.prometheus.write.v2.Request, one symbols table per request).

Prints samples/s and requests/s (accepted by a 2xx reply), the failed
requests by HTTP status (0: no reply), and the p50/p99 request latency.
Exits non-zero when any request failed.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return tf.run(cmd, stdout, stderr, "remote-write", "samples", rw.Headers(), rw.Validate,
				func(end time.Time) ([][]loadgen.Request, error) { rw.End = end; return rw.Encode() })
		},
	}
	f := cmd.Flags()
	tf.register(f, "remote_write endpoint, e.g. http://127.0.0.1:9464/api/v1/write")
	f.IntVar(&rw.Series, "series", rw.Series, "distinct series")
	f.IntVar(&rw.SamplesPerSeries, "samples-per-series", rw.SamplesPerSeries, "samples per series")
	f.IntVar(&rw.Batch, "batch", rw.Batch, "samples per request (max_samples_per_send)")
	f.IntVar(&rw.Concurrency, "concurrency", rw.Concurrency, "concurrent senders (shards)")
	f.DurationVar(&rw.Interval, "interval", rw.Interval, "spacing of a series' samples")
	f.StringVar(&rw.Protocol, "protocol", loadgen.ProtocolV1, "remote-write version: 1.0 (prometheus.WriteRequest) or 2.0 (io.prometheus.write.v2.Request)")
	return cmd
}

// newLoadgenLokiCmd is `osprey loadgen loki`.
func newLoadgenLokiCmd(stdout, stderr io.Writer) *cobra.Command {
	var tf targetFlags
	lp := loadgen.LokiPush{Streams: 1000, LinesPerStream: 1000, Batch: 1000, Concurrency: 4, Interval: time.Millisecond}
	cmd := &cobra.Command{
		Use:   "loki --url URL [--token-file F] [--streams N] [--lines-per-stream M] [--batch B] [--concurrency C] [--duration D]",
		Short: "Send Loki push API requests (JSON) and report lines/s",
		Long: `Encodes every request first (Loki push JSON, logfmt access-log lines), then
starts the clock and sends them with C concurrent keep-alive HTTP clients
until all are sent or D has passed. Streams are split among the clients, and
each request holds B consecutive lines of one or more streams, so every
stream's lines arrive in order, ending now and spaced --interval apart.

Prints lines/s and requests/s (accepted by a 2xx reply), the failed requests
by HTTP status (0: no reply), and the p50/p99 request latency. Exits non-zero
when any request failed.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return tf.run(cmd, stdout, stderr, "loki", "lines", loadgen.LokiJSONHeaders, lp.Validate,
				func(end time.Time) ([][]loadgen.Request, error) { lp.End = end; return lp.Encode() })
		},
	}
	f := cmd.Flags()
	tf.register(f, "push endpoint, e.g. http://127.0.0.1:9464/loki/api/v1/push")
	f.IntVar(&lp.Streams, "streams", lp.Streams, "distinct streams")
	f.IntVar(&lp.LinesPerStream, "lines-per-stream", lp.LinesPerStream, "lines per stream")
	f.IntVar(&lp.Batch, "batch", lp.Batch, "lines per request")
	f.IntVar(&lp.Concurrency, "concurrency", lp.Concurrency, "concurrent senders")
	f.DurationVar(&lp.Interval, "interval", lp.Interval, "spacing of a stream's lines")
	return cmd
}

// targetFlags are the flags every load generator shares: where to send,
// with which token, for how long.
type targetFlags struct {
	url, tokenFile string
	duration       time.Duration
}

func (tf *targetFlags) register(f *pflag.FlagSet, urlHelp string) {
	f.StringVar(&tf.url, "url", "", urlHelp)
	f.StringVar(&tf.tokenFile, "token-file", "", "file holding a bearer token")
	f.DurationVar(&tf.duration, "duration", time.Minute, "stop after this long (0: when all are sent)")
}

// run checks the flags, encodes every request (encode gets the time the
// generated data ends at) before the clock starts, and sends them.
func (tf *targetFlags) run(cmd *cobra.Command, stdout, stderr io.Writer, label, unit string, headers func(http.Header),
	validate func() error, encode func(end time.Time) ([][]loadgen.Request, error)) error {
	if tf.url == "" {
		return usageError{errors.New("--url is required")}
	}
	if err := validate(); err != nil {
		return usageError{err}
	}
	if tf.duration < 0 {
		return usageError{fmt.Errorf("--duration %s is negative", tf.duration)}
	}
	token, err := readTokenFile(tf.tokenFile)
	if err != nil {
		return err
	}
	t0 := time.Now()
	reqs, err := encode(t0)
	if err != nil {
		return err
	}
	return sendLoad(cmd, stdout, stderr, label, unit, t0, reqs, loadgen.Target{
		URL: tf.url, Token: token, Headers: headers, Duration: tf.duration,
	})
}

// sendLoad reports the encoded requests, sends them with a progress bar on
// stderr and prints the figures.
func sendLoad(cmd *cobra.Command, stdout, stderr io.Writer, label, unit string, encodeStart time.Time, reqs [][]loadgen.Request, tgt loadgen.Target) error {
	n, items, size := 0, 0, 0
	for _, rs := range reqs {
		n += len(rs)
		for _, r := range rs {
			items += r.Items
			size += len(r.Body)
		}
	}
	fmt.Fprintf(stdout, "encoded %d requests (%d %s, %.1f MB) in %s\n",
		n, items, unit, float64(size)/1e6, time.Since(encodeStart).Round(time.Millisecond))
	bar := progress.New(stderr, label, int64(items))
	tgt.Progress = func(items int) { bar.Add(int64(items)) }
	res, err := loadgen.Send(cmd.Context(), tgt, reqs)
	bar.Finish()
	if err != nil {
		return err
	}
	return printLoadResult(stdout, unit, res)
}

// readTokenFile returns the trimmed content of path, or "" for no path.
func readTokenFile(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read token: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// printLoadResult writes a run's figures and fails if any request failed.
func printLoadResult(w io.Writer, unit string, res loadgen.Result) error {
	fmt.Fprintf(w, "sent %d requests (%d %s) in %s\n", res.Requests, res.Items, unit, res.Elapsed.Round(time.Millisecond))
	fmt.Fprintf(w, "accepted %d requests, %d %s\n", res.AcceptedRequests, res.AcceptedItems, unit)
	fmt.Fprintf(w, "%s/s: %.0f\nrequests/s: %.1f\n", unit, res.ItemsPerSecond(), res.RequestsPerSecond())
	fmt.Fprintf(w, "latency p50: %s p99: %s\n", res.Quantile(0.5).Round(time.Microsecond), res.Quantile(0.99).Round(time.Microsecond))
	failed := 0
	for _, code := range slices.Sorted(maps.Keys(res.Status)) {
		text := "no reply"
		if code != 0 {
			text = http.StatusText(code)
		}
		fmt.Fprintf(w, "errors status=%d (%s): %d\n", code, text, res.Status[code])
		failed += res.Status[code]
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d requests failed; first: %s", failed, res.Requests, res.FirstError)
	}
	return nil
}
