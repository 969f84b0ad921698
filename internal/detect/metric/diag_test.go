package metric

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/osprey-aiops/osprey/internal/bench/nab"
)

// TestDiag prints a per-window breakdown (temporary experiment harness).
func TestDiag(t *testing.T) {
	if os.Getenv("OSPREY_NAB_DIAG") == "" {
		t.Skip("diag")
	}
	c, fs := loadDev(t)
	cfg := DefaultConfig()
	th := cfg.Threshold
	if s := os.Getenv("TH"); s != "" {
		fmt.Sscan(s, &th)
	}
	ref := os.Getenv("REF") // e.g. ARTime:0.317486
	refTh := 0.0
	refName := ""
	if ref != "" {
		refName, _, _ = strings.Cut(ref, ":")
		fmt.Sscan(ref[len(refName)+1:], &refTh)
	}
	totFP := 0
	for _, f := range fs {
		var m Model
		sc := make([]float64, len(f.ms))
		for i := range f.ms {
			sc[i] = m.Update(&cfg, f.ms[i], f.tab.Values[i]).Alarm
		}
		var rs []float64
		if refName != "" {
			cat, file, _ := strings.Cut(f.name, "/")
			tab, err := nab.ReadColumn(filepath.Join(c.Dir, "results", refName, cat, refName+"_"+file+".gz"), "anomaly_score")
			if err != nil {
				t.Fatal(err)
			}
			rs = tab.Values
		}
		prob := nab.ProbationaryRows(len(sc))
		idx := func(tt int64) int {
			for i, x := range f.ms {
				if x == tt {
					return i
				}
			}
			return -1
		}
		inw := make([]bool, len(sc))
		line := fmt.Sprintf("%-48s n=%5d prob=%4d", f.name, len(sc), prob)
		for _, w := range c.Windows[f.name] {
			a, b := idx(w.Start.UnixMilli()), idx(w.End.UnixMilli())
			for i := a; i <= b; i++ {
				inw[i] = true
			}
			pos := func(s []float64, th float64) string {
				for i := max(a, prob); i <= b; i++ {
					if s[i] >= th {
						return fmt.Sprintf("%.2f", float64(i-a)/float64(b-a+1))
					}
				}
				return " -- "
			}
			mx := 0.0
			for i := a; i <= b; i++ {
				mx = max(mx, sc[i])
			}
			line += fmt.Sprintf(" [%d-%d %s mx%.2f", a, b, pos(sc, th), mx)
			if rs != nil {
				line += " ref " + pos(rs, refTh)
			}
			line += "]"
		}
		fp, rfp := 0, 0
		var fpAt []int
		for i := prob; i < len(sc); i++ {
			if !inw[i] && sc[i] >= th {
				fp++
				if len(fpAt) < 6 {
					fpAt = append(fpAt, i)
				}
			}
			if rs != nil && !inw[i] && rs[i] >= refTh {
				rfp++
			}
		}
		totFP += fp
		line += fmt.Sprintf(" FP=%d %v", fp, fpAt)
		if rs != nil {
			line += fmt.Sprintf(" refFP=%d", rfp)
		}
		t.Log(line)
	}
	t.Log("total FP", totFP)
}

func TestSweep(t *testing.T) {
	if os.Getenv("OSPREY_NAB_SWEEP") == "" {
		t.Skip("sweep")
	}
	c, fs := loadDev(t)
	base := DefaultConfig()
	t.Log("defaults", evalCfg(t, c, fs, base, true))
	type v struct {
		name string
		f    func(*Config)
	}
	for _, x := range sweepVariants {
		cfg := base
		x.f(&cfg)
		t.Log(x.name, evalCfg(t, c, fs, cfg, true))
	}
}

var sweepVariants = []struct {
	name string
	f    func(*Config)
}{}

func TestDump(t *testing.T) {
	file := os.Getenv("DUMP")
	if file == "" {
		t.Skip("dump")
	}
	var a, b int
	fmt.Sscan(os.Getenv("RANGE"), &a, &b)
	_, fs := loadDev(t)
	cfg := DefaultConfig()
	for _, f := range fs {
		if !strings.Contains(f.name, file) {
			continue
		}
		var m Model
		for i := range f.ms {
			r := m.Update(&cfg, f.ms[i], f.tab.Values[i])
			if i >= a && i <= b && (r.Score > 0.4 || os.Getenv("ALL") != "") {
				t.Logf("%d v=%.4g exp=%.4g sc=%.3f al=%.3f comps=%.2f rec=%.2f pr=%.2f", i, f.tab.Values[i], r.Expected, r.Score, r.Alarm, r.Components, m.record, m.pointRec)
			}
		}
	}
}
