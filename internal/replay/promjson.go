package replay

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"

	"github.com/osprey-aiops/osprey"
)

// PromJSONSource is a Prometheus query_range response saved to a file
// (GET /api/v1/query_range, resultType matrix), or its "data" object alone.
type PromJSONSource struct{ Path string }

// Kind implements Source.
func (s PromJSONSource) Kind() string { return KindPromJSON }

// Name implements Source.
func (s PromJSONSource) Name() string { return s.Path }

// Open implements Source. The whole file is read (and checked) first.
func (s PromJSONSource) Open(_ context.Context, w Window) (Stream, error) {
	data, err := os.ReadFile(s.Path)
	if err != nil {
		return nil, fmt.Errorf("prom-json input: %w", err)
	}
	series, err := ParsePromJSON(data, s.Path)
	if err != nil {
		return nil, err
	}
	cursors := make([]seriesCursor, len(series))
	for i, sr := range series {
		cursors[i] = seriesCursor{labels: sr.Labels, cursor: &sliceCursor{samples: sr.Samples}}
	}
	return newWindowStream(cursors, w, nil), nil
}

type promMatrix struct {
	ResultType string            `json:"resultType"`
	Result     []json.RawMessage `json:"result"`
}

type promResponse struct {
	Status    string          `json:"status"`
	Data      json.RawMessage `json:"data"`
	Error     string          `json:"error"`
	ErrorType string          `json:"errorType"`
}

type promSeries struct {
	Metric map[string]string   `json:"metric"`
	Values [][]json.RawMessage `json:"values"`
}

// ParsePromJSON parses a query_range response (or its data object) of
// resultType matrix; name is the file name for errors. Each series' samples
// are sorted by time.
func ParsePromJSON(data []byte, name string) ([]osprey.Series, error) {
	fail := func(field string, err error) error { return &InputError{File: name, Field: field, Err: err} }
	var resp promResponse
	if err := json.Unmarshal(data, &resp); err != nil {
		return nil, fail("", fmt.Errorf("not a JSON object: %w", err))
	}
	body, field := data, ""
	switch {
	case resp.Status == "error":
		return nil, fail("status", fmt.Errorf("the query failed: %s: %s", resp.ErrorType, resp.Error))
	case resp.Data != nil:
		body, field = resp.Data, "data."
	}
	var m promMatrix
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fail(field[:max(len(field)-1, 0)], fmt.Errorf("not a query_range result: %w", err))
	}
	if m.ResultType != "matrix" {
		return nil, fail(field+"resultType", fmt.Errorf("%q is not matrix (save a query_range response)", clipText(m.ResultType)))
	}
	out := make([]osprey.Series, 0, len(m.Result))
	for i, raw := range m.Result {
		at := fmt.Sprintf("%sresult[%d]", field, i)
		var ps promSeries
		dec := json.NewDecoder(bytes.NewReader(raw))
		if err := dec.Decode(&ps); err != nil {
			return nil, fail(at, err)
		}
		labels := make(osprey.Labels, len(ps.Metric))
		for k, v := range ps.Metric {
			if k == "" {
				return nil, fail(at+".metric", errors.New("empty label name"))
			}
			labels[k] = v
		}
		samples := make([]osprey.Sample, 0, len(ps.Values))
		for j, pair := range ps.Values {
			smp, err := promPoint(pair)
			if err != nil {
				return nil, fail(fmt.Sprintf("%s.values[%d]", at, j), err)
			}
			samples = append(samples, smp)
		}
		slices.SortStableFunc(samples, func(a, b osprey.Sample) int { return compareInt(a.TimestampMs, b.TimestampMs) })
		out = append(out, osprey.Series{Labels: labels, Samples: samples})
	}
	return out, nil
}

// promPoint decodes [<unix seconds>, "<value>"].
func promPoint(pair []json.RawMessage) (osprey.Sample, error) {
	if len(pair) != 2 {
		return osprey.Sample{}, fmt.Errorf("want [time, \"value\"], got %d elements", len(pair))
	}
	var ts float64
	if err := json.Unmarshal(pair[0], &ts); err != nil || math.IsNaN(ts) || math.IsInf(ts, 0) {
		return osprey.Sample{}, fmt.Errorf("time %s is not a number of seconds", clipText(string(pair[0])))
	}
	var vs string
	if err := json.Unmarshal(pair[1], &vs); err != nil {
		return osprey.Sample{}, fmt.Errorf("value %s is not a string", clipText(string(pair[1])))
	}
	v, err := strconv.ParseFloat(vs, 64)
	if err != nil {
		return osprey.Sample{}, fmt.Errorf("value %q is not a number", clipText(vs))
	}
	return osprey.Sample{TimestampMs: int64(math.Round(ts * 1000)), Value: v}, nil
}
