package metric

import (
	"errors"
	"reflect"
	"testing"

	"github.com/osprey-aiops/osprey"
)

// TestTrackerBinaryRoundTrip checks that a Tracker with a learnt model and
// an open anomaly comes back equal, and that damaged records are refused.
func TestTrackerBinaryRoundTrip(t *testing.T) {
	cfg := DefaultConfig()
	labels := osprey.Labels{"__name__": "lines", "source": "loki"}
	fp := labels.Fingerprint()
	var tr Tracker
	opened := false
	for i := range 400 {
		v := 10.0 + float64(i%3)
		if i >= 390 {
			v = 500
		}
		_, emit := tr.Observe(&cfg, labels, fp, osprey.Sample{TimestampMs: int64(i) * 60_000, Value: v}, nil)
		for _, a := range emit {
			opened = opened || a.Active()
		}
	}
	if !opened || tr.Open() == nil {
		t.Fatal("the tracker opened no anomaly; the round trip would not cover one")
	}
	raw, err := tr.AppendBinary([]byte("prefix"))
	if err != nil {
		t.Fatal(err)
	}
	var back Tracker
	if err := back.UnmarshalBinary(raw[len("prefix"):]); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, tr) {
		t.Errorf("round trip changed the tracker:\n%+v\nwant\n%+v", back, tr)
	}
	rec := raw[len("prefix"):]
	for name, bad := range map[string][]byte{
		"empty":     nil,
		"truncated": rec[:len(rec)-3],
		"trailing":  append(append([]byte(nil), rec...), 1),
		"size":      append([]byte{1, 0, 0, 0}, rec[4:]...),
	} {
		keep := back
		if err := back.UnmarshalBinary(bad); !errors.Is(err, ErrSnapshot) {
			t.Errorf("%s: UnmarshalBinary = %v, want ErrSnapshot", name, err)
		}
		if !reflect.DeepEqual(back, keep) {
			t.Errorf("%s: a failed UnmarshalBinary changed the tracker", name)
		}
	}
}
