package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"
)

func TestLokiPushDelivers(t *testing.T) {
	end := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		name                               string
		streams, perStream, batch, senders int
	}{
		{"streams span requests", 5, 7, 3, 1},
		{"requests span streams", 40, 3, 10, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lp := LokiPush{Streams: tc.streams, LinesPerStream: tc.perStream, Batch: tc.batch,
				Concurrency: tc.senders, Interval: time.Second, End: end}
			reqs, err := lp.Encode()
			if err != nil {
				t.Fatal(err)
			}
			var (
				mu       sync.Mutex
				got      = map[string][][2]string{} // by pod
				requests int
				errs     []string
			)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var push lokiPush
				err := json.NewDecoder(r.Body).Decode(&push)
				mu.Lock()
				defer mu.Unlock()
				requests++
				if err != nil || r.Header.Get("Content-Type") != "application/json" {
					errs = append(errs, fmt.Sprintf("decode: %v, content type %q", err, r.Header.Get("Content-Type")))
					w.WriteHeader(http.StatusBadRequest)
					return
				}
				lines := 0
				for _, st := range push.Streams {
					got[st.Stream["pod"]] = append(got[st.Stream["pod"]], st.Values...)
					lines += len(st.Values)
				}
				if lines > tc.batch {
					errs = append(errs, fmt.Sprintf("request of %d lines, batch %d", lines, tc.batch))
				}
				w.WriteHeader(http.StatusNoContent)
			}))
			defer srv.Close()
			res, err := Send(context.Background(), Target{URL: srv.URL, Headers: LokiJSONHeaders}, reqs)
			if err != nil {
				t.Fatal(err)
			}
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			total := tc.streams * tc.perStream
			if res.AcceptedItems != total || res.AcceptedRequests != requests || res.Requests != requests {
				t.Errorf("result %+v; receiver saw %d requests, want %d lines", res, requests, total)
			}
			if len(got) != tc.streams {
				t.Fatalf("%d streams arrived, want %d", len(got), tc.streams)
			}
			for i := range tc.streams {
				vals := got[StreamLabels(i)["pod"]]
				if len(vals) != tc.perStream {
					t.Fatalf("stream %d: %d lines, want %d", i, len(vals), tc.perStream)
				}
				for k, v := range vals {
					want := end.Add(-time.Duration(tc.perStream-1-k) * time.Second).UnixNano()
					if v[0] != strconv.FormatInt(want, 10) || v[1] != StreamLine(i, k) {
						t.Fatalf("stream %d line %d = %v, want %d %q", i, k, v, want, StreamLine(i, k))
					}
				}
			}
		})
	}
}
