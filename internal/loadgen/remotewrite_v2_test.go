package loadgen

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"
	writev2 "github.com/prometheus/prometheus/prompb/io/prometheus/write/v2"
)

// TestRemoteWriteV2SameLoad: the 2.0 requests carry exactly the 1.0
// requests' series, labels (in the same order), samples and batches.
func TestRemoteWriteV2SameLoad(t *testing.T) {
	rw := RemoteWrite{Series: 1000, SamplesPerSeries: 3, Batch: 64, Concurrency: 3, Interval: 15 * time.Second, End: time.Unix(1e9, 0)}
	v1, err := rw.Encode()
	if err != nil {
		t.Fatal(err)
	}
	rw.Protocol = ProtocolV2
	v2, err := rw.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if len(v1) != len(v2) {
		t.Fatalf("%d senders, want %d", len(v2), len(v1))
	}
	var b labels.ScratchBuilder
	for s := range v1 {
		if len(v1[s]) != len(v2[s]) {
			t.Fatalf("sender %d: %d requests, want %d", s, len(v2[s]), len(v1[s]))
		}
		for k := range v1[s] {
			var want prompb.WriteRequest
			var got writev2.Request
			raw1, _ := snappy.Decode(nil, v1[s][k].Body)
			raw2, err := snappy.Decode(nil, v2[s][k].Body)
			if err != nil {
				t.Fatal(err)
			}
			if err := want.Unmarshal(raw1); err != nil {
				t.Fatal(err)
			}
			if err := got.Unmarshal(raw2); err != nil {
				t.Fatal(err)
			}
			if v2[s][k].Items != v1[s][k].Items || len(got.Timeseries) != len(want.Timeseries) {
				t.Fatalf("sender %d request %d: %d items, %d series; want %d, %d", s, k, v2[s][k].Items, len(got.Timeseries), v1[s][k].Items, len(want.Timeseries))
			}
			if len(got.Symbols) == 0 || got.Symbols[0] != "" {
				t.Fatalf("symbols table does not start with \"\": %q", got.Symbols[:min(len(got.Symbols), 3)])
			}
			for i, ts := range got.Timeseries {
				ls, err := ts.ToLabels(&b, got.Symbols)
				if err != nil {
					t.Fatal(err)
				}
				var names []string
				for j := 0; j < len(ts.LabelsRefs); j += 2 {
					names = append(names, got.Symbols[ts.LabelsRefs[j]])
				}
				w := want.Timeseries[i]
				if ls.String() != labelsOf(w.Labels).String() || names[0] != "__name__" || len(names) != len(w.Labels) {
					t.Fatalf("series %v, want %v", ls, w.Labels)
				}
				if len(ts.Samples) != 1 || ts.Samples[0].Timestamp != w.Samples[0].Timestamp || ts.Samples[0].Value != w.Samples[0].Value {
					t.Fatalf("samples %v, want %v", ts.Samples, w.Samples)
				}
			}
		}
	}
}

func labelsOf(ls []prompb.Label) labels.Labels {
	var b labels.ScratchBuilder
	for _, l := range ls {
		b.Add(l.Name, l.Value)
	}
	b.Sort()
	return b.Labels()
}

func TestRemoteWriteProtocol(t *testing.T) {
	h := http.Header{}
	RemoteWrite{Protocol: ProtocolV2}.Headers()(h)
	if h.Get("Content-Type") != "application/x-protobuf;proto=io.prometheus.write.v2.Request" || h.Get("X-Prometheus-Remote-Write-Version") != "2.0.0" || h.Get("Content-Encoding") != "snappy" {
		t.Errorf("2.0 headers %v", h)
	}
	h = http.Header{}
	RemoteWrite{}.Headers()(h)
	if h.Get("Content-Type") != "application/x-protobuf" || h.Get("X-Prometheus-Remote-Write-Version") != "0.1.0" {
		t.Errorf("1.0 headers %v", h)
	}
	rw := RemoteWrite{Series: 1, SamplesPerSeries: 1, Batch: 1, Concurrency: 1, Interval: time.Second, Protocol: "3.0"}
	if err := rw.Validate(); err == nil || !strings.Contains(err.Error(), `protocol must be 1.0 or 2.0, not "3.0"`) {
		t.Errorf("Validate() = %v", err)
	}
}
