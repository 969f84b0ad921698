package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/osprey-aiops/osprey/internal/store"
)

// noiseUpsertSQL is the statement of addNoise for n rows.
func noiseUpsertSQL(n int) string {
	return valuesSQL("INSERT INTO noise_counts (minute, source, rule, outcome, n) VALUES ", n, len(noiseCols), " ON CONFLICT (minute, source, rule, outcome) DO UPDATE SET n = noise_counts.n + excluded.n")
}

// addNoise adds encoded noise rows (see noiseRows) to the stored counters,
// with the statements of stmt (noiseUpsertSQL).
func addNoise(ctx context.Context, tx Querier, vals []any, stmt func(rows int) string) error {
	return inChunks(vals, len(noiseCols), func(part []any, rows int) error {
		if _, err := tx.Exec(ctx, stmt(rows), part...); err != nil {
			return fmt.Errorf("noise counts: %w", err)
		}
		return nil
	})
}

// NoiseCounts returns the noise counters summed over the minutes starting at
// or after since (rounded down to the minute), ordered by source, rule and
// outcome.
func (s *Store) NoiseCounts(ctx context.Context, since time.Time) ([]store.NoiseCount, error) {
	var f filter
	if err := f.notBefore("minute", since.Truncate(time.Minute)); err != nil {
		return nil, fmt.Errorf("noise counts: %w", err)
	}
	sql := "SELECT source, rule, outcome, CAST(SUM(n) AS BIGINT) FROM noise_counts" + f.clause() +
		" GROUP BY source, rule, outcome ORDER BY source, rule, outcome"
	out, err := all(ctx, s.db, sql, f.args, 64, func(r Rows) (store.NoiseCount, error) {
		var c store.NoiseCount
		err := r.Scan(&c.Source, &c.Rule, &c.Outcome, &c.N)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("noise counts: %w", err)
	}
	return out, nil
}
