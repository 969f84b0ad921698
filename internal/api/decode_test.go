package api

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/config"
	"github.com/osprey-aiops/osprey/internal/ingest"
)

// testNow is the fixed clock of the API tests.
var testNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// testLimits are small request limits, so the tests can cross them cheaply.
var testLimits = config.ServerConfig{
	MaxBodyBytes:        4096,
	MaxEventsPerRequest: 3,
	MaxLabelsPerEvent:   2,
	MaxLabelValueBytes:  16,
}

func TestDecodeEventsValid(t *testing.T) {
	body := `[
		{"name": "HighLatency", "labels": {"service": "checkout"}, "severity": "P1"},
		{"source": "alertmanager", "name": "DiskFull", "labels": {"host": "db1", "_x9": ""},
		 "annotations": {"summary text": "disk at 95%"}, "severity": "warning", "status": "resolved",
		 "startsAt": "2025-06-01T10:00:00+02:00", "endsAt": "2025-06-01T09:30:00Z"}
	]`
	events, rerr := decodeEvents(strings.NewReader(body), &testLimits, testNow)
	if rerr != nil {
		t.Fatalf("decodeEvents() = %v", rerr)
	}
	if len(events) != 2 {
		t.Fatalf("got %d events, want 2", len(events))
	}
	first, second := events[0], events[1]
	checks := []struct {
		name      string
		got, want any
	}{
		{"default source", first.Source, "api"},
		{"default status", first.Status, osprey.StatusFiring},
		{"default startsAt", first.StartsAt, testNow},
		{"severity word", first.Severity, osprey.SeverityCritical},
		{"receivedAt", first.ReceivedAt, testNow},
		{"fingerprint", first.Fingerprint, osprey.EventFingerprint("HighLatency", osprey.Labels{"service": "checkout"})},
		{"no end", first.EndsAt.IsZero(), true},
		{"source", second.Source, "alertmanager"},
		{"status", second.Status, osprey.StatusResolved},
		{"startsAt", second.StartsAt.Equal(time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC)), true},
		{"endsAt", second.EndsAt.Equal(time.Date(2025, 6, 1, 9, 30, 0, 0, time.UTC)), true},
		{"annotation", second.Annotations["summary text"], "disk at 95%"},
		{"severity", second.Severity, osprey.SeverityWarning},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if len(first.ID) != 26 || first.ID == second.ID {
		t.Errorf("IDs %q, %q: want two distinct 26-character ULIDs", first.ID, second.ID)
	}
}

func TestDecodeEventsRejected(t *testing.T) {
	long := strings.Repeat("x", 17)
	tests := []struct {
		name       string
		body       string
		wantCode   int
		wantReason string
		wantIndex  int
		wantMsg    string
	}{
		{"empty body", ``, 400, reasonMalformed, -1, "empty body"},
		{"not JSON", `hello`, 400, reasonMalformed, -1, "invalid JSON at byte 1"},
		{"object", `{"name": "x"}`, 400, reasonMalformed, -1, "JSON array"},
		{"string", `"x"`, 400, reasonMalformed, -1, "JSON array"},
		{"empty array", `[]`, 400, reasonEmpty, -1, "no events"},
		{"truncated", `[{"name": "a"}`, 400, reasonMalformed, -1, "ends before"},
		{"truncated element", `[{"name": "a"},{"na`, 400, reasonMalformed, 1, "events[1]"},
		{"trailing data", `[{"name": "a"}] [`, 400, reasonMalformed, -1, "after the array"},
		{"two arrays", `[{"name": "a"}][{"name": "b"}]`, 400, reasonMalformed, -1, "after the array"},
		{"unknown field", `[{"name": "a"}, {"name": "b", "fingerprint": "0"}]`, 400, reasonMalformed, 1,
			`events[1]: unknown field "fingerprint"`},
		{"element not object", `[{"name": "a"}, 7]`, 400, reasonMalformed, 1, "events[1]: element: got JSON number, want object"},
		{"label value type", `[{"name": "a", "labels": {"k": 1}}]`, 400, reasonMalformed, 0, "events[0]: labels: got JSON number, want string"},
		{"severity type", `[{"name": "a", "severity": 3}]`, 400, reasonMalformed, 0, "severity: got JSON number, want string"},
		{"null element", `[null]`, 400, reasonInvalid, 0, "events[0]: name: must not be empty"},
		{"no name", `[{"name": "a"}, {"labels": {"a": "b"}}]`, 400, reasonInvalid, 1, "events[1]: name: must not be empty"},
		{"blank name", `[{"name": " "}]`, 400, reasonInvalid, 0, "name"},
		{"bad status", `[{"name": "a", "status": "open"}]`, 400, reasonInvalid, 0, "status"},
		{"bad severity", `[{"name": "a", "severity": "apocalyptic"}]`, 400, reasonInvalid, 0, "severity: unknown severity"},
		{"bad startsAt", `[{"name": "a", "startsAt": "yesterday"}]`, 400, reasonInvalid, 0, "startsAt:"},
		{"bad endsAt", `[{"name": "a", "endsAt": "2025-06-01"}]`, 400, reasonInvalid, 0, "endsAt:"},
		{"ends before start", `[{"name": "a", "startsAt": "2025-06-01T10:00:00Z", "endsAt": "2025-06-01T09:00:00Z"}]`,
			400, reasonInvalid, 0, "endsAt:"},
		{"label name digit", `[{"name": "a", "labels": {"1a": "b"}}]`, 400, reasonInvalid, 0, "invalid label name"},
		{"label name dash", `[{"name": "a", "labels": {"a-b": "c"}}]`, 400, reasonInvalid, 0, "invalid label name"},
		{"label name empty", `[{"name": "a", "labels": {"": "c"}}]`, 400, reasonInvalid, 0, "invalid label name"},
		{"too many labels", `[{"name": "a", "labels": {"a": "1", "b": "2", "c": "3"}}]`, 400, reasonLabelLimit, 0, "at most 2"},
		{"label value too long", `[{"name": "a", "labels": {"a": "` + long + `"}}]`, 400, reasonLabelLimit, 0, "labels.a: value longer than 16"},
		{"label name too long", `[{"name": "a", "labels": {"` + long + `": "v"}}]`, 400, reasonLabelLimit, 0, "longer than 16"},
		{"too many annotations", `[{"name": "a", "annotations": {"a": "1", "b": "2", "c": "3"}}]`, 400, reasonLabelLimit, 0, "at most 2"},
		{"annotation too long", `[{"name": "a", "annotations": {"a": "` + long + `"}}]`, 400, reasonLabelLimit, 0, "value longer"},
		{"empty annotation name", `[{"name": "a", "annotations": {"": "1"}}]`, 400, reasonInvalid, 0, "empty annotation name"},
		{"name too long", `[{"name": "` + long + `"}]`, 400, reasonLabelLimit, 0, "name: longer than 16"},
		{"source too long", `[{"name": "a", "source": "` + long + `"}]`, 400, reasonLabelLimit, 0, "source: longer than 16"},
		{"too many events", `[{"name": "a"}, {"name": "b"}, {"name": "c"}, {"name": "d"}]`, 413, reasonTooMany, 3, "more than 3 events"},
		{"too large", `[{"name": "` + strings.Repeat("a", 5000) + `"}]`, 413, reasonTooLarge, -1, "larger than 4096 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := http.MaxBytesReader(httptest.NewRecorder(), io.NopCloser(strings.NewReader(tt.body)), testLimits.MaxBodyBytes)
			events, rerr := decodeEvents(body, &testLimits, testNow)
			if rerr == nil {
				t.Fatalf("decodeEvents() accepted %d events, want an error", len(events))
			}
			if events != nil {
				t.Errorf("decodeEvents() returned %d events with its error", len(events))
			}
			if rerr.code != tt.wantCode || rerr.reason != tt.wantReason || rerr.index != tt.wantIndex {
				t.Errorf("error = {%d %s index %d}, want {%d %s index %d} (%s)",
					rerr.code, rerr.reason, rerr.index, tt.wantCode, tt.wantReason, tt.wantIndex, rerr.msg)
			}
			if !strings.Contains(rerr.msg, tt.wantMsg) {
				t.Errorf("message %q does not contain %q", rerr.msg, tt.wantMsg)
			}
		})
	}
}

func TestCheckContentType(t *testing.T) {
	tests := []struct {
		ct string
		ok bool
	}{
		{"", true},
		{"application/json", true},
		{"application/json; charset=utf-8", true},
		{"Application/JSON; charset=UTF-8", true},
		{"application/json; charset=latin1", false},
		{"application/x-www-form-urlencoded", false},
		{"text/plain", false},
		{"application/json;;;", false},
	}
	for _, tt := range tests {
		rerr := checkContentType(tt.ct)
		if (rerr == nil) != tt.ok {
			t.Errorf("checkContentType(%q) = %v, want ok=%v", tt.ct, rerr, tt.ok)
		}
		if rerr != nil && rerr.code != http.StatusUnsupportedMediaType {
			t.Errorf("checkContentType(%q) code = %d, want 415", tt.ct, rerr.code)
		}
	}
}

func TestParseSince(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Time
		wantErr bool
	}{
		{in: "", want: time.Time{}},
		{in: "1h", want: testNow.Add(-time.Hour)},
		{in: "90s", want: testNow.Add(-90 * time.Second)},
		{in: "2025-05-01T00:00:00Z", want: time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC)},
		{in: "2025-05-01T02:00:00 02:00", want: time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC)}, // unescaped "+"
		{in: "-1h", wantErr: true},
		{in: "0s", wantErr: true},
		{in: "yesterday", wantErr: true},
		{in: "2025-05-01", wantErr: true},
	}
	for _, tt := range tests {
		got, err := parseSince(tt.in, testNow)
		if (err != nil) != tt.wantErr {
			t.Errorf("parseSince(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			continue
		}
		if err != nil && !strings.HasPrefix(err.Error(), "since:") {
			t.Errorf("parseSince(%q) error %q does not name the parameter", tt.in, err)
		}
		if !got.Equal(tt.want) {
			t.Errorf("parseSince(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestParseLimit(t *testing.T) {
	tests := []struct {
		in      string
		want    int
		wantErr bool
	}{
		{in: "", want: 0},
		{in: "1", want: 1},
		{in: "250", want: 250},
		{in: "99999999", want: 10000},
		{in: "0", wantErr: true},
		{in: "-3", wantErr: true},
		{in: "ten", wantErr: true},
	}
	for _, tt := range tests {
		got, err := parseLimit(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("parseLimit(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

// FuzzDecodeEvents checks that the ingestion decoder never panics, that what
// it accepts is valid and within the limits, and that what it rejects comes
// with a client error.
func FuzzDecodeEvents(f *testing.F) {
	lim := config.ServerConfig{MaxBodyBytes: 8192, MaxEventsPerRequest: 20, MaxLabelsPerEvent: 4, MaxLabelValueBytes: 32}
	f.Fuzz(func(t *testing.T, data []byte) {
		body := http.MaxBytesReader(httptest.NewRecorder(), io.NopCloser(bytes.NewReader(data)), lim.MaxBodyBytes)
		events, rerr := decodeEvents(body, &lim, testNow)
		if rerr != nil {
			if events != nil {
				t.Fatalf("error %v came with %d events", rerr, len(events))
			}
			if rerr.code != 400 && rerr.code != 413 || rerr.msg == "" || rerr.reason == "" {
				t.Fatalf("bad rejection %+v", rerr)
			}
			if rerr.index > lim.MaxEventsPerRequest {
				t.Fatalf("index %d beyond the event limit", rerr.index)
			}
			return
		}
		if len(events) == 0 || len(events) > lim.MaxEventsPerRequest {
			t.Fatalf("accepted %d events", len(events))
		}
		for i := range events {
			ev := &events[i]
			if err := ev.Validate(); err != nil {
				t.Fatalf("accepted event %d fails Validate: %v", i, err)
			}
			if len(ev.ID) != 26 || ev.Source == "" || ev.StartsAt.IsZero() || !ev.ReceivedAt.Equal(testNow) {
				t.Fatalf("event %d not filled in: %+v", i, ev)
			}
			if ev.Fingerprint != osprey.EventFingerprint(ev.Name, ev.Labels) {
				t.Fatalf("event %d has a wrong fingerprint", i)
			}
			if len(ev.Labels) > lim.MaxLabelsPerEvent || len(ev.Annotations) > lim.MaxLabelsPerEvent {
				t.Fatalf("event %d over the label limit", i)
			}
			for k, v := range ev.Labels {
				if !ingest.ValidLabelName(k) || len(v) > lim.MaxLabelValueBytes {
					t.Fatalf("event %d has label %q=%q", i, k, v)
				}
			}
		}
		if _, err := json.Marshal(events); err != nil {
			t.Fatalf("accepted events do not encode: %v", err)
		}
	})
}

// BenchmarkDecodeEvents measures decoding and validating a batch of 100
// typical events, without HTTP or storage.
func BenchmarkDecodeEvents(b *testing.B) {
	body := benchBody(100)
	lim := config.Default().Server
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, rerr := decodeEvents(bytes.NewReader(body), &lim, testNow); rerr != nil {
			b.Fatal(rerr)
		}
	}
	b.ReportMetric(float64(100*b.N)/b.Elapsed().Seconds(), "events/s")
}

// benchBody returns a JSON array of n events shaped like Alertmanager alerts.
func benchBody(n int) []byte {
	var buf bytes.Buffer
	buf.WriteByte('[')
	for i := range n {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.WriteString(`{"source":"alertmanager","name":"HighErrorRate","severity":"critical",` +
			`"labels":{"service":"checkout","instance":"10.0.0.`)
		buf.WriteString(string(rune('0' + i%10)))
		buf.WriteString(`:9100","job":"node","namespace":"shop","cluster":"eu-1"},` +
			`"annotations":{"summary":"error rate above 5% for 10m","runbook_url":"https://runbooks.example/errors"},` +
			`"startsAt":"2025-06-01T11:55:00Z"}`)
	}
	buf.WriteByte(']')
	return buf.Bytes()
}
