package sqlstore

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"slices"
	"testing"

	"github.com/osprey-aiops/osprey"
)

// TestAppendCausesKnowsEveryField fails when osprey.Cause gains a field
// that appendCauses does not write (and so would not store).
func TestAppendCausesKnowsEveryField(t *testing.T) {
	typ := reflect.TypeFor[osprey.Cause]()
	for i := range typ.NumField() {
		if name := typ.Field(i).Name; !slices.Contains(causeJSONFields, name) {
			t.Errorf("osprey.Cause.%s is not written by appendCauses; add it there and to causeJSONFields", name)
		}
	}
}

// appendCauses writes what json.Marshal writes, byte for byte, and
// refuses what it refuses.
func TestAppendCausesIsMarshal(t *testing.T) {
	for _, tc := range []struct {
		name   string
		causes []osprey.Cause
	}{
		{"nil", nil},
		{"empty", []osprey.Cause{}},
		{"zero cause", []osprey.Cause{{}}},
		{"ranked", []osprey.Cause{
			{Kind: osprey.CauseService, Name: "auth", Score: 0.412345, Explanation: "auth: trace_error 0.91 at +0s; callers gw -> auth (incident inc-2)",
				EvidenceIDs: []string{"01J0", "01J1"}},
			{Kind: osprey.CauseHost, Name: "h<1>&", Score: 1, Explanation: "", EvidenceIDs: []string{}},
		}},
		{"awkward strings", []osprey.Cause{{Kind: "k\"\\", Name: "\x00\x08\x0c\n\r\t\x1f\x7f", Explanation: "é 日本 \xff\xfe \u2028\u2029 <&>",
			EvidenceIDs: []string{"", "\u2029"}}}},
		{"scores", []osprey.Cause{{Score: 1e-7}, {Score: 1e-6}, {Score: 9.99e-7}, {Score: 1e21}, {Score: 1e20}, {Score: -0.5},
			{Score: 123456789.125}, {Score: 5e-324}, {Score: math.MaxFloat64}, {Score: math.Copysign(0, -1)}, {Score: 0.1 + 0.2}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want, err := json.Marshal(tc.causes)
			if err != nil {
				t.Fatal(err)
			}
			got, err := appendCauses([]byte("prefix"), tc.causes)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, append([]byte("prefix"), want...)) {
				t.Errorf("appendCauses:\n%s\njson.Marshal:\nprefix%s", got, want)
			}
		})
	}
	for _, f := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		if _, err := appendCauses(nil, []osprey.Cause{{Name: "a"}, {Name: "b", Score: f}}); err == nil {
			t.Errorf("score %v: no error", f)
		}
	}
}

// FuzzAppendMarshalString checks that every string encodes as json.Marshal
// encodes it.
func FuzzAppendMarshalString(f *testing.F) {
	for _, s := range []string{"", "plain", "q\"b\\", "\x00\x1f\x7f\b\f", "\xff\xfe", "日本", "\u2028\u2029", "<&>", "\xe2\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := appendMarshalString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("%q: %s, want %s", s, got, want)
		}
	})
}

// FuzzAppendMarshalFloat checks that every finite float64 encodes as
// json.Marshal encodes it.
func FuzzAppendMarshalFloat(f *testing.F) {
	for _, v := range []float64{0, 1, -1, 1e-6, 1e-7, 1e21, 1e20, 0.3, 5e-324} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v float64) {
		want, werr := json.Marshal(v)
		got, err := appendMarshalFloat(nil, v)
		if (err != nil) != (werr != nil) {
			t.Fatalf("%v: error %v, json.Marshal's %v", v, err, werr)
		}
		if err == nil && !bytes.Equal(got, want) {
			t.Fatalf("%v: %s, want %s", v, got, want)
		}
	})
}
