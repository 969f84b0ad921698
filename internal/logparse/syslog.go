package logparse

import (
	"errors"
	"strconv"
	"strings"
	"time"
)

// This file is the full syslog parser that receivers use: unlike Detect,
// which only needs a line's level, host, app and message, it keeps every
// header field (facility, severity, procid, msgid, structured data) and
// tells a malformed message apart from a plain one.

// SyslogFormat says which syslog protocol a message was parsed as.
type SyslogFormat uint8

// Syslog formats.
const (
	SyslogRFC3164 SyslogFormat = iota + 1 // BSD syslog: <PRI>Mmm dd hh:mm:ss HOST TAG[PID]: MSG
	SyslogRFC5424                         // <PRI>1 TIMESTAMP HOST APP PROCID MSGID SD MSG
)

// String returns "rfc3164" or "rfc5424".
func (f SyslogFormat) String() string {
	switch f {
	case SyslogRFC3164:
		return "rfc3164"
	case SyslogRFC5424:
		return "rfc5424"
	}
	return "syslog(" + strconv.Itoa(int(f)) + ")"
}

// SyslogMessage is one parsed syslog message. Its strings are substrings of
// the parsed text, except structured-data values that held escapes.
type SyslogMessage struct {
	Format SyslogFormat
	// Facility (0-23) and Severity (0-7) are the two parts of PRI. A
	// message without PRI (allowed by RFC 3164 §4.3.3) is user.notice.
	Facility, Severity uint8
	// Time is zero when the message carried none (RFC 5424's "-", or an
	// RFC 3164 message without a valid TIMESTAMP).
	Time time.Time
	// Hostname, AppName, ProcID and MsgID are "" when absent or "-". RFC
	// 3164 has no MSGID; its TAG is AppName and a "[pid]" after it ProcID.
	Hostname, AppName, ProcID, MsgID string
	// StructuredData holds RFC 5424 SD-ELEMENTs in order.
	StructuredData []SDElement
	// Message is MSG, with a leading UTF-8 byte order mark removed.
	Message string
}

// SDElement is one RFC 5424 structured-data element: [id name="value" ...].
type SDElement struct {
	ID     string
	Params []SDParam
}

// SDParam is one name="value" pair of an SDElement; Value is unescaped.
type SDParam struct {
	Name, Value string
}

// SeverityName returns the RFC 5424 keyword of m's severity: "emerg",
// "alert", "crit", "err", "warning", "notice", "info" or "debug".
func (m *SyslogMessage) SeverityName() string { return syslogSeverityNames[m.Severity&7] }

// FacilityName returns the conventional name of m's facility ("kern",
// "user", "daemon", "auth", "local0", ...), or its number.
func (m *SyslogMessage) FacilityName() string {
	if int(m.Facility) < len(syslogFacilityNames) {
		return syslogFacilityNames[m.Facility]
	}
	return strconv.Itoa(int(m.Facility))
}

// Level returns the severity as the canonical level word Detect uses
// ("critical", "error", "warning", "info", "debug"): emerg, alert and crit
// are critical; notice is info.
func (m *SyslogMessage) Level() string { return syslogCanonicalLevels[m.Severity&7] }

var (
	syslogSeverityNames   = [8]string{"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"}
	syslogCanonicalLevels = [8]string{"critical", "critical", "critical", "error", "warning", "info", "info", "debug"}
	syslogFacilityNames   = [...]string{"kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp",
		"cron", "authpriv", "ftp", "ntp", "security", "console", "solaris-cron",
		"local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"}
)

// ErrSyslog is wrapped by every error of ParseSyslog: the text is not a
// syslog message this parser can read.
var ErrSyslog = errors.New("malformed syslog message")

// syslogErr returns an error that wraps ErrSyslog.
func syslogErr(what string) error {
	return &syslogError{what: what}
}

type syslogError struct{ what string }

func (e *syslogError) Error() string        { return "malformed syslog message: " + e.what }
func (e *syslogError) Is(target error) bool { return target == ErrSyslog }

// Bounds of RFC 5424 header fields (§6). HOSTNAME's 255 is also applied to
// the others, which real senders overrun (APP-NAME's 48 in particular).
const (
	maxSyslogField = 255
	maxSDName      = 32
)

// ParseSyslog parses one syslog message, as framed by the transport (no
// trailing newline is expected, but one is ignored). A message whose PRI is
// followed by "1 " is RFC 5424 and is parsed strictly: a header that breaks
// the RFC is an error. Anything else is RFC 3164, parsed leniently as the
// RFC asks of a receiver: a missing PRI means user.notice, a missing or
// unreadable TIMESTAMP leaves Time zero and the rest is the message.
//
// RFC 3164 timestamps carry neither year nor zone: loc is the zone they are
// read in (nil means UTC) and the year is the one that puts the time closest
// to now (a message stamped in December and received in January is from the
// previous year). rsyslog's forwarding format, an RFC 3339 timestamp in the
// RFC 3164 position, is read as well.
//
// Errors wrap ErrSyslog. ParseSyslog never panics.
func ParseSyslog(msg string, now time.Time, loc *time.Location) (SyslogMessage, error) {
	msg = strings.TrimRight(msg, "\r\n")
	if msg == "" {
		return SyslogMessage{}, syslogErr("empty")
	}
	m := SyslogMessage{Format: SyslogRFC3164, Facility: 1, Severity: 5}
	rest := msg
	if msg[0] == '<' {
		pri, n, err := parsePRI(msg)
		if err != nil {
			return SyslogMessage{}, err
		}
		m.Facility, m.Severity = uint8(pri>>3), uint8(pri&7)
		rest = msg[n:]
		if len(rest) >= 2 && rest[0] >= '1' && rest[0] <= '9' && (rest[1] == ' ' || isDigit(rest[1])) {
			// A VERSION: RFC 5424. RFC 3164 cannot start with a digit
			// after PRI except in rsyslog's RFC 3339 variant, whose year
			// has four digits and a dash.
			if !isRFC3339Start(rest) {
				return parse5424(rest, m)
			}
		}
	}
	parse3164(rest, &m, now, loc)
	return m, nil
}

// parsePRI reads "<PRI>" at the start of s and returns PRI and its length.
func parsePRI(s string) (int, int, error) {
	end := strings.IndexByte(s, '>')
	if end < 2 || end > 4 {
		return 0, 0, syslogErr("PRI is not <0> to <191>")
	}
	pri := 0
	for i := 1; i < end; i++ {
		if !isDigit(s[i]) {
			return 0, 0, syslogErr("PRI is not <0> to <191>")
		}
		pri = pri*10 + int(s[i]-'0')
	}
	if pri > 191 {
		return 0, 0, syslogErr("PRI is not <0> to <191>")
	}
	return pri, end + 1, nil
}

func isRFC3339Start(s string) bool {
	return len(s) >= 5 && isDigits(s[:4]) && s[4] == '-'
}

// parse5424 parses what follows PRI: VERSION SP TIMESTAMP SP HOSTNAME SP
// APP-NAME SP PROCID SP MSGID SP STRUCTURED-DATA [SP MSG].
func parse5424(s string, m SyslogMessage) (SyslogMessage, error) {
	m.Format = SyslogRFC5424
	if !strings.HasPrefix(s, "1 ") {
		return SyslogMessage{}, syslogErr("unsupported VERSION (only 1 is defined)")
	}
	s = s[2:]
	var f [5]string
	names := [5]string{"TIMESTAMP", "HOSTNAME", "APP-NAME", "PROCID", "MSGID"}
	for i := range f {
		k := strings.IndexByte(s, ' ')
		if k < 0 {
			return SyslogMessage{}, syslogErr("header ends before STRUCTURED-DATA (at " + names[i] + ")")
		}
		f[i], s = s[:k], s[k+1:]
		if !printASCII(f[i]) || len(f[i]) > maxSyslogField {
			return SyslogMessage{}, syslogErr(names[i] + " is not 1 to 255 printable US-ASCII characters")
		}
	}
	if f[0] != "-" {
		t, err := time.Parse(time.RFC3339Nano, f[0])
		if err != nil {
			return SyslogMessage{}, syslogErr("TIMESTAMP is not RFC 3339")
		}
		m.Time = t
	}
	m.Hostname, m.AppName, m.ProcID, m.MsgID = nilValue(f[1]), nilValue(f[2]), nilValue(f[3]), nilValue(f[4])
	if s == "" {
		return SyslogMessage{}, syslogErr("STRUCTURED-DATA missing")
	}
	if s[0] == '-' {
		s = s[1:]
	} else {
		var err error
		if m.StructuredData, s, err = parseSD(s); err != nil {
			return SyslogMessage{}, err
		}
	}
	if s != "" {
		if s[0] != ' ' {
			return SyslogMessage{}, syslogErr("no space between STRUCTURED-DATA and MSG")
		}
		s = s[1:]
	}
	m.Message = strings.TrimPrefix(s, "\ufeff")
	return m, nil
}

// printASCII reports whether s is non-empty and all PRINTUSASCII (33-126).
func printASCII(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 33 || s[i] > 126 {
			return false
		}
	}
	return true
}

// parseSD parses one or more SD-ELEMENTs at the start of s and returns them
// and the rest of s.
func parseSD(s string) ([]SDElement, string, error) {
	var out []SDElement
	for s != "" && s[0] == '[' {
		s = s[1:]
		id, rest, ok := sdName(s)
		if !ok {
			return nil, "", syslogErr("bad SD-ID")
		}
		el := SDElement{ID: id}
		s = rest
		for {
			if s == "" {
				return nil, "", syslogErr("unterminated SD-ELEMENT")
			}
			if s[0] == ']' {
				s = s[1:]
				break
			}
			if s[0] != ' ' {
				return nil, "", syslogErr("bad SD-PARAM separator")
			}
			name, rest, ok := sdName(s[1:])
			if !ok || len(rest) < 2 || rest[0] != '=' || rest[1] != '"' {
				return nil, "", syslogErr("bad SD-PARAM")
			}
			value, rest, ok := sdValue(rest[2:])
			if !ok {
				return nil, "", syslogErr("unterminated SD-PARAM value")
			}
			el.Params = append(el.Params, SDParam{Name: name, Value: value})
			s = rest
		}
		out = append(out, el)
	}
	if out == nil {
		return nil, "", syslogErr("STRUCTURED-DATA is neither - nor [...]")
	}
	return out, s, nil
}

// sdName reads an SD-NAME: 1 to 32 PRINTUSASCII except '=', ' ', ']', '"'.
func sdName(s string) (string, string, bool) {
	i := 0
	for i < len(s) && i <= maxSDName {
		c := s[i]
		if c < 33 || c > 126 || c == '=' || c == ']' || c == '"' {
			break
		}
		i++
	}
	if i == 0 || i > maxSDName {
		return "", "", false
	}
	return s[:i], s[i:], true
}

// sdValue reads a PARAM-VALUE up to its closing quote, unescaping \", \\
// and \]; a backslash before any other character is kept (RFC 5424 §6.3.3).
func sdValue(s string) (string, string, bool) {
	esc := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			esc = true
			i++
		case '"':
			if !esc {
				return s[:i], s[i+1:], true
			}
			return sdUnescape(s[:i]), s[i+1:], true
		}
	}
	return "", "", false
}

func sdUnescape(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\' || s[i+1] == ']') {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// parse3164 fills m from what follows PRI in a BSD syslog message:
// TIMESTAMP SP HOSTNAME SP TAG[PID]: MSG, leniently.
func parse3164(s string, m *SyslogMessage, now time.Time, loc *time.Location) {
	if loc == nil {
		loc = time.UTC
	}
	switch {
	case len(s) >= 15 && isMonth(s[:3]) && s[3] == ' ':
		t, err := time.ParseInLocation(time.Stamp, s[:15], loc)
		if err != nil {
			m.Message = s
			return
		}
		m.Time = withLikelyYear(t, now.In(loc))
		s = s[15:]
		// Some senders add fractional seconds or a year; skip neither:
		// they are not in the RFC and would be taken for the hostname.
	case isRFC3339Start(s):
		k := strings.IndexByte(s, ' ')
		if k < 0 {
			k = len(s)
		}
		t, err := time.Parse(time.RFC3339Nano, s[:k])
		if err != nil {
			m.Message = s
			return
		}
		m.Time, s = t, s[k:]
	default:
		// No TIMESTAMP: RFC 3164 §4.3.2 makes all of it the message.
		m.Message = s
		return
	}
	if s == "" {
		return
	}
	if s[0] != ' ' {
		m.Message = s
		return
	}
	s = strings.TrimLeft(s, " ")
	// HOSTNAME, unless the next word is already the TAG: messages written
	// to a local socket (and forwarded unchanged by some relays) have none.
	k := strings.IndexByte(s, ' ')
	word := s
	if k >= 0 {
		word = s[:k]
	}
	if !isTag(word) {
		m.Hostname = word
		if k < 0 {
			return
		}
		s = s[k+1:]
		k = strings.IndexByte(s, ' ')
		word = s
		if k >= 0 {
			word = s[:k]
		}
	}
	if isTag(word) {
		tag := strings.TrimSuffix(word, ":")
		if b := strings.IndexByte(tag, '['); b >= 0 {
			if strings.HasSuffix(tag, "]") {
				m.ProcID = tag[b+1 : len(tag)-1]
			}
			tag = tag[:b]
		}
		m.AppName = tag
		if k < 0 {
			s = ""
		} else {
			s = s[k+1:]
		}
	}
	m.Message = s
}

// isTag reports whether w looks like "tag:", "tag[pid]:" or "tag[pid]",
// bounded to 64 bytes (RFC 3164 says 32; real tags run longer).
func isTag(w string) bool {
	if w == "" || len(w) > 64 {
		return false
	}
	if strings.HasSuffix(w, ":") {
		return len(w) > 1
	}
	b := strings.IndexByte(w, '[')
	return b > 0 && strings.HasSuffix(w, "]")
}

// withLikelyYear gives t (year 0, from an RFC 3164 stamp) the year that
// puts it nearest to now: at most about a month in the future (clock skew),
// otherwise in the past year.
func withLikelyYear(t, now time.Time) time.Time {
	y := now.Year()
	at := func(year int) time.Time {
		return time.Date(year, t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), t.Location())
	}
	c := at(y)
	if c.Sub(now) > 31*24*time.Hour {
		return at(y - 1)
	}
	if now.Sub(c) > 334*24*time.Hour {
		return at(y + 1)
	}
	return c
}
