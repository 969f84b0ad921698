package ui

import (
	"errors"
	"fmt"
	"html/template"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/remediate"
	"github.com/osprey-aiops/osprey/internal/topology"
)

// label is one name=value pair, for templates.
type label struct{ Name, Value string }

// funcs are the template functions. Everything they return is plain text that
// html/template escapes, except json (a JSON string in an attribute, which
// html/template escapes as an attribute value too).
func (u *UI) funcs() template.FuncMap {
	return template.FuncMap{
		"ts":       u.stamp,
		"ago":      u.ago,
		"since":    u.since,
		"labels":   sortedLabels,
		"sevclass": func(s osprey.Severity) string { return "sev-" + s.String() },
		"pct":      func(f float64) string { return strconv.FormatFloat(f*100, 'f', 0, 64) + "%" },
		"score":    func(f float64) string { return strconv.FormatFloat(f, 'f', 2, 64) },
		"num":      formatNum,
		"width":    func(f float64) string { return strconv.FormatFloat(math.Max(2, math.Min(100, f*100)), 'f', 0, 64) },
		"join":     strings.Join,
		"short":    shortID,
		"add":      func(a, b int) int { return a + b },
		"jsonstr":  strconv.Quote,
		"outcome":  remediate.Outcome,
		"secs":     func(f float64) string { return fmtSeconds(f) },
		"isZero":   func(t time.Time) bool { return t.IsZero() },
		"now":      u.opts.Now,
		"list":     func(s ...string) []string { return s },
		"lat":      func(s topology.Seconds) string { return fmtLatency(time.Duration(s)) },
		"dict": func(kv ...any) (map[string]any, error) {
			if len(kv)%2 != 0 {
				return nil, errors.New("dict: odd number of arguments")
			}
			m := make(map[string]any, len(kv)/2)
			for i := 0; i < len(kv); i += 2 {
				k, ok := kv[i].(string)
				if !ok {
					return nil, fmt.Errorf("dict: key %v is not a string", kv[i])
				}
				m[k] = kv[i+1]
			}
			return m, nil
		},
		"dur": func(d time.Duration) string {
			if d <= 0 {
				return "0s"
			}
			return d.Round(time.Second).String()
		},
	}
}

// stamp formats t in the UI's zone; the zero time is a dash.
func (u *UI) stamp(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	now := u.opts.Now().In(u.opts.Location)
	lt := t.In(u.opts.Location)
	if lt.Year() == now.Year() && lt.YearDay() == now.YearDay() {
		return lt.Format("15:04:05")
	}
	return lt.Format("2006-01-02 15:04")
}

// ago says how long before now t was, coarsely.
func (u *UI) ago(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return humanDuration(u.opts.Now().Sub(t)) + " ago"
}

// since says how long from t until now (for durations of open things).
func (u *UI) since(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return humanDuration(u.opts.Now().Sub(t))
}

func humanDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Minute:
		return strconv.Itoa(int(d/time.Second)) + "s"
	case d < time.Hour:
		return strconv.Itoa(int(d/time.Minute)) + "m"
	case d < 48*time.Hour:
		h := int(d / time.Hour)
		m := int(d%time.Hour) / int(time.Minute)
		if m == 0 || h >= 10 {
			return strconv.Itoa(h) + "h"
		}
		return fmt.Sprintf("%dh%02dm", h, m)
	}
	return strconv.Itoa(int(d/(24*time.Hour))) + "d"
}

// sortedLabels lists l by name, leaving out __name__ (shown as the title).
func sortedLabels(l osprey.Labels) []label {
	out := make([]label, 0, len(l))
	for _, n := range l.Names() {
		if n == osprey.LabelMetric {
			continue
		}
		out = append(out, label{n, l[n]})
	}
	return out
}

// seriesName writes labels as metric{a="b",...}.
func seriesName(l osprey.Labels) string {
	var b strings.Builder
	b.WriteString(l[osprey.LabelMetric])
	names := l.Names()
	slices.Sort(names)
	first := true
	for _, n := range names {
		if n == osprey.LabelMetric {
			continue
		}
		if first {
			b.WriteByte('{')
			first = false
		} else {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s=%q", n, l[n])
	}
	if !first {
		b.WriteByte('}')
	}
	return b.String()
}

func formatNum(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

// shortID is the tail of a ULID, enough to tell ids on one screen apart.
func shortID(id string) string {
	if len(id) > 10 {
		return "…" + id[len(id)-8:]
	}
	return id
}
