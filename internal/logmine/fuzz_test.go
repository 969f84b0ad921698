package logmine

import (
	"strings"
	"testing"
	"time"
)

func FuzzMiner(f *testing.F) {
	for _, s := range benchLines {
		f.Add(s, s+" 12")
	}
	f.Add("", " ")
	f.Add("<*> <*>", "a=\"b c\" d='")
	f.Add("\xff\xfe\x00", "Fri Jun 17 07:07:00")
	f.Fuzz(func(t *testing.T, a, b string) {
		m := NewMiner("fuzz", Config{MaxTemplates: 8, MergeAfter: 2})
		for _, line := range []string{a, b, a + " " + b, b, a} {
			r := m.Add(time.Time{}, line)
			if r.Overflow {
				continue
			}
			tpl := m.TemplateText(r.Index)
			if strings.Contains(tpl, "<*><*>") {
				t.Fatalf("template %q has touching variables", tpl)
			}
			_, _ = Params(tpl, line)
		}
		masked := string(maskLine(nil, a))
		if strings.Contains(masked, "  ") {
			t.Fatalf("masked %q has a double space", masked)
		}
	})
}
