package loghub

import (
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/osprey-aiops/osprey/internal/logmine"
)

func TestDevReport(t *testing.T) {
	if os.Getenv("LH_DEV") == "" {
		t.Skip()
	}
	systems, err := Load("/work/shared/data/loghub", os.Getenv("LH_ORIG") != "")
	if err != nil {
		t.Fatal(err)
	}
	var all []Scores
	for _, sys := range systems {
		cfg := logmine.Config{}
		if k, err := strconv.Atoi(os.Getenv("LH_K")); err == nil {
			cfg.MergeAfter = k
		}
		if v, err := strconv.ParseFloat(os.Getenv("LH_SIM"), 64); err == nil {
			cfg.MinSimilarity = v
		}
		r := Run(sys, cfg, nil)
		s := r.Scores
		all = append(all, s)
		fmt.Printf("%-10s GA=%.3f FGA=%.3f PA=%.3f FTA=%.3f pred=%d truth=%d unmatched=%d\n", sys.Name, s.GA, s.FGA, s.PA, s.FTA, s.Predicted, s.Truth, r.Unmatched)
		if os.Getenv("LH_SYS") == sys.Name && os.Getenv("LH_GA") != "" {
			byT := map[string]map[string]int{}
			byP := map[string]map[string]int{}
			for i := range r.Pred {
				if byT[sys.Truth[i]] == nil {
					byT[sys.Truth[i]] = map[string]int{}
				}
				byT[sys.Truth[i]][r.Pred[i]]++
				if byP[r.Pred[i]] == nil {
					byP[r.Pred[i]] = map[string]int{}
				}
				byP[r.Pred[i]][sys.Truth[i]]++
			}
			for tt, ps := range byT {
				if len(ps) > 1 {
					fmt.Printf("SPLIT T: %s\n", tt)
					for p, n := range ps {
						fmt.Printf("    %4d P: %s\n", n, p)
					}
				}
			}
			for p, ts := range byP {
				if len(ts) > 1 {
					fmt.Printf("MERGED P: %s\n", p)
					for tt, n := range ts {
						fmt.Printf("    %4d T: %s\n", n, tt)
					}
				}
			}
		}
		if os.Getenv("LH_SYS") == sys.Name && os.Getenv("LH_GA") == "" {
			seen := map[string]bool{}
			for i := range r.Pred {
				if r.Pred[i] != sys.Truth[i] {
					k := r.Pred[i] + "|" + sys.Truth[i]
					if !seen[k] {
						seen[k] = true
						fmt.Printf("  P: %s\n  T: %s\n", r.Pred[i], sys.Truth[i])
					}
				}
			}
		}
	}
	m := Mean(all)
	fmt.Printf("GA=%.3f FGA=%.3f PA=%.3f FTA=%.3f\n", m.GA, m.FGA, m.PA, m.FTA)
}
