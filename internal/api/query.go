package api

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/osprey-aiops/osprey/internal/store"
)

// checkParams rejects query parameters other than allowed, and repeated ones,
// so that a misspelt filter is an error rather than silently ignored.
func checkParams(q url.Values, allowed ...string) *requestError {
	for k, v := range q {
		known := false
		for _, a := range allowed {
			known = known || k == a
		}
		if !known {
			return badRequest(reasonMalformed, "unknown query parameter %q (allowed: %s)", k, strings.Join(allowed, ", "))
		}
		if len(v) > 1 {
			return badRequest(reasonMalformed, "%s: given %d times, want once", k, len(v))
		}
	}
	return nil
}

// parseLimit parses the limit parameter: "" is the store's default, values
// above store.MaxLimit are capped.
func parseLimit(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("limit: %q is not a positive integer", s)
	}
	return min(n, store.MaxLimit), nil
}

// parseSince parses the since parameter: an RFC 3339 time, or a Go duration
// meaning that long before now ("1h", "30m"). "" is the zero time.
func parseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	// An unescaped "+" of a time zone offset arrives as a space.
	if strings.Contains(s, " ") {
		if t, err := time.Parse(time.RFC3339, strings.ReplaceAll(s, " ", "+")); err == nil {
			return t, nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("since: %q is neither an RFC 3339 time nor a positive duration such as 1h", s)
}
