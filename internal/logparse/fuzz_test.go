package logparse

import (
	"slices"
	"strings"
	"testing"
)

func FuzzDetect(f *testing.F) {
	for _, s := range []string{
		`{"msg":"x","level":"info"}`, `level=info msg="a b"`, `<34>1 2003-10-11T22:14:15.003Z h a - - [x y="]"] m`,
		`<13>Oct 11 22:14:15 host tag: m`, `2024-05-01T10:00:00Z [WARN] m`, `1714557600123 m`, "E0102 x", "[", "<", "{",
		"\xff\xfe", "Jan 1 00:00:00", `a="unterminated`, "081109 203615 148 INFO a: b", "17/06/09 20:10:40 INFO x",
		"20171223-22:15:29:606|a", "03-17 16:13:38.811  1702  2395 D W: x", "[Sun Dec 04 04:47:44 2005] [error] x",
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
	// The header formats of the Loghub systems, each with a line of its shape.
	for _, c := range []struct{ format, line string }{
		{"<Date> <Time> <Pid> <Level> <Component>: <Content>", "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 terminating"},
		{`<Date> <Time> <Level> \[<Process>\] <Component>: <Content>`, "2015-10-18 18:01:47,978 INFO [main] org.apache.App: Created"},
		{"<Date> <Time> <Level> <Component>: <Content>", "17/06/09 20:10:40 INFO executor.Executor: Running task 0.0"},
		{`<Date> <Time> - <Level>  \[<Node>:<Component>@<Id>\] - <Content>`, "2015-07-29 17:41:44,747 - INFO  [QuorumPeer[myid=1]/0:0:0:0:0:0:0:0:2181:Election@774] - x"},
		{"<Label> <Timestamp> <Date> <Node> <Time> <NodeRepeat> <Type> <Component> <Level> <Content>", "- 1117838570 2005.06.03 R02-M1-N0 2005-06-03-15.42.50.675872 R02-M1-N0 RAS KERNEL INFO cache ok"},
		{"<LogId> <Node> <Component> <State> <Time> <Flag> <Content>", "134681 node-246 unix.hw state_change.unavailable 1077804742 1 Component State Change"},
		{"<Date> <Time>, <Level>                  <Component>    <Content>", "2016-09-28 04:30:30, Info                  CBS    Loaded Servicing Stack"},
		{`<Month> <Date> <Time> <Level> <Component>(\[<PID>\])?: <Content>`, "Jun 14 15:16:01 combo sshd(pam_unix)[19939]: check pass; user unknown"},
		{"<Date> <Time>  <Pid>  <Tid> <Level> <Component>: <Content>", "03-17 16:13:38.811  1702  2395 D WindowManager: printFreezingDisplayLogsopening"},
		{`\[<Time>\] \[<Level>\] <Content>`, "[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok /etc/httpd/conf/workers2.properties"},
	} {
		f.Add(c.format, c.line)
		f.Add(c.format, c.line+"\n\tat a.b(C.java:1)\x00\xff")
	}
	f.Fuzz(func(t *testing.T, format, line string) {
		if len(format) > 256 || len(line) > 4096 {
			return
		}
		fm, err := Compile(format)
		if err != nil {
			return
		}
		vals, ok := fm.Parse(line, nil)
		if bt, btOK := parseBacktracking(fm, line); btOK != ok || ok && !slices.Equal(bt, vals) {
			t.Fatalf("Parse = %q, %v; backtracking alone gives %q, %v", vals, ok, bt, btOK)
		}
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
