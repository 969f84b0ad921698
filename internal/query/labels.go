package query

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/annotations"
)

// selection is the time range, matchers and limit of a metadata request
// (series, labels, label values).
type selection struct {
	start, end int64
	sets       [][]*labels.Matcher
	limit      int
}

// parseSelection reads start, end, match[] and limit. Without start and end
// the whole stored range is selected, as in Prometheus.
func (a *API) parseSelection(w http.ResponseWriter, r *http.Request) (selection, *apiError) {
	var sel selection
	if e := parseForm(w, r); e != nil {
		return sel, e
	}
	start, err := parseTimeOr(r.FormValue("start"), minTime)
	if err != nil {
		return sel, badData("invalid parameter \"start\": %v", err)
	}
	end, err := parseTimeOr(r.FormValue("end"), maxTime)
	if err != nil {
		return sel, badData("invalid parameter \"end\": %v", err)
	}
	if end.Before(start) {
		return sel, badData("invalid parameter \"end\": end timestamp must not be before start time")
	}
	sel.start, sel.end = start.UnixMilli(), end.UnixMilli()
	if s := r.FormValue("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return sel, badData("invalid parameter \"limit\": %q is not a non-negative integer", s)
		}
		sel.limit = n
	}
	var e *apiError
	sel.sets, e = a.matcherSets(r)
	return sel, e
}

// querier opens a querier over the selection's range, with the request's
// context bounded by the query timeout.
func (a *API) querier(r *http.Request, sel selection) (context.Context, context.CancelFunc, storage.Querier, *apiError) {
	ctx, cancel := context.WithTimeout(r.Context(), a.timeout)
	q, err := a.q.Querier(sel.start, sel.end)
	if err != nil {
		cancel()
		return nil, nil, nil, &apiError{typ: errInternal, err: fmt.Errorf("open querier: %w", err)}
	}
	return ctx, cancel, q, nil
}

// truncated applies limit to list, with Prometheus' warning when it cut.
func truncated[T any](list []T, limit int, annos annotations.Annotations) ([]T, annotations.Annotations) {
	if limit > 0 && len(list) > limit {
		list = list[:limit]
		annos = annos.Add(fmt.Errorf("results truncated due to limit"))
	}
	return list, annos
}

// series serves /api/v1/series: the label sets of the series that match any
// of the match[] selectors in the range.
func (a *API) series(w http.ResponseWriter, r *http.Request) {
	sel, e := a.parseSelection(w, r)
	if e != nil {
		a.fail(w, e)
		return
	}
	if len(sel.sets) == 0 {
		a.fail(w, badData("no match[] parameter provided"))
		return
	}
	ctx, cancel, q, e := a.querier(r, sel)
	if e != nil {
		a.fail(w, e)
		return
	}
	defer cancel()
	defer q.Close()
	hints := &storage.SelectHints{Start: sel.start, End: sel.end, Func: "series", Limit: sel.limit}
	var (
		annos annotations.Annotations
		seen  = map[uint64]bool{}
		out   = []labels.Labels{}
	)
	for _, ms := range sel.sets {
		set := q.Select(ctx, false, hints, ms...)
		for set.Next() {
			l := set.At().Labels()
			if h := l.Hash(); !seen[h] {
				seen[h] = true
				out = append(out, l)
			}
		}
		annos.Merge(set.Warnings())
		if err := set.Err(); err != nil {
			a.fail(w, execError(err))
			return
		}
	}
	slices.SortFunc(out, labels.Compare)
	out, annos = truncated(out, sel.limit, annos)
	reply(w, out, annos)
}

// labelNames serves /api/v1/labels.
func (a *API) labelNames(w http.ResponseWriter, r *http.Request) {
	a.labelQuery(w, r, func(ctx context.Context, q storage.Querier, hints *storage.LabelHints, ms []*labels.Matcher) ([]string, annotations.Annotations, error) {
		return q.LabelNames(ctx, hints, ms...)
	})
}

// labelValues serves /api/v1/label/{name}/values.
func (a *API) labelValues(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if !validLabelName(name) {
		a.fail(w, badData("invalid label name: %q", name))
		return
	}
	a.labelQuery(w, r, func(ctx context.Context, q storage.Querier, hints *storage.LabelHints, ms []*labels.Matcher) ([]string, annotations.Annotations, error) {
		return q.LabelValues(ctx, name, hints, ms...)
	})
}

// labelQuery runs get for every match[] set (or once with none) and replies
// with the sorted union.
func (a *API) labelQuery(w http.ResponseWriter, r *http.Request,
	get func(context.Context, storage.Querier, *storage.LabelHints, []*labels.Matcher) ([]string, annotations.Annotations, error)) {
	sel, e := a.parseSelection(w, r)
	if e != nil {
		a.fail(w, e)
		return
	}
	ctx, cancel, q, e := a.querier(r, sel)
	if e != nil {
		a.fail(w, e)
		return
	}
	defer cancel()
	defer q.Close()
	hints := &storage.LabelHints{Limit: sel.limit}
	sets := sel.sets
	if len(sets) == 0 {
		sets = [][]*labels.Matcher{nil}
	}
	var annos annotations.Annotations
	union := map[string]struct{}{}
	for _, ms := range sets {
		vals, ws, err := get(ctx, q, hints, ms)
		if err != nil {
			a.fail(w, execError(err))
			return
		}
		annos.Merge(ws)
		for _, v := range vals {
			union[v] = struct{}{}
		}
	}
	out, annos := truncated(sortedStrings(union), sel.limit, annos)
	reply(w, out, annos)
}

// validLabelName reports whether s is a classic Prometheus label name.
func validLabelName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9' {
			continue
		}
		return false
	}
	return true
}
