package rca

import (
	"context"
	"fmt"
	"os"
	"sort"
	"testing"
)

func TestScratchR1(t *testing.T) {
	dir := os.Getenv("OSPREY_R1")
	if dir == "" {
		t.Skip()
	}
	days, _ := FindNezha(dir)
	d := &days[0]
	dd, err := loadDay(context.Background(), d, Options{NoMetrics: true})
	if err != nil {
		t.Fatal(err)
	}
	ev := newEvidencer(d.Faults, dd.logs, dd.spans, Options{})
	for _, f := range d.Faults {
		from, to := f.Time.Add(-WindowBefore), f.Time.Add(WindowAfter)
		if f.Timestamp != os.Getenv("OSPREY_R1_CASE") {
			ev.window(from, to)
			continue
		}
		// state as of window start: replicate the learning part
		ev.window(from, from) // learns up to from; scores nothing meaningful
		byTrace := map[string][]*spanRec{}
		for i := range dd.spans {
			s := &dd.spans[i]
			if s.ref || s.at.Before(from) || s.at.After(to) {
				continue
			}
			byTrace[s.traceID] = append(byTrace[s.traceID], s)
		}
		// per broken span: service -> traces; per trace: set of services broken
		roots := map[string]int{}
		for _, ss := range byTrace {
			broken := map[string]bool{}
			svcs := map[string]bool{}
			for _, s := range ss {
				svcs[s.service] = true
				if len(ev.callSeq.breaks(s.unit)) > 0 {
					broken[s.service] = true
				}
			}
			if len(broken) == 0 {
				continue
			}
			var b, a []string
			for s := range broken {
				b = append(b, s)
			}
			for s := range svcs {
				a = append(a, s)
			}
			sort.Strings(b)
			sort.Strings(a)
			roots[fmt.Sprint("broken=", b, " all=", a)]++
		}
		for k, n := range roots {
			t.Log(n, k)
		}
		return
	}
}
