package logparse

import "strings"

// NormaliseLevel maps a level word ("WARN", "err", "Fatal", "notice", ...)
// to the canonical lowercase names Detect uses: trace, debug, info,
// warning, error, critical. It returns "" for a word it does not know.
func NormaliseLevel(word string) string { return normaliseLevel(word) }

// DetectLevel returns the level Detect would find in line, normalised as
// NormaliseLevel does, without the rest
// of Detect's work: JSON lines are not decoded but scanned for a top-level
// looking "level" (or "severity", "lvl", ...) key, and logfmt lines for
// such a key. It is meant for receivers that keep the line whole and only
// want its level, at a fraction of Detect's cost on JSON and logfmt. It
// returns "" when no level is found, and never panics.
func DetectLevel(line string) string {
	s := strings.TrimLeft(line, " \t")
	if s == "" {
		return ""
	}
	switch s[0] {
	case '{':
		return jsonLevel(s)
	case '<':
		// Detect keeps syslog's own severity words (notice, emergency).
		return normaliseLevel(Detect(s).Level)
	}
	if isKeyStart(s[0]) && strings.IndexByte(s, '=') > 0 {
		if lv, ok := logfmtLevel(s); ok {
			return lv
		}
	}
	if h, ok := parseRFC3164(s, Header{}); ok {
		return h.Level
	}
	if _, rest, ok := parseTimestampPrefix(s); ok {
		lv, _ := levelPrefix(rest, false)
		return lv
	}
	lv, _ := levelPrefix(strings.TrimRight(s, "\r\n"), true)
	return lv
}

// jsonLevel finds "key": "value" for the first of levelKeys present in a
// JSON object's text. It does not check that the key is at the top level.
func jsonLevel(s string) string {
	for _, k := range levelKeys {
		for from := 0; from < len(s); {
			i := strings.Index(s[from:], k)
			if i < 0 {
				break
			}
			i += from
			from = i + len(k)
			if i == 0 || s[i-1] != '"' || from >= len(s) || s[from] != '"' {
				continue
			}
			v := strings.TrimLeft(s[from+1:], " \t")
			if v == "" || v[0] != ':' {
				continue
			}
			v = strings.TrimLeft(v[1:], " \t")
			if v == "" || v[0] != '"' {
				return ""
			}
			end := strings.IndexByte(v[1:], '"')
			if end < 0 {
				return ""
			}
			return normaliseLevel(v[1 : end+1])
		}
	}
	return ""
}

// logfmtLevel finds key=value (value optionally quoted) for the first of
// levelKeys present as a whole key in a logfmt line.
func logfmtLevel(s string) (string, bool) {
	for _, k := range levelKeys {
		for from := 0; from < len(s); {
			i := strings.Index(s[from:], k)
			if i < 0 {
				break
			}
			i += from
			from = i + len(k)
			if i > 0 && s[i-1] != ' ' || from >= len(s) || s[from] != '=' {
				continue
			}
			v := s[from+1:]
			if v != "" && v[0] == '"' {
				v = v[1:]
				if end := strings.IndexByte(v, '"'); end >= 0 {
					v = v[:end]
				}
			} else if end := strings.IndexAny(v, " \t\r\n"); end >= 0 {
				v = v[:end]
			}
			return normaliseLevel(v), true
		}
	}
	return "", false
}
