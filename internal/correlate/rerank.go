package correlate

import (
	"context"
	"fmt"
	"slices"

	"github.com/osprey-aiops/osprey"
)

// Rerank ranks the causes of the unresolved incident id again and, when
// they changed, stores the incident (with an rca timeline entry if the
// order of the candidates changed) and hands it on. It is for a ranker
// whose evidence arrives after the ranking a join made: rca.HistoryEvidence
// reads the metric store outside the correlator's lock and calls Rerank
// when it has new evidence, which the ranking then takes. An id that is
// not an unresolved incident gives an error wrapping osprey.ErrNotFound.
func (c *Correlator) Rerank(ctx context.Context, id string) error {
	if c.causes == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := c.drainLocked(ctx); err != nil {
		return err
	}
	inc := c.st.open[id]
	if inc == nil {
		return fmt.Errorf("rerank incident %s: %w: not unresolved", id, osprey.ErrNotFound)
	}
	before := inc.Causes
	now := c.now()
	ch := &change{inc: inc}
	c.rankLocked(ch, now)
	if sameCauses(before, inc.Causes) {
		return nil
	}
	inc.UpdatedAt = laterOf(inc.UpdatedAt, now)
	cs := changeSet{}
	cs.add(ch)
	out, err := c.saveLocked(ctx, &cs)
	if err != nil {
		return fmt.Errorf("rerank incident %s: %w", id, err)
	}
	c.publish(ctx, out)
	return nil
}

// sameCauses reports whether a and b are the same causes in every field.
func sameCauses(a, b []osprey.Cause) bool {
	return slices.EqualFunc(a, b, func(x, y osprey.Cause) bool {
		return x.Kind == y.Kind && x.Name == y.Name && x.Score == y.Score && x.Explanation == y.Explanation &&
			slices.Equal(x.EvidenceIDs, y.EvidenceIDs)
	})
}
