package replay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/tsdb/chunkenc"

	"github.com/osprey-aiops/osprey"
)

// TSDBSource is a Prometheus TSDB directory (Prometheus' own data
// directory, or Osprey's), opened read-only: the blocks, and the head's
// write-ahead log replayed in a temporary sandbox. Every float series in
// the window is read; native histogram samples are skipped.
type TSDBSource struct {
	Dir string
	// Logger receives the TSDB's own messages; nil discards them.
	Logger *slog.Logger
}

// Kind implements Source.
func (s TSDBSource) Kind() string { return KindTSDB }

// Name implements Source.
func (s TSDBSource) Name() string { return s.Dir }

// Open implements Source.
func (s TSDBSource) Open(ctx context.Context, w Window) (Stream, error) {
	log := s.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	sandbox, err := os.MkdirTemp("", "osprey-replay-tsdb-")
	if err != nil {
		return nil, fmt.Errorf("tsdb input %s: %w", s.Dir, err)
	}
	db, err := tsdb.OpenDBReadOnly(s.Dir, sandbox, log)
	if err != nil {
		os.RemoveAll(sandbox)
		return nil, fmt.Errorf("tsdb input %s: %w", s.Dir, err)
	}
	closeAll := func() error {
		err := db.Close()
		return errors.Join(err, os.RemoveAll(sandbox))
	}
	from, to := w.bounds()
	if from == math.MinInt64 {
		from = 0 // the TSDB keeps no samples before 1970
	}
	q, err := db.Querier(from, to)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("tsdb input %s: %w", s.Dir, err), closeAll())
	}
	set := q.Select(ctx, false, nil, labels.MustNewMatcher(labels.MatchRegexp, labels.MetricName, ".+"))
	var cursors []seriesCursor
	for set.Next() {
		sr := set.At()
		l := make(osprey.Labels, sr.Labels().Len())
		sr.Labels().Range(func(lb labels.Label) { l[lb.Name] = lb.Value })
		cursors = append(cursors, seriesCursor{labels: l, cursor: &tsdbCursor{it: sr.Iterator(nil), name: s.Dir}})
	}
	if err := set.Err(); err != nil {
		return nil, errors.Join(fmt.Errorf("tsdb input %s: select: %w", s.Dir, err), q.Close(), closeAll())
	}
	return newWindowStream(cursors, w, func() error { return errors.Join(q.Close(), closeAll()) }), nil
}

// tsdbCursor reads one TSDB series' float samples.
type tsdbCursor struct {
	it    chunkenc.Iterator
	name  string
	t     int64
	v     float64
	ok    bool // t, v hold the next sample
	done  bool
	error error
}

func (c *tsdbCursor) advance() {
	for !c.done {
		switch c.it.Next() {
		case chunkenc.ValNone:
			c.done = true
			if err := c.it.Err(); err != nil {
				c.error = fmt.Errorf("tsdb input %s: %w", c.name, err)
			}
			return
		case chunkenc.ValFloat:
			c.t, c.v = c.it.At()
			c.ok = true
			return
		}
		// Histogram samples are not scored by the metric detector.
	}
}

func (c *tsdbCursor) peek() (int64, bool) {
	if !c.ok {
		c.advance()
	}
	return c.t, c.ok
}

func (c *tsdbCursor) take(dst []osprey.Sample, limit int64) []osprey.Sample {
	for {
		if !c.ok {
			c.advance()
			if !c.ok {
				return dst
			}
		}
		if c.t >= limit {
			return dst
		}
		dst = append(dst, osprey.Sample{TimestampMs: c.t, Value: c.v})
		c.ok = false
	}
}

func (c *tsdbCursor) skip(limit int64) {
	for {
		if !c.ok {
			c.advance()
			if !c.ok {
				return
			}
		}
		if c.t >= limit {
			return
		}
		c.ok = false
	}
}

func (c *tsdbCursor) err() error { return c.error }
