package trace

import "testing"

// The code location of a line, when its record has one, keys it rather
// than its template.
func TestCodeLocation(t *testing.T) {
	for _, tc := range []struct {
		name  string
		attrs map[string]string
		want  string
	}{
		{"none", nil, ""},
		{"current", map[string]string{"code.file.path": "cart/handler.go", "code.line.number": "42"}, "cart/handler.go#42"},
		{"deprecated", map[string]string{"code.filepath": "Cart.java", "code.lineno": "7"}, "Cart.java#7"},
		{"function", map[string]string{"code.function.name": "cart.Load", "code.line.number": "9"}, "cart.Load#9"},
		{"no line", map[string]string{"code.file.path": "cart/handler.go"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := CodeLocation(tc.attrs); got != tc.want {
				t.Errorf("CodeLocation = %q, want %q", got, tc.want)
			}
		})
	}
}
