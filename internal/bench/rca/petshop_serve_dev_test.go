package rca

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/rca"
	"time"
)

// petshopDevDir returns an unpacked PetShop folder: OSPREY_RCA_PETSHOP,
// else /tmp/rca-dev/petshop, else the unpacked copy under the shared data
// folder; "" when none holds a scenario.
func petshopDevDir() string {
	for _, d := range []string{os.Getenv("OSPREY_RCA_PETSHOP"), "/tmp/rca-dev/petshop", "../../../../shared/data/petshop"} {
		if d == "" {
			continue
		}
		if m, _ := filepath.Glob(filepath.Join(d, "dataset", "*", "graph.csv")); len(m) > 0 {
			return d
		}
	}
	return ""
}

// TestPetShopServeDev replays the real PetShop corpus through the serve
// path (with its ablations, OSPREY_RCA_PETSHOP_SERVE_VARIANTS=1, or a
// comma-separated list of their names) and logs
// the figures next to the harness's. It checks that every issue got an
// incident with a ranking (the alert's service at least).
func TestPetShopServeDev(t *testing.T) {
	dir := petshopDevDir()
	if dir == "" {
		t.Skip("skipping: no unpacked PetShop corpus (set OSPREY_RCA_PETSHOP, or unpack it to /tmp/rca-dev/petshop)")
	}
	if testing.Short() {
		t.Skip("skipping the real corpus in -short mode")
	}
	scs, err := FindPetShop(dir)
	if err != nil {
		t.Fatal(err)
	}
	normals := PetShopNormals(scs)
	variants := []struct {
		name string
		so   petshopServeOptions
		rk   *rca.Config
	}{{"serve", petshopServeOptions{}, nil}}
	if os.Getenv("OSPREY_RCA_PETSHOP_SERVE_VARIANTS") != "" {
		for _, x := range []struct {
			name string
			so   petshopServeOptions
			rk   *rca.Config
		}{
			{"pool-all", petshopServeOptions{poolAll: true}, nil},
			{"no-metric-label", petshopServeOptions{noMetricLabel: true}, nil},
			{"alert-at-delivery", petshopServeOptions{alertAtDelivery: true}, nil},
			{"warning", petshopServeOptions{severity: osprey.SeverityWarning}, nil},
			{"info", petshopServeOptions{severity: osprey.SeverityInfo}, nil},
			{"stay-excess", petshopServeOptions{}, cfgWith(func(c *rca.Config) { c.StayOwn = false })},
			{"alerts-in-full", petshopServeOptions{}, cfgWith(func(c *rca.Config) { c.SymptomAlerts = false })},
			{"pool-all-stay-excess", petshopServeOptions{poolAll: true}, cfgWith(func(c *rca.Config) { c.StayOwn = false })},
			{"prior-issues", petshopServeOptions{prior: true}, nil},
		} {
			variants = append(variants, x)
		}
	}
	for _, v := range variants {
		if f := os.Getenv("OSPREY_RCA_PETSHOP_SERVE_VARIANTS"); f != "" && f != "1" && v.name != "serve" && !strings.Contains(","+f+",", ","+v.name+",") {
			continue // a list of names: only those
		}
		start := time.Now()
		var all []Case
		var st PetShopServeStats
		for i := range scs {
			r, s, err := replayPetShopServe(context.Background(), &scs[i], normals, Options{Ranker: v.rk}, v.so)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, r.Cases...)
			for j, c := range r.Cases {
				if os.Getenv("OSPREY_RCA_PETSHOP_EXPLAIN") == "" || c.Rank() == 1 {
					continue
				}
				for k, cs := range r.Causes[j][:min(3, len(r.Causes[j]))] {
					t.Logf("  %s %d. %s", c.ID, k+1, cs.Explanation)
				}
			}
			st.Add(s)
		}
		for _, c := range all {
			if len(c.Ranking) == 0 {
				t.Errorf("%s: %s has no ranking", v.name, c.ID)
			}
			if c.Rank() != 1 {
				t.Logf("%s miss: %s truth=%s rank=%d top=%v", v.name, c.ID, c.Truth, c.Rank(), head3(c.Ranking))
			}
		}
		s := Score(all)
		t.Logf("petshop %-16s n=%d AC@1=%.3f AC@3=%.3f AC@5=%.3f Avg@5=%.3f (%s; %+v)", v.name, s.N, s.AC[0], s.AC[2], s.AC[4], s.Avg5,
			time.Since(start).Round(time.Millisecond), st)
	}
}

func head3(s []string) []string { return s[:min(3, len(s))] }
