package metric

import "testing"

func TestTmpDbg(t *testing.T) {
	cfg := DefaultConfig()
	rs := run(cfg, signal(4000, 42, func(i int, e float64) float64 {
		p := i % 40
		tri := float64(min(p, 40-p))
		if i >= 3000 && i < 3040 && p >= 10 && p < 30 {
			tri = 12
		}
		return 100 + tri
	}))
	for i := 2995; i < 3035; i++ {
		t.Logf("%d %.3f %.3f %.2f", i, rs[i].Score, rs[i].Alarm, rs[i].Components)
	}
	t.Log(alarms(cfg, rs))
}
