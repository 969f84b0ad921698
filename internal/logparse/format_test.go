package logparse

import (
	"slices"
	"strings"
	"testing"
)

func TestCompileErrors(t *testing.T) {
	tests := []struct{ name, format string }{
		{"empty", "  "},
		{"no field", "just text"},
		{"twice", "<A> <A>"},
		{"adjacent fields", "<A><B>"},
		{"unbalanced", "<A>) <B>"},
		{"unclosed", "(<A> <B>"},
		{"nested", "((<A>)?)? <B>"},
		{"trailing backslash", "<A> \\"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Compile(tc.format); err == nil {
				t.Errorf("Compile(%q) succeeded", tc.format)
			}
		})
	}
}

func TestFormatParse(t *testing.T) {
	tests := []struct {
		name, format, line string
		want               []string // nil: no match
	}{
		{"hdfs", "<Date> <Time> <Pid> <Level> <Component>: <Content>",
			"081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_3 terminating",
			[]string{"081109", "203615", "148", "INFO", "dfs.DataNode$PacketResponder", "PacketResponder 1 for block blk_3 terminating"}},
		{"lazy component stops at first colon-space", "<Level> <Component>: <Content>",
			"INFO a.b: c: d", []string{"INFO", "a.b", "c: d"}},
		{"escaped brackets", `\[<Time>\] \[<Level>\] <Content>`,
			"[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok",
			[]string{"Sun Dec 04 04:47:44 2005", "notice", "workerEnv.init() ok"}},
		{"space run matches whitespace", "<Date> <Time>, <Level>                  <Component>    <Content>",
			"2016-09-28 04:30:30, Info                  CBS    Loaded Servicing Stack",
			[]string{"2016-09-28", "04:30:30", "Info", "CBS", "Loaded Servicing Stack"}},
		{"optional group present", `<Month> <Date> <Time> <Level> <Component>(\[<PID>\])?: <Content>`,
			"Jun 14 15:16:01 combo sshd(pam_unix)[19939]: check pass; user unknown",
			[]string{"Jun", "14", "15:16:01", "combo", "sshd(pam_unix)", "19939", "check pass; user unknown"}},
		{"optional group absent", `<Month> <Date> <Time> <Level> <Component>(\[<PID>\])?: <Content>`,
			"Jun 14 15:16:01 combo kernel: Linux version 2.6",
			[]string{"Jun", "14", "15:16:01", "combo", "kernel", "", "Linux version 2.6"}},
		{"zookeeper", `<Date> <Time> - <Level>  \[<Node>:<Component>@<Id>\] - <Content>`,
			"2015-07-29 17:41:44,747 - INFO  [QuorumPeer[myid=1]/0:0:0:0:0:0:0:0:2181:FastLeaderElection@774] - Notification time out: 3200",
			[]string{"2015-07-29", "17:41:44,747", "INFO", "QuorumPeer[myid=1]/0", "0:0:0:0:0:0:0:2181:FastLeaderElection", "774", "Notification time out: 3200"}},
		{"empty content", "<Level>: <Content>", "INFO: ", []string{"INFO", ""}},
		{"no match", "<Level>: <Content>", "no separator here", nil},
		{"empty line", "<Level> <Content>", "", nil},
		{"multi-line content", "<Level> <Content>", "ERROR boom\n\tat a.b(C.java:1)", []string{"ERROR", "boom\n\tat a.b(C.java:1)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Compile(tc.format)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := f.Parse(tc.line, nil)
			if tc.want == nil {
				if ok {
					t.Fatalf("matched: %q", got)
				}
				return
			}
			if !ok || !slices.Equal(got, tc.want) {
				t.Fatalf("Parse = %q, %v; want %q", got, ok, tc.want)
			}
		})
	}
}

func TestFormatContent(t *testing.T) {
	f, err := Compile("<Level> <Content>")
	if err != nil {
		t.Fatal(err)
	}
	if c, _, ok := f.Content("WARN disk full", nil); !ok || c != "disk full" {
		t.Errorf("Content = %q, %v", c, ok)
	}
	if c, _, ok := f.Content("nospace", nil); ok || c != "nospace" {
		t.Errorf("unmatched Content = %q, %v", c, ok)
	}
}

// TestFormatBacktrackingIsBounded feeds a line that almost matches a format
// with many fields: without the failure memo this takes exponential time.
func TestFormatBacktrackingIsBounded(t *testing.T) {
	f, err := Compile("<A> <B> <C> <D> <E> <F> <G> <H>: <Content>")
	if err != nil {
		t.Fatal(err)
	}
	line := strings.Repeat("x ", 5000)
	if _, ok := f.Parse(line, nil); ok {
		t.Fatal("matched a line without ': '")
	}
}

func TestFormatParseDoesNotAllocate(t *testing.T) {
	f, err := Compile("<Date> <Time> <Pid> <Level> <Component>: <Content>")
	if err != nil {
		t.Fatal(err)
	}
	line := "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block terminating"
	dst := make([]string, 0, 8)
	if n := testing.AllocsPerRun(100, func() { dst, _ = f.Parse(line, dst) }); n != 0 {
		t.Errorf("Parse allocates %.1f times per line", n)
	}
}
