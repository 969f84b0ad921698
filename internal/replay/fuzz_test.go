package replay

import (
	"bytes"
	"errors"
	"testing"
)

func FuzzReadCSV(f *testing.F) {
	f.Add("timestamp,value\n2014-04-01 14:00:00,1.5\n2014-04-01 14:05:00,2\n")
	f.Add("t,v\n1700000000,3\n1700000000123,4\n2026-01-01T00:00:00Z,NaN\n")
	f.Add("2026-01-01 00:00:00,1,extra\n,\n\n")
	f.Fuzz(func(t *testing.T, data string) {
		samples, err := ReadCSV(bytes.NewReader([]byte(data)), "fuzz.csv")
		if err != nil {
			var ie *InputError
			if !errors.As(err, &ie) || ie.File != "fuzz.csv" {
				t.Fatalf("error %v does not name the file", err)
			}
			return
		}
		for i := 1; i < len(samples); i++ {
			if samples[i].TimestampMs < samples[i-1].TimestampMs {
				t.Fatalf("samples not sorted at %d", i)
			}
		}
	})
}

func FuzzReadEvents(f *testing.F) {
	f.Add(eventLines())
	f.Add(`{"name":"x","receivedAt":"2026-01-01T00:00:00Z","id":"01H","seq":3}` + "\n")
	f.Add(`{"name":"x","status":"resolved","endsAt":"2026-01-01T00:00:00Z"}` + "\n{}\n")
	f.Fuzz(func(t *testing.T, data string) {
		events, err := ReadEvents(bytes.NewReader([]byte(data)), "fuzz.jsonl")
		if err != nil {
			var ie *InputError
			if !errors.As(err, &ie) || ie.File != "fuzz.jsonl" || ie.Line < 1 {
				t.Fatalf("error %v does not name the file and line", err)
			}
			return
		}
		for i, ev := range events {
			if ev.ID == "" || ev.ReceivedAt.IsZero() || ev.Fingerprint == 0 {
				t.Fatalf("event %d not prepared: %+v", i, ev)
			}
			if err := ev.Validate(); err != nil {
				t.Fatalf("event %d invalid: %v", i, err)
			}
			if i > 0 && ev.ReceivedAt.Before(events[i-1].ReceivedAt) {
				t.Fatalf("events not sorted at %d", i)
			}
		}
	})
}
