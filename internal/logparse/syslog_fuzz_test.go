package logparse

import (
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// format5424 writes m back as an RFC 5424 message, escaping SD values.
func format5424(m *SyslogMessage) string {
	var b strings.Builder
	b.WriteString("<" + strconv.Itoa(int(m.Facility)<<3|int(m.Severity)) + ">1 ")
	if m.Time.IsZero() {
		b.WriteString("-")
	} else {
		b.WriteString(m.Time.Format(time.RFC3339Nano))
	}
	for _, f := range []string{m.Hostname, m.AppName, m.ProcID, m.MsgID} {
		if f == "" {
			f = "-"
		}
		b.WriteString(" " + f)
	}
	b.WriteByte(' ')
	if len(m.StructuredData) == 0 {
		b.WriteByte('-')
	}
	esc := strings.NewReplacer(`\`, `\\`, `"`, `\"`, `]`, `\]`)
	for _, el := range m.StructuredData {
		b.WriteString("[" + el.ID)
		for _, p := range el.Params {
			b.WriteString(" " + p.Name + `="` + esc.Replace(p.Value) + `"`)
		}
		b.WriteByte(']')
	}
	if m.Message != "" {
		b.WriteString(" " + m.Message)
	}
	return b.String()
}

// checkSyslog holds for every message ParseSyslog accepts.
func checkSyslog(t *testing.T, in string, m *SyslogMessage) {
	t.Helper()
	if m.Facility > 23 || m.Severity > 7 || m.Format != SyslogRFC3164 && m.Format != SyslogRFC5424 {
		t.Fatalf("facility %d severity %d format %v", m.Facility, m.Severity, m.Format)
	}
	for _, f := range []string{m.Hostname, m.AppName, m.ProcID, m.MsgID, m.Message} {
		if !strings.Contains(in, f) {
			t.Fatalf("field %q is not part of the input %q", f, in)
		}
	}
	_ = m.FacilityName() + m.SeverityName() + m.Level()
}

// FuzzSyslog5424 checks that an accepted RFC 5424 message survives being
// written back and parsed again unchanged.
func FuzzSyslog5424(f *testing.F) {
	for _, s := range []string{
		`<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application"] An application event`,
		`<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - ` + "\ufeff'su root' failed",
		`<13>1 - - - - - [a@1 q="say \"hi\" [x\]" p="c:\\dir"][b x=""]`,
		`<13>1 2026-01-05T11:59:58.123456+01:00 box alice 4242 - [timeQuality tzKnown="1" isSynced="0"] hello`,
		`<0>1 - - - - - -`, `<191>1 - h a p m - `, `<13>1 - - - - - [`, `<13>2 -`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		m, err := ParseSyslog(in, syslogNow, time.UTC)
		if err != nil {
			if !errors.Is(err, ErrSyslog) {
				t.Fatalf("error %v does not wrap ErrSyslog", err)
			}
			return
		}
		checkSyslog(t, in, &m)
		if m.Format != SyslogRFC5424 {
			return
		}
		if strings.HasPrefix(m.Message, "\ufeff") || strings.TrimRight(m.Message, "\r\n") != m.Message {
			return // writing back would change what the parser strips
		}
		out := format5424(&m)
		m2, err := ParseSyslog(out, syslogNow, time.UTC)
		if err != nil {
			t.Fatalf("written back as %q: %v", out, err)
		}
		if !m2.Time.Equal(m.Time) {
			t.Fatalf("time %v became %v", m.Time, m2.Time)
		}
		m.Time, m2.Time = time.Time{}, time.Time{}
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("round trip through %q:\n%+v\n%+v", out, m, m2)
		}
	})
}

// FuzzSyslog3164 checks the lenient RFC 3164 path: it accepts anything with
// a valid PRI (or none), loses no text and finds a year near the receive
// time.
func FuzzSyslog3164(f *testing.F) {
	for _, s := range []string{
		`<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8`,
		"<86>Jan  5 11:58:01 web-1 sshd[19939]: Accepted publickey\n",
		`<13>Jan  5 11:58:01 cron[12]: job done`, `<30>2026-01-05T11:58:01.5+00:00 host systemd[1]: Started x.`,
		`hello`, `<13>Feb 29 00:00:00 h a: leap`, `<13>Jan  5 11:58:01 `, `<13>Jan  5 11:58:01 h [: x`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		m, err := ParseSyslog(in, syslogNow, time.UTC)
		if err != nil {
			if !errors.Is(err, ErrSyslog) {
				t.Fatalf("error %v does not wrap ErrSyslog", err)
			}
			trimmed := strings.TrimRight(in, "\r\n")
			if trimmed != "" && trimmed[0] != '<' {
				t.Fatalf("a message without PRI was refused: %v", err)
			}
			return
		}
		checkSyslog(t, in, &m)
		if m.Format != SyslogRFC3164 {
			return
		}
		rest := in
		if i := strings.IndexByte(in, '>'); in[0] == '<' && i > 0 {
			rest = in[i+1:]
		}
		if !m.Time.IsZero() && len(rest) >= 3 && isMonth(rest[:3]) {
			if d := m.Time.Sub(syslogNow); d > 32*24*time.Hour || d < -366*24*time.Hour {
				t.Fatalf("RFC 3164 time %v is too far from now", m.Time)
			}
		}
	})
}
