package osprey

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// A Sample's value may be NaN (Prometheus' staleness marker) or infinite, and
// a JSON number can be neither: encoding/json refuses such a float, so one
// stale sample would make a whole batch unencodable (on the bus, in the API).
// Sample therefore encodes a non-finite value as one of the strings "NaN",
// "+Inf" and "-Inf" (Prometheus' own spelling); finite values stay numbers,
// formatted byte for byte as encoding/json formats a float64, so an encoding
// made before these methods existed decodes unchanged.

// MarshalJSON encodes s as {"t":<TimestampMs>,"v":<Value>}, with a non-finite
// Value as the string "NaN", "+Inf" or "-Inf".
func (s Sample) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 48)
	b = append(b, `{"t":`...)
	b = strconv.AppendInt(b, s.TimestampMs, 10)
	b = append(b, `,"v":`...)
	b = appendSampleValue(b, s.Value)
	return append(b, '}'), nil
}

// UnmarshalJSON decodes what MarshalJSON encodes, and any JSON object that
// encoding/json would decode into Sample's fields (keys matched without regard
// to case, unknown keys ignored, a missing or null field left as it was). The
// value is a JSON number or one of the strings "NaN", "+Inf" and "-Inf".
func (s *Sample) UnmarshalJSON(data []byte) error {
	w := sampleWire{T: s.TimestampMs, V: sampleValue(s.Value)}
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	s.TimestampMs, s.Value = w.T, float64(w.V)
	return nil
}

// sampleWire is Sample's JSON shape with a value that also decodes from the
// non-finite strings.
type sampleWire struct {
	T int64       `json:"t"`
	V sampleValue `json:"v"`
}

// sampleValue is a float64 that decodes from a JSON number or from "NaN",
// "+Inf" or "-Inf".
type sampleValue float64

// UnmarshalJSON implements json.Unmarshaler.
func (v *sampleValue) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case "null":
		return nil // as for a plain float64: leave the value as it was
	case `"NaN"`:
		*v = sampleValue(math.NaN())
		return nil
	case `"+Inf"`:
		*v = sampleValue(math.Inf(1))
		return nil
	case `"-Inf"`:
		*v = sampleValue(math.Inf(-1))
		return nil
	}
	if len(b) == 0 || (b[0] != '-' && (b[0] < '0' || b[0] > '9')) {
		return fmt.Errorf("sample value %s: want a number, \"NaN\", \"+Inf\" or \"-Inf\"", b)
	}
	// encoding/json has validated b as a JSON value, so b is a number here;
	// ParseFloat fails only when it is out of float64's range.
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("sample value %s: %w", b, err)
	}
	*v = sampleValue(f)
	return nil
}

// appendSampleValue appends f as encoding/json encodes a float64 when f is
// finite (AppendJSONFloat), and as a quoted "NaN", "+Inf" or "-Inf"
// otherwise.
func appendSampleValue(b []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(b, `"NaN"`...)
	case math.IsInf(f, 1):
		return append(b, `"+Inf"`...)
	case math.IsInf(f, -1):
		return append(b, `"-Inf"`...)
	}
	return AppendJSONFloat(b, f)
}

// AppendJSONFloat appends a finite f as encoding/json writes a float64,
// the bytes of json.Marshal: like ES6, %f between 1e-6 and 1e21, %e
// outside. Writers of JSON by hand on hot paths (the stores) use it.
func AppendJSONFloat(b []byte, f float64) []byte {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// Clean up e-09 to e-9, as encoding/json does.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}
