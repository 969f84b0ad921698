package promremote

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"

	"github.com/osprey-aiops/osprey/internal/loadgen"
)

// decoded is what the receiver uses of a TimeSeries, for comparing the
// wire decoder with prompb.
type decoded struct {
	labels     []prompb.Label
	samples    []prompb.Sample
	histograms int
}

func fromPrompb(wr *prompb.WriteRequest) []decoded {
	out := make([]decoded, 0, len(wr.Timeseries))
	for _, ts := range wr.Timeseries {
		d := decoded{histograms: len(ts.Histograms), samples: ts.Samples}
		for _, l := range ts.Labels {
			d.labels = append(d.labels, prompb.Label{Name: l.Name, Value: l.Value})
		}
		out = append(out, d)
	}
	return out
}

func fromWire(wr *wireRequest) []decoded {
	out := make([]decoded, 0, len(wr.series))
	for i := range wr.series {
		s := &wr.series[i]
		d := decoded{histograms: int(s.histograms)}
		for _, l := range wr.seriesLabels(s) {
			d.labels = append(d.labels, prompb.Label{Name: l.name, Value: l.value})
		}
		for _, smp := range wr.seriesSamples(s) {
			d.samples = append(d.samples, prompb.Sample{Timestamp: smp.t, Value: smp.v})
		}
		out = append(out, d)
	}
	return out
}

func sameDecoded(a, b []decoded) string {
	if len(a) != len(b) {
		return fmt.Sprintf("%d series, want %d", len(a), len(b))
	}
	for i := range a {
		if a[i].histograms != b[i].histograms {
			return fmt.Sprintf("series %d: %d histograms, want %d", i, a[i].histograms, b[i].histograms)
		}
		if fmt.Sprint(a[i].labels) != fmt.Sprint(b[i].labels) {
			return fmt.Sprintf("series %d: labels %v, want %v", i, a[i].labels, b[i].labels)
		}
		if len(a[i].samples) != len(b[i].samples) {
			return fmt.Sprintf("series %d: %d samples, want %d", i, len(a[i].samples), len(b[i].samples))
		}
		for k := range a[i].samples {
			x, y := a[i].samples[k], b[i].samples[k]
			if x.Timestamp != y.Timestamp || math.Float64bits(x.Value) != math.Float64bits(y.Value) {
				return fmt.Sprintf("series %d sample %d: %v, want %v", i, k, x, y)
			}
		}
	}
	return ""
}

// checkAgainstPrompb decodes raw with both decoders: they must agree on
// whether it is valid and, if it is, on every label and sample. Each
// series' key must hold exactly its label fields.
func checkAgainstPrompb(t *testing.T, raw []byte) {
	t.Helper()
	var want prompb.WriteRequest
	wantErr := want.Unmarshal(raw)
	wr := &wireRequest{raw: bytes.Clone(raw)}
	err := wr.decodeWriteRequest()
	if (err == nil) != (wantErr == nil) {
		t.Fatalf("wire decoder error %v, prompb error %v, for % x", err, wantErr, raw)
	}
	if err != nil {
		return
	}
	if diff := sameDecoded(fromWire(wr), fromPrompb(&want)); diff != "" {
		t.Fatalf("%s, for % x", diff, raw)
	}
	for i := range wr.series {
		var ts prompb.TimeSeries
		if err := ts.Unmarshal([]byte(wr.series[i].key)); err != nil {
			t.Fatalf("series %d: key % x does not decode: %v", i, wr.series[i].key, err)
		}
		if len(ts.Samples)+len(ts.Histograms)+len(ts.Exemplars) != 0 {
			t.Fatalf("series %d: key holds more than labels: %v", i, ts)
		}
		got := fromPrompb(&prompb.WriteRequest{Timeseries: []prompb.TimeSeries{ts}})[0].labels
		if fmt.Sprint(got) != fmt.Sprint(fromPrompb(&want)[i].labels) {
			t.Fatalf("series %d: key decodes to %v, want %v", i, got, fromPrompb(&want)[i].labels)
		}
	}
}

// randomRequest builds a WriteRequest with prompb's types: label sets
// with empty, repeated, long and non-ASCII values, NaN and extreme samples,
// some histograms, exemplars and metadata.
func randomRequest(rng *rand.Rand) prompb.WriteRequest {
	str := func() string {
		const alphabet = "ab_:Z09é\x00\xff"
		n := rng.IntN(6)
		if rng.IntN(20) == 0 {
			n = 200
		}
		b := make([]byte, n)
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return string(b)
	}
	var wr prompb.WriteRequest
	for range rng.IntN(6) {
		var ts prompb.TimeSeries
		for range rng.IntN(5) {
			ts.Labels = append(ts.Labels, prompb.Label{Name: str(), Value: str()})
		}
		for range rng.IntN(4) {
			v := []float64{0, 1, -2.5, math.NaN(), math.Inf(1), math.Float64frombits(0x7ff0000000000002)}[rng.IntN(6)]
			t := []int64{0, -1, math.MaxInt64, math.MinInt64, time.Now().UnixMilli(), rng.Int64()}[rng.IntN(6)]
			ts.Samples = append(ts.Samples, prompb.Sample{Value: v, Timestamp: t})
		}
		if rng.IntN(5) == 0 {
			ts.Histograms = append(ts.Histograms, prompb.Histogram{Count: &prompb.Histogram_CountInt{CountInt: 3}, Sum: 1.5, Timestamp: 7,
				PositiveSpans: []prompb.BucketSpan{{Offset: 0, Length: 1}}, PositiveDeltas: []int64{3}})
		}
		if rng.IntN(5) == 0 {
			ts.Exemplars = append(ts.Exemplars, prompb.Exemplar{Labels: []prompb.Label{{Name: "trace_id", Value: str()}}, Value: 1, Timestamp: 2})
		}
		wr.Timeseries = append(wr.Timeseries, ts)
	}
	if rng.IntN(4) == 0 {
		wr.Metadata = append(wr.Metadata, prompb.MetricMetadata{Type: prompb.MetricMetadata_COUNTER, MetricFamilyName: str(), Help: str()})
	}
	return wr
}

// mutate damages raw the ways a broken sender or a fuzzer would: a
// flipped, dropped or inserted byte, or a cut.
func mutate(rng *rand.Rand, raw []byte) []byte {
	b := bytes.Clone(raw)
	if len(b) == 0 {
		return []byte{byte(rng.IntN(256))}
	}
	switch i := rng.IntN(len(b)); rng.IntN(4) {
	case 0:
		b[i] ^= byte(1 << rng.IntN(8))
	case 1:
		b = append(b[:i], b[i+1:]...)
	case 2:
		b = append(b[:i], append([]byte{byte(rng.IntN(256))}, b[i:]...)...)
	default:
		b = b[:i]
	}
	return b
}

// pb appends protobuf fields by hand, for encodings prompb's Marshal never
// produces (interleaved fields, unknown fields, groups, long varints).
type pb []byte

func (p pb) varint(v uint64) pb { return binary.AppendUvarint(p, v) }
func (p pb) bytes(field int, b []byte) pb {
	return append(p.varint(uint64(field)<<3|2).varint(uint64(len(b))), b...)
}
func (p pb) str(field int, s string) pb { return p.bytes(field, []byte(s)) }

func label(name, value string) []byte { return pb(nil).str(1, name).str(2, value) }

func sample(t int64, v float64) []byte {
	p := pb(nil).varint(1<<3 | 1)
	p = binary.LittleEndian.AppendUint64(p, math.Float64bits(v))
	return p.varint(2 << 3).varint(uint64(t))
}

// TestWireDecodeMatchesPrompb compares the wire decoder with prompb's
// Unmarshal on real requests (loadgen's, encoded by prompb), on hand-made
// encodings prompb never writes, on random requests and on damaged ones.
func TestWireDecodeMatchesPrompb(t *testing.T) {
	rw := loadgen.RemoteWrite{Series: 300, SamplesPerSeries: 2, Batch: 100, Concurrency: 2, Interval: time.Second, End: testNow}
	reqs, err := rw.Encode()
	if err != nil {
		t.Fatal(err)
	}
	var real [][]byte
	for _, rs := range reqs {
		for _, r := range rs {
			raw, err := snappy.Decode(nil, r.Body)
			if err != nil {
				t.Fatal(err)
			}
			real = append(real, raw)
		}
	}
	for _, raw := range real {
		checkAgainstPrompb(t, raw)
	}

	ts := func(fields ...[]byte) []byte {
		var p pb
		for _, f := range fields {
			p = append(p, f...)
		}
		return p
	}
	handMade := map[string][]byte{
		"labels after samples": pb(nil).bytes(1, ts(
			pb(nil).bytes(2, sample(5, 1)), pb(nil).bytes(1, label("__name__", "up")), pb(nil).bytes(1, label("job", "a")))),
		"labels interleaved with samples": pb(nil).bytes(1, ts(
			pb(nil).bytes(1, label("__name__", "up")), pb(nil).bytes(2, sample(5, 1)), pb(nil).bytes(1, label("job", "a")))),
		"unknown fields everywhere": pb(nil).varint(9<<3).varint(300).bytes(1, ts(
			pb(nil).bytes(1, append(label("__name__", "up"), pb(nil).varint(7<<3|5)...)),
			[]byte{0, 0, 0, 0},
			pb(nil).bytes(2, append(sample(5, 1), pb(nil).bytes(12, []byte("x"))...)),
			pb(nil).str(15, "ignored"))),
		"group":                   pb(nil).varint(9<<3 | 3).varint(1 << 3).varint(1).varint(9<<3 | 4),
		"unterminated group":      pb(nil).varint(9<<3 | 3).varint(1 << 3).varint(1),
		"end group":               pb(nil).varint(9<<3 | 4),
		"long varint tag":         {0x8a, 0x80, 0x80, 0x00, 0x00},
		"overlong varint":         {0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
		"negative length":         {0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
		"field zero":              {0x00, 0x00},
		"wrong wire type":         pb(nil).varint(1 << 3).varint(1),
		"truncated double":        pb(nil).bytes(1, pb(nil).bytes(2, []byte{0x09, 1, 2, 3})),
		"sample timestamp twice":  pb(nil).bytes(1, pb(nil).bytes(2, append(sample(5, 1), sample(-7, 2)...))),
		"label name twice":        pb(nil).bytes(1, pb(nil).bytes(1, pb(nil).str(1, "a").str(1, "b").str(2, "v"))),
		"bad histogram":           pb(nil).bytes(1, pb(nil).bytes(4, []byte{0xff})),
		"bad exemplar":            pb(nil).bytes(1, pb(nil).bytes(3, []byte{0x0a, 0x05})),
		"bad metadata":            pb(nil).bytes(3, []byte{0x08}),
		"empty series":            pb(nil).bytes(1, nil),
		"empty":                   nil,
		"ten-byte timestamp":      pb(nil).bytes(1, pb(nil).bytes(2, pb(nil).varint(2<<3).varint(math.MaxUint64))),
		"eleven-byte timestamp":   pb(nil).bytes(1, pb(nil).bytes(2, append(pb(nil).varint(2<<3), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01))),
		"length past the message": pb(nil).bytes(1, []byte{0x0a, 0x10, 0x0a}),
		// Label fields close to the one fastLabelField decodes inline.
		"label value before name":     pb(nil).bytes(1, pb(nil).bytes(1, pb(nil).str(2, "v").str(1, "n"))),
		"label name past its field":   pb(nil).bytes(1, pb(nil).bytes(1, []byte{0x0a, 0x05, 'a', 0x12, 0x00})),
		"label value past its field":  pb(nil).bytes(1, pb(nil).bytes(1, []byte{0x0a, 0x01, 'a', 0x12, 0x05, 'b'})),
		"label with a trailing byte":  pb(nil).bytes(1, pb(nil).bytes(1, append(label("a", "b"), 0x00))),
		"label field past the series": pb(nil).bytes(1, []byte{0x0a, 0x07, 0x0a, 0x01, 'a', 0x12, 0x01, 'b'}),
		"label of three bytes":        pb(nil).bytes(1, pb(nil).bytes(1, []byte{0x0a, 0x01, 'a'})),
	}
	for name, raw := range handMade {
		t.Run(name, func(t *testing.T) { checkAgainstPrompb(t, raw) })
	}

	rng := rand.New(rand.NewPCG(1, 2))
	for range 3000 {
		wr := randomRequest(rng)
		raw, err := wr.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		checkAgainstPrompb(t, raw)
		checkAgainstPrompb(t, mutate(rng, raw))
	}
	for _, raw := range real[:5] {
		for range 500 {
			checkAgainstPrompb(t, mutate(rng, raw))
		}
	}
}

// FuzzWireDecode checks that the wire decoder accepts exactly what
// prompb.WriteRequest.Unmarshal accepts, and decodes it to the same labels
// and samples.
func FuzzWireDecode(f *testing.F) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 20 {
		wr := randomRequest(rng)
		raw, err := wr.Marshal()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Add([]byte(pb(nil).bytes(1, append(pb(nil).bytes(2, sample(5, 1)), pb(nil).bytes(1, label("__name__", "up"))...))))
	f.Add([]byte{0x8a, 0x80, 0x80, 0x00, 0x00})
	f.Fuzz(func(t *testing.T, raw []byte) { checkAgainstPrompb(t, raw) })
}
