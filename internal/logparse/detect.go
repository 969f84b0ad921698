package logparse

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// Layout names the header layout a line was recognised as.
type Layout uint8

// Layouts that Detect recognises.
const (
	LayoutPlain     Layout = iota // no header recognised: the whole line is the message
	LayoutJSON                    // a JSON object per line
	LayoutLogfmt                  // key=value pairs with a msg or level key
	LayoutRFC5424                 // <PRI>1 TIMESTAMP HOST APP PROCID MSGID SD MSG
	LayoutRFC3164                 // [<PRI>]Mmm dd hh:mm:ss HOST TAG[PID]: MSG
	LayoutTimestamp               // an ISO-8601 or epoch timestamp, then the message
	LayoutFormat                  // a user Format
)

var layoutNames = [...]string{"plain", "json", "logfmt", "rfc5424", "rfc3164", "timestamp", "format"}

// String returns the layout's name.
func (l Layout) String() string {
	if int(l) < len(layoutNames) {
		return layoutNames[l]
	}
	return "layout(" + strconv.Itoa(int(l)) + ")"
}

// Header is what header parsing found in a line. String fields are
// substrings of the line (or of the decoded JSON), so a Header keeps the line
// alive.
type Header struct {
	Layout Layout
	// Time is zero when the line carried no recognisable time.
	Time time.Time
	// Level is the lowercase level word ("info", "warn", "error", ...) or "".
	Level string
	// Host and App are filled from syslog headers; Component from a
	// "component:" or logger field.
	Host, App, Component string
	// Message is the text to mine: the line without its header.
	Message string
	// Attributes holds the other fields of JSON and logfmt lines.
	Attributes map[string]string
}

// Detect recognises the common log layouts when no format is configured:
// JSON objects, logfmt, RFC 5424 and RFC 3164 syslog, and lines that start
// with an ISO-8601 or epoch timestamp, optionally followed by a level word
// ("INFO", "[error]", "W"). Anything else is LayoutPlain with the whole line as
// the message. Detect never fails and never panics.
func Detect(line string) Header {
	line = strings.TrimRight(line, "\r\n")
	s := strings.TrimLeft(line, " \t")
	if s == "" {
		return Header{Message: line}
	}
	switch {
	case s[0] == '{':
		if h, ok := parseJSON(s); ok {
			return h
		}
	case s[0] == '<':
		if h, ok := parseSyslog(s); ok {
			return h
		}
	}
	if h, ok := parseRFC3164(s, Header{Layout: LayoutRFC3164}); ok {
		return h
	}
	if h, ok := parseLogfmt(s); ok {
		return h
	}
	if t, rest, ok := parseTimestampPrefix(s); ok {
		h := Header{Layout: LayoutTimestamp, Time: t}
		h.Level, h.Message = levelPrefix(rest, false)
		if h.Level == "" {
			h.Level, h.Message = levelAfterIDs(rest)
		} else {
			h.Message = stripThread(h.Message)
		}
		return h
	}
	h := Header{Layout: LayoutPlain}
	h.Level, h.Message = levelPrefix(s, true)
	if h.Level == "" {
		h.Message = line
	}
	return h
}

// messageKeys, levelKeys, timeKeys and componentKeys are the field names
// structured loggers use (zap, logrus, slog, bunyan, pino, ECS, Docker).
var (
	messageKeys   = []string{"msg", "message", "MESSAGE", "log", "@message", "event", "text"}
	levelKeys     = []string{"level", "lvl", "severity", "levelname", "log.level", "loglevel", "SeverityText"}
	timeKeys      = []string{"time", "ts", "timestamp", "@timestamp", "t", "datetime", "date"}
	componentKeys = []string{"logger", "component", "name", "module", "caller", "source", "logger_name"}
)

func parseJSON(s string) (Header, bool) {
	var obj map[string]any
	if err := json.Unmarshal([]byte(s), &obj); err != nil {
		return Header{}, false
	}
	h := Header{Layout: LayoutJSON, Attributes: map[string]string{}}
	for k, v := range obj {
		h.Attributes[k] = jsonString(v)
	}
	take := func(keys []string) string {
		for _, k := range keys {
			if v, ok := h.Attributes[k]; ok {
				delete(h.Attributes, k)
				return v
			}
		}
		return ""
	}
	h.Message = take(messageKeys)
	h.Level = normaliseLevel(take(levelKeys))
	if ts := take(timeKeys); ts != "" {
		if t, ok := parseTimeValue(ts); ok {
			h.Time = t
		}
	}
	h.Component = take(componentKeys)
	return h, true
}

func jsonString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case nil:
		return ""
	}
	b, _ := json.Marshal(v) // maps and slices of decoded JSON always marshal
	return string(b)
}

// parseLogfmt accepts a line of key=value pairs (values may be quoted) that
// has a msg/message or level key.
func parseLogfmt(s string) (Header, bool) {
	if !isKeyStart(s[0]) || strings.IndexByte(s, '=') < 0 {
		return Header{}, false
	}
	attrs := map[string]string{}
	for i := 0; i < len(s); {
		for i < len(s) && s[i] == ' ' {
			i++
		}
		if i == len(s) {
			break
		}
		k := i
		for i < len(s) && s[i] != '=' && s[i] != ' ' {
			i++
		}
		if i == len(s) || s[i] != '=' || i == k {
			return Header{}, false
		}
		key := s[k:i]
		i++
		var val string
		if i < len(s) && s[i] == '"' {
			j := i + 1
			for j < len(s) && s[j] != '"' {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(s) {
				return Header{}, false
			}
			if u, err := strconv.Unquote(s[i : j+1]); err == nil {
				val = u
			} else {
				val = s[i+1 : j]
			}
			i = j + 1
		} else {
			j := i
			for j < len(s) && s[j] != ' ' {
				j++
			}
			val = s[i:j]
			i = j
		}
		attrs[key] = val
	}
	h := Header{Layout: LayoutLogfmt, Attributes: attrs}
	found := false
	for _, k := range messageKeys {
		if v, ok := attrs[k]; ok {
			h.Message, found = v, true
			delete(attrs, k)
			break
		}
	}
	for _, k := range levelKeys {
		if v, ok := attrs[k]; ok {
			h.Level, found = normaliseLevel(v), true
			delete(attrs, k)
			break
		}
	}
	if !found {
		return Header{}, false
	}
	for _, k := range timeKeys {
		if v, ok := attrs[k]; ok {
			if t, ok := parseTimeValue(v); ok {
				h.Time = t
				delete(attrs, k)
			}
			break
		}
	}
	for _, k := range componentKeys {
		if v, ok := attrs[k]; ok {
			h.Component = v
			delete(attrs, k)
			break
		}
	}
	return h, true
}

func isKeyStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '@'
}

// parseSyslog handles lines that start with <PRI>.
func parseSyslog(s string) (Header, bool) {
	end := strings.IndexByte(s, '>')
	if end < 2 || end > 4 {
		return Header{}, false
	}
	pri, err := strconv.Atoi(s[1:end])
	if err != nil || pri < 0 || pri > 191 {
		return Header{}, false
	}
	level := syslogLevels[pri&7]
	rest := s[end+1:]
	if strings.HasPrefix(rest, "1 ") {
		return parseRFC5424(rest[2:], level)
	}
	h, ok := parseRFC3164(rest, Header{Layout: LayoutRFC3164, Level: level})
	if !ok {
		h = Header{Layout: LayoutRFC3164, Level: level, Message: rest}
	}
	return h, true
}

var syslogLevels = [8]string{"emergency", "alert", "critical", "error", "warning", "notice", "info", "debug"}

// parseRFC5424 parses what follows "<PRI>1 ".
func parseRFC5424(s, level string) (Header, bool) {
	h := Header{Layout: LayoutRFC5424, Level: level}
	var f [5]string
	for i := range f {
		k := strings.IndexByte(s, ' ')
		if k < 0 {
			return Header{}, false
		}
		f[i], s = s[:k], s[k+1:]
	}
	if f[0] != "-" {
		t, err := time.Parse(time.RFC3339Nano, f[0])
		if err != nil {
			return Header{}, false
		}
		h.Time = t
	}
	h.Host, h.App = nilValue(f[1]), nilValue(f[2])
	// Structured data: "-" or one or more [id k="v"] elements.
	switch {
	case strings.HasPrefix(s, "-"):
		s = s[1:]
	case strings.HasPrefix(s, "["):
		i, inQuote := 0, false
		for i < len(s) {
			c := s[i]
			switch {
			case c == '\\' && inQuote:
				i++
			case c == '"':
				inQuote = !inQuote
			case c == ']' && !inQuote && (i+1 == len(s) || s[i+1] != '['):
				i++
				goto done
			}
			i++
		}
	done:
		if i > len(s) {
			i = len(s)
		}
		s = s[i:]
	}
	s = strings.TrimPrefix(s, " ")
	s = strings.TrimPrefix(s, "\ufeff") // BOM before a UTF-8 message
	h.Message = s
	return h, true
}

func nilValue(s string) string {
	if s == "-" {
		return ""
	}
	return s
}

// parseRFC3164 parses "Mmm dd hh:mm:ss host tag[pid]: msg" (and the same
// without the tag). The year is unknown, so Time has year 0 and callers
// that know the receive time may fix it.
func parseRFC3164(s string, h Header) (Header, bool) {
	if len(s) < 16 || !isMonth(s[:3]) || s[3] != ' ' {
		return Header{}, false
	}
	t, err := time.Parse(time.Stamp, s[:15])
	if err != nil {
		return Header{}, false
	}
	h.Time = t
	rest := strings.TrimLeft(s[15:], " ")
	k := strings.IndexByte(rest, ' ')
	if k < 0 {
		h.Message = rest
		return h, true
	}
	h.Host, rest = rest[:k], rest[k+1:]
	// TAG is up to 32 alphanumerics (many implementations allow more),
	// then [pid] and ":".
	if c := strings.Index(rest, ": "); c > 0 && c <= 64 && !strings.ContainsAny(rest[:c], " ") {
		tag := rest[:c]
		if b := strings.IndexByte(tag, '['); b > 0 {
			tag = tag[:b]
		}
		h.App, rest = tag, rest[c+2:]
	}
	h.Message = rest
	if level, msg := levelPrefix(rest, false); level != "" {
		h.Level, h.Message = level, msg
	}
	return h, true
}

func isMonth(s string) bool {
	return len(s) == 3 && strings.Contains(months, s) && strings.Index(months, s)%3 == 0
}

const months = "JanFebMarAprMayJunJulAugSepOctNovDec"

// parseTimestampPrefix recognises an ISO-8601 date-time ("2006-01-02T15:04:05Z",
// "2006-01-02 15:04:05,000", "2006/01/02 15:04:05"), optionally in brackets,
// or a 10- or 13-digit epoch, at the start of s.
func parseTimestampPrefix(s string) (time.Time, string, bool) {
	bracket := false
	if s[0] == '[' {
		bracket = true
		s = s[1:]
	}
	end := 0
	var t time.Time
	switch {
	case len(s) >= 19 && isDigits(s[:4]) && (s[4] == '-' || s[4] == '/') && isDigits(s[5:7]) && s[7] == s[4] &&
		isDigits(s[8:10]) && (s[10] == 'T' || s[10] == ' ') && isDigits(s[11:13]) && s[13] == ':' && isDigits(s[14:16]) && s[16] == ':' && isDigits(s[17:19]):
		end = 19
		if end+1 < len(s) && (s[end] == '.' || s[end] == ',') && isDigit(s[end+1]) {
			end++
			for end < len(s) && isDigit(s[end]) {
				end++
			}
		}
		zone := end
		if end < len(s) && s[end] == 'Z' {
			end++
		} else if end+6 <= len(s) && (s[end] == '+' || s[end] == '-') && isDigits(s[end+1:end+3]) && s[end+3] == ':' {
			end += 6
		}
		norm := []byte(s[:end])
		norm[4], norm[7], norm[10] = '-', '-', 'T'
		if zone > 19 {
			norm[19] = '.'
		}
		layout := "2006-01-02T15:04:05.999999999Z07:00"
		if zone == end {
			layout = "2006-01-02T15:04:05.999999999"
		}
		var err error
		if t, err = time.Parse(layout, string(norm)); err != nil {
			return time.Time{}, "", false
		}
	case len(s) >= 10 && isDigits(s[:10]) && (len(s) == 10 || !isDigit(s[10])):
		sec, _ := strconv.ParseInt(s[:10], 10, 64)
		t, end = time.Unix(sec, 0).UTC(), 10
		if end < len(s) && s[end] == '.' {
			end++
			for end < len(s) && isDigit(s[end]) {
				end++
			}
		}
	case len(s) >= 13 && isDigits(s[:13]) && (len(s) == 13 || !isDigit(s[13])):
		ms, _ := strconv.ParseInt(s[:13], 10, 64)
		t, end = time.UnixMilli(ms).UTC(), 13
	default:
		var ok bool
		if t, end, ok = compactTimestamp(s); !ok {
			return time.Time{}, "", false
		}
	}
	rest := s[end:]
	if bracket {
		if !strings.HasPrefix(rest, "]") {
			return time.Time{}, "", false
		}
		rest = rest[1:]
	}
	if rest != "" && rest[0] != ' ' && rest[0] != '\t' && rest[0] != ',' && rest[0] != '|' {
		return time.Time{}, "", false
	}
	return t, strings.TrimLeft(rest, " \t,|"), true
}

// compactTimestamp recognises the shorter date-times that Java, Hadoop
// and mobile loggers write at the start of a line and returns the time and
// the length of the prefix:
//
//	"081109 203615"            yyMMdd HHmmss (Hadoop HDFS)
//	"17/06/09 20:10:40"        yy/MM/dd HH:mm:ss (log4j's %d{yy/MM/dd})
//	"20171223-22:15:29:606"    yyyyMMdd-HH:mm:ss with :SSS or .SSS
//	"03-17 16:13:38.811"       MM-dd HH:mm:ss.SSS (Android logcat; year 0)
//	"Sun Dec 04 04:47:44 2005" ctime (Apache error log, in brackets)
//
// Every field is range-checked, so a line that merely starts with digits
// stays plain. Two-digit years are 20yy; a missing year is year 0, as for
// RFC 3164, for callers that know the receive time to fix.
func compactTimestamp(s string) (time.Time, int, bool) {
	num := func(a, b int) int {
		n, _ := strconv.Atoi(s[a:b])
		return n
	}
	var year, month, day, hh, mm, ss, end int
	switch {
	case len(s) >= 13 && isDigits(s[:6]) && s[6] == ' ' && isDigits(s[7:13]) && (len(s) == 13 || !isDigit(s[13])):
		year, month, day, hh, mm, ss, end = 2000+num(0, 2), num(2, 4), num(4, 6), num(7, 9), num(9, 11), num(11, 13), 13
	case len(s) >= 17 && isDigits(s[:2]) && s[2] == '/' && isDigits(s[3:5]) && s[5] == '/' && isDigits(s[6:8]) && s[8] == ' ' &&
		isClock(s[9:17]):
		year, month, day, hh, mm, ss, end = 2000+num(0, 2), num(3, 5), num(6, 8), num(9, 11), num(12, 14), num(15, 17), 17
	case len(s) >= 17 && isDigits(s[:8]) && s[8] == '-' && isClock(s[9:17]):
		year, month, day, hh, mm, ss, end = num(0, 4), num(4, 6), num(6, 8), num(9, 11), num(12, 14), num(15, 17), 17
	case len(s) >= 14 && isDigits(s[:2]) && s[2] == '-' && isDigits(s[3:5]) && s[5] == ' ' && isClock(s[6:14]):
		month, day, hh, mm, ss, end = num(0, 2), num(3, 5), num(6, 8), num(9, 11), num(12, 14), 14
	case len(s) >= 24 && isWeekday(s[:3]) && s[3] == ' ' && isMonth(s[4:7]):
		t, err := time.Parse(time.ANSIC, s[:24])
		return t, 24, err == nil
	default:
		return time.Time{}, 0, false
	}
	if month < 1 || month > 12 || day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60 {
		return time.Time{}, 0, false
	}
	nanos := 0
	if end+1 < len(s) && (s[end] == '.' || s[end] == ',' || s[end] == ':') && isDigit(s[end+1]) {
		digits := 0
		for end++; end < len(s) && isDigit(s[end]); end++ {
			if digits < 9 {
				nanos = nanos*10 + int(s[end]-'0')
				digits++
			}
		}
		for ; digits < 9; digits++ {
			nanos *= 10
		}
	}
	return time.Date(year, time.Month(month), day, hh, mm, ss, nanos, time.UTC), end, true
}

// isClock reports whether s is "HH:mm:ss".
func isClock(s string) bool {
	return len(s) == 8 && isDigits(s[:2]) && s[2] == ':' && isDigits(s[3:5]) && s[5] == ':' && isDigits(s[6:8])
}

func isWeekday(s string) bool {
	const days = "MonTueWedThuFriSatSun"
	i := strings.Index(days, s)
	return len(s) == 3 && i >= 0 && i%3 == 0
}

// parseTimeValue reads a time from a structured field: RFC 3339, or epoch
// seconds or milliseconds (possibly fractional).
func parseTimeValue(v string) (time.Time, bool) {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, true
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil && f > 0 {
		if f > 1e12 {
			return time.UnixMilli(int64(f)).UTC(), true
		}
		sec := int64(f)
		return time.Unix(sec, int64((f-float64(sec))*1e9)).UTC(), true
	}
	if t, _, ok := parseTimestampPrefix(v); ok {
		return t, true
	}
	return time.Time{}, false
}

// levelPrefix recognises a level word at the start of s: "INFO", "[WARN]",
// "<error>", "(debug)", or glog's one letter and date ("E0102"),
// followed by a space, ":", "-" or "|". It returns the normalised level and
// the rest of s, or "" and s. With strict set (no timestamp before it, so
// the word may just start a sentence) a bare word must be upper case or be
// followed by ":".
func levelPrefix(s string, strict bool) (string, string) {
	t := s
	var closer byte
	if t != "" {
		switch t[0] {
		case '[':
			closer = ']'
		case '<':
			closer = '>'
		case '(':
			closer = ')'
		}
		if closer != 0 {
			t = t[1:]
		}
	}
	i := 0
	for i < len(t) && (t[i] >= 'a' && t[i] <= 'z' || t[i] >= 'A' && t[i] <= 'Z') {
		i++
	}
	level := normaliseLevel(t[:i])
	if level == "" {
		return "", s
	}
	if i == 1 {
		if closer == 0 && len(t) > 5 && isDigits(t[1:5]) {
			return level, strings.TrimLeft(t[5:], " ")
		}
		if closer == 0 {
			return "", s
		}
	}
	rest := t[i:]
	if closer != 0 {
		if rest == "" || rest[0] != closer {
			return "", s
		}
		rest = rest[1:]
	}
	if rest != "" && rest[0] != ' ' && rest[0] != ':' && rest[0] != '-' && rest[0] != '\t' && rest[0] != '|' {
		return "", s
	}
	if strict && closer == 0 && !strings.HasPrefix(rest, ":") && strings.ToUpper(t[:i]) != t[:i] {
		return "", s
	}
	return level, strings.TrimLeft(rest, " :-\t|")
}

// levelAfterIDs recognises a level that follows one or two numeric process
// or thread ids after the time stamp ("148 INFO dfs.DataNode: ...",
// "1702  2395 D WindowManager: ..."); there a one-letter level counts too.
// It returns "" and s when there is none.
func levelAfterIDs(s string) (string, string) {
	r := s
	for ids := 0; ids < 2; ids++ {
		k := 0
		for k < len(r) && isDigit(r[k]) {
			k++
		}
		if k == 0 || k == len(r) || r[k] != ' ' {
			break
		}
		r = strings.TrimLeft(r[k:], " ")
		if level, msg := levelPrefix(r, false); level != "" {
			return level, msg
		}
		if len(r) > 2 && r[1] == ' ' && strings.IndexByte("VDIWEF", r[0]) >= 0 {
			return normaliseLevel(r[:1]), strings.TrimLeft(r[2:], " ")
		}
	}
	return "", s
}

// stripThread drops the thread name log4j-style layouts ("%d %p [%t] %c: %m",
// Hadoop's and many Java servers') put between the level and the logger:
// "[IPC Server handler 5 on 62270] org.apache.hadoop.ipc.Server: ..." is
// mined as "org.apache.hadoop.ipc.Server: ...". It strips only when a dotted
// logger name ending in ':' follows, so "[DB] connection lost" keeps its tag.
func stripThread(s string) string {
	if len(s) < 4 || s[0] != '[' {
		return s
	}
	j := strings.Index(s, "] ")
	if j < 0 {
		return s
	}
	next := s[j+2:]
	tok := next
	if k := strings.IndexByte(next, ' '); k >= 0 {
		tok = next[:k]
	}
	if len(tok) < 4 || tok[len(tok)-1] != ':' || !strings.Contains(tok, ".") {
		return s
	}
	return next
}

// normaliseLevel maps level words to lowercase canonical names, or "".
func normaliseLevel(w string) string {
	switch strings.ToLower(w) {
	case "trace", "finest", "finer", "verbose", "v":
		return "trace"
	case "debug", "dbug", "fine", "d":
		return "debug"
	case "info", "information", "informational", "notice", "i":
		return "info"
	case "warn", "warning", "w":
		return "warning"
	case "error", "eror", "err", "severe", "e":
		return "error"
	case "crit", "critical", "fatal", "panic", "emerg", "emergency", "alert", "f", "c":
		return "critical"
	}
	return ""
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}
