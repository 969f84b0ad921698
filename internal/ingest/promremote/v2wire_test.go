package promremote

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/model/histogram"
	writev2 "github.com/prometheus/prometheus/prompb/io/prometheus/write/v2"

	"github.com/osprey-aiops/osprey/internal/loadgen"
)

// v2Decoded is what the receiver takes from a 2.0 request, for comparing
// the wire decoder with the library.
type v2Decoded struct {
	series                               []string // labels, samples, histograms and key of each valid series
	refErrs                              []string
	exemplars, metadata, startTimestamps int
}

// fromLibrary decodes raw with writev2.Request.Unmarshal (plus the reserved
// field check) and resolves it as the receiver must: the reference
// implementation of decodeWire.
func fromLibrary(raw []byte) (v2Decoded, error) {
	var d v2Decoded
	var req writev2.Request
	if err := req.Unmarshal(raw); err != nil {
		return d, err
	}
	if err := checkReservedLib(req.XXX_unrecognized); err != nil {
		return d, err
	}
	for i, ts := range req.Timeseries {
		for _, smp := range ts.Samples {
			if smp.StartTimestamp != 0 {
				d.startTimestamps++
			}
		}
		for _, h := range ts.Histograms {
			if h.StartTimestamp != 0 {
				d.startTimestamps++
			}
		}
		if msg := checkRefsLib(&ts, req.Symbols); msg != "" {
			d.refErrs = append(d.refErrs, fmt.Sprintf("%d %d series %d of the request: %s", i, len(ts.Samples)+len(ts.Histograms), i, msg))
			continue
		}
		var b strings.Builder
		var wl []wireLabel
		for k := 0; k < len(ts.LabelsRefs); k += 2 {
			l := wireLabel{name: req.Symbols[ts.LabelsRefs[k]], value: req.Symbols[ts.LabelsRefs[k+1]]}
			wl = append(wl, l)
			fmt.Fprintf(&b, "%q=%q ", l.name, l.value)
		}
		for _, smp := range ts.Samples {
			fmt.Fprintf(&b, "%d@%x ", smp.Timestamp, math.Float64bits(smp.Value))
		}
		fmt.Fprintf(&b, "h%d key=%x", len(ts.Histograms), appendV2Key(nil, wl))
		d.series = append(d.series, b.String())
		d.exemplars += len(ts.Exemplars)
		if ts.Metadata.Type != 0 || ts.Metadata.HelpRef != 0 || ts.Metadata.UnitRef != 0 {
			d.metadata++
		}
	}
	return d, nil
}

// checkReservedLib refuses the reserved fields among the fields the
// library skipped.
func checkReservedLib(unknown []byte) error {
	for i := 0; i < len(unknown); {
		field, _, _, err := tag(unknown, i, "Request")
		if err != nil {
			return err
		}
		if field >= 1 && field <= 3 {
			return reservedError(field)
		}
		if i, err = skipField(unknown, i); err != nil {
			return err
		}
	}
	return nil
}

// checkRefsLib is checkRefsWire on the library's types.
func checkRefsLib(ts *writev2.TimeSeries, syms []string) string {
	n := uint64(len(syms))
	if len(ts.LabelsRefs)%2 != 0 {
		return fmt.Sprintf("odd number of labels_refs (%d): they are name, value pairs", len(ts.LabelsRefs))
	}
	for _, ref := range ts.LabelsRefs {
		if uint64(ref) >= n {
			return fmt.Sprintf("labels_refs has %d, outside the symbols table (%d symbols)", ref, n)
		}
	}
	if uint64(ts.Metadata.HelpRef) >= n && ts.Metadata.HelpRef != 0 || uint64(ts.Metadata.UnitRef) >= n && ts.Metadata.UnitRef != 0 {
		return fmt.Sprintf("metadata help_ref %d or unit_ref %d outside the symbols table (%d symbols)", ts.Metadata.HelpRef, ts.Metadata.UnitRef, n)
	}
	for _, ex := range ts.Exemplars {
		if len(ex.LabelsRefs)%2 != 0 {
			return fmt.Sprintf("exemplar with an odd number of labels_refs (%d)", len(ex.LabelsRefs))
		}
		for _, ref := range ex.LabelsRefs {
			if uint64(ref) >= n {
				return fmt.Sprintf("exemplar labels_refs has %d, outside the symbols table (%d symbols)", ref, n)
			}
		}
	}
	return ""
}

// fromWireV2 decodes raw with decodeWire.
func fromWireV2(raw []byte) (v2Decoded, error) {
	var d v2Decoded
	var v v2Request
	v.wr.raw = raw
	if err := v.decodeWire(); err != nil {
		return d, err
	}
	for i := range v.wr.series {
		s := &v.wr.series[i]
		var b strings.Builder
		for _, l := range v.wr.seriesLabels(s) {
			fmt.Fprintf(&b, "%q=%q ", l.name, l.value)
		}
		for _, smp := range v.wr.seriesSamples(s) {
			fmt.Fprintf(&b, "%d@%x ", smp.t, math.Float64bits(smp.v))
		}
		fmt.Fprintf(&b, "h%d key=%x", s.histograms, s.key)
		d.series = append(d.series, b.String())
	}
	for _, e := range v.refErrs {
		d.refErrs = append(d.refErrs, fmt.Sprintf("%d %d %s", e.index, e.samples, e.msg))
	}
	d.exemplars, d.metadata, d.startTimestamps = v.exemplars, v.metadata, v.startTimestamps
	return d, nil
}

// checkAgainstLibrary decodes raw both ways: they must agree on whether it
// is valid and, if it is, on everything the receiver uses.
func checkAgainstLibrary(tb testing.TB, raw []byte) (valid bool) {
	tb.Helper()
	want, werr := fromLibrary(raw)
	got, gerr := fromWireV2(raw)
	switch {
	case (werr == nil) != (gerr == nil):
		tb.Fatalf("body %x: wire decoder error %v, library error %v", raw, gerr, werr)
	case werr != nil:
		return false
	}
	if g, w := fmt.Sprintf("%+v", got), fmt.Sprintf("%+v", want); g != w {
		tb.Fatalf("body %x:\nwire    %s\nlibrary %s", raw, g, w)
	}
	return true
}

// appendTag appends a protobuf tag.
func appendTag(b []byte, field, wt int) []byte { return binary.AppendUvarint(b, uint64(field<<3|wt)) }

// appendBytesField appends a length-delimited field.
func appendBytesField(b []byte, field int, v []byte) []byte {
	b = appendTag(b, field, 2)
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// randomV2Request returns a random request with the library's types: refs
// in and out of range, odd refs, samples with start timestamps, histograms,
// exemplars and metadata.
func randomV2Request(r *rand.Rand) *writev2.Request {
	syms := []string{""}
	for range r.IntN(20) {
		syms = append(syms, []string{"__name__", "job", "up", "a", "", "x\xff", "instance", "10.0.0.1:9100"}[r.IntN(8)])
	}
	ref := func() uint32 {
		if r.IntN(50) == 0 {
			return uint32(len(syms) + r.IntN(3))
		}
		return uint32(r.IntN(len(syms)))
	}
	req := &writev2.Request{Symbols: syms}
	for range r.IntN(6) {
		var ts writev2.TimeSeries
		for range r.IntN(6) {
			ts.LabelsRefs = append(ts.LabelsRefs, ref(), ref())
		}
		if r.IntN(30) == 0 {
			ts.LabelsRefs = append(ts.LabelsRefs, ref())
		}
		for range r.IntN(4) {
			ts.Samples = append(ts.Samples, writev2.Sample{Timestamp: r.Int64N(1e13) - 1e12, Value: r.NormFloat64(), StartTimestamp: r.Int64N(3) * 1000})
		}
		if r.IntN(5) == 0 {
			ts.Histograms = append(ts.Histograms, writev2.FromIntHistogram(r.Int64N(2), r.Int64N(1e12), &histogram.Histogram{Count: 3, Sum: 2, PositiveSpans: []histogram.Span{{Offset: 1, Length: 1}}, PositiveBuckets: []int64{3}}))
		}
		if r.IntN(5) == 0 {
			ts.Exemplars = append(ts.Exemplars, writev2.Exemplar{LabelsRefs: []uint32{ref(), ref()}, Value: 1, Timestamp: r.Int64N(1e12)})
		}
		if r.IntN(3) == 0 {
			ts.Metadata = writev2.Metadata{Type: writev2.Metadata_MetricType(r.IntN(8)), HelpRef: ref(), UnitRef: ref()}
		}
		req.Timeseries = append(req.Timeseries, ts)
	}
	return req
}

// handMadeV2 returns encodings a generated marshaller never produces but
// the library accepts (or refuses): unpacked and split refs, symbols after
// the series, repeated metadata, unknown and reserved fields, a packed
// varint that runs past its field, and wrong wire types.
func handMadeV2() [][]byte {
	sample := func(t int64, v float64) []byte {
		b := appendTag(nil, 1, 1)
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
		b = appendTag(b, 2, 0)
		return binary.AppendUvarint(b, uint64(t))
	}
	syms := func(b []byte, ss ...string) []byte {
		for _, s := range ss {
			b = appendBytesField(b, 4, []byte(s))
		}
		return b
	}
	var out [][]byte
	// Unpacked refs, interleaved with a sample, and symbols after the series.
	ts := appendTag(nil, 1, 0)
	ts = append(ts, 1)
	ts = appendBytesField(ts, 2, sample(1000, 1))
	ts = appendTag(ts, 1, 0)
	ts = append(ts, 2)
	out = append(out, syms(appendBytesField(nil, 5, ts), "", "__name__", "up"))
	// Packed refs in two fields.
	ts = appendBytesField(nil, 1, []byte{1, 2})
	ts = appendBytesField(ts, 1, []byte{3, 4})
	ts = appendBytesField(ts, 2, sample(2000, 2))
	out = append(out, syms(appendBytesField(nil, 5, ts), "", "__name__", "up", "job", "x"))
	// A packed varint that runs past the packed field into the next.
	ts = appendBytesField(nil, 1, []byte{0x01, 0x81})
	ts = append(ts, 0x00)
	ts = appendBytesField(ts, 2, sample(4000, 4))
	out = append(out, syms(appendBytesField(nil, 5, ts), "", "__name__"))
	// Repeated metadata merges; sample fields repeated, the last wins;
	// unknown fields everywhere.
	md1 := append(appendTag(nil, 1, 0), 2)
	md2 := append(appendTag(nil, 3, 0), 1)
	smp := append(sample(1, 1), sample(3000, 3)...)
	smp = append(appendTag(smp, 9, 0), 5)
	ts = appendBytesField(nil, 1, []byte{1, 2})
	ts = appendBytesField(ts, 5, md1)
	ts = appendBytesField(ts, 5, md2)
	ts = appendBytesField(ts, 2, smp)
	ts = appendBytesField(ts, 7, []byte("unknown"))
	req := appendBytesField(syms(nil, "", "__name__", "up"), 5, ts)
	req = append(appendTag(req, 8, 0), 42)
	out = append(out, req)
	// Reserved fields: a 1.0 WriteRequest.
	out = append(out, appendBytesField(nil, 1, appendBytesField(nil, 1, append(appendBytesField(nil, 1, []byte("__name__")), appendBytesField(nil, 2, []byte("up"))...))))
	out = append(out, append(appendTag(nil, 3, 0), 1))
	// Wrong wire types.
	out = append(out, append(appendTag(nil, 4, 0), 1))
	out = append(out, append(appendTag(nil, 5, 0), 1))
	out = append(out, appendBytesField(nil, 5, append(appendTag(nil, 2, 0), 1)))
	out = append(out, appendBytesField(nil, 5, appendBytesField(nil, 2, append(appendTag(nil, 3, 2), 0))))
	out = append(out, appendBytesField(nil, 5, appendBytesField(nil, 2, append(appendTag(nil, 1, 0), 0))))
	// Groups, which skipping must handle as the library does.
	out = append(out, appendBytesField(nil, 5, []byte{0x53, 0x08, 0x01, 0x54}))
	out = append(out, []byte{0x54})
	return out
}

// TestV2WireMatchesLibrary holds decodeWire to the library on loadgen's
// 2.0 requests, hand-made encodings, random requests and damaged ones.
func TestV2WireMatchesLibrary(t *testing.T) {
	rw := loadgen.RemoteWrite{Series: 300, SamplesPerSeries: 2, Batch: 100, Concurrency: 2, Interval: time.Second, End: testNow, Protocol: loadgen.ProtocolV2}
	reqs, err := rw.Encode()
	if err != nil {
		t.Fatal(err)
	}
	var bodies [][]byte
	for _, rs := range reqs {
		for _, r := range rs {
			raw, err := snappy.Decode(nil, r.Body)
			if err != nil {
				t.Fatal(err)
			}
			bodies = append(bodies, raw)
		}
	}
	for _, raw := range bodies {
		if !checkAgainstLibrary(t, raw) {
			t.Fatalf("loadgen request refused")
		}
	}
	for i, raw := range handMadeV2() {
		t.Logf("hand-made %d valid: %v", i, checkAgainstLibrary(t, raw))
	}
	r := rand.New(rand.NewPCG(1, 2))
	valid, damaged := 0, 0
	for range 3000 {
		raw, err := randomV2Request(r).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if checkAgainstLibrary(t, raw) {
			valid++
		}
		bodies = append(bodies, raw)
	}
	// Damaged: bytes flipped, cut, inserted.
	for range 6000 {
		raw := append([]byte(nil), bodies[r.IntN(len(bodies))]...)
		if len(raw) == 0 {
			continue
		}
		switch r.IntN(3) {
		case 0:
			for range 1 + r.IntN(3) {
				raw[r.IntN(len(raw))] = byte(r.IntN(256))
			}
		case 1:
			raw = raw[:r.IntN(len(raw))]
		case 2:
			k := r.IntN(len(raw))
			raw = append(raw[:k], append([]byte{byte(r.IntN(256))}, raw[k:]...)...)
		}
		if !checkAgainstLibrary(t, raw) {
			damaged++
		}
	}
	t.Logf("%d loadgen requests, %d of 3000 random valid, %d of 6000 damaged refused", len(reqs[0])+len(reqs[1]), valid, damaged)
	if valid < 2900 || damaged < 1000 {
		t.Errorf("random requests too often invalid (%d) or damage too rarely detected (%d)", valid, damaged)
	}
}

// FuzzV2WireDecode holds decodeWire to the library on arbitrary bodies.
func FuzzV2WireDecode(f *testing.F) {
	for _, s := range v2Seeds(f) {
		f.Add(s)
	}
	for _, s := range handMadeV2() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw []byte) { checkAgainstLibrary(t, raw) })
}
