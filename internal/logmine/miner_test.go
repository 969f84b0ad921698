package logmine

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
)

func TestMaskLine(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"spaces only", "  \t ", ""},
		{"numbers", "PacketResponder 1 for block blk_38865049064139660 terminating", "PacketResponder <*> for block <*> terminating"},
		{"negative id", "block blk_-6952295868487656571 done", "block <*> done"},
		{"signed number", "keyId: -127633188)", "keyId: <*>)"},
		{"ip and port", "Served block to /10.251.73.220:50010", "Served block to <*>"},
		{"ip", "rhost=218.188.2.4", "rhost=<*>"},
		{"host and port", "Connecting to msra-sa-41:8030 now", "Connecting to <*> now"},
		{"java socket", "at msra-sa-41/10.190.173.170:8030", "at <*>"},
		{"word colon number stays apart", "PendingReds:0 ScheduledMaps:1", "PendingReds:<*> ScheduledMaps:<*>"},
		{"hex", "flags=0x1f mask 0xDEADbeef", "flags=<*> mask <*>"},
		{"hash", "token 9f4ef63 and de9231d", "token <*> and <*>"},
		{"short hex words stay", "BIOS-e820: interface ee0", "BIOS-e820: interface ee0"},
		{"uuid", "id 123e4567-e89b-12d3-a456-426614174000 gone", "id <*> gone"},
		{"uuid in braces", "{bf1a281b-ad7b-4476-ac95-f47682990ce7}GLOBAL", "{<*>}GLOBAL"},
		{"path", "ok /etc/httpd/conf/workers2.properties", "ok <*>"},
		{"path in parens", "chdir(/p/gb2/x) failed", "chdir(<*>) failed"},
		{"windows path", "Core: C:\\Windows\\winsxs\\cbscore.dll", "Core: <*>"},
		{"url", "see [hdfs://msra-sa-41:9000]", "see [<*>]"},
		{"duration", "took 15ms and 2s", "took <*> and <*>"},
		{"size with unit word", "size 384.0 B, free 317.5 KB)", "size <*>, free <*>)"},
		{"size glued", "read 64MB", "read <*>"},
		{"quoted value", `tag="View Lock", name=com.android.systemui`, `tag="<*>", name=com.android.systemui`},
		{"value with digits", "cmp=com.tencent.mobileqq/.activity.SplashActivity", "cmp=<*>"},
		{"name value stays", "class=HttpServer2 vis=PRIVATE", "class=HttpServer2 vis=PRIVATE"},
		{"null words", "ws=null, allDrawn= false user=root", "ws=<*>, allDrawn= <*> user=<*>"},
		{"dotted numbers", "version 0.0.0.6 at 31.455", "version <*> at <*>"},
		{"date in words", "connection at Fri Jun 17 07:07:00 2005 ok", "connection at <*> ok"},
		{"date with slashes", "00000001@2016/9/27:20:30:31.455 x", "<*>@<*>/<*>/<*>:<*>:<*>:<*> x"},
		{"mac", "chip FF:F2:9C:00:00:77 up", "chip <*> up"},
		{"version", "Scaffold v1.0.0 initialized", "Scaffold <*> initialized"},
		{"dimension", "colour VGA+ 80x25", "colour VGA+ <*>"},
		{"node names keep their word", "node node-246 and MININT-FNANLI5", "node node-<*> and MININT-FNANLI5"},
		{"only variables", "1 2 3 0x4", "<*> <*> <*> <*>"},
		{"already a template", "a <*> b", "a <*> b"},
		{"non-utf8", "bad \xff\xfe 12", "bad \xff\xfe <*>"},
		{"stack trace joined", "Exception in x\n\tat a.b(C.java:12)\n\tat d.e(F.java:3)", "Exception in x at a.b(C.java:<*>) at d.e(F.java:<*>)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(maskLine(nil, tc.in)); got != tc.want {
				t.Errorf("maskLine(%q)\n got %q\nwant %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestMinerGroupsAndGeneralises(t *testing.T) {
	m := NewMiner("app", Config{})
	var t0 time.Time
	a := m.Add(t0, "Starting executor ID 1 on host mesos-slave-07")
	b := m.Add(t0, "Starting executor ID 2 on host mesos-slave-13")
	if !a.New || b.New || a.ID != b.ID {
		t.Fatalf("same template: %+v %+v", a, b)
	}
	c := m.Add(t0, "Found block rdd_2_3 locally")
	d := m.Add(t0, "Found block rdd_5_1 locally")
	if c.ID == a.ID || m.ID(c.Index) != m.ID(d.Index) {
		t.Fatalf("rdd lines: %+v %+v", c, d)
	}
	if got := m.TemplateText(d.Index); got != "Found block <*> locally" {
		t.Errorf("template = %q", got)
	}
}

func TestMinerKeepsWordsApartUntilEvidence(t *testing.T) {
	m := NewMiner("zk", Config{MergeAfter: 3})
	var t0 time.Time
	first := m.Add(t0, "state changed to LOOKING")
	second := m.Add(t0, "state changed to LEADING")
	if first.ID == second.ID {
		t.Fatal("two words merged without evidence")
	}
	third := m.Add(t0, "state changed to FOLLOWING")
	if !third.New {
		t.Fatal("third word should still start a template before the merge")
	}
	for _, idx := range []int{first.Index, second.Index, third.Index} {
		if got := m.TemplateText(idx); got != "state changed to <*>" {
			t.Errorf("after 3 words template %d = %q", idx, got)
		}
	}
	// Ids stay stable: the merged ones alias the first.
	if m.ID(second.Index) != first.ID || m.ID(third.Index) != first.ID {
		t.Errorf("aliases do not resolve to the first id")
	}
}

func TestMinerDeterministic(t *testing.T) {
	lines := corpus(500)
	run := func() []string {
		m := NewMiner("s", Config{})
		var out []string
		for _, l := range lines {
			out = append(out, m.ID(m.Add(time.Time{}, l).Index))
		}
		return out
	}
	if a, b := run(), run(); !slices.Equal(a, b) {
		t.Fatal("two runs gave different ids")
	}
}

func TestMinerCap(t *testing.T) {
	m := NewMiner("s", Config{MaxTemplates: 3})
	words := []string{"alpha", "bravo", "charlie", "delta", "echo"}
	for i, w := range words {
		r := m.Add(time.Time{}, strings.Repeat(w+" ", i+1))
		if i >= 3 && !r.Overflow {
			t.Errorf("line %d: no overflow past the cap", i)
		}
	}
	if st := m.Stats(); st.Overflow != 2 || st.Templates != 3 {
		t.Errorf("stats = %+v", st)
	}
}

func TestMinerCacheFlush(t *testing.T) {
	m := NewMiner("s", Config{MaxCacheLines: 4})
	for i := range 20 {
		m.Add(time.Time{}, fmt.Sprintf("user u%c logged in", 'a'+i))
	}
	if m.Stats().CacheFlush == 0 {
		t.Error("cache never flushed")
	}
	if len(m.cache) > 4 {
		t.Errorf("cache holds %d entries", len(m.cache))
	}
}

func TestParams(t *testing.T) {
	tests := []struct {
		tpl, content string
		want         []string
		ok           bool
	}{
		{"took <*> ms", "took 12 ms", []string{"12"}, true},
		{"<*> Served block <*> to <*>", "10.1.1.1:50010 Served block blk_1 to /10.1.1.2", []string{"10.1.1.1:50010", "blk_1", "/10.1.1.2"}, true},
		{"size <*>, free <*>)", "size 384.0 B, free 317.5 KB)", []string{"384.0 B", "317.5 KB"}, true},
		{"a <*> b", "a  x   b", []string{"x"}, true},
		{"a <*> b", "a b", nil, false},
		{"fixed", "fixed", []string{}, true},
		{"fixed", "other", nil, false},
	}
	for _, tc := range tests {
		got, ok := Params(tc.tpl, tc.content)
		if ok != tc.ok || ok && !slices.Equal(got, tc.want) {
			t.Errorf("Params(%q, %q) = %q, %v; want %q, %v", tc.tpl, tc.content, got, ok, tc.want, tc.ok)
		}
	}
}

func TestSetRestoreKeepsIDs(t *testing.T) {
	var updates []Update
	s := NewSet(SetOptions{OnUpdate: func(u Update) { updates = append(updates, u) }})
	rec := func(body string) osprey.LogRecord {
		return osprey.LogRecord{Labels: osprey.Labels{"source": "api"}, Body: body}
	}
	batch := []osprey.LogRecord{rec("GET /a took 3ms"), rec("GET /b took 5ms"), rec("disk sda full")}
	if err := s.ConsumeLogs(t.Context(), batch); err != nil {
		t.Fatal(err)
	}
	if len(updates) != 2 || !updates[0].New {
		t.Fatalf("updates = %+v", updates)
	}
	saved := s.Templates("api")
	restored := NewSet(SetOptions{})
	restored.Restore(saved)
	r := rec("GET /c took 9ms")
	m1 := s.Mine(&r)
	m2 := restored.Mine(&r)
	if m1.ID != m2.ID || m2.New {
		t.Errorf("after restore the line got %+v, before %+v", m2, m1)
	}
}

func TestRestoreBreaksAliasCycles(t *testing.T) {
	m := NewMiner("s", Config{})
	m.Restore([]osprey.LogTemplate{
		{ID: "a", Template: "x <*>", AliasOf: "b"},
		{ID: "b", Template: "y <*>", AliasOf: "a"},
	})
	if _, ok := m.LookupID("a"); !ok {
		t.Fatal("lookup after restore failed")
	}
}

// corpus returns n synthetic lines of a few templates.
func corpus(n int) []string {
	forms := []string{
		"Receiving block blk_%d src: /10.0.0.%d:50010 dest: /10.0.0.1:50010",
		"session opened for user u%d by (uid=%d)",
		"Took %dms to process request %d",
		"state changed to %s",
		"worker %d finished job job_1445062781478_%04d",
	}
	states := []string{"LOOKING", "LEADING", "FOLLOWING", "OBSERVING", "DEAD"}
	out := make([]string, n)
	for i := range out {
		f := forms[i%len(forms)]
		if strings.Contains(f, "%s") {
			out[i] = fmt.Sprintf(f, states[(i/7)%len(states)])
		} else {
			out[i] = fmt.Sprintf(f, i*7919%1000, i%250)
		}
	}
	return out
}

func TestGlobMatch(t *testing.T) {
	tests := []struct {
		p, s string
		want bool
	}{
		{"name=<*>,", "name=foo,", true},
		{"name=<*>,", "name=,", false},
		{"<*>", "x", true},
		{"<*>", "", false},
		{"a<*>b<*>c", "aXbYc", true},
		{"a<*>b<*>c", "abbc", false},
		{"a<*>b<*>c", "aXbbYc", true},
		{"plain", "plain", true},
		{"<*>a<*>a<*>a<*>a", strings.Repeat("a", 200), true},
		{"<*>a<*>a<*>a<*>b", strings.Repeat("a", 200), false},
	}
	for _, tc := range tests {
		if got := globMatch(tc.p, tc.s); got != tc.want {
			t.Errorf("globMatch(%q, %q) = %v", tc.p, tc.s, got)
		}
	}
}

func TestVeryLongLine(t *testing.T) {
	line := strings.Repeat("word 12 /a/b key=v1 ", 50000)
	m := NewMiner("s", Config{})
	r := m.Add(time.Time{}, line)
	if r.Overflow || !strings.HasPrefix(m.TemplateText(r.Index), "word <*> <*> key=<*> word") {
		t.Fatalf("long line: %+v %.40q", r, m.TemplateText(r.Index))
	}
}

// TestSetOnMatchAndLookup: OnMatch sees every line after OnUpdate's calls
// for it, with the resolved id, and Lookup finds the live template.
func TestSetOnMatchAndLookup(t *testing.T) {
	var calls []string
	set := NewSet(SetOptions{
		OnUpdate: func(u Update) { calls = append(calls, "update "+u.Template.ID) },
		OnMatch: func(src string, m Match, r *osprey.LogRecord) {
			calls = append(calls, fmt.Sprintf("match %s %s new=%v", src, m.ID, m.New))
		},
	})
	recs := []osprey.LogRecord{
		{Labels: osprey.Labels{"source": "a"}, Body: "user 1 logged in"},
		{Labels: osprey.Labels{"source": "a"}, Body: "user 2 logged in"},
	}
	if err := set.ConsumeLogs(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	tpl, ok := set.Lookup("a", set.Templates("a")[0].ID)
	if !ok || tpl.Template != "user <*> logged in" {
		t.Fatalf("Lookup = %+v, %v", tpl, ok)
	}
	id := tpl.ID
	want := []string{"update " + id, "match a " + id + " new=true", "match a " + id + " new=false"}
	if fmt.Sprint(calls) != fmt.Sprint(want) {
		t.Errorf("calls %q, want %q", calls, want)
	}
	if _, ok := set.Lookup("b", id); ok {
		t.Error("Lookup found a template of an unknown source")
	}
}

// TestSetMatchContent: OnMatch gets the text that was mined (Content's,
// not the body), so that a listener need not extract it again.
func TestSetMatchContent(t *testing.T) {
	var got []string
	set := NewSet(SetOptions{
		Content: func(r *osprey.LogRecord) string { return strings.TrimPrefix(r.Body, "12:00:00 ") },
		OnMatch: func(_ string, m Match, _ *osprey.LogRecord) { got = append(got, m.Content) },
	})
	m := set.Mine(&osprey.LogRecord{Body: "12:00:00 Cart.java:42 user 1 logged in"})
	want := "Cart.java:42 user 1 logged in"
	if len(got) != 1 || got[0] != want || m.Content != want {
		t.Errorf("OnMatch content %q, Mine's %q, want %q", got, m.Content, want)
	}
}
