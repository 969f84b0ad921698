package sqlite

import (
	"fmt"
	"strings"
)

// rebind rewrites the $1, $2, ... placeholders of sqlstore's SQL to SQLite's
// anonymous ? placeholders. SQLite does accept $N, but as a named parameter:
// it looks each name up in a list, which makes preparing and binding a
// statement quadratic in its number of parameters (a 100-event append spent
// most of its time there). The rewrite requires what sqlstore guarantees:
// each placeholder appears once, numbered in order of appearance. Quoted
// literals and identifiers are copied unchanged. Statements without
// arguments are not rewritten.
func rebind(query string, nargs int) (string, error) {
	if nargs == 0 {
		return query, nil
	}
	var b strings.Builder
	b.Grow(len(query))
	next := 1
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case c == '\'' || c == '"':
			end := strings.IndexByte(query[i+1:], c)
			if end < 0 {
				return "", fmt.Errorf("sqlite: unterminated quote in %q", query)
			}
			b.WriteString(query[i : i+end+2])
			i += end + 1
		case c == '$' && i+1 < len(query) && isDigit(query[i+1]):
			j := i + 1
			n := 0
			for ; j < len(query) && isDigit(query[j]); j++ {
				n = n*10 + int(query[j]-'0')
			}
			if n != next {
				return "", fmt.Errorf("sqlite: placeholder $%d where $%d was expected in %.80q", n, next, query)
			}
			next++
			b.WriteByte('?')
			i = j - 1
		default:
			b.WriteByte(c)
		}
	}
	if next-1 != nargs {
		return "", fmt.Errorf("sqlite: %d placeholders for %d arguments in %.80q", next-1, nargs, query)
	}
	return b.String(), nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
