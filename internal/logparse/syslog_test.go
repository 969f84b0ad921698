package logparse

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

var syslogNow = time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC)

func TestParseSyslog(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want SyslogMessage
		time string // RFC 3339, "" for zero
	}{
		{name: "rfc5424 example 1 (RFC §6.5)",
			in: `<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - ` + "\ufeff'su root' failed for lonvick on /dev/pts/8",
			want: SyslogMessage{Format: SyslogRFC5424, Facility: 4, Severity: 2, Hostname: "mymachine.example.com",
				AppName: "su", MsgID: "ID47", Message: "'su root' failed for lonvick on /dev/pts/8"},
			time: "2003-10-11T22:14:15.003Z"},
		{name: "rfc5424 example 3, structured data",
			in: `<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] An application event`,
			want: SyslogMessage{Format: SyslogRFC5424, Facility: 20, Severity: 5, Hostname: "mymachine.example.com",
				AppName: "evntslog", MsgID: "ID47", Message: "An application event",
				StructuredData: []SDElement{{ID: "exampleSDID@32473", Params: []SDParam{
					{"iut", "3"}, {"eventSource", "Application"}, {"eventID", "1011"}}}}},
			time: "2003-10-11T22:14:15.003Z"},
		{name: "rfc5424 example 4, two elements, no MSG",
			in: `<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3"][examplePriority@32473 class="high"]`,
			want: SyslogMessage{Format: SyslogRFC5424, Facility: 20, Severity: 5, Hostname: "mymachine.example.com",
				AppName: "evntslog", MsgID: "ID47", StructuredData: []SDElement{
					{ID: "exampleSDID@32473", Params: []SDParam{{"iut", "3"}}},
					{ID: "examplePriority@32473", Params: []SDParam{{"class", "high"}}}}},
			time: "2003-10-11T22:14:15.003Z"},
		{name: "rfc5424 escapes in SD values",
			in: `<13>1 - - - - - [a@1 q="say \"hi\" [x\]" p="c:\\dir" o="\n"] m`,
			want: SyslogMessage{Format: SyslogRFC5424, Facility: 1, Severity: 5, Message: "m",
				StructuredData: []SDElement{{ID: "a@1", Params: []SDParam{{"q", `say "hi" [x]`}, {"p", `c:\dir`}, {"o", `\n`}}}}}},
		{name: "rfc5424 as util-linux logger sends it",
			in: `<13>1 2026-01-05T11:59:58.123456+01:00 box alice 4242 - [timeQuality tzKnown="1" isSynced="0"] hello world`,
			want: SyslogMessage{Format: SyslogRFC5424, Facility: 1, Severity: 5, Hostname: "box", AppName: "alice", ProcID: "4242",
				StructuredData: []SDElement{{ID: "timeQuality", Params: []SDParam{{"tzKnown", "1"}, {"isSynced", "0"}}}}, Message: "hello world"},
			time: "2026-01-05T10:59:58.123456Z"},
		{name: "rfc3164 example (RFC §5.4)",
			in: `<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8`,
			want: SyslogMessage{Format: SyslogRFC3164, Facility: 4, Severity: 2, Hostname: "mymachine", AppName: "su",
				Message: "'su root' failed for lonvick on /dev/pts/8"},
			time: "2025-10-11T22:14:15Z"},
		{name: "rfc3164 with pid and padded day",
			in: "<86>Jan  5 11:58:01 web-1 sshd[19939]: Accepted publickey for root\n",
			want: SyslogMessage{Format: SyslogRFC3164, Facility: 10, Severity: 6, Hostname: "web-1", AppName: "sshd", ProcID: "19939",
				Message: "Accepted publickey for root"},
			time: "2026-01-05T11:58:01Z"},
		{name: "rfc3164 without hostname (local socket)",
			in:   `<13>Jan  5 11:58:01 cron[12]: job done`,
			want: SyslogMessage{Format: SyslogRFC3164, Facility: 1, Severity: 5, AppName: "cron", ProcID: "12", Message: "job done"},
			time: "2026-01-05T11:58:01Z"},
		{name: "rfc3164 without tag",
			in:   `<13>Jan  5 11:58:01 host just a message`,
			want: SyslogMessage{Format: SyslogRFC3164, Facility: 1, Severity: 5, Hostname: "host", Message: "just a message"},
			time: "2026-01-05T11:58:01Z"},
		{name: "rfc3164 from a future month is last year's",
			in:   `<13>Dec 31 23:59:59 host app: m`,
			want: SyslogMessage{Format: SyslogRFC3164, Facility: 1, Severity: 5, Hostname: "host", AppName: "app", Message: "m"},
			time: "2025-12-31T23:59:59Z"},
		{name: "rsyslog forward format (RFC 3339 in RFC 3164)",
			in: `<30>2026-01-05T11:58:01.5+00:00 host systemd[1]: Started x.`,
			want: SyslogMessage{Format: SyslogRFC3164, Facility: 3, Severity: 6, Hostname: "host", AppName: "systemd", ProcID: "1",
				Message: "Started x."},
			time: "2026-01-05T11:58:01.5Z"},
		{name: "no PRI: user.notice, all message",
			in:   `hello there`,
			want: SyslogMessage{Format: SyslogRFC3164, Facility: 1, Severity: 5, Message: "hello there"}},
		{name: "bad timestamp: all message",
			in:   `<13>Foo 99 xx host app: m`,
			want: SyslogMessage{Format: SyslogRFC3164, Facility: 1, Severity: 5, Message: "Foo 99 xx host app: m"}},
		{name: "PRI only",
			in:   `<0>`,
			want: SyslogMessage{Format: SyslogRFC3164}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSyslog(tt.in, syslogNow, time.UTC)
			if err != nil {
				t.Fatalf("ParseSyslog: %v", err)
			}
			var want time.Time
			if tt.time != "" {
				want, _ = time.Parse(time.RFC3339Nano, tt.time)
			}
			if !got.Time.Equal(want) {
				t.Errorf("time = %v, want %v", got.Time, want)
			}
			got.Time, tt.want.Time = time.Time{}, time.Time{}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseSyslogErrors(t *testing.T) {
	for name, in := range map[string]string{
		"empty":                 "",
		"newline only":          "\n",
		"PRI too big":           "<192>Oct 11 22:14:15 h a: m",
		"PRI not a number":      "<1a>1 - - - - - -",
		"PRI unterminated":      "<13",
		"PRI four digits":       "<0013>1 - - - - - -",
		"version 2":             "<13>2 - - - - - -",
		"short header":          "<13>1 - host app",
		"no SD":                 "<13>1 - - - - -",
		"bad timestamp":         "<13>1 2003-13-45T99:00:00Z h a - - - m",
		"SD garbage":            "<13>1 - h a - - x m",
		"SD unterminated":       `<13>1 - h a - - [id a="b"`,
		"SD value open":         `<13>1 - h a - - [id a="b] m`,
		"SD param no quotes":    `<13>1 - h a - - [id a=b] m`,
		"SD then no space":      `<13>1 - h a - - [id]m`,
		"non-ASCII hostname":    "<13>1 - hösт a - - - m",
		"SD-ID too long":        "<13>1 - h a - - [aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa] m",
		"header field too long": "<13>1 - " + string(make([]byte, 0)) + longField() + " a - - - m",
	} {
		t.Run(name, func(t *testing.T) {
			if m, err := ParseSyslog(in, syslogNow, nil); !errors.Is(err, ErrSyslog) {
				t.Fatalf("ParseSyslog(%q) = %+v, %v; want an ErrSyslog", in, m, err)
			}
		})
	}
}

func longField() string {
	b := make([]byte, 256)
	for i := range b {
		b[i] = 'h'
	}
	return string(b)
}

func TestSyslogNamesAndLevels(t *testing.T) {
	m := SyslogMessage{Facility: 4, Severity: 3}
	if m.FacilityName() != "auth" || m.SeverityName() != "err" || m.Level() != "error" {
		t.Errorf("%s.%s level %s", m.FacilityName(), m.SeverityName(), m.Level())
	}
	m = SyslogMessage{Facility: 23, Severity: 5}
	if m.FacilityName() != "local7" || m.Level() != "info" {
		t.Errorf("%s level %s", m.FacilityName(), m.Level())
	}
	if SyslogRFC5424.String() != "rfc5424" || SyslogFormat(9).String() != "syslog(9)" {
		t.Error("format names")
	}
}

func TestParseSyslogDoesNotAllocate(t *testing.T) {
	in := `<34>Oct 11 22:14:15 mymachine su[1]: 'su root' failed for lonvick on /dev/pts/8`
	if n := testing.AllocsPerRun(100, func() { _, _ = ParseSyslog(in, syslogNow, time.UTC) }); n != 0 {
		t.Errorf("%v allocations per RFC 3164 message", n)
	}
}

func BenchmarkParseSyslog(b *testing.B) {
	for _, bc := range []struct{ name, msg string }{
		{"rfc5424", `<165>1 2026-01-05T11:58:01.003Z web-1.example.com nginx 4242 ID47 [exampleSDID@32473 iut="3" eventSource="Application"] 10.0.0.7 - - "GET /api/v1/orders/1234 HTTP/1.1" 200 512`},
		{"rfc3164", `<86>Jan  5 11:58:01 web-1 sshd[19939]: Accepted publickey for deploy from 10.0.0.7 port 53122 ssh2`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(bc.msg)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ParseSyslog(bc.msg, syslogNow, time.UTC); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}
