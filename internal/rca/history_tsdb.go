package rca

import (
	"context"
	"fmt"
	"math"
	"regexp"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"

	"github.com/osprey-aiops/osprey"
)

// TSDBHistory is the History of a Prometheus storage.Queryable: Osprey's
// metric store (internal/metricstore), a Prometheus TSDB.
type TSDBHistory struct {
	Queryable storage.Queryable
}

var _ History = TSDBHistory{}

// Series returns the float samples of the series matching q, in label
// order, at most q.Limit of them. Stale markers and histogram samples are
// left out.
func (h TSDBHistory) Series(ctx context.Context, q HistoryQuery) ([]HistorySeries, bool, error) {
	ms := make([]*labels.Matcher, 0, len(q.Match)+1)
	for k, v := range q.Match {
		ms = append(ms, labels.MustNewMatcher(labels.MatchEqual, k, v))
	}
	if q.SkipNamePrefix != "" {
		m, err := labels.NewMatcher(labels.MatchNotRegexp, labels.MetricName, regexp.QuoteMeta(q.SkipNamePrefix)+".*")
		if err != nil {
			return nil, false, fmt.Errorf("skip prefix %q: %w", q.SkipNamePrefix, err)
		}
		ms = append(ms, m)
	}
	querier, err := h.Queryable.Querier(q.From.UnixMilli(), q.To.UnixMilli())
	if err != nil {
		return nil, false, fmt.Errorf("open querier: %w", err)
	}
	defer querier.Close()
	set := querier.Select(ctx, true, nil, ms...)
	var out []HistorySeries
	more := false
	var it chunkenc.Iterator
	for set.Next() {
		if err := ctx.Err(); err != nil {
			return nil, false, err
		}
		if len(out) == q.Limit {
			more = true
			break
		}
		s := set.At()
		hs := HistorySeries{Labels: osprey.Labels(s.Labels().Map())}
		it = s.Iterator(it)
		for vt := it.Next(); vt != chunkenc.ValNone; vt = it.Next() {
			if vt != chunkenc.ValFloat {
				continue
			}
			t, v := it.At()
			if value.IsStaleNaN(v) || math.IsInf(v, 0) {
				continue
			}
			hs.T = append(hs.T, t)
			hs.V = append(hs.V, v)
		}
		if err := it.Err(); err != nil {
			return nil, false, fmt.Errorf("read series %s: %w", s.Labels(), err)
		}
		out = append(out, hs)
	}
	if err := set.Err(); err != nil {
		return nil, false, fmt.Errorf("select series: %w", err)
	}
	return out, more, nil
}
