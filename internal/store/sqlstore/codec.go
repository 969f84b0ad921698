package sqlstore

import (
	"encoding/json"
	"fmt"
	"math"
	"time"
)

// zeroTime is how the zero time.Time is stored: the smallest int64, which no
// storable time maps to, so that it sorts before every real time.
const zeroTime = math.MinInt64

var (
	// minTime is the instant stored as zeroTime; storable times are after it.
	minTime = time.Unix(0, math.MinInt64).UTC()
	// maxTime is the latest time whose Unix nanoseconds fit in an int64.
	maxTime = time.Unix(0, math.MaxInt64).UTC()
)

// encodeTime returns t as Unix nanoseconds, or zeroTime for the zero time.
func encodeTime(t time.Time) (int64, error) {
	if t.IsZero() {
		return zeroTime, nil
	}
	if !t.After(minTime) || t.After(maxTime) {
		return 0, fmt.Errorf("time %s is outside the storable range %s to %s",
			t.Format(time.RFC3339Nano), minTime.Format(time.RFC3339Nano), maxTime.Format(time.RFC3339Nano))
	}
	return t.UnixNano(), nil
}

// decodeTime reverses encodeTime; the result is in UTC.
func decodeTime(ns int64) time.Time {
	if ns == zeroTime {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

// args collects the arguments of a statement, converting domain values to
// the column types both dialects accept (int64, float64, string, bool). It
// keeps the first conversion error, so a caller checks once after adding
// all arguments.
type args struct {
	list []any
	err  error
}

// add appends values that need no conversion.
func (a *args) add(vs ...any) { a.list = append(a.list, vs...) }

// time appends t as Unix nanoseconds.
func (a *args) time(t time.Time) {
	ns, err := encodeTime(t)
	a.keep(err)
	a.list = append(a.list, ns)
}

// json appends v encoded as JSON text.
func (a *args) json(v any) {
	b, err := json.Marshal(v)
	a.keep(err)
	a.list = append(a.list, string(b))
}

func (a *args) keep(err error) {
	if err != nil && a.err == nil {
		a.err = err
	}
}

// decodeJSON decodes the JSON text of column col into v. Times inside JSON
// keep the offset they were written with; callers put them in UTC.
func decodeJSON(col, text string, v any) error {
	if err := json.Unmarshal([]byte(text), v); err != nil {
		return fmt.Errorf("decode %s: %w", col, err)
	}
	return nil
}
