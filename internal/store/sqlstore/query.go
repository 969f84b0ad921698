package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/osprey-aiops/osprey"
)

// errNoRows is what queryRow returns when the query found nothing; callers
// turn it into a wrapped osprey.ErrNotFound naming what was looked up.
var errNoRows = errors.New("no rows")

// queryRow runs a query expected to return at most one row and scans it into
// dest, or returns errNoRows.
func queryRow(ctx context.Context, q Querier, sql string, args []any, dest ...any) error {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return errNoRows
	}
	if err := rows.Scan(dest...); err != nil {
		return err
	}
	return rows.Close()
}

// notFound returns osprey.ErrNotFound, wrapped with what was looked up, when
// err is errNoRows, and err otherwise.
func notFound(err error, what, id string) error {
	if errors.Is(err, errNoRows) {
		return fmt.Errorf("%s %q: %w", what, id, osprey.ErrNotFound)
	}
	return err
}

// conflict marks err as an osprey.ErrConflict while keeping its text.
func conflict(err error) error {
	return fmt.Errorf("%w: %w", osprey.ErrConflict, err)
}

// collect runs a query and calls scan for each row.
func collect(ctx context.Context, q Querier, sql string, args []any, scan func(Rows) error) error {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return rows.Close()
}

// filter builds the WHERE clause of a query from optional conditions,
// numbering the placeholders of their arguments.
type filter struct {
	conds []string
	args  []any
}

// arg adds a query argument and returns its placeholder.
func (f *filter) arg(v any) string {
	f.args = append(f.args, v)
	return "$" + strconv.Itoa(len(f.args))
}

// where adds a condition; all conditions must hold.
func (f *filter) where(cond string) { f.conds = append(f.conds, cond) }

// clause returns " WHERE ..." or "" when there is no condition.
func (f *filter) clause() string {
	if len(f.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(f.conds, " AND ")
}

// placeholders returns "($from, $from+1, ..., $from+n-1)".
func placeholders(from, n int) string {
	var b strings.Builder
	b.Grow(n * 5)
	b.WriteByte('(')
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(from + i))
	}
	b.WriteByte(')')
	return b.String()
}

// valuesSQL is the statement head + the placeholders of rows rows of
// width values each ("($1, $2), ($3, $4)") + tail.
func valuesSQL(head string, rows, width int, tail string) string {
	var b strings.Builder
	b.WriteString(head)
	for i := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(placeholders(i*width+1, width))
	}
	b.WriteString(tail)
	return b.String()
}

// maxChunkRows and chunkGranule shape the parts of inChunks: a part has
// at most maxChunkRows rows, and more than chunkGranule only in multiples
// of it. So a table's multi-row statements come in 39 texts (1 to 32
// rows, then 64, 96, ... 256), each prepared once by the store's statement
// cache (internal/store/sqlite, which runs a statement unprepared on its
// first use and prepares it after the commit), and a batch of fewer than
// 256 rows is one or two statements. Measured on the start of an alert
// flood (BenchmarkFloodColdStart in internal/correlate: 5,000 new alerts
// in calls of 100 to 5,000 events), a cap of 256 rows cost least CPU of
// 64, 256, 1,024 and the parameter limit (with parts in powers of two);
// parts in multiples of 16 or 32 cost the same there, and keep batches of
// up to 32 rows in one statement.
const (
	maxChunkRows = 256
	chunkGranule = 32
)

// inChunks calls fn with consecutive parts of vals (rows of width values
// each) and the number of rows in each: as many rows as are left, up to
// maxChunkRows and what fits in one statement's parameters (maxParams),
// rounded down to a multiple of chunkGranule when more than that. A
// statement of as many rows as the batch had a new text for nearly every
// size of batch, which a flood's coalesced batches vary: each was parsed
// when it ran, and parsed again to be cached after the commit, inside the
// batch's time, for no later use; and the cache, once full, was emptied.
func inChunks(vals []any, width int, fn func(part []any, rows int) error) error {
	most := 1
	for most*2*width <= maxParams && most < maxChunkRows {
		most *= 2
	}
	for start := 0; start < len(vals); {
		rows := min(most, (len(vals)-start)/width)
		if rows > chunkGranule {
			rows &^= chunkGranule - 1 // a multiple of the granule
		}
		if rows == 0 {
			return fmt.Errorf("%d values are not whole rows of %d", len(vals), width)
		}
		end := start + rows*width
		if err := fn(vals[start:end], rows); err != nil {
			return err
		}
		start = end
	}
	return nil
}

// upsertSQL returns an INSERT of n rows into table that replaces rows with
// the same key. The first of cols is the key.
func upsertSQL(table string, cols []string, n int) string { return upsertSQLSet(table, cols, n, nil) }

// upsertSQLSet is upsertSQL, except that a column in set is updated to its
// expression there instead of to the new row's value.
func upsertSQLSet(table string, cols []string, n int, set map[string]string) string {
	var b strings.Builder
	b.WriteString(valuesSQL("INSERT INTO "+table+" ("+strings.Join(cols, ", ")+") VALUES ", n, len(cols), " ON CONFLICT ("+cols[0]+") DO UPDATE SET "))
	for i, c := range cols[1:] {
		if i > 0 {
			b.WriteString(", ")
		}
		if expr, ok := set[c]; ok {
			b.WriteString(c + " = " + expr)
		} else {
			b.WriteString(c + " = excluded." + c)
		}
	}
	return b.String()
}

// upsertRows writes rows, given as one flat list of values in the order of
// cols, with as few statements as the parameter limit allows. A row replaces
// the stored row with the same key (cols[0]); of rows in vals with the same
// key, the last wins (PostgreSQL refuses to update a row twice in one
// statement, so duplicates are dropped first).
func upsertRows(ctx context.Context, tx Querier, table string, cols []string, vals []any) error {
	return upsertRowsWith(ctx, tx, len(cols), vals, func(n int) string { return upsertSQL(table, cols, n) })
}

// upsertRowsWith is upsertRows with the statement for n rows of width
// values given by stmt.
func upsertRowsWith(ctx context.Context, tx Querier, width int, vals []any, stmt func(n int) string) error {
	last := make(map[any]int, len(vals)/width)
	for i := 0; i < len(vals); i += width {
		last[vals[i]] = i
	}
	if len(last) < len(vals)/width {
		kept := make([]any, 0, len(last)*width)
		for i := 0; i < len(vals); i += width {
			if last[vals[i]] == i {
				kept = append(kept, vals[i:i+width]...)
			}
		}
		vals = kept
	}
	return inChunks(vals, width, func(part []any, rows int) error {
		_, err := tx.Exec(ctx, stmt(rows), part...)
		return err
	})
}

// notBefore adds the condition col >= t, unless t is zero.
func (f *filter) notBefore(col string, t time.Time) error {
	if t.IsZero() {
		return nil
	}
	ns, err := encodeTime(t)
	if err != nil {
		return fmt.Errorf("%s: %w", col, err)
	}
	f.where(col + " >= " + f.arg(ns))
	return nil
}

// one runs a query expected to return at most one row and scans it, or
// returns errNoRows.
func one[T any](ctx context.Context, q Querier, sql string, args []any, scan func(Rows) (T, error)) (T, error) {
	var v T
	found := false
	err := collect(ctx, q, sql, args, func(r Rows) error {
		var err error
		v, err = scan(r)
		found = true
		return err
	})
	if err == nil && !found {
		err = errNoRows
	}
	return v, err
}

// all runs a query and scans every row; limit sizes the first allocation.
func all[T any](ctx context.Context, q Querier, sql string, args []any, limit int, scan func(Rows) (T, error)) ([]T, error) {
	list := make([]T, 0, min(limit, 64))
	err := collect(ctx, q, sql, args, func(r Rows) error {
		v, err := scan(r)
		list = append(list, v)
		return err
	})
	if err != nil {
		return nil, err
	}
	return list, nil
}
