package metric

import (
	"fmt"
	"os"
	"testing"

	"github.com/osprey-aiops/osprey/internal/bench/nab"
)

type devFile struct {
	name string
	tab  *nab.Table
	ms   []int64
}

func loadDev(t *testing.T) (*nab.Corpus, []devFile) {
	c, err := nab.LoadCorpus("/work/shared/data/nab")
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

func TestDev(t *testing.T) {
	if os.Getenv("DEV") == "" {
		t.Skip()
	}
	c, fs := loadDev(t)
	base := DefaultConfig()
	t.Log("base  ", evalCfg(t, c, fs, base, true))
	type v struct {
		name string
		f    func(*Config)
	}
	for _, x := range []v{
		{"ref.005", func(c *Config) { c.RefAlpha = 0.005 }},
		{"ref.005s.1", func(c *Config) { c.RefAlpha = 0.005; c.ShortAlpha = 0.1 }},
		{"ref.01s.1", func(c *Config) { c.RefAlpha = 0.01; c.ShortAlpha = 0.1 }},
		{"-shift", func(c *Config) { c.disabled[CompShift] = true }},
	} {
		cfg := base
		x.f(&cfg)
		t.Log(x.name, evalCfg(t, c, fs, cfg, true))
	}
}

func TestDiag(t *testing.T) {
	if os.Getenv("DEV") == "" {
		t.Skip()
	}
	c, fs := loadDev(t)
	cfg := DefaultConfig()
	for _, f := range fs {
		var m Model
		sc := make([]float64, len(f.ms))
		for i := range f.ms {
			sc[i] = m.Update(&cfg, f.ms[i], f.tab.Values[i]).Alarm
		}
		prob := nab.ProbationaryRows(len(sc))
		in := make([]int, len(sc))
		for i := range in {
			in[i] = -1
		}
		for wi, w := range c.Windows[f.name] {
			for i, tt := range f.tab.Times {
				if !tt.Before(w.Start) && !tt.After(w.End) {
					in[i] = wi
				}
			}
		}
		line := fmt.Sprintf("%-55s n=%5d", f.name, len(sc))
		wmax := make([]float64, len(c.Windows[f.name]))
		wfirst := make([]int, len(wmax))
		outMax, nOut := 0.0, 0
		for i := prob; i < len(sc); i++ {
			if in[i] >= 0 {
				if sc[i] > wmax[in[i]] {
					wmax[in[i]] = sc[i]
				}
			} else {
				outMax = max(outMax, sc[i])
				if sc[i] >= 0.52 {
					nOut++
				}
			}
		}
		_ = wfirst
		line += fmt.Sprintf(" outMax=%.2f fp@th=%d win:", outMax, nOut)
		for _, w := range wmax {
			line += fmt.Sprintf(" %.2f", w)
		}
		t.Log(line)
	}
}

func evalNum(t *testing.T, c *nab.Corpus, fs []devFile, cfg Config) (float64, string) {
	s := nab.NewScoring()
	for _, f := range fs {
		var m Model
		sc := make([]float64, len(f.ms))
		for i := range f.ms {
			sc[i] = m.Update(&cfg, f.ms[i], f.tab.Values[i]).Alarm
		}
		if err := s.Add(f.name, f.tab.Times, sc, c.Windows[f.name]); err != nil {
			t.Fatal(err)
		}
	}
	tot := 0.0
	out := ""
	for _, p := range c.Profiles {
		o := s.Optimal(p)
		tot += o.Normalized
		out += fmt.Sprintf(" %.2f@%.3f", o.Normalized, o.Threshold)
	}
	return tot, out
}

func TestSearch(t *testing.T) {
	if os.Getenv("DEV") == "" {
		t.Skip()
	}
	c, fs := loadDev(t)
	cfg := DefaultConfig()
	type knob struct {
		name string
		set  func(*Config, float64)
		vals []float64
	}
	knobs := []knob{
		{"decay", func(c *Config, v float64) { c.RecordDecay = v }, []float64{0.999, 0.9995, 0.9997, 0.9998, 0.9999}},
		{"refr", func(c *Config, v float64) { c.Refractory = int(v) }, []float64{30, 60, 100, 200}},
		{"level", func(c *Config, v float64) { c.LevelAlpha = v }, []float64{0.03, 0.05, 0.1, 0.2, 0.4}},
		{"short", func(c *Config, v float64) { c.ShortAlpha = v }, []float64{0.05, 0.1, 0.2, 0.4}},
		{"ref", func(c *Config, v float64) { c.RefAlpha = v }, []float64{0.003, 0.01, 0.03}},
		{"err", func(c *Config, v float64) { c.ErrAlpha = v }, []float64{0.003, 0.005, 0.01, 0.02}},
		{"salpha", func(c *Config, v float64) { c.SeasonAlpha = v }, []float64{0.02, 0.05, 0.1, 0.2}},
		{"sgain", func(c *Config, v float64) { c.SeasonGain = v }, []float64{0.6, 0.8, 0.9, 1.0}},
		{"clip", func(c *Config, v float64) { c.Clip = v }, []float64{2.5, 3, 4, 5}},
		{"floor", func(c *Config, v float64) { c.Floor = v }, []float64{0.005, 0.01, 0.02, 0.05}},
		{"warm", func(c *Config, v float64) { c.Warmup = int(v) }, []float64{50, 100, 200}},
		{"grow", func(c *Config, v float64) { c.RecordGrow = v }, []float64{2, 4, 8}},
		{"base", func(c *Config, v float64) { c.BaseAlpha = v }, []float64{0.002, 0.005, 0.01}},
	}
	best, desc := evalNum(t, c, fs, cfg)
	t.Logf("start %.2f %s", best, desc)
	for pass := 0; pass < 2; pass++ {
		for _, k := range knobs {
			for _, v := range k.vals {
				try := cfg
				k.set(&try, v)
				s, d := evalNum(t, c, fs, try)
				if s > best+0.05 {
					best, desc, cfg = s, d, try
					t.Logf("pass %d %s=%v -> %.2f %s", pass, k.name, v, best, desc)
				}
			}
		}
	}
	t.Logf("final %+v", cfg)
}
