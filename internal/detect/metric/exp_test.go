package metric

import (
	"fmt"
	"math"
	"os"
	"testing"
)

// synthSummary runs the synthetic checks that matter for the shift/burst
// experiments with cfg and summarises: first alarm within the window and
// which components fired, false alarms.
func synthSummary(cfg Config) string {
	const n, at = 4000, 3000
	cases := []struct {
		name   string
		within int
		f      func(i int, e float64) float64
	}{
		{"lvl6", 6, func(i int, e float64) float64 {
			if i >= at {
				return 106 + e
			}
			return 100 + e
		}},
		{"lvl4", 24, func(i int, e float64) float64 {
			if i >= at {
				return 104 + e
			}
			return 100 + e
		}},
		{"lvl3", 48, func(i int, e float64) float64 {
			if i >= at {
				return 103 + e
			}
			return 100 + e
		}},
		{"run", 10, func(i int, e float64) float64 {
			if i >= at && i < at+10 {
				return 104.5 + e
			}
			return 100 + e
		}},
		{"drift", -1, func(i int, e float64) float64 { return 100 + 10*float64(i)/n + e }},
		{"season", 36, func(i int, e float64) float64 {
			s := 20 * math.Sin(2*math.Pi*float64(i)/288)
			if i >= at && i < at+72 {
				s = 0
			}
			return 100 + s + e
		}},
	}
	out := ""
	for _, tc := range cases {
		rs := run(cfg, signal(n, 42, tc.f))
		hit, early := -1, 0
		comp := ""
		for _, i := range alarms(cfg, rs) {
			if tc.within >= 0 && i >= at && i <= at+tc.within {
				if hit < 0 {
					hit = i - at
					comp = fired(&cfg, &rs[i])
				}
			} else if tc.within < 0 || i < at {
				early++
			}
		}
		out += fmt.Sprintf(" %s:%d/%s/fa%d", tc.name, hit, comp, early)
	}
	noise := len(alarms(cfg, run(cfg, signal(100_000, 5, func(_ int, e float64) float64 { return 100 + e }))))
	x := 0.0
	ar := len(alarms(cfg, run(cfg, signal(100_000, 9, func(_ int, e float64) float64 {
		x = 0.9*x + e
		return 100 + x
	}))))
	return out + fmt.Sprintf(" noise%d ar%d", noise, ar)
}

func TestExperiment(t *testing.T) {
	if os.Getenv("OSPREY_NAB_EXP") == "" {
		t.Skip()
	}
	c, fs := loadDev(t)
	type v struct {
		name string
		f    func(*Config)
	}
	vs := []v{{"defaults", func(*Config) {}}, {"noshift", func(c *Config) { c.disabled[CompShift] = true }}}
	for _, a := range []float64{1.75, 2, 2.25} {
		for _, d := range []float64{0.5, 0.75, 1} {
			a, d := a, d
			vs = append(vs, v{fmt.Sprintf("k%.1f clip%.1f", a, a+d), func(c *Config) { c.ShiftAllowance, c.ShiftClip = a, a+d }})
		}
	}
	for _, x := range vs {
		cfg := DefaultConfig()
		x.f(&cfg)
		t.Log(x.name, evalCfg(t, c, fs, cfg, true), "|", synthSummary(cfg))
	}
}
