package promremote

import (
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	writev2 "github.com/prometheus/prometheus/prompb/io/prometheus/write/v2"
)

// v2Seeds are remote-write 2.0 requests for the fuzz targets' corpora,
// uncompressed.
func v2Seeds(tb testing.TB) [][]byte {
	b := newV2Builder()
	ts := b.add([]writev2.Sample{{Timestamp: ms(0), Value: 1, StartTimestamp: ms(-time.Hour)}, {Timestamp: ms(-time.Second), Value: math.NaN()}},
		"__name__", "up", "job", "api")
	ts.Metadata = writev2.Metadata{Type: writev2.Metadata_METRIC_TYPE_GAUGE, HelpRef: b.syms.Symbolize("help"), UnitRef: b.syms.Symbolize("unit")}
	ts.Exemplars = []writev2.Exemplar{{LabelsRefs: b.syms.SymbolizeLabels(labels.FromStrings("trace_id", "t"), nil), Value: 1, Timestamp: ms(0)}}
	h := b.add(nil, "__name__", "h", "bad-name", "v")
	h.Histograms = []writev2.Histogram{writev2.FromFloatHistogram(0, ms(0), &histogram.FloatHistogram{Count: 2, Sum: 3, PositiveSpans: []histogram.Span{{Offset: 0, Length: 1}}, PositiveBuckets: []float64{2}})}
	odd := b.add([]writev2.Sample{{Timestamp: ms(0), Value: 1}}, "job", "no-name")
	odd.LabelsRefs = append(odd.LabelsRefs, 7)
	var out [][]byte
	for _, r := range []*writev2.Request{b.request(), {}, {Symbols: []string{""}}} {
		raw, err := r.Marshal()
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, raw)
	}
	return append(out, []byte{0x0a, 0x02, 0x0a, 0x00}, []byte{0x2a, 0x03, 0x0a, 0x01, 0x05})
}

// FuzzWriteV2 feeds arbitrary remote-write 2.0 bodies (compressed here, so
// that the fuzzer works on the protobuf) through the whole receiver:
// snappy, the 2.0 decoder, reference checks, label checks and the TSDB
// append. It must never panic, must answer 204, 400 or 413, and must always
// carry the written headers.
func FuzzWriteV2(f *testing.F) {
	for _, s := range v2Seeds(f) {
		f.Add(s)
	}
	e := newEnv(f, 1000, Limits{})
	f.Fuzz(func(t *testing.T, raw []byte) {
		rec := e.postV2(t, snappy.Encode(nil, raw))
		switch rec.Code {
		case http.StatusNoContent, http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("reply %d %s", rec.Code, rec.Body)
		}
		if rec.Header().Get(HeaderSamplesWritten) == "" || rec.Header().Get(HeaderHistogramsWritten) != "0" || rec.Header().Get(HeaderExemplarsWritten) != "0" {
			t.Fatalf("written headers %v", rec.Header())
		}
	})
}
