package osprey_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
)

func TestParseSeverity(t *testing.T) {
	tests := []struct {
		in   string
		want osprey.Severity
		err  bool
	}{
		{"", osprey.SeverityUnknown, false},
		{"critical", osprey.SeverityCritical, false},
		{"CRIT", osprey.SeverityCritical, false},
		{" page ", osprey.SeverityError, false},
		{"warning", osprey.SeverityWarning, false},
		{"info", osprey.SeverityInfo, false},
		{"bogus", 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := osprey.ParseSeverity(tc.in)
			if (err != nil) != tc.err || got != tc.want {
				t.Errorf("ParseSeverity(%q) = %v, %v; want %v, err=%v", tc.in, got, err, tc.want, tc.err)
			}
		})
	}
	if max(osprey.SeverityWarning, osprey.SeverityCritical) != osprey.SeverityCritical {
		t.Error("severities do not order by badness")
	}
}

func TestEventValidate(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		e       osprey.Event
		wantErr string
	}{
		{"ok", osprey.Event{Name: "A", Status: osprey.StatusFiring}, ""},
		{"no name", osprey.Event{Status: osprey.StatusFiring}, "name"},
		{"bad status", osprey.Event{Name: "A", Status: "maybe"}, "status"},
		{"empty label name", osprey.Event{Name: "A", Status: osprey.StatusFiring, Labels: osprey.Labels{"": "x"}}, "labels"},
		{"ends before start", osprey.Event{Name: "A", Status: osprey.StatusResolved, StartsAt: t0, EndsAt: t0.Add(-time.Second)}, "endsAt"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.e.Validate()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate() = %v", err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
				t.Fatalf("Validate() = %v, want an error about %s", err, tc.wantErr)
			}
		})
	}
}

func TestNewID(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	seen := map[string]bool{}
	var ids []string
	for i := range 1000 {
		id := osprey.NewID(t0.Add(time.Duration(i) * time.Millisecond))
		if len(id) != 26 {
			t.Fatalf("id %q has %d characters, want 26", id, len(id))
		}
		if strings.ContainsAny(id, "ILOU") {
			t.Fatalf("id %q uses a letter outside Crockford's alphabet", id)
		}
		if seen[id] {
			t.Fatalf("duplicate id %q", id)
		}
		seen[id] = true
		ids = append(ids, id)
	}
	if !slices.IsSorted(ids) {
		t.Error("ids made at increasing times do not sort in that order")
	}
	// The known ULID encoding of the epoch's first millisecond with zero
	// randomness would be 0000000001...; check the time prefix instead.
	if got := osprey.NewID(time.UnixMilli(0))[:10]; got != "0000000000" {
		t.Errorf("time prefix of epoch = %s", got)
	}
	if got := osprey.NewID(time.UnixMilli(1))[:10]; got != "0000000001" {
		t.Errorf("time prefix of 1ms = %s", got)
	}
}

func TestPermanent(t *testing.T) {
	if osprey.Permanent(nil) != nil {
		t.Error("Permanent(nil) != nil")
	}
	err := osprey.Permanent(osprey.ErrNotFound)
	if !osprey.IsPermanent(err) {
		t.Error("IsPermanent lost the mark")
	}
	if osprey.IsPermanent(osprey.ErrNotFound) {
		t.Error("unmarked error is permanent")
	}
}
