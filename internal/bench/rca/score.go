package rca

import (
	"slices"
)

// Case is one injected fault with the harness's answer.
type Case struct {
	// ID names the case in PRED.json: the fault's inject timestamp.
	ID string `json:"case"`
	// Ranking lists services, most likely root cause first.
	Ranking []string `json:"ranking"`
	// Truth is the root-cause service; Type the fault type (or, for
	// PetShop, the scenario and target metric).
	Truth string `json:"-"`
	Type  string `json:"-"`
	// Group names the day or scenario the case came from.
	Group string `json:"-"`
}

// Rank returns the 1-based position of the truth in the ranking, or 0.
func (c *Case) Rank() int {
	if i := slices.Index(c.Ranking, c.Truth); i >= 0 {
		return i + 1
	}
	return 0
}

// Scores are the AC@k figures of a set of cases: AC[k-1] is the share of
// cases whose root cause is among the first k; Avg5 is the mean of AC@1..5.
type Scores struct {
	N    int
	AC   [5]float64
	Avg5 float64
}

// Score computes the scores of cases.
func Score(cases []Case) Scores {
	var s Scores
	s.N = len(cases)
	if s.N == 0 {
		return s
	}
	for _, c := range cases {
		r := c.Rank()
		for k := 1; k <= 5; k++ {
			if r > 0 && r <= k {
				s.AC[k-1]++
			}
		}
	}
	for k := range s.AC {
		s.AC[k] /= float64(s.N)
		s.Avg5 += s.AC[k] / 5
	}
	return s
}

// ScoreBy groups cases by key and scores each group; keys come back sorted.
func ScoreBy(cases []Case, key func(*Case) string) ([]string, map[string]Scores) {
	groups := map[string][]Case{}
	for i := range cases {
		k := key(&cases[i])
		groups[k] = append(groups[k], cases[i])
	}
	keys := make([]string, 0, len(groups))
	out := make(map[string]Scores, len(groups))
	for k, g := range groups {
		keys = append(keys, k)
		out[k] = Score(g)
	}
	slices.Sort(keys)
	return keys, out
}
