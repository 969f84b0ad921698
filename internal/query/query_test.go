package query

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/metricstore"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// newTestAPI returns an API over a metric store holding, every 15s for
// 10 minutes from t0, up{job="api",instance="a"} = 1,
// up{job="api",instance="b"} = 0 and requests_total{job="api"} = 10·i.
func newTestAPI(tb testing.TB, opts Options) *API {
	tb.Helper()
	st, err := metricstore.New(metricstore.Options{Dir: tb.TempDir()})
	if err != nil {
		tb.Fatal(err)
	}
	if err := st.Start(context.Background()); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = st.Shutdown(context.Background()) })
	upA := osprey.Series{Labels: osprey.Labels{"__name__": "up", "job": "api", "instance": "a"}}
	upB := osprey.Series{Labels: osprey.Labels{"__name__": "up", "job": "api", "instance": "b"}}
	req := osprey.Series{Labels: osprey.Labels{"__name__": "requests_total", "job": "api"}}
	for i := range 41 {
		ts := t0.Add(time.Duration(i) * 15 * time.Second).UnixMilli()
		upA.Samples = append(upA.Samples, osprey.Sample{TimestampMs: ts, Value: 1})
		upB.Samples = append(upB.Samples, osprey.Sample{TimestampMs: ts, Value: 0})
		req.Samples = append(req.Samples, osprey.Sample{TimestampMs: ts, Value: float64(10 * i)})
	}
	res, err := st.AppendSeries(context.Background(), []osprey.Series{upA, upB, req})
	if err != nil || res.Appended() != 123 {
		tb.Fatalf("append: %v %v", res, err)
	}
	opts.Queryable = st
	if opts.Now == nil {
		opts.Now = func() time.Time { return t0.Add(5 * time.Minute) }
	}
	a, err := New(opts)
	if err != nil {
		tb.Fatal(err)
	}
	return a
}

// call serves one request through the API's routes, as the HTTP API mounts
// them, and decodes the envelope.
func call(tb testing.TB, a *API, method, target string, form url.Values) (int, map[string]any) {
	tb.Helper()
	mux := http.NewServeMux()
	for _, rt := range a.Routes() {
		mux.Handle(rt.Pattern, rt.Handler)
	}
	var req *http.Request
	if method == http.MethodPost {
		req = httptest.NewRequest(method, target, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		req = httptest.NewRequest(method, target+"?"+form.Encode(), nil)
	}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		tb.Fatalf("%s %s: reply %d is not JSON: %s", method, target, rec.Code, rec.Body)
	}
	return rec.Code, body
}

func js(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestInstantQuery(t *testing.T) {
	a := newTestAPI(t, Options{})
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		code, body := call(t, a, method, "/api/v1/query", url.Values{"query": {"sum by (job) (up)"}, "time": {"1772366700"}})
		want := `{"data":{"result":[{"metric":{"job":"api"},"value":[1772366700,"1"]}],"resultType":"vector"},"status":"success"}`
		if code != 200 || js(body) != want {
			t.Errorf("%s: %d %s\nwant %s", method, code, js(body), want)
		}
	}
	// Default time is now; a scalar.
	code, body := call(t, a, http.MethodGet, "/api/v1/query", url.Values{"query": {"1+1"}})
	if code != 200 || js(body["data"]) != `{"result":[1772366700,"2"],"resultType":"scalar"}` {
		t.Errorf("1+1: %d %s", code, js(body))
	}
	// Nothing matches: an empty vector, not null.
	_, body = call(t, a, http.MethodGet, "/api/v1/query", url.Values{"query": {"nope"}})
	if js(body["data"]) != `{"result":[],"resultType":"vector"}` {
		t.Errorf("empty result: %s", js(body))
	}
}

func TestRangeQuery(t *testing.T) {
	a := newTestAPI(t, Options{})
	start := t0.Add(time.Minute)
	code, body := call(t, a, http.MethodGet, "/api/v1/query_range", url.Values{
		"query": {"rate(requests_total[1m])"},
		"start": {start.Format(time.RFC3339)},
		"end":   {start.Add(time.Minute).Format(time.RFC3339)},
		"step":  {"30s"},
	})
	want := `{"data":{"result":[{"metric":{"job":"api"},"values":[[1772366460,"0.6666666666666666"],[1772366490,"0.6666666666666666"],[1772366520,"0.6666666666666666"]]}],"resultType":"matrix"},"status":"success"}`
	if code != 200 || js(body) != want {
		t.Errorf("%d %s\nwant %s", code, js(body), want)
	}
}

func TestQueryErrors(t *testing.T) {
	a := newTestAPI(t, Options{MaxSamples: 10})
	tests := []struct {
		name, path string
		form       url.Values
		code       int
		typ, msg   string
	}{
		{"syntax", "/api/v1/query", url.Values{"query": {"sum("}}, 400, "bad_data", "invalid parameter \"query\""},
		{"bad time", "/api/v1/query", url.Values{"query": {"up"}, "time": {"yesterday"}}, 400, "bad_data", "invalid parameter \"time\""},
		{"no step", "/api/v1/query_range", url.Values{"query": {"up"}, "start": {"0"}, "end": {"10"}}, 400, "bad_data", "\"step\""},
		{"end before start", "/api/v1/query_range", url.Values{"query": {"up"}, "start": {"10"}, "end": {"0"}, "step": {"1"}}, 400, "bad_data", "before start"},
		{"too many points", "/api/v1/query_range", url.Values{"query": {"up"}, "start": {"0"}, "end": {"100000"}, "step": {"1"}}, 400, "bad_data", "11000 points"},
		{"too many samples", "/api/v1/query_range", url.Values{"query": {"up"}, "start": {"1772366400"}, "end": {"1772367000"}, "step": {"15"}}, 422, "execution", "too many samples"},
		{"series without match", "/api/v1/series", nil, 400, "bad_data", "match[]"},
		{"bad matcher", "/api/v1/series", url.Values{"match[]": {"{job=}"}}, 400, "bad_data", "match[]"},
		{"bad label name", "/api/v1/label/a-b/values", nil, 400, "bad_data", "invalid label name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body := call(t, a, http.MethodGet, tc.path, tc.form)
			if code != tc.code || body["status"] != "error" || body["errorType"] != tc.typ || !strings.Contains(body["error"].(string), tc.msg) {
				t.Errorf("%d %s, want %d %s mentioning %q", code, js(body), tc.code, tc.typ, tc.msg)
			}
		})
	}
}

func TestQueryTimeout(t *testing.T) {
	a := newTestAPI(t, Options{})
	// A request's own timeout shortens the engine's; a nanosecond cannot
	// be met.
	code, body := call(t, a, http.MethodGet, "/api/v1/query", url.Values{"query": {"up"}, "timeout": {"0.000000001"}})
	if code != http.StatusServiceUnavailable || body["errorType"] != "timeout" {
		t.Errorf("%d %s, want 503 timeout", code, js(body))
	}
}

func TestSeriesAndLabels(t *testing.T) {
	a := newTestAPI(t, Options{})
	tests := []struct {
		name, method, path string
		form               url.Values
		want               string
	}{
		{"series", http.MethodGet, "/api/v1/series", url.Values{"match[]": {`up{instance="a"}`, "requests_total"}},
			`[{"__name__":"requests_total","job":"api"},{"__name__":"up","instance":"a","job":"api"}]`},
		{"series post", http.MethodPost, "/api/v1/series", url.Values{"match[]": {"up"}, "limit": {"1"}},
			`[{"__name__":"up","instance":"a","job":"api"}]`},
		{"labels", http.MethodGet, "/api/v1/labels", nil, `["__name__","instance","job"]`},
		{"labels of a selection", http.MethodPost, "/api/v1/labels", url.Values{"match[]": {"requests_total"}}, `["__name__","job"]`},
		{"metric names", http.MethodGet, "/api/v1/label/__name__/values", nil, `["requests_total","up"]`},
		{"values in a range", http.MethodGet, "/api/v1/label/instance/values", url.Values{"match[]": {"up"}, "start": {"1772366400"}, "end": {"1772366460"}}, `["a","b"]`},
		{"no values", http.MethodGet, "/api/v1/label/nope/values", nil, `[]`},
		{"metadata", http.MethodGet, "/api/v1/metadata", nil, `{}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body := call(t, a, tc.method, tc.path, tc.form)
			if code != 200 || body["status"] != "success" || js(body["data"]) != tc.want {
				t.Errorf("%d %s, want data %s", code, js(body), tc.want)
			}
		})
	}
	code, body := call(t, a, http.MethodGet, "/api/v1/series", url.Values{"match[]": {"up"}, "limit": {"1"}})
	if code != 200 || js(body["warnings"]) != `["results truncated due to limit"]` {
		t.Errorf("limit warning: %s", js(body))
	}
	code, body = call(t, a, http.MethodGet, "/api/v1/status/buildinfo", nil)
	if code != 200 || body["data"].(map[string]any)["version"] == "" {
		t.Errorf("buildinfo: %d %s", code, js(body))
	}
}

func TestParseTimeAndDuration(t *testing.T) {
	for s, want := range map[string]time.Time{
		"1772366400":           t0,
		"1772366400.5":         t0.Add(500 * time.Millisecond),
		"2026-03-01T12:00:00Z": t0,
		minTimeFormatted:       minTime,
	} {
		got, err := parseTime(s)
		if err != nil || !got.Equal(want) {
			t.Errorf("parseTime(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	for s, want := range map[string]time.Duration{"15": 15 * time.Second, "0.5": 500 * time.Millisecond, "1m30s": 90 * time.Second, "1d": 24 * time.Hour} {
		got, err := parseDuration(s)
		if err != nil || got != want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	for _, bad := range []string{"", "soon", "1e300"} {
		if _, err := parseDuration(bad); err == nil {
			t.Errorf("parseDuration(%q) succeeded", bad)
		}
	}
}
