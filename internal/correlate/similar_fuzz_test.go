package correlate

import (
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/osprey-aiops/osprey"
)

// FuzzWords checks the words of any template text: sorted, distinct,
// lower-case, without digits or the label's words, at least
// minTextTokens or none; and a text's similarity with itself is 1.
func FuzzWords(f *testing.F) {
	for _, s := range []string{
		"Connection refused to redis-master:<*> after <*> retries, giving up",
		"", "a b c d", "ÄÖÜ straße ŞİRKET İstanbul ǅemal", "0x1f 12 3.4 <*> <*>", "checkout checkout checkout cart cache",
	} {
		f.Add(s, "checkout")
	}
	f.Fuzz(func(t *testing.T, text, service string) {
		w := words(text, osprey.Labels{"service": service})
		if w == nil {
			return
		}
		if len(w) < minTextTokens || !slices.IsSorted(w) || len(slices.Compact(slices.Clone(w))) != len(w) {
			t.Fatalf("words(%q) = %q", text, w)
		}
		skip := strings.FieldsFunc(strings.ToLower(service), notWordRune)
		for _, x := range w {
			if strings.ContainsFunc(x, unicode.IsDigit) || len(x) < 2 || slices.Contains(skip, x) || strings.ContainsFunc(x, notWordRune) {
				t.Fatalf("words(%q) holds %q", text, x)
			}
		}
		if sim, both := jaccard(w, w); sim != 1 || both != len(w) {
			t.Fatalf("jaccard with itself = %v, %d", sim, both)
		}
	})
}
