package loadgen

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"
)

// recorder is a remote_write receiver that decodes every request the way
// Prometheus does and keeps what arrived, per series.
type recorder struct {
	mu       sync.Mutex
	samples  map[string][]prompb.Sample // by label set
	requests int
	token    string
	// reject, when it returns a status, fails that request (counted by its
	// number, from 1) after decoding it.
	reject func(n int) int
	errs   []string
}

func (rec *recorder) fail(format string, args ...any) {
	rec.errs = append(rec.errs, fmt.Sprintf(format, args...))
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.requests++
	for h, want := range map[string]string{
		"Content-Encoding": "snappy", "Content-Type": "application/x-protobuf",
		"X-Prometheus-Remote-Write-Version": "0.1.0", "Authorization": "Bearer " + rec.token,
	} {
		if got := r.Header.Get(h); got != want {
			rec.fail("header %s = %q, want %q", h, got, want)
		}
	}
	body, _ := io.ReadAll(r.Body)
	raw, err := snappy.Decode(nil, body)
	if err != nil {
		rec.fail("snappy: %v", err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var wr prompb.WriteRequest
	if err := wr.Unmarshal(raw); err != nil {
		rec.fail("prompb: %v", err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if rec.reject != nil {
		if code := rec.reject(rec.requests); code != 0 {
			http.Error(w, "rejected", code)
			return
		}
	}
	for _, ts := range wr.Timeseries {
		names := make([]string, len(ts.Labels))
		var key strings.Builder
		for i, l := range ts.Labels {
			names[i] = l.Name
			key.WriteString(l.Name + "=" + l.Value + ",")
		}
		if names[0] != "__name__" || !slices.IsSorted(names) {
			rec.fail("labels not sorted with __name__ first: %v", names)
		}
		rec.samples[key.String()] = append(rec.samples[key.String()], ts.Samples...)
	}
	w.WriteHeader(http.StatusNoContent)
}

func TestRemoteWriteDelivers(t *testing.T) {
	end := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		name                              string
		series, perSeries, batch, senders int
	}{
		{"one sender", 10, 3, 4, 1},
		{"batches split series", 1000, 5, 64, 4},
		{"more senders than series", 3, 2, 10, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rw := RemoteWrite{Series: tc.series, SamplesPerSeries: tc.perSeries, Batch: tc.batch,
				Concurrency: tc.senders, Interval: 15 * time.Second, End: end}
			reqs, err := rw.Encode()
			if err != nil {
				t.Fatal(err)
			}
			rec := &recorder{samples: map[string][]prompb.Sample{}, token: "tok"}
			srv := httptest.NewServer(rec)
			defer srv.Close()
			var progressed int
			var mu sync.Mutex
			res, err := Send(context.Background(), Target{URL: srv.URL, Token: "tok", Headers: RemoteWriteHeaders,
				Progress: func(n int) { mu.Lock(); progressed += n; mu.Unlock() }}, reqs)
			if err != nil {
				t.Fatal(err)
			}
			if len(rec.errs) > 0 {
				t.Fatalf("receiver saw: %v", rec.errs)
			}
			total := tc.series * tc.perSeries
			if res.Items != total || res.AcceptedItems != total || progressed != total {
				t.Errorf("items %d accepted %d progressed %d, want %d", res.Items, res.AcceptedItems, progressed, total)
			}
			if res.Requests != rec.requests || res.AcceptedRequests != rec.requests || len(res.Latencies) != rec.requests || len(res.Status) != 0 {
				t.Errorf("result %d requests (%d accepted, %d latencies, status %v), receiver saw %d",
					res.Requests, res.AcceptedRequests, len(res.Latencies), res.Status, rec.requests)
			}
			if len(rec.samples) != tc.series {
				t.Fatalf("receiver saw %d series, want %d", len(rec.samples), tc.series)
			}
			for i := range tc.series {
				var key strings.Builder
				for _, l := range SeriesLabels(i) {
					key.WriteString(l.Name + "=" + l.Value + ",")
				}
				got := rec.samples[key.String()]
				if len(got) != tc.perSeries {
					t.Fatalf("series %d: %d samples, want %d", i, len(got), tc.perSeries)
				}
				for k, s := range got {
					want := end.Add(-time.Duration(tc.perSeries-1-k) * rw.Interval).UnixMilli()
					if s.Timestamp != want {
						t.Fatalf("series %d sample %d at %d, want %d (in order)", i, k, s.Timestamp, want)
					}
				}
			}
		})
	}
}

func TestSendCountsFailuresByStatus(t *testing.T) {
	rw := RemoteWrite{Series: 100, SamplesPerSeries: 2, Batch: 10, Concurrency: 1, Interval: time.Second, End: time.Unix(1e9, 0)}
	reqs, err := rw.Encode()
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{samples: map[string][]prompb.Sample{}, reject: func(n int) int {
		switch {
		case n%5 == 0:
			return http.StatusServiceUnavailable
		case n%4 == 0:
			return http.StatusBadRequest
		}
		return 0
	}}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	res, err := Send(context.Background(), Target{URL: srv.URL, Headers: RemoteWriteHeaders}, reqs)
	if err != nil {
		t.Fatal(err)
	}
	// 20 requests of 10 samples: 4 get 503 (5, 10, 15, 20), 4 get 400 (4, 8, 12, 16).
	if res.Requests != 20 || res.AcceptedRequests != 12 || res.AcceptedItems != 120 || res.Items != 200 {
		t.Errorf("got %+v", res)
	}
	if want := map[int]int{400: 4, 503: 4}; fmt.Sprint(res.Status) != fmt.Sprint(want) {
		t.Errorf("status %v, want %v", res.Status, want)
	}
	if !strings.Contains(res.FirstError, "HTTP 400: rejected") {
		t.Errorf("first error %q", res.FirstError)
	}
}

func TestSendNoReply(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	reqs := [][]Request{{{Body: []byte("x"), Items: 3}}}
	res, err := Send(context.Background(), Target{URL: url}, reqs)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status[0] != 1 || res.AcceptedItems != 0 || res.FirstError == "" {
		t.Errorf("got %+v", res)
	}
}

func TestValidate(t *testing.T) {
	if err := (RemoteWrite{}).Validate(); err == nil || !strings.Contains(err.Error(), "series must be positive") || !strings.Contains(err.Error(), "interval") {
		t.Errorf("Validate() = %v", err)
	}
}
