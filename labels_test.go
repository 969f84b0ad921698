package osprey_test

import (
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/osprey-aiops/osprey"
)

func TestFingerprint(t *testing.T) {
	tests := []struct {
		name  string
		a, b  osprey.Labels
		equal bool
	}{
		{"same pairs", osprey.Labels{"a": "1", "b": "2"}, osprey.Labels{"b": "2", "a": "1"}, true},
		{"empty and nil", osprey.Labels{}, nil, true},
		{"empty value is absent", osprey.Labels{"a": "1", "b": ""}, osprey.Labels{"a": "1"}, true},
		{"different value", osprey.Labels{"a": "1"}, osprey.Labels{"a": "2"}, false},
		{"different name", osprey.Labels{"a": "1"}, osprey.Labels{"b": "1"}, false},
		{"separator cannot be forged", osprey.Labels{"a": "1\xffb\xff2"}, osprey.Labels{"a": "1", "b": "2"}, false},
		{"name and value not swappable", osprey.Labels{"ab": "c"}, osprey.Labels{"a": "bc"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fa, fb := tc.a.Fingerprint(), tc.b.Fingerprint()
			if (fa == fb) != tc.equal {
				t.Errorf("Fingerprint(%v)=%s, Fingerprint(%v)=%s, want equal=%v", tc.a, fa, tc.b, fb, tc.equal)
			}
			if tc.a.Equal(tc.b) != tc.equal {
				t.Errorf("Equal(%v, %v) = %v, want %v", tc.a, tc.b, !tc.equal, tc.equal)
			}
		})
	}
}

// TestFingerprintIsStable pins the algorithm: fingerprints are stored, so a
// change here is a data migration, not a refactoring.
func TestFingerprintIsStable(t *testing.T) {
	l := osprey.Labels{"service": "checkout", "alertname": "HighLatency", "severity": "page"}
	if got, want := l.Fingerprint().String(), "85f478998a95b6ae"; got != want {
		t.Errorf("fingerprint = %s, want %s: the algorithm changed", got, want)
	}
	// The event fingerprint equals the label fingerprint with alertname set.
	if osprey.EventFingerprint("HighLatency", osprey.Labels{"service": "checkout", "severity": "page"}) != l.Fingerprint() {
		t.Error("EventFingerprint differs from the fingerprint of the labels with alertname added")
	}
	// ...and overrides a different alertname label.
	if osprey.EventFingerprint("HighLatency", osprey.Labels{"alertname": "Other", "service": "checkout", "severity": "page"}) != l.Fingerprint() {
		t.Error("EventFingerprint does not let the event name win over an alertname label")
	}
}

func TestFingerprintRoundTrip(t *testing.T) {
	for range 100 {
		f := osprey.Fingerprint(rand.Uint64())
		b, err := f.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var g osprey.Fingerprint
		if err := g.UnmarshalText(b); err != nil {
			t.Fatal(err)
		}
		if f != g {
			t.Fatalf("round trip %s → %s", f, g)
		}
	}
	for _, bad := range []string{"", "123", "zzzzzzzzzzzzzzzz", "0123456789abcdef0"} {
		var g osprey.Fingerprint
		if err := g.UnmarshalText([]byte(bad)); err == nil {
			t.Errorf("UnmarshalText(%q) succeeded", bad)
		}
	}
}

func TestLabelsString(t *testing.T) {
	got := osprey.Labels{"b": `x"y`, "a": "1", "empty": ""}.String()
	if want := `{a="1", b="x\"y"}`; got != want {
		t.Errorf("String() = %s, want %s", got, want)
	}
}

func BenchmarkFingerprint(b *testing.B) {
	for _, n := range []int{4, 12, 30} {
		l := osprey.Labels{}
		for i := range n {
			l["label_name_"+strconv.Itoa(i)] = "some-value-" + strconv.Itoa(i*7919)
		}
		b.Run(strconv.Itoa(n)+"labels", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = l.Fingerprint()
			}
		})
	}
}

func TestLabelsIdentity(t *testing.T) {
	l := osprey.Labels{"job": "api"}
	alias := l
	if l.Identity() == nil || l.Identity() != alias.Identity() {
		t.Errorf("the same map has identities %p and %p", l.Identity(), alias.Identity())
	}
	if l.Clone().Identity() == l.Identity() {
		t.Error("a clone has its original's identity")
	}
	if osprey.Labels(nil).Identity() != nil {
		t.Error("a nil map has an identity")
	}
}
