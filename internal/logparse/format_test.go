package logparse

import (
	"slices"
	"strings"
	"sync"
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
			if bt, btOK := parseBacktracking(f, tc.line); btOK != ok || ok && !slices.Equal(bt, got) {
				t.Errorf("Parse = %q, %v; backtracking alone gives %q, %v", got, ok, bt, btOK)
			}
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

// parseBacktracking is Parse without the first-choice shortcut (matchFirst):
// the reference the shortcut must agree with.
func parseBacktracking(f *Format, line string) ([]string, bool) {
	dst := make([]string, len(f.names))
	for _, alt := range f.alts {
		clear(dst)
		m := f.matcher(line, alt, dst)
		if m.match(0, 0) {
			return dst, true
		}
	}
	return dst, false
}

// TestFormatParseReusesMemo: a line that backtracks enough to need the
// failure memo still parses without allocating once a memo is pooled.
func TestFormatParseReusesMemo(t *testing.T) {
	f, err := Compile(`<Month> <Date> <Time> <Level> <Component>(\[<PID>\])?: <Content>`)
	if err != nil {
		t.Fatal(err)
	}
	// No "]:" anywhere: the first alternative fails after trying every "[".
	line := "Jun 14 15:16:01 combo kernel: " + strings.Repeat("a[1] ", 60) + "end"
	dst := make([]string, 0, 8)
	vals, ok := f.Parse(line, dst)
	if !ok || vals[4] != "kernel" || vals[5] != "" {
		t.Fatalf("Parse = %q, %v", vals, ok)
	}
	m := f.matcher(line, f.alts[0], vals)
	if m.match(0, 0) || m.memo == nil {
		t.Fatalf("the first alternative matched or needed no memo (%d steps): the test line is too easy", m.steps)
	}
	// sync.Pool may drop its items at a GC, so allow a stray allocation.
	if n := testing.AllocsPerRun(100, func() { dst, _ = f.Parse(line, dst) }); n > 0.1 {
		t.Errorf("Parse allocates %.2f times per line", n)
	}
}

// TestFormatParseReusedDst: a field of an optional group that a line lacks
// is empty even when dst held a value from the line before.
func TestFormatParseReusedDst(t *testing.T) {
	f, err := Compile(`<Month> <Date> <Time> <Level> <Component>(\[<PID>\])?: <Content>`)
	if err != nil {
		t.Fatal(err)
	}
	dst, ok := f.Parse("Jun 14 15:16:01 combo sshd[19939]: check pass", nil)
	if !ok || dst[5] != "19939" {
		t.Fatalf("with PID: %q, %v", dst, ok)
	}
	dst, ok = f.Parse("Jun 14 15:16:02 combo kernel: Linux version 2.6", dst)
	want := []string{"Jun", "14", "15:16:02", "combo", "kernel", "", "Linux version 2.6"}
	if !ok || !slices.Equal(dst, want) {
		t.Fatalf("without PID: %q, %v; want %q", dst, ok, want)
	}
}

// TestTrickyLines: header parsing and detection on lines production sees now
// and then never fail and keep the message whole.
func TestTrickyLines(t *testing.T) {
	f, err := Compile("<Date> <Time> <Level> <Component>: <Content>")
	if err != nil {
		t.Fatal(err)
	}
	body := strings.Repeat("copied block 12 to 10.0.0.1:50010; ", 1<<20/35)
	trace := "java.lang.NullPointerException: null\n\tat org.x.Svc.handle(Svc.java:42)\n\tat org.x.Main.run(Main.java:7)"
	tests := []struct {
		name, line string
		content    string // want Content; "" with ok false: no match
		ok         bool
	}{
		{"empty", "", "", false},
		{"whitespace only", " \t ", "", false},
		{"1 MiB content", "2024-01-01 10:00:00 INFO a.B: " + body, body, true},
		{"1 MiB without a header", body, "", false},
		{"1 MiB without whitespace", strings.Repeat("x", 1<<20), "", false},
		{"binary", "2024-01-01 10:00:00 INFO a.B: \x00\x01\x02 frame", "\x00\x01\x02 frame", true},
		{"non-UTF-8", "2024-01-01 10:00:00 INFO a\xff: bad \xfe byte", "bad \xfe byte", true},
		{"joined stack trace", "2024-01-01 10:00:00 ERROR a.B: " + trace, trace, true},
		{"only variables", "1 2 3 4: 5", "5", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			content, _, ok := f.Content(tc.line, nil)
			if ok != tc.ok || ok && content != tc.content || !ok && content != tc.line {
				t.Errorf("Content = %.60q, %v; want %.60q, %v", content, ok, tc.content, tc.ok)
			}
			h := Detect(tc.line)
			if !strings.Contains(tc.line, h.Message) {
				t.Errorf("Detect message %.60q is not part of the line", h.Message)
			}
		})
	}
}

// TestFormatConcurrentParse: a Format is shared by the goroutines of a
// pipeline; its memo pool must keep their matches apart (run with -race).
func TestFormatConcurrentParse(t *testing.T) {
	f, err := Compile(`<Month> <Date> <Time> <Level> <Component>(\[<PID>\])?: <Content>`)
	if err != nil {
		t.Fatal(err)
	}
	lines := []string{
		"Jun 14 15:16:01 combo kernel: " + strings.Repeat("a[1] ", 60) + "end", // backtracks with a memo
		"Jun 14 15:16:01 combo sshd[19939]: check pass",
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			dst := make([]string, 0, 8)
			for i := range 200 {
				line := lines[(g+i)%2]
				var ok bool
				dst, ok = f.Parse(line, dst)
				if want := (g+i)%2 == 1; !ok || (dst[5] == "19939") != want {
					t.Errorf("goroutine %d: Parse(%.40q) = %q, %v", g, line, dst, ok)
					return
				}
			}
		})
	}
	wg.Wait()
}
