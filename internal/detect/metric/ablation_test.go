package metric

import (
	"fmt"
	"os"
	"testing"

	"github.com/osprey-aiops/osprey/internal/bench/nab"
	"github.com/osprey-aiops/osprey/internal/testenv"
)

type devFile struct {
	name string
	tab  *nab.Table
	ms   []int64
}

func loadDev(t *testing.T) (*nab.Corpus, []devFile) {
	c, err := nab.LoadCorpus(testenv.SharedData(t, "nab"))
	if err != nil {
		t.Fatal(err)
	}
	var fs []devFile
	for _, f := range c.Files {
		tab, err := nab.ReadColumn(c.DataPath(f), "value")
		if err != nil {
			t.Fatal(err)
		}
		ms := make([]int64, len(tab.Times))
		for i, tt := range tab.Times {
			ms[i] = tt.UnixMilli()
		}
		fs = append(fs, devFile{f, tab, ms})
	}
	return c, fs
}

func evalCfg(t *testing.T, c *nab.Corpus, fs []devFile, cfg Config, useAlarm bool) string {
	t.Helper()
	s := nab.NewScoring()
	for _, f := range fs {
		var m Model
		sc := make([]float64, len(f.ms))
		for i := range f.ms {
			r := m.Update(&cfg, f.ms[i], f.tab.Values[i])
			if useAlarm {
				sc[i] = r.Alarm
			} else {
				sc[i] = r.Score
			}
		}
		if err := s.Add(f.name, f.tab.Times, sc, c.Windows[f.name]); err != nil {
			t.Fatal(err)
		}
	}
	out := ""
	for _, p := range c.Profiles {
		o := s.Optimal(p)
		out += fmt.Sprintf(" %s=%.2f@%.3f(%d/%d,fp%d)", p.Name[len(p.Name)-4:], o.Normalized, o.Threshold, o.Detected, o.Windows, o.FPRows)
	}
	for _, p := range c.Profiles {
		o := s.At(p, cfg.Threshold)
		out += fmt.Sprintf(" fix=%.2f", o.Normalized)
	}
	return out
}

// TestAblation scores the detector on the NAB corpus with each part of the
// ensemble switched off in turn (docs/detection.md). It takes a few seconds,
// so it runs only with OSPREY_NAB_ABLATION=1; `osprey bench nab` is the
// harness for the production configuration.
func TestAblation(t *testing.T) {
	if os.Getenv("OSPREY_NAB_ABLATION") == "" {
		t.Skip("set OSPREY_NAB_ABLATION=1 to run the NAB ablation")
	}
	c, fs := loadDev(t)
	base := DefaultConfig()
	t.Log("defaults", evalCfg(t, c, fs, base, true))
	type v struct {
		name string
		f    func(*Config)
	}
	for _, x := range []v{
		{"without point", func(c *Config) { c.disabled[CompPoint] = true }},
		{"without shift", func(c *Config) { c.disabled[CompShift] = true }},
		{"without spread", func(c *Config) { c.disabled[CompSpread] = true }},
		{"without novel", func(c *Config) { c.disabled[CompNovel] = true }},
		{"without burst", func(c *Config) { c.disabled[CompBurst] = true }},
		{"burst judged against the record its run raises, record kept (both burst rules off)", func(c *Config) { c.burstGrowing = true }},
		{"burst record kept after an alarmed run", func(c *Config) { c.burstNoReturn = true }},
		{"burst record returns to 1.25x", func(c *Config) { c.burstReturn = 1.25 }},
		{"burst record returns to 2x", func(c *Config) { c.burstReturn = 2 }},
		{"burst record returns to 3x", func(c *Config) { c.burstReturn = 3 }},
		{"novelty near misses count in full", func(c *Config) { c.novelExact = true }},
		{"isolated novelty in full", func(c *Config) { c.novelIsolated = true }},
		{"without burst, near misses and isolated novelty in full (issue 4 start's rules, with the shift CUSUM)", func(c *Config) {
			c.disabled[CompBurst] = true
			c.novelExact = true
			c.novelIsolated = true
		}},
		{"novelty at the longest length alone", func(c *Config) { c.novelOneOrder = true }},
		{"without seasons", func(c *Config) { c.noSeason = true }},
		{"without fatigue", func(c *Config) { c.FatigueStep = 0 }},
		{"no debounce", func(c *Config) { c.Refractory = 0 }},
		{"no alarm growth bound", func(c *Config) { c.AlarmGrow = c.RecordGrow }},
		{"without novel, no alarm growth bound", func(c *Config) {
			c.disabled[CompNovel] = true
			c.AlarmGrow = c.RecordGrow
		}},
		// Sensitivity of the parameters kept (docs/detection.md).
		{"AlarmGrow 1.25", func(c *Config) { c.AlarmGrow = 1.25 }},
		{"AlarmGrow 2", func(c *Config) { c.AlarmGrow = 2 }},
		{"NovelAlpha 0.001", func(c *Config) { c.NovelAlpha = 0.001 }},
		{"NovelAlpha 0.004", func(c *Config) { c.NovelAlpha = 0.004 }},
		{"Refractory 30", func(c *Config) { c.Refractory = 30 }},
		{"Refractory 90", func(c *Config) { c.Refractory = 90 }},
		{"Refractory 120", func(c *Config) { c.Refractory = 120 }},
		{"BurstAllowance 3", func(c *Config) { c.BurstAllowance = 3 }},
		{"BurstAllowance 5", func(c *Config) { c.BurstAllowance = 5 }},
		{"BurstClip 6", func(c *Config) { c.BurstClip = 6 }},
		{"BurstClip 15", func(c *Config) { c.BurstClip = 15 }},
		{"ShiftAllowance 1.75, ShiftClip 2.25", func(c *Config) { c.ShiftAllowance, c.ShiftClip = 1.75, 2.25 }},
		{"ShiftAllowance 2.25, ShiftClip 2.75", func(c *Config) { c.ShiftAllowance, c.ShiftClip = 2.25, 2.75 }},
		{"ShiftAllowance 1.5", func(c *Config) { c.ShiftAllowance = 1.5 }},
		{"ShiftAllowance 1.5, ShiftClip 2", func(c *Config) { c.ShiftAllowance, c.ShiftClip = 1.5, 2 }},
		{"ShiftAllowance 2.5, ShiftClip 3", func(c *Config) { c.ShiftAllowance, c.ShiftClip = 2.5, 3 }},
		{"ShiftClip 2.25", func(c *Config) { c.ShiftClip = 2.25 }},
		{"ShiftClip 2.75", func(c *Config) { c.ShiftClip = 2.75 }},
		{"ShiftClip 3", func(c *Config) { c.ShiftClip = 3 }},
	} {
		cfg := base
		x.f(&cfg)
		t.Log(x.name, evalCfg(t, c, fs, cfg, true))
	}
	// Sensitivity of the fatigue (docs/detection.md, Session 6): its step
	// and decay around the defaults.
	for _, d := range []float64{0.998, 0.999, 0.9993, 0.9995, 0.9997, 0.9998, 0.9999} {
		for _, step := range []float64{0.05, 0.075, 0.1, 0.125, 0.15} {
			cfg := base
			cfg.FatigueDecay, cfg.FatigueStep = d, step
			t.Log(fmt.Sprintf("FatigueDecay %v, FatigueStep %v", d, step), evalCfg(t, c, fs, cfg, true))
		}
	}
	for _, x := range []v{} {
		cfg := base
		x.f(&cfg)
		t.Log(x.name, evalCfg(t, c, fs, cfg, true))
	}
}
