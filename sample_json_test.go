package osprey_test

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/osprey-aiops/osprey"
)

// plainSample has Sample's fields and tags but no JSON methods: what
// encoding/json makes of a Sample without them.
type plainSample struct {
	TimestampMs int64   `json:"t"`
	Value       float64 `json:"v"`
}

// sameValue reports whether a and b are the same float64, NaN included.
func sameValue(a, b float64) bool {
	return math.Float64bits(a) == math.Float64bits(b) || (math.IsNaN(a) && math.IsNaN(b))
}

func TestSampleMarshalJSON(t *testing.T) {
	tests := []struct {
		name  string
		value float64
		want  string
	}{
		{"zero", 0, `{"t":1700000000000,"v":0}`},
		{"negative zero", math.Copysign(0, -1), `{"t":1700000000000,"v":-0}`},
		{"integer", 42, `{"t":1700000000000,"v":42}`},
		{"fraction", -1.5, `{"t":1700000000000,"v":-1.5}`},
		{"large fixed", 123456789012345680000, `{"t":1700000000000,"v":123456789012345680000}`},
		{"exponent large", 1e21, `{"t":1700000000000,"v":1e+21}`},
		{"exponent small", 1e-7, `{"t":1700000000000,"v":1e-7}`},
		{"smallest fixed", 1e-6, `{"t":1700000000000,"v":0.000001}`},
		{"max", math.MaxFloat64, `{"t":1700000000000,"v":1.7976931348623157e+308}`},
		{"denormal", math.SmallestNonzeroFloat64, `{"t":1700000000000,"v":5e-324}`},
		{"NaN", math.NaN(), `{"t":1700000000000,"v":"NaN"}`},
		{"+Inf", math.Inf(1), `{"t":1700000000000,"v":"+Inf"}`},
		{"-Inf", math.Inf(-1), `{"t":1700000000000,"v":"-Inf"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := osprey.Sample{TimestampMs: 1700000000000, Value: tc.value}
			got, err := json.Marshal(s)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			if string(got) != tc.want {
				t.Errorf("Marshal = %s, want %s", got, tc.want)
			}
			if !math.IsNaN(tc.value) && !math.IsInf(tc.value, 0) {
				// Finite values are encoded exactly as before.
				plain, err := json.Marshal(plainSample(s))
				if err != nil {
					t.Fatal(err)
				}
				if string(got) != string(plain) {
					t.Errorf("Marshal = %s, encoding/json without the method gives %s", got, plain)
				}
			}
			var back osprey.Sample
			if err := json.Unmarshal(got, &back); err != nil {
				t.Fatalf("Unmarshal(%s): %v", got, err)
			}
			if back.TimestampMs != s.TimestampMs || !sameValue(back.Value, s.Value) {
				t.Errorf("round trip gave %+v, want %+v", back, s)
			}
		})
	}
}

func TestSampleUnmarshalJSON(t *testing.T) {
	prev := osprey.Sample{TimestampMs: 7, Value: 8}
	tests := []struct {
		name    string
		in      string
		want    osprey.Sample
		wantErr string // substring of the error; "" means success
	}{
		{name: "number", in: `{"t":1,"v":2.5}`, want: osprey.Sample{TimestampMs: 1, Value: 2.5}},
		{name: "exponent", in: `{"t":1,"v":-1E-3}`, want: osprey.Sample{TimestampMs: 1, Value: -0.001}},
		{name: "NaN", in: `{"t":1,"v":"NaN"}`, want: osprey.Sample{TimestampMs: 1, Value: math.NaN()}},
		{name: "+Inf", in: `{"t":1,"v":"+Inf"}`, want: osprey.Sample{TimestampMs: 1, Value: math.Inf(1)}},
		{name: "-Inf", in: `{"t":1,"v":"-Inf"}`, want: osprey.Sample{TimestampMs: 1, Value: math.Inf(-1)}},
		{name: "whitespace and key order", in: " { \"v\" : 3 , \"t\" : 4 } ", want: osprey.Sample{TimestampMs: 4, Value: 3}},
		{name: "keys without regard to case", in: `{"T":5,"V":6}`, want: osprey.Sample{TimestampMs: 5, Value: 6}},
		{name: "unknown key ignored", in: `{"t":1,"v":2,"x":[1]}`, want: osprey.Sample{TimestampMs: 1, Value: 2}},
		{name: "missing value kept", in: `{"t":1}`, want: osprey.Sample{TimestampMs: 1, Value: 8}},
		{name: "null value kept", in: `{"t":1,"v":null}`, want: osprey.Sample{TimestampMs: 1, Value: 8}},
		{name: "null sample kept", in: `null`, want: prev},
		{name: "other string", in: `{"t":1,"v":"1.5"}`, wantErr: `sample value "1.5"`},
		{name: "lowercase nan", in: `{"t":1,"v":"nan"}`, wantErr: `sample value "nan"`},
		{name: "unsigned Inf", in: `{"t":1,"v":"Inf"}`, wantErr: `sample value "Inf"`},
		{name: "bool", in: `{"t":1,"v":true}`, wantErr: "sample value true"},
		{name: "object", in: `{"t":1,"v":{}}`, wantErr: "sample value {}"},
		{name: "out of range", in: `{"t":1,"v":1e400}`, wantErr: "sample value 1e400"},
		{name: "bad timestamp", in: `{"t":"x","v":1}`, wantErr: "cannot unmarshal string"},
		{name: "not JSON", in: `{"t":1,"v":}`, wantErr: "invalid character"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := prev
			err := json.Unmarshal([]byte(tc.in), &got)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Unmarshal(%s) error = %v, want one containing %q", tc.in, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Unmarshal(%s): %v", tc.in, err)
			}
			if got.TimestampMs != tc.want.TimestampMs || !sameValue(got.Value, tc.want.Value) {
				t.Errorf("Unmarshal(%s) = %+v, want %+v", tc.in, got, tc.want)
			}
		})
	}
}

// TestSeriesWithStaleSampleRoundTrips: the case that motivated the methods, a
// batch of series one of which carries a staleness marker.
func TestSeriesWithStaleSampleRoundTrips(t *testing.T) {
	in := []osprey.Series{{
		Labels:  osprey.Labels{osprey.LabelMetric: "up", "job": "node"},
		Samples: []osprey.Sample{{TimestampMs: 1, Value: 1}, {TimestampMs: 2, Value: math.NaN()}},
	}}
	data, err := json.Marshal(in)
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	var out []osprey.Series
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("Unmarshal(%s): %v", data, err)
	}
	if len(out) != 1 || len(out[0].Samples) != 2 || !math.IsNaN(out[0].Samples[1].Value) || out[0].Samples[0] != in[0].Samples[0] {
		t.Errorf("round trip gave %+v from %s", out, data)
	}
}

// FuzzSampleJSON: decoding never panics, and whatever decodes encodes and
// decodes again to the same sample.
func FuzzSampleJSON(f *testing.F) {
	for _, s := range []string{`{"t":1,"v":2.5}`, `{"t":1,"v":"NaN"}`, `{"t":-1,"v":"-Inf"}`, `{"v":1e-7}`, `null`, `{"t":1,"v":"x"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var s osprey.Sample
		if err := json.Unmarshal(data, &s); err != nil {
			return
		}
		enc, err := json.Marshal(s)
		if err != nil {
			t.Fatalf("Marshal(%+v): %v", s, err)
		}
		var back osprey.Sample
		if err := json.Unmarshal(enc, &back); err != nil {
			t.Fatalf("Unmarshal(%s) of an encoding: %v", enc, err)
		}
		if back.TimestampMs != s.TimestampMs || !sameValue(back.Value, s.Value) {
			t.Fatalf("%s decoded to %+v, re-encoded as %s, decoded to %+v", data, s, enc, back)
		}
	})
}

// BenchmarkSampleJSON measures encoding and decoding a series of 100 samples
// with the methods, against the same shape without them (plain), the cost of
// carrying NaN and infinities.
func BenchmarkSampleJSON(b *testing.B) {
	samples := make([]osprey.Sample, 100)
	plain := make([]plainSample, len(samples))
	for i := range samples {
		samples[i] = osprey.Sample{TimestampMs: 1700000000000 + int64(i)*15000, Value: float64(i) * 1.25}
		plain[i] = plainSample(samples[i])
	}
	data, err := json.Marshal(samples)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(samples); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("marshal/plain", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(plain); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("unmarshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var out []osprey.Sample
			if err := json.Unmarshal(data, &out); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("unmarshal/plain", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var out []plainSample
			if err := json.Unmarshal(data, &out); err != nil {
				b.Fatal(err)
			}
		}
	})
}
