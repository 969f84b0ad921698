package logmine

import (
	"bytes"
	"math"
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
	f.Add("java.lang.IllegalStateException: x\n\tat a.B.c(B.java:12)", "\tat d.E.f(E.java:3)\n")
	f.Add(strings.Repeat("word 12 ", 300), strings.Repeat("x", 3000))
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

// FuzzMask checks the masker's fast paths (plain words, numbers, the byte
// classes that skip checks) against the full scanner, and that the output
// is well formed: no double space, no touching variables, within the limit
// when one is set.
func FuzzMask(f *testing.F) {
	for _, s := range benchLines {
		f.Add(s, 64)
	}
	for _, s := range []string{
		"", " ", "a:b:c:d", "dead:beef:cafe:babe up", "true.false", "NULL,root;x", "9, 9). (9) -3,",
		"rdd_1_2 blk_-12 job_1445062781478_0011-1445062781478", "<*> x<*>.<*> <*>9",
		"size 384.0 B, free 317.5 KB)", "Fri Jun 17 07:07:00 2005 x", "\\a\\b C:\\x", "aé\xff\x00 12",
		"123e4567-e89b-12d3-a456-426614174000 abcdefab-abcd-abcd-abcd-abcdefabcdef",
	} {
		f.Add(s, 16)
	}
	f.Fuzz(func(t *testing.T, line string, limit int) {
		full, _ := mask(nil, line, math.MaxInt, false)
		fast := maskLine(nil, line)
		if !bytes.Equal(full, fast) {
			t.Fatalf("mask(%q):\nfull scanner %q\nfast paths   %q", line, full, fast)
		}
		if bytes.Contains(fast, []byte("  ")) || bytes.HasPrefix(fast, []byte(" ")) || bytes.HasSuffix(fast, []byte(" ")) {
			t.Fatalf("masked %q has stray spaces", fast)
		}
		if limit <= 0 || limit > 1<<16 {
			return
		}
		// A cut line is at most limit long; a line not cut is the whole.
		cut, wasCut := maskLimit(nil, line, limit)
		if len(cut) > limit || !wasCut && !bytes.Equal(cut, fast) || len(fast) > limit && !wasCut {
			t.Fatalf("maskLimit(%q, %d) = %q, %v; whole %q", line, limit, cut, wasCut, fast)
		}
	})
}
