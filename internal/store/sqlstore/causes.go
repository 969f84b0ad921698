package sqlstore

import (
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/osprey-aiops/osprey"
)

// appendCauses appends causes as the JSON text json.Marshal writes for
// them, byte for byte, without its reflection: an incident's causes are
// encoded whenever its ranking changed, which the correlate stage's
// concurrent ranking does on most batches that add members, and with
// their explanations and evidence ids they run to kilobytes. It refuses
// a score that is NaN or infinite, as json.Marshal does. causeJSONFields
// (tested) lists the fields it writes; a field added to osprey.Cause must
// be added to both.
func appendCauses(b []byte, causes []osprey.Cause) ([]byte, error) {
	if causes == nil {
		return append(b, "null"...), nil
	}
	b = append(b, '[')
	for i := range causes {
		c := &causes[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"kind":`...)
		b = appendMarshalString(b, string(c.Kind))
		b = append(b, `,"name":`...)
		b = appendMarshalString(b, c.Name)
		b = append(b, `,"score":`...)
		var err error
		if b, err = appendMarshalFloat(b, c.Score); err != nil {
			return nil, fmt.Errorf("cause %s: %w", c.Name, err)
		}
		b = append(b, `,"explanation":`...)
		b = appendMarshalString(b, c.Explanation)
		if len(c.EvidenceIDs) > 0 {
			b = append(b, `,"evidenceIds":[`...)
			for j, id := range c.EvidenceIDs {
				if j > 0 {
					b = append(b, ',')
				}
				b = appendMarshalString(b, id)
			}
			b = append(b, ']')
		}
		b = append(b, '}')
	}
	return append(b, ']'), nil
}

// causeJSONFields are the osprey.Cause fields appendCauses writes.
var causeJSONFields = []string{"Kind", "Name", "Score", "Explanation", "EvidenceIDs"}

// appendMarshalFloat appends f as json.Marshal writes a float64
// (osprey.AppendJSONFloat), and fails on a value it cannot write.
func appendMarshalFloat(b []byte, f float64) ([]byte, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return nil, fmt.Errorf("json: unsupported value: %s", strconv.FormatFloat(f, 'g', -1, 64))
	}
	return osprey.AppendJSONFloat(b, f), nil
}

// appendMarshalString appends s as json.Marshal writes a string: with <, >
// and & escaped for HTML, as are U+2028 and U+2029, and invalid UTF-8 as
// U+FFFD.
func appendMarshalString(b []byte, s string) []byte { return appendString(b, s, true) }

// appendString appends s as a JSON string, invalid UTF-8 as U+FFFD, as
// encoding/json does; with html, also <, >, &, U+2028 and U+2029 escaped,
// as json.Marshal does.
func appendString(b []byte, s string, html bool) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && (!html || c != '<' && c != '>' && c != '&') {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if html && (r == '\u2028' || r == '\u2029') {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
