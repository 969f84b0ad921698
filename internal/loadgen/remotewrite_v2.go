package loadgen

import (
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"
	writev2 "github.com/prometheus/prometheus/prompb/io/prometheus/write/v2"
)

// The remote-write protocol versions RemoteWrite.Protocol takes.
const (
	// ProtocolV1 is remote-write 1.0: prometheus.WriteRequest (prompb).
	ProtocolV1 = "1.0"
	// ProtocolV2 is remote-write 2.0: io.prometheus.write.v2.Request, whose
	// label strings are references into a per-request symbols table.
	ProtocolV2 = "2.0"
)

// RemoteWriteV2Headers are the headers of Prometheus' remote-write 2.0
// client.
func RemoteWriteV2Headers(h http.Header) {
	h.Set("Content-Encoding", "snappy")
	h.Set("Content-Type", "application/x-protobuf;proto=io.prometheus.write.v2.Request")
	h.Set("User-Agent", "osprey-loadgen")
	h.Set("X-Prometheus-Remote-Write-Version", "2.0.0")
}

// Headers returns the headers function of rw's protocol, for Target.Headers.
func (rw RemoteWrite) Headers() func(http.Header) {
	if rw.Protocol == ProtocolV2 {
		return RemoteWriteV2Headers
	}
	return RemoteWriteHeaders
}

// validProtocol reports a Protocol that is neither version.
func validProtocol(p string) error {
	switch p {
	case "", ProtocolV1, ProtocolV2:
		return nil
	}
	return fmt.Errorf("protocol must be %s or %s, not %q", ProtocolV1, ProtocolV2, p)
}

// encodeV2 is Encode for remote-write 2.0: the same requests (the same
// series, samples and batches, in the same order), each with a symbols
// table of its own, as Prometheus' 2.0 sender builds one per request.
func (rw RemoteWrite) encodeV2(end time.Time) ([][]Request, error) {
	first := end.Add(-time.Duration(rw.SamplesPerSeries-1) * rw.Interval).UnixMilli()
	step := rw.Interval.Milliseconds()
	out := make([][]Request, rw.Concurrency)
	var (
		raw  []byte
		syms = writev2.NewSymbolTable()
	)
	for s := range out {
		var owned [][]prompb.Label
		for i := s; i < rw.Series; i += rw.Concurrency {
			owned = append(owned, SeriesLabels(i))
		}
		ts := make([]writev2.TimeSeries, 0, rw.Batch)
		samples := make([]writev2.Sample, rw.Batch)
		refs := make([]uint32, 0, rw.Batch*2*10)
		for k := range rw.SamplesPerSeries {
			t := first + int64(k)*step
			for lo := 0; lo < len(owned); lo += rw.Batch {
				hi := min(lo+rw.Batch, len(owned))
				ts, refs = ts[:0], refs[:0]
				syms.Reset()
				for j := lo; j < hi; j++ {
					r0 := len(refs)
					for _, l := range owned[j] {
						refs = append(refs, syms.Symbolize(l.Name), syms.Symbolize(l.Value))
					}
					samples[j-lo] = writev2.Sample{Timestamp: t, Value: float64(j*31 + k)}
					ts = append(ts, writev2.TimeSeries{LabelsRefs: refs[r0:len(refs):len(refs)], Samples: samples[j-lo : j-lo+1]})
				}
				req := writev2.Request{Symbols: syms.Symbols(), Timeseries: ts}
				raw = slices.Grow(raw[:0], req.Size())[:req.Size()]
				n, err := req.MarshalToSizedBuffer(raw)
				if err != nil {
					return nil, fmt.Errorf("marshal remote-write 2.0 request: %w", err)
				}
				out[s] = append(out[s], Request{Body: snappy.Encode(nil, raw[len(raw)-n:]), Items: hi - lo})
			}
		}
	}
	return out, nil
}
