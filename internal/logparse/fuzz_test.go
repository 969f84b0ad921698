package logparse

import (
	"strings"
	"testing"
)

func FuzzDetect(f *testing.F) {
	for _, s := range []string{
		`{"msg":"x","level":"info"}`, `level=info msg="a b"`, `<34>1 2003-10-11T22:14:15.003Z h a - - [x y="]"] m`,
		`<13>Oct 11 22:14:15 host tag: m`, `2024-05-01T10:00:00Z [WARN] m`, `1714557600123 m`, "E0102 x", "[", "<", "{",
		"\xff\xfe", "Jan 1 00:00:00", `a="unterminated`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		h := Detect(line)
		if h.Layout == LayoutPlain && h.Level == "" && h.Message != strings.TrimRight(line, "\r\n") {
			t.Fatalf("plain line lost text: %q -> %q", line, h.Message)
		}
	})
}

func FuzzFormat(f *testing.F) {
	f.Add("<Date> <Time> <Level> <Component>: <Content>", "2024-01-01 10:00:00 INFO a.b: hello")
	f.Add(`<Month> <Date> <Time> <Level> <Component>(\[<PID>\])?: <Content>`, "Jun 14 15:16:01 combo sshd[1]: x")
	f.Add(`\[<Time>\] \[<Level>\] <Content>`, "[x] [y] z")
	f.Add("(<A>)? (<B>)? <C>", "  ")
	f.Fuzz(func(t *testing.T, format, line string) {
		if len(format) > 256 || len(line) > 4096 {
			return
		}
		fm, err := Compile(format)
		if err != nil {
			return
		}
		vals, ok := fm.Parse(line, nil)
		if !ok {
			return
		}
		if len(vals) != len(fm.Fields()) {
			t.Fatalf("%d values for %d fields", len(vals), len(fm.Fields()))
		}
		for _, v := range vals {
			if !strings.Contains(line, v) {
				t.Fatalf("value %q is not part of the line %q", v, line)
			}
		}
	})
}
