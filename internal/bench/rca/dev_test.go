package rca

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestNezhaVariants loads the unpacked Nezha folder named by
// OSPREY_RCA_NEZHA once and ranks it under every ablation of
// nezhaVariants, printing AC@k per variant and, with -v, each case the full
// method misses at rank 1. It is the measuring tool behind the ablation
// table of docs/rca.md (one load, many rankings); it skips without the
// variable.
func TestNezhaVariants(t *testing.T) {
	dir := os.Getenv("OSPREY_RCA_NEZHA")
	if dir == "" {
		t.Skip("skipping: set OSPREY_RCA_NEZHA to an unpacked Nezha folder")
	}
	days, err := FindNezha(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	only := os.Getenv("OSPREY_RCA_VARIANTS")
	for i := range days {
		d := &days[i]
		dd, err := loadDay(ctx, d, Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range nezhaVariants() {
			if only != "" && !strings.Contains(","+only+",", ","+v.name+",") {
				continue
			}
			cases, causes, err := dd.rank(ctx, d, v.opt)
			if err != nil {
				t.Fatal(err)
			}
			s := Score(cases)
			t.Logf("%s %-16s AC@1=%.3f AC@3=%.3f AC@5=%.3f Avg@5=%.3f", d.Day, v.name, s.AC[0], s.AC[2], s.AC[4], s.Avg5)
			if v.name != "full" || !testing.Verbose() {
				continue
			}
			for j, c := range cases {
				if c.Rank() == 1 {
					continue
				}
				var b strings.Builder
				fmt.Fprintf(&b, "miss %s %s truth=%s rank=%d\n", c.ID, c.Type, c.Truth, c.Rank())
				for k, cs := range causes[j] {
					if k < 3 || cs.Name == c.Truth {
						fmt.Fprintf(&b, "   %d. %s\n", k+1, cs.Explanation)
					}
				}
				t.Log(b.String())
			}
		}
	}
}

type nezhaVariant struct {
	name string
	opt  Options
}

func nezhaVariants() []nezhaVariant {
	return []nezhaVariant{
		{"full", Options{}},
		{"learn-guard", Options{learnGuard: true}},
		{"no-good-turing", Options{noGoodTuring: true}},
		{"no-extreme", Options{noExtreme: true}},
		{"as-before", Options{noGoodTuring: true, noExtreme: true, learnKnownOnly: true}},
		{"inlier-only", Options{inlierOnly: true}},
		{"learn-known-only", Options{learnKnownOnly: true}},
	}
}
