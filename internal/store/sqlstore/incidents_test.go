package sqlstore

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
)

// TestAppendMemberKnowsEveryField fails when osprey.Member gains a field
// that appendMember does not write (and so would not store).
func TestAppendMemberKnowsEveryField(t *testing.T) {
	typ := reflect.TypeFor[osprey.Member]()
	for i := range typ.NumField() {
		if name := typ.Field(i).Name; !slices.Contains(memberJSONFields, name) {
			t.Errorf("osprey.Member.%s is not written by appendMember; add it there and to memberJSONFields", name)
		}
	}
}

// TestAppendMemberRoundTrip checks that encoding/json decodes what
// appendMember writes into the member it was given, and that it matches
// json.Marshal's output once both are decoded.
func TestAppendMemberRoundTrip(t *testing.T) {
	zone := time.FixedZone("UTC+1", 3600)
	members := []*osprey.Member{
		{},
		{
			Kind: osprey.MemberEvent, Fingerprint: 0x8000000000000001, Name: "High\"Latency\\ \n\t\r\x00\x1f <&> é 日本 \xff",
			Labels:   osprey.Labels{"service": "checkout", "pod": "a\"b", "ü": "\u2028"},
			Severity: osprey.SeverityCritical, Status: osprey.StatusFiring, FirstRef: "evt-1", LastRef: "evt-9",
			FirstSeen: time.Date(2026, 3, 14, 15, 9, 26, 535_000_001, zone), LastSeen: time.Date(2026, 3, 14, 15, 9, 27, 0, time.UTC),
			Count: 9, LastSeq: 42, GroupKey: "rule/x\x01", Flapping: true,
			Refired: time.Date(2026, 3, 14, 15, 20, 0, 7, zone),
		},
		{Kind: osprey.MemberAnomaly, Score: 0.1 + 0.2},
		{Kind: osprey.MemberAnomaly, Score: 1},
		{Kind: osprey.MemberAnomaly, Score: 1e-9},
	}
	for _, m := range members {
		got := appendMember(nil, m)
		var fromAppend, fromJSON osprey.Member
		if err := json.Unmarshal(got, &fromAppend); err != nil {
			t.Fatalf("decode %s: %v", got, err)
		}
		std, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(std, &fromJSON); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(fromAppend, fromJSON) {
			t.Errorf("appendMember:\n%s\ndecodes to %+v\njson.Marshal:\n%s\ndecodes to %+v", got, fromAppend, std, fromJSON)
		}
	}
}

// FuzzAppendJSONString checks that every string encodes as a JSON string
// that decodes as encoding/json's own encoding does.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", "q\"b\\", "\x00\x1f\x7f", "\xff\xfe", "日本", "\u2028\u2029", "<&>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var got, want string
		if err := json.Unmarshal(appendJSONString(nil, s), &got); err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		std, _ := json.Marshal(s)
		if err := json.Unmarshal(std, &want); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("%q decodes to %q, want %q", s, got, want)
		}
	})
}
