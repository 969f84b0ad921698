package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/store"
)

var templateColList = []string{"id", "source", "template", "seen_count", "first_seen", "last_seen", "sample", "alias_of"}

var templateCols = strings.Join(templateColList, ", ")

// SaveTemplates creates or replaces each template by ID, in one transaction.
func (s *Store) SaveTemplates(ctx context.Context, batch []osprey.LogTemplate) error {
	if len(batch) == 0 {
		return nil
	}
	a := args{list: make([]any, 0, len(batch)*len(templateColList))}
	for i := range batch {
		t := &batch[i]
		if t.ID == "" {
			return fmt.Errorf("save templates: template %d: %w", i, osprey.Permanent(fmt.Errorf("no id")))
		}
		a.add(t.ID, t.Source, t.Template, t.Count)
		a.time(t.FirstSeen)
		a.time(t.LastSeen)
		a.add(t.Sample, t.AliasOf)
	}
	if a.err != nil {
		return fmt.Errorf("save templates: %w", a.err)
	}
	err := s.inTx(ctx, func(tx Querier) error {
		return upsertRows(ctx, tx, "log_templates", templateColList, a.list)
	})
	if err != nil {
		return fmt.Errorf("save templates: %w", err)
	}
	return nil
}

// ListTemplates returns the templates of source ("" for all) whose text
// contains q literally and case-sensitively ("" for all), most frequent first
// (ties by ID).
func (s *Store) ListTemplates(ctx context.Context, source, q string, limit int) ([]osprey.LogTemplate, error) {
	var f filter
	if source != "" {
		f.where("source = " + f.arg(source))
	}
	if q != "" {
		f.where(s.d.Contains("template", f.arg(q)))
	}
	limit = store.ClampLimit(limit)
	sql := "SELECT " + templateCols + " FROM log_templates" + f.clause() +
		" ORDER BY seen_count DESC, id LIMIT " + f.arg(int64(limit))
	list, err := all(ctx, s.db, sql, f.args, limit, scanTemplate)
	if err != nil {
		return nil, fmt.Errorf("list templates: %w", err)
	}
	return list, nil
}

// scanTemplate reads a row of templateCols.
func scanTemplate(r Rows) (osprey.LogTemplate, error) {
	var (
		t           osprey.LogTemplate
		first, last int64
	)
	if err := r.Scan(&t.ID, &t.Source, &t.Template, &t.Count, &first, &last, &t.Sample, &t.AliasOf); err != nil {
		return t, err
	}
	t.FirstSeen, t.LastSeen = decodeTime(first), decodeTime(last)
	return t, nil
}
