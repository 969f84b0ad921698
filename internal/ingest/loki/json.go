package loki

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/osprey-aiops/osprey"
)

// jsonPush is the JSON push body:
//
//	{"streams": [{"stream": {"app": "x"}, "values": [["<unix ns>", "line", {"trace_id": "..."}]]}]}
//
// Unknown fields are ignored, as Loki ignores them.
type jsonPush struct {
	Streams []jsonStream `json:"streams"`
}

type jsonStream struct {
	Stream osprey.Labels `json:"stream"`
	Values []jsonEntry   `json:"values"`
}

// jsonEntry is one ["<unix ns>", "line"] or ["<unix ns>", "line", {metadata}]
// array. It decodes itself: encoding/json has checked the bytes are valid
// JSON before it calls UnmarshalJSON, so a small scanner suffices, and it is
// several times faster than decoding each entry into []any.
type jsonEntry struct {
	ts   string
	line string
	meta []metaPair
}

var errEntryShape = errors.New(`want ["<unix epoch in nanoseconds>", "<log line>"] with an optional object of structured metadata`)

// UnmarshalJSON implements json.Unmarshaler.
func (e *jsonEntry) UnmarshalJSON(b []byte) error {
	s := jsonScanner{b: b}
	if !s.eat('[') {
		return errEntryShape
	}
	var err error
	if e.ts, err = s.str(); err != nil {
		return err
	}
	if !s.eat(',') {
		return errEntryShape
	}
	if e.line, err = s.str(); err != nil {
		return err
	}
	if s.eat(']') {
		return nil
	}
	if !s.eat(',') {
		return errEntryShape
	}
	// The metadata object is the last element: everything up to the
	// closing bracket.
	rest := bytes.TrimSpace(b[s.i:])
	if len(rest) < 2 || rest[0] != '{' || rest[len(rest)-1] != ']' {
		return errEntryShape
	}
	var meta map[string]string
	if err := json.Unmarshal(bytes.TrimSpace(rest[:len(rest)-1]), &meta); err != nil {
		return fmt.Errorf("structured metadata: want an object of strings: %w", err)
	}
	if len(meta) > 0 {
		e.meta = make([]metaPair, 0, len(meta))
		for k, v := range meta {
			e.meta = append(e.meta, metaPair{name: k, value: v})
		}
	}
	return nil
}

// jsonScanner reads the few tokens of an entry from valid JSON.
type jsonScanner struct {
	b []byte
	i int
}

func (s *jsonScanner) space() {
	for s.i < len(s.b) && (s.b[s.i] == ' ' || s.b[s.i] == '\t' || s.b[s.i] == '\n' || s.b[s.i] == '\r') {
		s.i++
	}
}

func (s *jsonScanner) eat(c byte) bool {
	s.space()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// str reads a JSON string; only strings with escapes go through
// encoding/json.
func (s *jsonScanner) str() (string, error) {
	s.space()
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return "", errEntryShape
	}
	start := s.i
	escaped := false
	for j := start + 1; j < len(s.b); j++ {
		switch s.b[j] {
		case '\\':
			escaped = true
			j++
		case '"':
			s.i = j + 1
			if !escaped {
				return string(s.b[start+1 : j]), nil
			}
			var v string
			if err := json.Unmarshal(s.b[start:j+1], &v); err != nil {
				return "", err
			}
			return v, nil
		}
	}
	return "", errEntryShape
}

// decodeJSON decodes a JSON push body into b. An error means the body is not
// a push request at all; it is then refused whole, as Loki refuses it.
func decodeJSON(body []byte, b *batch) error {
	var req jsonPush
	if err := json.Unmarshal(body, &req); err != nil {
		return err
	}
	for i := range req.Streams {
		js := &req.Streams[i]
		st := b.stream(i, js.Stream, nil)
		if st.bad {
			b.skip(st, len(js.Values))
			continue
		}
		for j := range js.Values {
			v := &js.Values[j]
			ns, err := parseUnixNanos(v.ts)
			b.entry(st, j, ns, err, v.line, v.meta)
		}
	}
	return nil
}

// parseUnixNanos reads Loki's JSON timestamp: Unix nanoseconds as a decimal
// string.
func parseUnixNanos(s string) (int64, error) {
	ns, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s is not Unix nanoseconds", quoteForError(s, 32))
	}
	if ns < 0 {
		return 0, errTimeRange
	}
	return ns, nil
}
