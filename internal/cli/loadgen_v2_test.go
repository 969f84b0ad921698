package cli

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/golang/snappy"
	writev2 "github.com/prometheus/prometheus/prompb/io/prometheus/write/v2"
)

// TestLoadgenRemoteWriteProtocol: --protocol 2.0 sends remote-write 2.0
// requests with 2.0's headers; an unknown version is a usage error.
func TestLoadgenRemoteWriteProtocol(t *testing.T) {
	var (
		mu      sync.Mutex
		samples int
		errs    []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if ct := r.Header.Get("Content-Type"); ct != "application/x-protobuf;proto=io.prometheus.write.v2.Request" {
			errs = append(errs, "Content-Type "+ct)
		}
		body, _ := io.ReadAll(r.Body)
		raw, err := snappy.Decode(nil, body)
		var req writev2.Request
		if err == nil {
			err = req.Unmarshal(raw)
		}
		if err != nil {
			errs = append(errs, err.Error())
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		for _, ts := range req.Timeseries {
			samples += len(ts.Samples)
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	code, out, errOut := runCLI(t, "loadgen", "remote-write", "--protocol", "2.0", "--url", srv.URL,
		"--series", "10", "--samples-per-series", "3", "--batch", "4", "--concurrency", "2", "--duration", "0")
	if code != ExitOK || !strings.Contains(out, "accepted 12 requests, 30 samples") || samples != 30 || len(errs) > 0 {
		t.Fatalf("exit %d, %d samples received, receiver saw %v\nstdout: %s\nstderr: %s", code, samples, errs, out, errOut)
	}
	code, _, errOut = runCLI(t, "loadgen", "remote-write", "--protocol", "3", "--url", srv.URL)
	if code != ExitUsage || !strings.Contains(errOut, `protocol must be 1.0 or 2.0, not "3"`) {
		t.Errorf("exit %d, stderr %s", code, errOut)
	}
}
