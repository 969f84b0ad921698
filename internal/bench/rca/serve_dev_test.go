package rca

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/rca"
)

// serveDumpFile is what TestNezhaServeDump writes: the serve path's final
// incidents of one day, the ranker's graph at its end, and the faults.
type serveDumpFile struct {
	Faults    []Fault           `json:"faults"`
	Incidents []osprey.Incident `json:"incidents"`
	// Edges holds, per incident id, the graph of its last ranking.
	Edges  map[string][]serveDumpEdge `json:"edges"`
	System string                     `json:"system"`
	Day    string                     `json:"day"`
}

type serveDumpEdge struct {
	Caller, Callee string
	Weight         float64
}

// TestNezhaServeDump replays the first day of the unpacked Nezha folder
// named by OSPREY_RCA_NEZHA through the serve path and writes its final
// incidents and graph to the file named by OSPREY_RCA_SERVE_DUMP, for
// TestNezhaServeRerank. It skips without both variables.
func TestNezhaServeDump(t *testing.T) {
	dir, out := os.Getenv("OSPREY_RCA_NEZHA"), os.Getenv("OSPREY_RCA_SERVE_DUMP")
	if dir == "" || out == "" {
		t.Skip("skipping: set OSPREY_RCA_NEZHA and OSPREY_RCA_SERVE_DUMP")
	}
	days, err := FindNezha(dir)
	if err != nil {
		t.Fatal(err)
	}
	d := &days[0]
	dump := serveDumpFile{Faults: d.Faults, System: d.System, Day: d.Day, Edges: map[string][]serveDumpEdge{}}
	res, err := ReplayNezhaServe(context.Background(), d, Options{serveDump: func(incs []osprey.Incident, graphs map[string]*rca.Graph) {
		dump.Incidents = incs
		for id, g := range graphs {
			for _, s := range g.Services() {
				for _, c := range g.Callees(s) {
					dump.Edges[id] = append(dump.Edges[id], serveDumpEdge{s, c, g.Weight(s, c)})
				}
			}
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	s := Score(res.Cases)
	t.Logf("serve path: AC@1=%.4f AC@3=%.4f AC@5=%.4f Avg@5=%.4f", s.AC[0], s.AC[2], s.AC[4], s.Avg5)
	b, err := json.Marshal(dump)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestNezhaServeRerank ranks each fault's incident of the dump named by
// OSPREY_RCA_SERVE_DUMP again with rca.IncidentRanker as the code stands
// (rca.DefaultConfig, the graph of the incident's last ranking in the
// replay), so that a change of the ranker is measured on serve's incidents
// in seconds instead of a replay. The incidents are serve's as long as the
// change touches neither grouping nor what the members carry, and serve's
// last ranking of an incident may precede its last member update (a
// member's status or count), so the figures can differ from the serve
// path's in a few faults. OSPREY_RCA_UNION=1 ranks every incident over
// the union of the graphs instead. Each incident is ranked with the
// dump's incidents opened within 5 minutes of its opening, as serve's
// correlator passes them to rca.ConcurrentIncidentRanker
// (OSPREY_RCA_CONCURRENT=members: of any member's first anomaly;
// spreading: also those opened while either still spread; off:
// none; OSPREY_RCA_HOPS=k limits them to k calls), without their members
// that began after the incident stopped spreading (clipAfter). With -v it prints the first
// OSPREY_RCA_EXPLAIN (default 4) explanations of each miss.
func TestNezhaServeRerank(t *testing.T) {
	dump := readServeDump(t)
	graphs := map[string]*rca.Graph{}
	for id, edges := range dump.Edges {
		g := rca.NewGraph()
		for _, e := range edges {
			g.AddCall(e.Caller, e.Callee, e.Weight)
		}
		graphs[id] = g
	}
	if os.Getenv("OSPREY_RCA_UNION") != "" {
		// Every incident ranked over the union of the day's graphs
		// (docs/rca.md, session 7: not better).
		u := rca.NewGraph()
		for _, edges := range dump.Edges {
			for _, e := range edges {
				if u.Weight(e.Caller, e.Callee) < e.Weight {
					u.AddCall(e.Caller, e.Callee, e.Weight-u.Weight(e.Caller, e.Callee))
				}
			}
		}
		for _, inc := range dump.Incidents {
			graphs[inc.ID] = u
		}
	}
	explain := 4
	if v := os.Getenv("OSPREY_RCA_EXPLAIN"); v != "" {
		fmt.Sscan(v, &explain)
	}
	log := &incidentLog{last: map[string]*snapshot{}}
	for i, inc := range dump.Incidents {
		log.last[inc.ID] = &snapshot{inc: inc, seq: i}
	}
	var cases []Case
	var lines []string
	for _, f := range dump.Faults {
		c := Case{ID: f.Timestamp, Truth: f.Service, Type: f.Type, Group: dump.System + "/" + dump.Day}
		var causes []osprey.Cause
		if s, _ := pickIncident(log, f); s != nil {
			ranker := rca.IncidentRanker{Graph: func() *rca.Graph { return graphs[s.inc.ID] }, Config: rca.DefaultConfig()}
			if mode := cmp.Or(os.Getenv("OSPREY_RCA_CONCURRENT"), "opened"); mode != "off" {
				cr := rca.ConcurrentIncidentRanker{IncidentRanker: ranker}
				fmt.Sscan(os.Getenv("OSPREY_RCA_HOPS"), &cr.Hops)
				causes = cr.RankCausesAmong(&s.inc, dumpConcurrent(dump.Incidents, &s.inc, mode))
			} else {
				causes = ranker.RankCauses(&s.inc)
			}
			c.Ranking = causeNames(causes)
		}
		cases = append(cases, c)
		line := fmt.Sprintf("%s %-14s %-30s rank=%d top=%v", f.Timestamp, f.Type, f.Service, c.Rank(), head(c.Ranking, 3))
		lines = append(lines, line)
		if c.Rank() != 1 && testing.Verbose() {
			var sb strings.Builder
			sb.WriteString(line)
			for k, cs := range causes[:min(explain, len(causes))] {
				fmt.Fprintf(&sb, "\n  %d. %s", k+1, cs.Explanation)
			}
			t.Log(sb.String())
		}
	}
	s := Score(cases)
	t.Logf("rerank: AC@1=%.4f AC@3=%.4f AC@5=%.4f Avg@5=%.4f\n%s", s.AC[0], s.AC[2], s.AC[4], s.Avg5, strings.Join(lines, "\n"))
}

// dumpConcurrent returns the incidents of all other than inc that opened
// within the default correlate window of inc's opening (mode "opened") or
// of one of its members' first anomaly (mode "members"), or that opened
// after the other of the two while it still spread, within half the window
// of its latest onset (mode "spreading", besides those of "opened").
func dumpConcurrent(all []osprey.Incident, inc *osprey.Incident, mode string) []*osprey.Incident {
	window := 5 * time.Minute
	near := func(a, b time.Time) bool { d := a.Sub(b); return d <= window && d >= -window }
	var out []*osprey.Incident
	for i := range all {
		o := &all[i]
		if o.ID == inc.ID {
			continue
		}
		ok := near(o.OpenedAt, inc.OpenedAt)
		switch mode {
		case "members":
			for _, m := range inc.Members {
				ok = ok || near(o.OpenedAt, m.FirstSeen)
			}
		case "spreading":
			ok = ok || openedWhileSpreading(o, inc, window/2) || openedWhileSpreading(inc, o, window/2)
		}
		if ok && !stoppedBefore(o, inc) {
			out = append(out, clipAfter(o, inc))
		}
	}
	return out
}

// openedWhileSpreading reports whether b opened after a and at most
// settle after a's latest onset: while a was still spreading.
func openedWhileSpreading(b, a *osprey.Incident, settle time.Duration) bool {
	var last time.Time
	for _, m := range a.Members {
		if m.FirstSeen.After(last) {
			last = m.FirstSeen
		}
	}
	return b.OpenedAt.After(a.OpenedAt) && !b.OpenedAt.After(last.Add(settle))
}

// clipAfter returns o without the members that first fired more than
// half the window after inc's latest onset, as the correlator leaves them
// out of inc's ranking (docs/rca.md, "Session 9: a recovered service's new
// wave"); OSPREY_RCA_CONC_AFTER sets another duration, "off" keeps them.
func clipAfter(o, inc *osprey.Incident) *osprey.Incident {
	v := cmp.Or(os.Getenv("OSPREY_RCA_CONC_AFTER"), "2m30s")
	if v == "off" {
		return o
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return o
	}
	var last time.Time
	for _, m := range inc.Members {
		if m.FirstSeen.After(last) {
			last = m.FirstSeen
		}
	}
	c := *o
	c.Members = nil
	for _, m := range o.Members {
		if !m.FirstSeen.After(last.Add(d)) {
			c.Members = append(c.Members, m)
		}
	}
	return &c
}

// head returns the first n elements of s (all of them if fewer).
func head(s []string, n int) []string { return s[:min(n, len(s))] }

// stoppedBefore reports whether o had stopped spreading (no member first
// fired in it) half the window before inc opened, as the correlator then
// leaves o out of inc's ranking (docs/rca.md, "Session 9: an earlier
// incident that stopped spreading"); OSPREY_RCA_CONC_BEFORE sets another
// duration, "off" keeps every o.
func stoppedBefore(o, inc *osprey.Incident) bool {
	d, err := time.ParseDuration(cmp.Or(os.Getenv("OSPREY_RCA_CONC_BEFORE"), "2m30s"))
	if err != nil {
		return false
	}
	var last time.Time
	for _, m := range o.Members {
		if osprey.IsChange(m.Kind, m.Name) {
			return false
		}
		if m.FirstSeen.After(last) {
			last = m.FirstSeen
		}
	}
	return last.Before(inc.OpenedAt.Add(-d))
}

// TestNezhaServeJointBound bounds what per-request evidence (Evidence.
// Requests and Along, read by Config.Joint) could do on the serve path,
// where trace anomalies carry none: it ranks each fault's incident of the
// TestNezhaServeDump file named by OSPREY_RCA_SERVE_DUMP on its members
// alone three ways — as serve does ("none"); with every trace anomaly's
// requests all shared with the fault's root cause ("oracle", the most
// Joint can send to it); and with every trace anomaly observed per
// request but sharing none ("empty", the least) — and logs the root
// cause's rank and score each way. conc counts the concurrent incidents
// the serve ranking also reads and this one does not (docs/rca.md,
// "Session 11: per-request evidence in the serve path").
func TestNezhaServeJointBound(t *testing.T) {
	dump := readServeDump(t)
	log := &incidentLog{last: map[string]*snapshot{}}
	for i, inc := range dump.Incidents {
		log.last[inc.ID] = &snapshot{inc: inc, seq: i}
	}
	for _, f := range dump.Faults {
		s, _ := pickIncident(log, f)
		if s == nil {
			continue
		}
		g := rca.NewGraph()
		for _, e := range dump.Edges[s.inc.ID] {
			g.AddCall(e.Caller, e.Callee, e.Weight)
		}
		var sb strings.Builder
		fmt.Fprintf(&sb, "%s %-30s conc=%d", f.Timestamp, f.Service, len(dumpConcurrent(dump.Incidents, &s.inc, "opened")))
		for _, mode := range []string{"none", "oracle", "empty"} {
			var ev []rca.Evidence
			for _, m := range s.inc.Members {
				e, ok := rca.FromMember(m, "")
				if !ok {
					continue
				}
				if mode != "none" && osprey.IsTraceAnomaly(m.Kind, m.Labels) {
					e.Requests = 10
					if mode == "oracle" && e.Service != f.Service {
						e.Along = map[string]int{f.Service: 10}
					}
				}
				ev = append(ev, e)
			}
			causes := rca.Rank(g, ev, rca.DefaultConfig())
			r, score := 0, 0.0
			for i, c := range causes {
				if c.Name == f.Service {
					r, score = i+1, c.Score
				}
			}
			top := ""
			if len(causes) > 0 {
				top = fmt.Sprintf("%s %.3f", causes[0].Name, causes[0].Score)
			}
			fmt.Fprintf(&sb, "  %s: rank=%d %.3f top=%s", mode, r, score, top)
		}
		t.Log(sb.String())
	}
}

// readServeDump reads the TestNezhaServeDump file OSPREY_RCA_SERVE_DUMP
// names, or skips the test when it names none.
func readServeDump(t *testing.T) serveDumpFile {
	t.Helper()
	path := os.Getenv("OSPREY_RCA_SERVE_DUMP")
	if path == "" {
		t.Skip("skipping: set OSPREY_RCA_SERVE_DUMP to a TestNezhaServeDump file")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var dump serveDumpFile
	if err := json.Unmarshal(b, &dump); err != nil {
		t.Fatal(err)
	}
	return dump
}
