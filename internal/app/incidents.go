package app

import (
	"fmt"

	"github.com/osprey-aiops/osprey/internal/config"
	"github.com/osprey-aiops/osprey/internal/correlate"
	"github.com/osprey-aiops/osprey/internal/match"
)

// inhibitRules turns the configured inhibition rules (matchers as strings,
// already validated by config) into the correlate stage's.
func inhibitRules(rules []config.InhibitRuleConfig) ([]correlate.InhibitRule, error) {
	out := make([]correlate.InhibitRule, 0, len(rules))
	for i, r := range rules {
		src, err := match.ParseAll(r.Source)
		if err != nil {
			return nil, fmt.Errorf("correlate.inhibit[%d].source%w", i, err)
		}
		tgt, err := match.ParseAll(r.Target)
		if err != nil {
			return nil, fmt.Errorf("correlate.inhibit[%d].target%w", i, err)
		}
		out = append(out, correlate.InhibitRule{Source: src, Target: tgt, Equal: r.Equal})
	}
	return out, nil
}
