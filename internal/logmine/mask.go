package logmine

import (
	"bytes"
	"math"
	"strings"
	"unicode/utf8"
)

// Wildcard marks a variable in a template, as in the Loghub ground truth.
const Wildcard = "<*>"

// The masker is a hand-written scanner, not a chain of regular expressions: it
// walks each whitespace-separated token once and replaces what is certainly a
// variable with <*>. What it leaves alone (words, names without digits) the
// miner generalises later if it sees them vary.
//
// Its output follows the conventions of the corrected Loghub templates (Khan et
// al., ICSE'22), so that a template can be compared with them as a string:
//
//   - whitespace runs become one space;
//   - a token is cut at the delimiters , ! ; : = | " ' [ ] ( ) { } and each
//     part that is an absolute path (/a/b) is a variable;
//   - parts are cut further at . - + @ # $ % & and each piece that is a number,
//     a hex number or hash, a number with a unit (10ms, 64MB), an identifier
//     with a long digit run (blk_123456, job_1445_0011), or one of true, false,
//     null, root is a variable;
//   - URLs (scheme://...), UUIDs, Windows paths, quoted values after "=" and
//     values with digits after "=" are variables as a whole;
//   - variables separated only by "." or by nothing merge: <*>.<*> is <*>.
//
// maskLine appends the masked form of content to dst and returns it.
func maskLine(dst []byte, content string) []byte {
	dst, _ = mask(dst, content, math.MaxInt, true)
	return dst
}

// maskLimit is maskLine for at most limit bytes of output: a longer masked
// line is cut after its last whole token within the limit (or at the limit
// when the first token is longer), and cut is true. The masker stops there,
// so a huge line costs no more than a line of the limit's length.
func maskLimit(dst []byte, content string, limit int) (masked []byte, cut bool) {
	return mask(dst, content, limit, true)
}

// mask is maskLimit; with fast false every token goes through the full
// scanner, which the tests use to check the fast paths against it.
func mask(dst []byte, content string, limit int, fast bool) (masked []byte, cut bool) {
	first := true
	start := len(dst)
	for i := 0; i < len(content); {
		for i < len(content) && isSpaceByte(content[i]) {
			i++
		}
		if i >= len(content) {
			break
		}
		if len(dst)-start >= limit {
			cut = true
			break
		}
		if !first {
			dst = append(dst, ' ')
		}
		first = false
		// Every weekday and month name starts upper case.
		if c := content[i]; c >= 'A' && c <= 'Z' {
			if end := dateTimeEnd(content, i); end > i {
				dst = appendVar(dst)
				i = end
				continue
			}
		}
		// One pass over the token finds its end and the classes of its
		// bytes; most tokens are words or numbers and skip the full scanner.
		end, cls := i, uint8(0)
		for end < len(content) {
			c := byteClass[content[end]]
			if c&clSpace != 0 {
				break
			}
			cls |= c
			end++
		}
		if cls&clEquals != 0 {
			end = tokenEnd(content, i) // a quoted value may hold spaces
		}
		tok := content[i:end]
		if rem := limit - (len(dst) - start); len(tok)-tokenSlack > rem {
			// A token far longer than the room left (a megabyte blob):
			// mask only what can show, so a line costs at most the limit.
			k := rem + tokenSlack
			for k > 0 && !utf8.RuneStart(tok[k]) {
				k--
			}
			tok, end, cut = tok[:k], len(content), true
		}
		number := cls&clDigit != 0 && cls&clSpecial == 0 && isNumber(tok)
		switch {
		case fast && isPlain(tok, cls):
			dst = maskPlain(dst, tok)
		case fast && number:
			dst = appendVar(dst)
		case fast:
			dst = maskToken(dst, tok, cls)
		default:
			dst = maskToken(dst, tok, clAll)
		}
		if number {
			// "317.5 KB": a size is one variable with its unit.
			k := skipSpaces(content, end)
			u := k
			for u < len(content) && (content[u] >= 'A' && content[u] <= 'Z' || content[u] >= 'a' && content[u] <= 'z') {
				u++
			}
			if u > k && isSizeUnit(content[k:u]) && (u == len(content) || !isAlnum(content[u])) {
				// Punctuation after the unit stays with the token.
				end = tokenEnd(content, u)
				dst = maskToken(dst, content[u:end], clAll)
			}
		}
		i = end
	}
	if strings.Contains(content, Wildcard) {
		// A line that itself holds the text "<*>" could put it next to a
		// masked variable; merge such runs as appendVar does.
		dst = dst[:start+len(collapseWildcards(dst[start:]))]
	}
	if len(dst)-start > limit {
		cut = true
		dst = dst[:start+cutMasked(dst[start:], limit)]
	}
	return dst, cut
}

// tokenSlack is how far past the output limit a token is masked, so that
// a variable at the limit is still recognised whole.
const tokenSlack = 256

// cutMasked returns the length of the masked line b cut to at most n bytes:
// before its last space within the limit, or else at the limit, moved back
// so as not to split a "<*>" or a UTF-8 sequence.
func cutMasked(b []byte, n int) int {
	if k := bytes.LastIndexByte(b[:n+1], ' '); k > 0 {
		return k
	}
	if k := bytes.LastIndexByte(b[:n], '<'); k >= 0 && k > n-len(Wildcard) && bytes.HasPrefix(b[k:], []byte(Wildcard)) {
		n = k
	}
	for n > 0 && !utf8.RuneStart(b[n]) {
		n--
	}
	return n
}

// collapseWildcards rewrites every run of touching "<*>" in b to one "<*>".
func collapseWildcards(b []byte) []byte {
	out := b[:0]
	for i := 0; i < len(b); {
		if bytes.HasPrefix(b[i:], []byte(Wildcard)) {
			out = appendVar(out)
			i += len(Wildcard)
			continue
		}
		out = append(out, b[i])
		i++
	}
	return out
}

// isNumber reports a plain decimal number: 12, -3, 384.0.
func isNumber(s string) bool {
	if s != "" && (s[0] == '-' || s[0] == '+') {
		s = s[1:]
	}
	dot := false
	for i := 0; i < len(s); i++ {
		if s[i] == '.' && !dot && i > 0 && i+1 < len(s) {
			dot = true
			continue
		}
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

// isSizeUnit reports the units of data sizes that may follow a number as a
// word of their own.
func isSizeUnit(u string) bool {
	switch u {
	case "B", "KB", "MB", "GB", "TB", "PB", "kB", "KiB", "MiB", "GiB", "TiB":
		return true
	}
	return false
}

// isSpaceByte reports ASCII whitespace: space, \t, \n, \v, \f, \r.
func isSpaceByte(c byte) bool {
	return c <= ' ' && (uint64(1)<<c)&spaceBits != 0
}

const spaceBits = 1<<' ' | 1<<'\t' | 1<<'\n' | 1<<'\v' | 1<<'\f' | 1<<'\r'

// tokenEnd returns the end of the token starting at i: the next whitespace,
// except that a quoted value after "=" (tag="View Lock") runs to its closing
// quote.
func tokenEnd(s string, i int) int {
	for j := i; j < len(s); j++ {
		c := s[j]
		if isSpaceByte(c) {
			return j
		}
		if c == '=' && j+1 < len(s) && (s[j+1] == '"' || s[j+1] == '\'') {
			if k := strings.IndexByte(s[j+2:], s[j+1]); k >= 0 {
				j = j + 2 + k // the closing quote; the loop moves past it
			}
		}
	}
	return len(s)
}

// isPathDelim reports the delimiters at which paths are recognised.
func isPathDelim(c byte) bool {
	switch c {
	case ',', '!', ';', ':', '=', '|', '"', '\'', '[', ']', '(', ')', '{', '}':
		return true
	}
	return false
}

// isPieceDelim reports the further delimiters inside a path-delimited part.
func isPieceDelim(c byte) bool {
	switch c {
	case '.', '-', '+', '@', '#', '$', '%', '&', '<', '>':
		return true
	}
	return false
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isHex(c byte) bool { return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func isAlnum(c byte) bool {
	return isDigit(c) || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
}

// appendVar appends <*> unless it would follow <*> directly or after a "."
// (CV and DV of the corrected templates).
func appendVar(dst []byte) []byte {
	n := len(dst)
	if n >= 3 && string(dst[n-3:]) == Wildcard {
		return dst
	}
	if n >= 4 && dst[n-1] == '.' && string(dst[n-4:n-1]) == Wildcard {
		return dst[:n-1]
	}
	return append(dst, Wildcard...)
}

// maskToken appends the masked form of one whitespace-free token (which may
// hold a quoted value with spaces after "="). cls has the classes of its
// bytes (or clAll), to skip the checks that cannot apply.
func maskToken(dst []byte, tok string, cls uint8) []byte {
	if cls&clColon != 0 || len(tok) >= uuidLen { // URLs and C:\ need a colon
		if lo, hi, ok := wholeVariable(tok); ok {
			dst = append(dst, tok[:lo]...)
			dst = appendVar(dst)
			return append(dst, tok[hi:]...)
		}
	}
	// An address has a digit (IPv4, a port) or colons (MAC, IPv6).
	addresses := cls&(clDigit|clColon) != 0
	for i := 0; i < len(tok); {
		c := tok[i]
		if addresses && (i == 0 || c == '/' || c == '@' || isPathDelim(tok[i-1]) && tok[i-1] != ':') {
			if end := addressEnd(tok, i); end > i {
				dst = appendVar(dst)
				i = end
				continue
			}
		}
		if isPathDelim(c) {
			dst = append(dst, c)
			i++
			if c == '=' && i > 1 && isAlnum(tok[i-2]) {
				if start, end, ok := valueSpan(tok, i); ok {
					dst = append(dst, tok[i:start]...)
					dst = appendVar(dst)
					i = end
				}
			}
			continue
		}
		j := i
		for j < len(tok) && !isPathDelim(tok[j]) {
			j++
		}
		dst = maskPart(dst, tok[i:j])
		i = j
	}
	return dst
}

// wholeVariable recognises tokens that are one variable however they are
// punctuated: URLs, UUIDs and Windows paths. It returns the variable's span;
// brackets and quotes around it stay.
func wholeVariable(tok string) (lo, hi int, ok bool) {
	const outer = "()[]{}<>,;\"'"
	lo, hi = 0, len(tok)
	for lo < hi && strings.IndexByte(outer, tok[lo]) >= 0 {
		lo++
	}
	for hi > lo && strings.IndexByte(outer, tok[hi-1]) >= 0 {
		hi--
	}
	t := tok[lo:hi]
	if k := strings.Index(t, "://"); k > 0 && isScheme(t[:k]) && len(t) > k+3 {
		return lo, hi, true
	}
	if isUUID(t) {
		return lo, hi, true
	}
	if len(t) > 3 && (t[0] >= 'A' && t[0] <= 'Z' || t[0] >= 'a' && t[0] <= 'z') && t[1] == ':' && t[2] == '\\' {
		return lo, hi, true
	}
	return 0, 0, false
}

// addressEnd recognises a network address at tok[i:] and returns its end, or
// i: an IPv4 address with an optional port, optionally after "/" or
// "host/" (as Java prints sockets), or a host name with a port. An address is
// one variable, port included.
func addressEnd(tok string, i int) int {
	if e := hexGroupsEnd(tok, i); e > i {
		return e
	}
	j := i
	if j < len(tok) && tok[j] == '/' {
		j++
	}
	hostEnd, dots, dash, digit, letter := hostRun(tok, j)
	if hostEnd == j {
		return i
	}
	if hostEnd < len(tok) && tok[hostEnd] == '/' && !isIPv4(tok[j:hostEnd]) {
		// host/1.2.3.4[:port]
		k := hostEnd + 1
		e, _, _, _, _ := hostRun(tok, k)
		if isIPv4(tok[k:e]) {
			return portEnd(tok, e)
		}
		return i
	}
	if isIPv4(tok[j:hostEnd]) {
		return portEnd(tok, hostEnd)
	}
	// A host name needs a port, and must look like one: two dots or more
	// (not File.java:12), or a name with a dash and a digit (msra-sa-41).
	if j == i && letter && (dots > 1 || dash && digit) {
		if e := portEnd(tok, hostEnd); e > hostEnd {
			return e
		}
	}
	return i
}

// hexGroupsEnd recognises four or more groups of one to four hex digits
// joined by ":" (MAC and IPv6 addresses, hardware ids) and returns the end,
// or i.
func hexGroupsEnd(tok string, i int) int {
	j, groups := i, 0
	for {
		k := j
		for k < len(tok) && k-j < 4 && isHex(tok[k]) {
			k++
		}
		if k == j || k < len(tok) && isAlnum(tok[k]) {
			break
		}
		groups++
		j = k
		if j+1 < len(tok) && tok[j] == ':' && isHex(tok[j+1]) {
			j++
			continue
		}
		break
	}
	if groups < 4 {
		return i
	}
	return j
}

// hostRun scans [A-Za-z0-9.-_]* from i.
func hostRun(tok string, i int) (end, dots int, dash, digit, letter bool) {
	end = i
	for end < len(tok) {
		c := tok[end]
		switch {
		case c == '.':
			dots++
		case c == '-':
			dash = true
		case isDigit(c):
			digit = true
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_':
			letter = true
		default:
			return end, dots, dash, digit, letter
		}
		end++
	}
	return end, dots, dash, digit, letter
}

// portEnd returns the end of ":port" at tok[i:], or i when there is none.
func portEnd(tok string, i int) int {
	if i+1 < len(tok) && tok[i] == ':' && isDigit(tok[i+1]) {
		j := i + 1
		for j < len(tok) && isDigit(tok[j]) {
			j++
		}
		if j-i-1 <= 5 && (j == len(tok) || !isAlnum(tok[j])) {
			return j
		}
	}
	return i
}

func isIPv4(s string) bool {
	parts, digits := 0, 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '.' {
			if digits == 0 || digits > 3 {
				return false
			}
			parts++
			digits = 0
			continue
		}
		if !isDigit(s[i]) {
			return false
		}
		digits++
	}
	return parts == 4
}

func isScheme(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && (isDigit(c) || c == '+' || c == '.' || c == '-')) {
			return false
		}
	}
	return true
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if s[i] != '-' {
				return false
			}
		} else if !isHex(s[i]) {
			return false
		}
	}
	return true
}

// valueSpan decides whether the value of key=value starting at i is a
// variable as a whole: a quoted string, or a value with a digit or a path or
// address character. It returns the span to replace; the quotes of a quoted
// value stay outside it.
func valueSpan(tok string, i int) (start, end int, ok bool) {
	if i >= len(tok) {
		return i, i, false
	}
	if q := tok[i]; q == '"' || q == '\'' {
		if k := strings.IndexByte(tok[i+1:], q); k >= 0 {
			return i + 1, i + 1 + k, true
		}
		return i, i, false
	}
	j, varlike := i, false
	for j < len(tok) {
		c := tok[j]
		if c == ',' || c == ';' || c == '"' || c == '\'' || c == ')' || c == ']' || c == '}' || c == '|' || c == '=' || c == '(' || c == '[' || c == '{' {
			break
		}
		if c == '/' && j > i || c == '\\' || c == ':' || c == '@' {
			varlike = true
		}
		j++
	}
	// A trailing "." ends the sentence, not the value.
	for j > i && tok[j-1] == '.' {
		j--
	}
	if j == i {
		return i, i, false
	}
	if !varlike {
		// A value with a variable in it (a number, a hash) is a variable
		// as a whole; a name such as HttpServer2 is not.
		var scratch [64]byte
		varlike = bytes.Contains(maskPart(scratch[:0], tok[i:j]), []byte(Wildcard))
	}
	if !varlike {
		return i, i, false
	}
	return i, j, true
}

// dateTimeEnd recognises a date written out in words at s[i:] ("Sat Jun 18
// 02:23:10 2005", "Jun 18 02:23:10") and returns its end, or i.
func dateTimeEnd(s string, i int) int {
	if c := s[i]; c < 'A' || c > 'Z' {
		return i // every weekday and month name starts upper case
	}
	j := i
	if isName(s, j, weekdays) {
		j += 3
		if j < len(s) && s[j] == ',' {
			j++
		}
		j = skipSpaces(s, j)
	}
	if !isName(s, j, months) {
		return i
	}
	j = skipSpaces(s, j+3)
	d := j
	for j < len(s) && isDigit(s[j]) {
		j++
	}
	if j-d < 1 || j-d > 2 {
		return i
	}
	j = skipSpaces(s, j)
	// hh:mm:ss
	t := j
	for j < len(s) && (isDigit(s[j]) || s[j] == ':' || s[j] == '.') {
		j++
	}
	if j-t < 8 || s[t+2] != ':' {
		return i
	}
	end := j
	k := skipSpaces(s, j)
	if k+4 <= len(s) && allDigits(s[k:k+4]) && (k+4 == len(s) || !isAlnum(s[k+4])) {
		end = k + 4
	}
	if end < len(s) && !isSpaceByte(s[end]) {
		return i
	}
	return end
}

const (
	weekdays = "MonTueWedThuFriSatSun"
	months   = "JanFebMarAprMayJunJulAugSepOctNovDec"
)

// isName reports whether s[i:] starts with one of the three-letter names in
// list, followed by a non-letter.
func isName(s string, i int, list string) bool {
	if i+3 > len(s) || i+3 < len(s) && (s[i+3] >= 'a' && s[i+3] <= 'z') {
		return false
	}
	a, b, c := s[i], s[i+1], s[i+2]
	for k := 0; k < len(list); k += 3 {
		// Byte compares: a three-byte string compare is a call.
		if a == list[k] && b == list[k+1] && c == list[k+2] {
			return true
		}
	}
	return false
}

func skipSpaces(s string, i int) int {
	for i < len(s) && s[i] == ' ' {
		i++
	}
	return i
}

// maskPart masks a part between path delimiters.
func maskPart(dst []byte, p string) []byte {
	if isAbsPath(p) || isBackslashPath(p) {
		return appendVar(dst)
	}
	for i := 0; i < len(p); {
		c := p[i]
		// A sign belongs to the number after it when nothing word-like
		// precedes it: "-127633188" and "(-1" but not "x-1".
		if (c == '-' || c == '+') && i+1 < len(p) && isDigit(p[i+1]) && (i == 0 || !isAlnum(p[i-1])) {
			j := i + 1
			for j < len(p) && !isPieceDelim(p[j]) {
				j++
			}
			if allDigits(p[i+1 : j]) {
				dst = appendVar(dst)
				i = j
				continue
			}
		}
		if isPieceDelim(c) || c == '/' {
			dst = append(dst, c)
			i++
			continue
		}
		if i+36 <= len(p) && isUUID(p[i:i+36]) {
			dst = appendVar(dst)
			i += 36
			continue
		}
		// One scan finds the piece's end and what isVariableWord needs.
		j, wc := i, wordCounts{hex: true}
		run := 0
		for ; j < len(p); j++ {
			c := p[j]
			k := byteClass[c]
			if k&clPiece != 0 {
				break
			}
			switch {
			case k&clDigit != 0:
				wc.digits++
				run++
				wc.maxRun = max(wc.maxRun, run)
				continue
			case k&clLetter != 0:
				wc.letters++
				if l := c | 0x20; l > 'f' {
					wc.hex = false
				}
			default:
				wc.hex = false
			}
			run = 0
		}
		// An identifier with a long digit run swallows the words joined to
		// it by "-" after it (job_1445062781478_0011-1445062781478).
		if wc.maxRun >= 4 {
			for j < len(p) && p[j] == '-' && j+1 < len(p) && isAlnum(p[j+1]) {
				k := j + 1
				for k < len(p) && !isPieceDelim(p[k]) {
					k++
				}
				j = k
			}
			dst = appendVar(dst)
			i = j
			continue
		}
		if j < len(p) && p[j] == '-' && j+1 < len(p) && isDigit(p[j+1]) && strings.HasSuffix(p[i:j], "_") {
			// blk_-123: the word ends in "_" and a negative number follows.
			k := j + 1
			for k < len(p) && !isPieceDelim(p[k]) {
				k++
			}
			if allDigits(p[j+1 : k]) {
				dst = appendVar(dst)
				i = k
				continue
			}
		}
		if isVariableWord(p[i:j], wc) {
			dst = appendVar(dst)
		} else {
			dst = append(dst, p[i:j]...)
		}
		i = j
	}
	return dst
}

// isAbsPath reports whether p is (/[^/]+)+.
func isAbsPath(p string) bool {
	if len(p) < 2 || p[0] != '/' {
		return false
	}
	for i := 0; i < len(p); i++ {
		if p[i] == '/' && (i+1 == len(p) || p[i+1] == '/') {
			return false
		}
	}
	return true
}

// isBackslashPath reports a Windows path without a drive: \a\b.
func isBackslashPath(p string) bool {
	return len(p) > 2 && p[0] == '\\' && strings.IndexByte(p[1:], '\\') > 0
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// wordCounts describes a piece for isVariableWord.
type wordCounts struct {
	digits, letters int
	maxRun          int  // longest run of digits (maskPart's use)
	hex             bool // only digits and the letters a-f, A-F
}

// isVariableWord classifies a piece with no delimiters in it, whose counts
// are wc.
func isVariableWord(w string, wc wordCounts) bool {
	n := len(w)
	if n == 0 {
		return false
	}
	digits, letters, hex := wc.digits, wc.letters, wc.hex
	if digits == n {
		return true
	}
	if n > 2 && w[0] == '0' && (w[1] == 'x' || w[1] == 'X') {
		for i := 2; i < n; i++ {
			if !isHex(w[i]) {
				return false
			}
		}
		return true
	}
	if digits == 0 {
		return isNullWord(w)
	}
	// Hashes and addresses: hex with digits and letters, long enough not to
	// be a word such as "e820" or "ee0".
	if hex && letters > 0 && n >= 6 && digits >= 2 {
		return true
	}
	if isDigit(w[0]) {
		if hex {
			return true // 1e, 16ac, 41C
		}
		i := 0
		for i < n && isDigit(w[i]) {
			i++
		}
		if (w[i] == 'x' || w[i] == 'X') && allDigits(w[i+1:]) {
			return true // 80x25
		}
		return isUnit(w[i:])
	}
	// Versions: v1, V2.
	return (w[0] == 'v' || w[0] == 'V') && allDigits(w[1:])
}

// isNullWord reports the words the corrected Loghub templates always treat as
// variables.
func isNullWord(w string) bool {
	switch len(w) {
	case 4:
		return strings.EqualFold(w, "true") || strings.EqualFold(w, "null") || strings.EqualFold(w, "root")
	case 5:
		return strings.EqualFold(w, "false")
	}
	return false
}

// isUnit reports the units that follow numbers in logs: durations, sizes,
// rates and ordinals are not, "4G/4G" style names are left alone.
func isUnit(s string) bool {
	// Lower-case ASCII into a small buffer: strings.ToLower allocates for
	// upper-case input, and every unit is at most five bytes.
	if len(s) > 5 {
		return false
	}
	var lower [5]byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower[i] = c
	}
	switch string(lower[:len(s)]) {
	case "ns", "us", "µs", "ms", "s", "sec", "secs", "m", "min", "mins", "h", "hr", "hrs", "d",
		"b", "kb", "mb", "gb", "tb", "kib", "mib", "gib", "tib", "k", "bytes", "khz", "mhz", "ghz", "hz", "x":
		return true
	}
	return false
}

// Byte classes for the per-token pre-scan of maskLine.
const (
	clSpace   uint8 = 1 << iota // whitespace: ends a token
	clDigit                     // 0-9
	clSpecial                   // / \ = < >: paths, key=value, URLs
	clEquals                    // =: a quoted value after it may hold spaces
	clDelim                     // a path or piece delimiter, or /
	clColon                     // :
	clPiece                     // a piece delimiter (. - + @ # $ % & < >) or /
	clLetter                    // A-Z, a-z

	clAll uint8 = 0xff // every class: assume nothing about a token
)

// uuidLen is the length of a UUID; tokens at least this long may hold one
// without a digit and take the full scanner.
const uuidLen = 36

// byteClass maps a byte to its classes. It is computed once and only read.
var byteClass = func() (t [256]uint8) {
	for c := range 256 {
		b := byte(c)
		if isSpaceByte(b) {
			t[c] |= clSpace
		}
		if isDigit(b) {
			t[c] |= clDigit
		}
		switch b {
		case '/', '\\', '<', '>':
			t[c] |= clSpecial
		case ':':
			t[c] |= clColon
		case '=':
			t[c] |= clSpecial | clEquals
		}
		if isPathDelim(b) || isPieceDelim(b) || b == '/' {
			t[c] |= clDelim
		}
		if isPieceDelim(b) || b == '/' {
			t[c] |= clPiece
		}
		if b >= 'A' && b <= 'Z' || b >= 'a' && b <= 'z' {
			t[c] |= clLetter
		}
	}
	return t
}()

// isPlain reports whether a token with byte classes cls is one that only
// the null-word rule of the full scanner can change: no digit (no number,
// IPv4 address or port), none of / \ = < > (paths, URLs, key=value), fewer
// than three colons (MAC and IPv6 addresses have at least three) and shorter
// than a UUID.
func isPlain(tok string, cls uint8) bool {
	if cls&(clDigit|clSpecial) != 0 || len(tok) >= uuidLen {
		return false
	}
	return cls&clColon == 0 || strings.Count(tok, ":") < 3
}

// maskPlain masks a token that isPlain: of the full scanner's rules only the
// null words (true, false, null, root) apply to it, as whole pieces between
// delimiters.
func maskPlain(dst []byte, tok string) []byte {
	start, copied := 0, 0
	for i := 0; i <= len(tok); i++ {
		if i < len(tok) && byteClass[tok[i]]&clDelim == 0 {
			continue
		}
		if n := i - start; (n == 4 || n == 5) && isNullWord(tok[start:i]) {
			dst = append(dst, tok[copied:start]...)
			dst = appendVar(dst)
			copied = i
		}
		start = i + 1
	}
	return append(dst, tok[copied:]...)
}
