package ingest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/config"
)

var testLimits = config.ServerConfig{MaxBodyBytes: 4096, MaxEventsPerRequest: 3, MaxLabelsPerEvent: 2, MaxLabelValueBytes: 16}

var testNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func TestPrepareEvent(t *testing.T) {
	long := strings.Repeat("x", 17)
	tests := []struct {
		name      string
		ev        osprey.Event
		wantErr   string // "" for success
		wantLimit bool
		wantNUL   bool
	}{
		{name: "minimal", ev: osprey.Event{Name: "a", Status: osprey.StatusFiring}},
		{name: "no name", ev: osprey.Event{Status: osprey.StatusFiring}, wantErr: "name: must not be empty"},
		{name: "no status", ev: osprey.Event{Name: "a"}, wantErr: "status"},
		{name: "long name", ev: osprey.Event{Name: long, Status: osprey.StatusFiring}, wantErr: "name: longer than 16", wantLimit: true},
		{name: "long source", ev: osprey.Event{Name: "a", Source: long, Status: osprey.StatusFiring}, wantErr: "source: longer", wantLimit: true},
		{name: "NUL name", ev: osprey.Event{Name: "a\x00", Status: osprey.StatusFiring}, wantErr: "name: contains a NUL", wantNUL: true},
		{name: "NUL source", ev: osprey.Event{Name: "a", Source: "\x00", Status: osprey.StatusFiring}, wantErr: "source:", wantNUL: true},
		{name: "too many labels", ev: osprey.Event{Name: "a", Status: osprey.StatusFiring, Labels: osprey.Labels{"a": "1", "b": "2", "c": "3"}},
			wantErr: "3 labels, at most 2", wantLimit: true},
		{name: "bad label name", ev: osprey.Event{Name: "a", Status: osprey.StatusFiring, Labels: osprey.Labels{"a.b": "1"}},
			wantErr: "invalid label name"},
		{name: "long label value", ev: osprey.Event{Name: "a", Status: osprey.StatusFiring, Labels: osprey.Labels{"a": long}},
			wantErr: "labels.a: value longer", wantLimit: true},
		{name: "NUL label value", ev: osprey.Event{Name: "a", Status: osprey.StatusFiring, Labels: osprey.Labels{"a": "\x00"}},
			wantErr: "labels.a", wantNUL: true},
		{name: "too many annotations", ev: osprey.Event{Name: "a", Status: osprey.StatusFiring, Annotations: map[string]string{"a": "", "b": "", "c": ""}},
			wantErr: "3 annotations", wantLimit: true},
		{name: "empty annotation name", ev: osprey.Event{Name: "a", Status: osprey.StatusFiring, Annotations: map[string]string{"": "x"}},
			wantErr: "empty annotation name"},
		{name: "NUL annotation name", ev: osprey.Event{Name: "a", Status: osprey.StatusFiring, Annotations: map[string]string{"\x00": "x"}},
			wantErr: "annotations", wantNUL: true},
		{name: "before 1970", ev: osprey.Event{Name: "a", Status: osprey.StatusFiring, StartsAt: time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC)},
			wantErr: "startsAt: 1969-12-31T00:00:00Z is outside the supported range"},
		{name: "after 2261", ev: osprey.Event{Name: "a", Status: osprey.StatusFiring, EndsAt: time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC)},
			wantErr: "endsAt:"},
		{name: "ends before it starts", ev: osprey.Event{Name: "a", Status: osprey.StatusFiring,
			StartsAt: testNow, EndsAt: testNow.Add(-time.Second)}, wantErr: "endsAt:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := tt.ev
			err := PrepareEvent(&ev, &testLimits, testNow)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("PrepareEvent() = %v", err)
				}
				if len(ev.ID) != 26 || !ev.ReceivedAt.Equal(testNow) || ev.Fingerprint != osprey.EventFingerprint(ev.Name, ev.Labels) {
					t.Errorf("not filled in: %+v", ev)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("PrepareEvent() = %v, want an error containing %q", err, tt.wantErr)
			}
			if got := errors.Is(err, ErrLabelLimit); got != tt.wantLimit {
				t.Errorf("errors.Is(ErrLabelLimit) = %v, want %v", got, tt.wantLimit)
			}
			if got := errors.Is(err, ErrNUL); got != tt.wantNUL {
				t.Errorf("errors.Is(ErrNUL) = %v, want %v", got, tt.wantNUL)
			}
		})
	}
}

// TestPrepareEventUTC checks that times are carried in UTC: an offset such
// as +24:00, which time.Parse accepts, cannot be written as JSON.
func TestPrepareEventUTC(t *testing.T) {
	start := time.Date(2025, 6, 1, 10, 0, 0, 0, time.FixedZone("", 24*3600))
	ev := osprey.Event{Name: "a", Status: osprey.StatusFiring, StartsAt: start}
	if err := PrepareEvent(&ev, &testLimits, testNow); err != nil {
		t.Fatal(err)
	}
	if ev.StartsAt.Location() != time.UTC || !ev.StartsAt.Equal(start) {
		t.Errorf("StartsAt = %v, want %v in UTC", ev.StartsAt, start)
	}
}

func TestCheckContentType(t *testing.T) {
	for ct, ok := range map[string]bool{
		"":                                  true,
		"application/json":                  true,
		"application/json; charset=utf-8":   true,
		"application/json; charset=UTF-8":   true,
		"application/json; charset=latin1":  false,
		"application/x-www-form-urlencoded": false,
		"text/plain":                        false,
		"nonsense;;":                        false,
	} {
		if err := CheckContentType(ct); (err == nil) != ok {
			t.Errorf("CheckContentType(%q) = %v, want ok=%v", ct, err, ok)
		}
	}
}

func TestWithDefaults(t *testing.T) {
	got, err := WithDefaults(config.ServerConfig{MaxLabelsPerEvent: 7})
	d := config.Default().Server
	if err != nil || got.MaxLabelsPerEvent != 7 || got.MaxBodyBytes != d.MaxBodyBytes ||
		got.MaxEventsPerRequest != d.MaxEventsPerRequest || got.MaxLabelValueBytes != d.MaxLabelValueBytes {
		t.Errorf("WithDefaults = %+v, %v", got, err)
	}
	if _, err := WithDefaults(config.ServerConfig{MaxEventsPerRequest: -1}); err == nil {
		t.Error("negative limit accepted")
	}
}

func TestValidLabelName(t *testing.T) {
	for s, ok := range map[string]bool{"a": true, "_": true, "a1_B": true, "": false, "1a": false, "a-b": false, "a.b": false, "ä": false} {
		if ValidLabelName(s) != ok {
			t.Errorf("ValidLabelName(%q) = %v", s, !ok)
		}
	}
}
