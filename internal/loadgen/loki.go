package loadgen

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// LokiPush describes a Loki push API load with JSON bodies.
type LokiPush struct {
	// Streams is the number of distinct streams (label sets).
	Streams int
	// LinesPerStream is how many lines each stream gets, one per Interval,
	// ending at End.
	LinesPerStream int
	// Batch is the number of lines per request (Promtail's batch). A
	// request holds consecutive lines of one or more streams.
	Batch int
	// Concurrency is the number of senders. Streams are split among them,
	// so each stream's lines arrive in order.
	Concurrency int
	// Interval is the spacing of a stream's lines.
	Interval time.Duration
	// End is the timestamp of every stream's last line.
	End time.Time
}

// Validate reports a configuration that cannot generate load.
func (lp LokiPush) Validate() error {
	var errs []error
	for _, f := range []struct {
		name string
		v    int
	}{{"streams", lp.Streams}, {"lines per stream", lp.LinesPerStream}, {"batch", lp.Batch}, {"concurrency", lp.Concurrency}} {
		if f.v <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive, not %d", f.name, f.v))
		}
	}
	if lp.Interval <= 0 {
		errs = append(errs, fmt.Errorf("interval must be positive, not %s", lp.Interval))
	}
	return errors.Join(errs...)
}

// StreamLabels returns the labels of stream i, shaped like Promtail's
// Kubernetes discovery.
func StreamLabels(i int) map[string]string {
	return map[string]string{
		"job":       "loadgen",
		"namespace": fmt.Sprintf("ns-%d", i%20),
		"pod":       fmt.Sprintf("app-%d", i),
		"container": "app",
		"stream":    "stdout",
	}
}

// StreamLine returns line k of stream i: a logfmt access-log line.
func StreamLine(i, k int) string {
	level := "info"
	if k%50 == 7 {
		level = "error"
	}
	return fmt.Sprintf(`level=%s msg="request served" method=GET path=/api/v1/items/%d status=200 duration_ms=%d trace_id=%08x%08x`,
		level, (i*31+k)%10000, k%97, i, k)
}

// lokiStream and lokiPush are the JSON push body.
type lokiStream struct {
	Stream map[string]string `json:"stream"`
	Values [][2]string       `json:"values"`
}

type lokiPush struct {
	Streams []lokiStream `json:"streams"`
}

// Encode returns the requests of each sender, in the order it sends them:
// sender s owns streams s, s+Concurrency, …, and sends all lines of one
// stream before the next, Batch lines a request.
func (lp LokiPush) Encode() ([][]Request, error) {
	if err := lp.Validate(); err != nil {
		return nil, err
	}
	end := lp.End
	if end.IsZero() {
		end = time.Now()
	}
	first := end.Add(-time.Duration(lp.LinesPerStream-1) * lp.Interval).UnixNano()
	step := lp.Interval.Nanoseconds()
	out := make([][]Request, lp.Concurrency)
	for s := range out {
		var push lokiPush
		lines := 0
		flush := func() error {
			if lines == 0 {
				return nil
			}
			body, err := json.Marshal(push)
			if err != nil {
				return fmt.Errorf("marshal push request: %w", err)
			}
			out[s] = append(out[s], Request{Body: body, Items: lines})
			push, lines = lokiPush{}, 0
			return nil
		}
		for i := s; i < lp.Streams; i += lp.Concurrency {
			labels := StreamLabels(i)
			for k := 0; k < lp.LinesPerStream; {
				n := min(lp.LinesPerStream-k, lp.Batch-lines)
				st := lokiStream{Stream: labels, Values: make([][2]string, n)}
				for j := range n {
					st.Values[j] = [2]string{strconv.FormatInt(first+int64(k+j)*step, 10), StreamLine(i, k+j)}
				}
				push.Streams = append(push.Streams, st)
				lines += n
				k += n
				if lines == lp.Batch {
					if err := flush(); err != nil {
						return nil, err
					}
				}
			}
		}
		if err := flush(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// LokiJSONHeaders are the headers of a JSON push.
func LokiJSONHeaders(h http.Header) {
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "osprey-loadgen")
}
